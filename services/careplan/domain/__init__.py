"""Pure rules of the careplan service: no I/O (an import contract holds them to it)."""

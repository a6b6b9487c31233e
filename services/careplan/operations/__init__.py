"""The careplan operations, one module per family; each operation is ``handler(call, uow)``."""

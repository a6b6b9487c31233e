"""Pure rules of the referral service: eligibility, screening, the workflow's states and moves, letter
wording and rendering. No I/O (an import contract holds them to it)."""

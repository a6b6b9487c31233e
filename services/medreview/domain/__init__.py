"""medreview's pure rules: no I/O (an import contract holds them to it); times and dates are arguments."""

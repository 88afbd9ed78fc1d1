"""regrid."""

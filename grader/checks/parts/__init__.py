"""The checks of each part of the assignment, one module per part, registered on import."""

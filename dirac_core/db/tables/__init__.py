"""Table definitions, one module per system, each with its own ``metadata``."""

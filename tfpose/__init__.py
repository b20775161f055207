"""tfpose: the two-stage "double CNN" for MPII joint localisation and action classification."""

__version__ = "0.1.0"

"""thuvien: an offline-first library appliance."""

__version__ = "0.1.0"

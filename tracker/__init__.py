"""Public-tender intelligence and influence tracker (domain core)."""

__version__ = "0.1.0"

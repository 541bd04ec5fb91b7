"""Centinela: a rule engine and digital-twin platform for industrial telemetry."""

__version__ = "0.1.0"

__all__ = ["__version__"]

"""The version of this opsml package."""

__version__ = "0.1.0"

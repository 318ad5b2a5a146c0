"""Package version (SemVer)."""

__version__ = "0.1.0"

"""`forecaster benchmark` commands (being built)."""

from forecaster.cli.app import app  # noqa: F401

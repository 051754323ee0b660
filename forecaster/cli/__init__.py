"""The `forecaster` command line: one Typer app, each command group in a module of its own."""

from forecaster.cli.app import app

# Importing a command module registers its commands on `app`.
from forecaster.cli import data as _data  # noqa: E402,F401


def main() -> None:
    app()


__all__ = ["app", "main"]

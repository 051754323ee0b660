"""The `forecaster` command line: one Typer app, each command group in a module of its own
(options.py holds the options several commands share). The CLI only parses, calls forecaster.api
(or a benchmark) and prints; the library begins below it. It is the top layer: nothing imports it."""

from forecaster.cli.app import app

# Importing a command module registers its commands on `app`.
from forecaster.cli import data as _data  # noqa: E402,F401
from forecaster.cli import train as _train  # noqa: E402,F401
from forecaster.cli import backtest as _backtest  # noqa: E402,F401
from forecaster.cli import benchmark as _benchmark  # noqa: E402,F401
from forecaster.cli import env as _env  # noqa: E402,F401
from forecaster.cli import demo as _demo  # noqa: E402,F401


def main() -> None:
    app()


__all__ = ["app", "main"]

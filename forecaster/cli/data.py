"""`forecaster data pairs|fetch|show`."""

import typer

from forecaster.cli.app import app

data_app = typer.Typer(help="List, fetch and inspect currency-pair series.", no_args_is_help=True)
app.add_typer(data_app, name="data")

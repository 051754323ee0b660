"""The CLI's shared behaviour: help, user errors without traceback, exit codes."""

from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.errors import ForecasterError

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("data", "train", "predict", "backtest", "benchmark", "models", "env", "demo"):
        assert command in result.output, command


def test_unknown_command_is_a_usage_error():
    result = runner.invoke(app, ["no-such-command"])
    assert result.exit_code == 2


def test_user_error_exits_1_without_traceback():
    @app.command("raise-for-test", hidden=True)
    def _boom() -> None:
        raise ForecasterError("unknown pair 'XXXYYY': try `forecaster data pairs`")

    try:
        result = runner.invoke(app, ["raise-for-test"])
        assert result.exit_code == 1
        assert "unknown pair 'XXXYYY'" in result.output
        assert "Traceback" not in result.output
        verbose = runner.invoke(app, ["-v", "raise-for-test"])
        assert verbose.exit_code == 1
        assert "Traceback" in verbose.output
    finally:
        app.registered_commands = [c for c in app.registered_commands if c.name != "raise-for-test"]

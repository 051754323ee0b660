"""Output streams like a Unix tool: tables on stdout, logs on stderr, valid JSON, flags shown as flags,
a closed pipe ends with status 0, and failures in words without Python class names."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.errors import ForecasterError
from forecaster.util.files import atomic_write_text, check_writable, json_text

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def test_data_show_table_goes_to_stdout_and_notes_to_stderr():
    from forecaster.data import ecb

    ecb._noted.clear()  # the note is logged once per process
    result = runner.invoke(app, ["data", "show", "EURUSD", "--rows", "3"])
    assert result.exit_code == 0, result.output
    assert "latest 3 bars" in result.stdout and "close" in result.stdout and "rows:" in result.stdout
    assert "latest 3 bars" not in result.stderr
    assert "not refreshed (offline)" in result.stderr and "ends on" in result.stderr


def test_closed_pipe_ends_with_status_0():
    env = {**os.environ, "PYTHONPATH": str(ROOT), "FORECASTER_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "forecaster", "data", "show", "EURUSD", "--rows", "2000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
    head = [proc.stdout.readline() for _ in range(3)]  # `| head -3`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert b"EURUSD" in head[0] and "Error" not in err and "Traceback" not in err


def test_json_is_valid_with_nan_and_infinity():
    text = json_text({"a": float("nan"), "b": [np.float32("inf"), 1.5], "c": np.int64(3), "d": pd.Timestamp("2024-01-02"),
                      "e": (1, 2), "f": np.array([np.nan, 2.0])})
    assert "NaN" not in text and "Infinity" not in text
    assert json.loads(text) == {"a": None, "b": [None, 1.5], "c": 3, "d": "2024-01-02T00:00:00", "e": [1, 2],
                                "f": [None, 2.0]}


def test_boolean_options_are_shown_as_flags():
    result = runner.invoke(app, ["data", "show", "--help"], terminal_width=120)
    assert result.exit_code == 0 and "--json" in result.stdout and "--strict" in result.stdout
    assert "<bool>" not in result.stdout and "<str>" in result.stdout
    assert runner.invoke(app, ["data", "show", "EURUSD", "--json", "true"]).exit_code == 2


def test_env_is_a_table_on_stdout_and_json_on_request():
    table = runner.invoke(app, ["env"])
    assert table.exit_code == 0 and "cache dir" in table.stdout and "ecb data" in table.stdout
    assert "{" not in table.stdout  # not a raw dict
    assert json.loads(runner.invoke(app, ["env", "--json"]).stdout)["ecb_data"]["first"] == "1999-01-04"


def test_unexpected_failures_are_worded_without_class_names():
    from forecaster.cli.app import app as typer_app

    @typer_app.command("os-error-for-test", hidden=True)
    def _boom() -> None:
        raise FileExistsError(17, "File exists", "reports/x")

    try:
        result = runner.invoke(app, ["os-error-for-test"])
        assert result.exit_code == 1 and "reports/x: file exists" in result.output
        assert "FileExistsError" not in result.output and "Errno" not in result.output
        assert "FileExistsError" in runner.invoke(app, ["-v", "os-error-for-test"]).output
    finally:
        typer_app.registered_commands = [c for c in typer_app.registered_commands if c.name != "os-error-for-test"]


def test_writing_to_a_folder_or_through_a_file_is_a_clear_error(tmp_path):
    with pytest.raises(ForecasterError, match=f"cannot write {tmp_path}: it is a folder"):
        atomic_write_text(tmp_path, "x")
    (tmp_path / "file").write_text("x")
    with pytest.raises(ForecasterError, match="is a file, not a folder"):
        atomic_write_text(tmp_path / "file" / "out.json", "x")
    with pytest.raises(ForecasterError, match="is a file, not a folder"):
        check_writable(tmp_path / "file", folder=True)
    with pytest.raises(ForecasterError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "deeper" / "report", folder=True)
    assert check_writable(tmp_path / "new" / "report", folder=True) == tmp_path / "new" / "report"
    assert not (tmp_path / "new").exists()  # checking creates nothing


def test_data_show_reads_fred_and_long_tables(tmp_path):
    days = pd.bdate_range("2024-01-01", periods=40)
    fred = tmp_path / "DEXUSEU.csv"
    fred.write_text("observation_date,DEXUSEU\n" + "\n".join(f"{d.date()},{'' if i == 5 else '1.0800'}"
                                                               for i, d in enumerate(days)) + "\n")
    result = runner.invoke(app, ["data", "show", "EURUSD", "--path", str(fred), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["report"]["non_finite"] == 1
    long = tmp_path / "long.csv"
    long.write_text("date,currency,rate\n" + "\n".join(f"{d.date()},{c},{v}" for d in days
                                                      for c, v in (("USD", 1.08), ("JPY", 160))) + "\n")
    result = runner.invoke(app, ["data", "show", "EURJPY", "--path", str(long), "--series", "JPY", "--rows", "1"])
    assert result.exit_code == 0 and "160.00000" in result.stdout
    result = runner.invoke(app, ["data", "show", "EURJPY", "--path", str(long)])
    assert result.exit_code == 1 and "--series" in result.output
    assert runner.invoke(app, ["data", "show", "EURUSD", "--rows", "-1"]).exit_code == 1


def test_benchmark_out_is_checked_before_any_work(tmp_path, monkeypatch):
    from forecaster.benchmarks import exchange

    def never(*args, **kwargs):
        raise AssertionError("the benchmark ran before --out was checked")

    monkeypatch.setattr(exchange, "run_benchmark", never)
    (tmp_path / "file").write_text("x")
    result = runner.invoke(app, ["benchmark", "exchange", "--data", str(tmp_path), "--out", str(tmp_path / "file" / "t.md")])
    assert result.exit_code == 1 and "is a file, not a folder" in result.output

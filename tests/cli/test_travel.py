"""Models that travel (absolute paths, --path to a newer file), backtests on shorter histories
(--test-start auto), staleness, and checks that run before any work."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app

runner = CliRunner()
TINY = ["--design", "windowed", "--epochs", "1", "--d-model", "8", "--n-layer", "1", "--d-state", "4", "--lookback", "16", "--horizon", "3"]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def fred_file(path, n=420, start="2022-01-03"):
    """A FRED-style download (observation_date,DEXUSEU) with blank and '.' holidays."""
    days = pd.bdate_range(start, periods=n)
    close = 1.1 * np.exp(np.cumsum(np.random.default_rng(5).normal(0, 0.005, n)))
    rows = [f"{d.date()},{'' if i % 50 == 7 else '.' if i % 50 == 30 else f'{c:.4f}'}"
            for i, (d, c) in enumerate(zip(days, close))]
    path.write_text("observation_date,DEXUSEU\n" + "\n".join(rows) + "\n")
    return path


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    """A model trained from a relative path to a FRED file, in its own folder."""
    import os

    home = tmp_path_factory.mktemp("home")
    fred_file(home / "DEXUSEU.csv")
    models = tmp_path_factory.mktemp("models")
    before = os.getcwd()
    os.chdir(home)
    try:
        result = run("--seed", "1", "train", "EURUSD", "--path", "DEXUSEU.csv", "--name", "fred",
                     "--models-dir", models, *TINY)
    finally:
        os.chdir(before)
    assert result.exit_code == 0, result.output
    assert "saved fred" in result.stdout
    return home, models


def test_csv_model_predicts_from_another_folder(csv_model, tmp_path, monkeypatch):
    home, models = csv_model
    saved = json.loads((models / "fred" / "model.json").read_text())
    assert saved["source"]["path"] == str(home / "DEXUSEU.csv")  # absolute
    monkeypatch.chdir(tmp_path)
    result = run("predict", "--model", "fred", "--models-dir", models, "--json")
    assert result.exit_code == 0, result.output
    forecast = json.loads(result.stdout)
    assert forecast["last_bar"].startswith(saved["fingerprint"]["last"][:10]) and forecast["model"] == "fred"
    assert forecast["stale"]["business_days"] > 3  # the file ends in 2023
    assert "data: CSV file" in result.stderr


def test_predict_with_a_newer_file_checks_it_is_the_same_series(csv_model, tmp_path):
    home, models = csv_model
    newer = fred_file(tmp_path / "newer.csv", n=460)
    result = run("predict", "--model", "fred", "--models-dir", models, "--path", newer)
    assert result.exit_code == 0, result.output
    assert "newer.csv" in result.stderr and "last bar used" in result.stdout
    assert str(pd.bdate_range("2022-01-03", periods=460)[-1].date()) in result.stdout
    shorter = fred_file(tmp_path / "shorter.csv", n=200)
    result = run("predict", "--model", "fred", "--models-dir", models, "--path", shorter)
    assert result.exit_code == 1 and "does not contain the training range" in result.output
    yen = tmp_path / "USDJPY=X.csv"
    yen.write_text(newer.read_text().replace("DEXUSEU", "Close"))
    result = run("predict", "--model", "fred", "--models-dir", models, "--path", yen)
    assert result.exit_code == 1 and "holds USDJPY" in result.output


def test_a_moved_training_file_names_the_fix(csv_model, tmp_path):
    home, models = csv_model
    moved = tmp_path / "models"
    import shutil

    shutil.copytree(models / "fred", moved / "fred")
    meta = json.loads((moved / "fred" / "model.json").read_text())
    meta["source"]["path"] = str(tmp_path / "gone.csv")
    (moved / "fred" / "model.json").write_text(json.dumps(meta))
    result = run("predict", "--model", "fred", "--models-dir", moved)
    assert result.exit_code in (1,) and "--path" in result.output


def test_backtest_on_a_shorter_history_offers_the_first_valid_test_start(csv_model, tmp_path, monkeypatch):
    home, models = csv_model
    args = ["backtest", "EURUSD", "--model", "fred", "--models-dir", models, "--no-plots"]
    result = run(*args, "--test-years", "1", "--out", tmp_path / "a")
    assert result.exit_code == 1 and "first valid --test-start is" in result.output
    first = result.output.split("first valid --test-start is ")[1][:10]
    result = run(*args, "--test-start", "auto", "--out", tmp_path / "b", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["data"]["test_first_origin"].startswith(first)
    assert run("backtest", "EURUSD", "--test-start", "auto").exit_code == 1  # needs --model


def test_checks_run_before_any_work(tmp_path, monkeypatch):
    import forecaster.backtest as backtest

    monkeypatch.setattr(backtest, "run_backtest", lambda *a, **k: pytest.fail("the backtest ran"))
    (tmp_path / "file").write_text("x")
    result = run("backtest", "EURUSD", "--baselines-only", "--out", tmp_path / "file")
    assert result.exit_code == 1 and "is a file, not a folder" in result.output
    result = run("train", "EURUSD", "--name", "", "--models-dir", tmp_path)
    assert result.exit_code == 1 and "model name '' is invalid" in result.output
    result = run("predict", "--model", "x", "--history", "-5", "--models-dir", tmp_path)
    assert result.exit_code == 1 and "--history -5 is invalid" in result.output
    result = run("predict", "--model", "x", "--plot", tmp_path, "--models-dir", tmp_path)
    assert result.exit_code == 1 and "it is a folder" in result.output
    result = run("predict")
    assert result.exit_code == 1 and "give a pair or --model NAME" in result.output
    result = run("predict", "EURUSD", "--models-dir", tmp_path)  # the name `train EURUSD` saves
    assert result.exit_code == 1 and "no saved model at" in result.output and "eurusd-1d" in result.output
    result = run("models", "--models-dir", tmp_path / "file")
    assert result.exit_code == 1 and "is a file, not a folder" in result.output
    result = run("models", "--models-dir", tmp_path / "empty")
    assert result.exit_code == 0 and "no saved models in" in result.stdout
    result = run("demo", "--out", tmp_path / "file")
    assert result.exit_code == 1 and "is a file, not a folder" in result.output


def test_predict_on_old_ecb_data_says_it_is_stale_and_refuses_a_ceased_currency(tmp_path):
    from forecaster.data import ecb
    from forecaster.data.calendar import business_days_since

    models = tmp_path / "models"
    assert run("train", "EURUSD", "--name", "eur", "--models-dir", models, "--start", "2024-01-01", *TINY).exit_code == 0
    result = run("predict", "EURUSD", "--model", "eur", "--models-dir", models)
    assert result.exit_code == 0, result.output
    end = ecb.bundled().index[-1]
    if business_days_since(end) > 3:  # true for the bundled copy from early November 2026 on
        assert f"stale data: the last bar is {end.date()}" in result.stdout
    assert f"last bar used: {end.date()}" in result.stdout
    result = run("train", "EURCYP", "--name", "cyp", "--models-dir", models, "--start", "2005-01-01", *TINY)
    assert result.exit_code == 0, result.output
    result = run("predict", "--model", "cyp", "--models-dir", models)
    assert result.exit_code == 1 and "CYP ceased to be quoted after 2007-12-31" in result.output

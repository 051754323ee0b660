"""`forecaster benchmark exchange` on a small synthetic file (no shared data needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from forecaster.benchmarks import exchange as ex
from forecaster.cli import app
from forecaster.cli.benchmark import parse_horizons
from forecaster.data.exchange_rate import load_exchange
from forecaster.errors import ForecasterError

runner = CliRunner()


@pytest.fixture()
def small_file(tmp_path):
    rng = np.random.default_rng(3)
    table = 1.0 + np.cumsum(0.01 * rng.normal(size=(300, 8)), axis=0)
    path = tmp_path / "exchange_rate.txt"
    path.write_text("\n".join(",".join(f"{v:.6f}" for v in row) for row in table) + "\n")
    return path


def test_repeat_only_json_matches_the_library(small_file):
    result = runner.invoke(app, ["-q", "--device", "cpu", "benchmark", "exchange", "--data", str(small_file),
                                 "--horizons", "4,8", "--lookback", "8", "--repeat-only", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    test = ex.scaled_splits(load_exchange(small_file), 8)["test"]
    assert [h["horizon"] for h in out["horizons"]] == [4, 8]
    for h in out["horizons"]:
        expected = ex.repeat_scores(test, 8, h["horizon"])
        assert h["repeat"]["mse"] == pytest.approx(expected["mse"])
        assert h["test_windows"] == 60 - h["horizon"] + 1  # int(0.2 * 300) test rows, stride 1
        assert h["model"] is None


def test_training_run_writes_table_and_json(small_file, tmp_path):
    out_md = tmp_path / "res" / "exchange.md"
    result = runner.invoke(app, ["-q", "--device", "cpu", "--seed", "1", "benchmark", "exchange",
                                 "--data", str(small_file), "--horizons", "4", "--lookback", "8", "--d-model", "8",
                                 "--n-layer", "1", "--max-epochs", "1", "--revin", "off", "--out", str(out_md)])
    assert result.exit_code == 0, result.output
    text = out_md.read_text()
    assert "Mamba forecaster (ours, gated)" in text and "Repeat (no change)" in text and "DLinear" in text
    saved = json.loads(out_md.with_suffix(".json").read_text())
    assert saved["seed"] == 1 and saved["config"]["model"]["d_model"] == 8
    h = saved["horizons"][0]
    assert h["model"]["mse"] > 0 and h["kept"] in ("model", "Repeat")
    assert h["revin"] is False and [c["revin"] for c in h["selection"]["candidates"]] == [False]  # --revin off
    assert h["selection"]["gate"]["windows"] == sum(f["val_windows"] for f in h["selection"]["folds"])
    assert h["verdict"]["n"] == h["test_windows"] and "window" in h["verdict"]["text"]
    assert "gate p" in text and "last test batch" in text
    assert "Mamba forecaster (ours, gated)" in result.stdout


def test_bad_inputs_exit_1_with_a_message(tmp_path, small_file):
    missing = runner.invoke(app, ["benchmark", "exchange", "--data", str(tmp_path / "none.csv"), "--repeat-only"])
    assert missing.exit_code == 1 and "does not exist" in " ".join(missing.output.split())
    too_long = runner.invoke(app, ["benchmark", "exchange", "--data", str(small_file), "--horizons", "500",
                                   "--lookback", "8", "--repeat-only"])
    assert too_long.exit_code == 1 and "horizon 500" in " ".join(too_long.output.split())
    bad_revin = runner.invoke(app, ["benchmark", "exchange", "--data", str(small_file), "--revin", "maybe"])
    assert bad_revin.exit_code == 1 and "--revin 'maybe'" in " ".join(bad_revin.output.split())


def test_parse_horizons():
    assert parse_horizons("96,192") == [96, 192]
    assert parse_horizons("96 192 336") == [96, 192, 336]
    for bad in ("", "0", "9x", "-1"):
        with pytest.raises(ForecasterError, match="horizons"):
            parse_horizons(bad)

"""The Exchange-Rate benchmark: loader (both formats), protocol (splits, windows, scaler), Repeat
numbers on the shared data (skipped when it is absent), and a tiny training smoke test."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from forecaster import exchange as ex, pipeline
from forecaster.configs import ModelConfig, TrainConfig
from forecaster.data import change_windows
from forecaster.data import exchange_rate as er
from forecaster.errors import ForecasterError

REPO = Path(__file__).resolve().parents[1]


def _shared(name: str) -> Path:
    """The shared benchmark data: $FORECASTER_EXCHANGE_DATA (file or folder), ../shared/data or shared/data."""
    env = os.environ.get(er.DATA_ENV)
    folder = Path(env) if env else next((d for d in (REPO.parent / "shared" / "data", REPO / "shared" / "data")
                                         if d.is_dir()), REPO.parent / "shared" / "data")
    if folder.is_file():
        folder = folder.parent
    path = folder / name
    if not path.is_file():
        pytest.skip(f"shared Exchange-Rate data not present ({path})")
    return path


@pytest.fixture(scope="module")
def values() -> np.ndarray:
    return er.load_exchange(_shared("exchange_rate.txt.gz"))


# ---------------------------------------------------------------- loader, on small files written here

def _write_pair(tmp_path: Path, table: np.ndarray) -> tuple[Path, Path]:
    """The same table as Lai's headerless .txt.gz and as an LTSF csv (date column, OT/6 swapped)."""
    txt = tmp_path / "exchange_rate.txt.gz"
    with gzip.open(txt, "wt") as f:
        f.write("\n".join(",".join(f"{v:.6f}" for v in row) for row in table) + "\n")
    csv = tmp_path / "exchange_rate.csv"
    lines = ["date,0,1,2,3,4,5,6,OT"]
    for i, row in enumerate(table):
        ltsf = list(row[:6]) + [row[7], row[6]]  # LTSF column `6` = Lai's 7, OT = Lai's 6
        lines.append(f"1990/1/{i + 1} 0:00," + ",".join(f"{v:.6f}" for v in ltsf))
    csv.write_text("\n".join(lines) + "\n")
    return txt, csv


def test_both_formats_load_to_the_same_array(tmp_path):
    table = np.round(np.random.default_rng(0).uniform(0.1, 2.0, size=(20, 8)), 6)
    txt, csv = _write_pair(tmp_path, table)
    a, b = er.load_exchange(txt), er.load_exchange(csv)
    assert a.shape == (20, 8)
    np.testing.assert_allclose(a, table, atol=1e-9)
    np.testing.assert_array_equal(a, b)


def test_shared_formats_agree(values):
    csv = er.load_exchange(_shared("exchange_rate.csv"))
    assert values.shape == (7588, 8)
    np.testing.assert_array_equal(values, csv)


@pytest.mark.parametrize("content, needle", [
    ("1,2,3\n", "fields"),
    ("date,0,1,2,3,4,5,6\n2000,1,2,3,4,5,6,7\n", "missing"),
    ("date,0,1,2,3,4,5,6,OT\n2000,1,2,3,4,5,6,7\n", "line 2 has 8 fields: expected 9"),
    ("1,2,3,4,5,6,7,x\n", "not a number"),
    ("1,2,3,4,5,6,7,nan\n", "non-finite"),
    ("", "empty"),
])
def test_bad_files_say_what_is_wrong(tmp_path, content, needle):
    path = tmp_path / "bad.txt"
    path.write_text(content)
    with pytest.raises(ForecasterError, match=needle):
        er.load_exchange(path)


def test_find_data_folder_and_missing(tmp_path, monkeypatch):
    txt, _ = _write_pair(tmp_path, np.ones((3, 8)))
    assert er.find_data(tmp_path) == txt
    with pytest.raises(ForecasterError, match="does not exist"):
        er.find_data(tmp_path / "nope.csv")
    monkeypatch.delenv(er.DATA_ENV, raising=False)
    with pytest.raises(ForecasterError, match="--data"):
        er.find_data(None)


# ---------------------------------------------------------------- protocol

def test_split_sizes_and_test_windows(values):
    bounds = ex.protocol_bounds(len(values), 96)
    own = {k: end - start - (0 if k == "train" else 96) for k, (start, end) in bounds.items()}
    assert own == {"train": 5311, "val": 760, "test": 1517}
    assert bounds["val"][0] == 5311 - 96 and bounds["test"][1] == 7588
    splits = ex.scaled_splits(values, 96)
    counts = [ex.n_windows(len(splits["test"]), 96, h) for h in ex.HORIZONS]
    assert counts == [1422, 1326, 1182, 798]


def test_scaler_uses_training_rows_only(values):
    splits = ex.scaled_splits(values, 96)
    train = splits["train"].astype(np.float64)
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-5)
    # a change after the training rows does not move the scaler
    later = values.copy()
    later[6000:] *= 10
    np.testing.assert_array_equal(ex.scaled_splits(later, 96)["train"], splits["train"])


@pytest.mark.parametrize("horizon, mse, mae", [(96, 0.081, 0.196), (192, 0.167, 0.289), (336, 0.306, 0.398),
                                               (720, 0.810, 0.676)])
def test_repeat_reproduces_the_reference(values, horizon, mse, mae):
    scores = ex.repeat_scores(ex.scaled_splits(values, 96)["test"], 96, horizon)
    assert round(scores["mse"], 3) == mse
    assert round(scores["mae"], 3) == mae


def test_change_windows_match_a_direct_loop():
    series = np.random.default_rng(1).normal(size=(40, 3)).astype(np.float32)
    L, H = 5, 4
    x, y = change_windows(series, L, H)
    assert x.shape == (40 - L - H + 1, L, 3) and y.shape == (40 - L - H + 1, H, 3)
    for s in (0, 13, len(x) - 1):
        np.testing.assert_array_equal(x[s], series[s:s + L])
        np.testing.assert_array_equal(y[s], series[s + L:s + L + H] - series[s + L - 1])
    direct = np.mean([(series[s + L:s + L + H] - series[s + L - 1]).astype(np.float64) ** 2 for s in range(len(x))])
    assert ex.repeat_scores(series, L, H)["mse"] == pytest.approx(direct, rel=1e-9)


def test_config_json_round_trip_overrides_and_validation():
    cfg = ex.with_overrides(ex.CHOSEN, lookback=48, d_model=16, n_layer=1, epochs=3, seed=None)
    assert (cfg.lookback, cfg.model.d_model, cfg.model.n_layer, cfg.train.epochs) == (48, 16, 1, 3)
    assert cfg.train.lr == ex.CHOSEN.train.lr and cfg.model.revin
    assert ex.ExchangeConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ForecasterError, match="lookback"):
        ex.ExchangeConfig(lookback=0)
    with pytest.raises(ForecasterError, match="unknown"):
        ex.ExchangeConfig.from_dict({"nope": 1})


# ---------------------------------------------------------------- training smoke test (synthetic, fast)

def _oscillation() -> dict:
    t = np.arange(400)
    rng = np.random.default_rng(0)
    # two channels with a slow oscillation: the change over the next steps is predictable, Repeat is not perfect
    series = (np.stack([np.sin(t / 6.0), np.cos(t / 9.0)], axis=1) + 0.05 * rng.normal(size=(400, 2))).astype(np.float32)
    return {"train": series[:300], "val": series[300 - 16:], "test": series[300 - 16:]}


def test_training_loss_falls_and_beats_repeat_on_a_predictable_series():
    splits = _oscillation()
    cfg = ex.ExchangeConfig(lookback=16, model=ModelConfig(d_model=16, n_layer=1, d_state=8, distribution="none", revin=False),
                            train=TrainConfig(lr=3e-3, weight_decay=0.0, batch_size=32, epochs=4, patience=4,
                                              schedule="constant", checks_per_epoch=2))
    net, fitted = ex.fit(splits, horizon=4, config=cfg)
    losses = [h["train_loss"] for h in fitted.history[1:]]
    assert len(fitted.history) == 1 + 4 * 2  # check 0, then two checks an epoch
    assert losses[-1] < losses[0]
    assert fitted.best_epoch > 0
    assert fitted.best_val_mse < ex.repeat_scores(splits["val"], 16, 4)["mse"]
    assert pipeline.score(net, change_windows(splits["val"], 16, 4))["mse"] == pytest.approx(fitted.best_val_mse, rel=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message given without CUDA")
def test_cuda_without_cuda_is_a_clear_error(tmp_path):
    txt, _ = _write_pair(tmp_path, np.ones((300, 8)))
    with pytest.raises(ForecasterError, match="CUDA"):
        ex.run_benchmark(txt, [4], ex.ExchangeConfig(lookback=8), device="cuda", train=False, show_progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_scores_match_cpu():
    series = np.random.default_rng(2).normal(size=(120, 3)).astype(np.float32)
    splits = {"train": series[:90], "val": series[80:]}
    cfg = ex.with_overrides(ex.CHOSEN, lookback=8, d_model=8, n_layer=1, d_state=4, epochs=1)
    net, _ = ex.fit(splits, horizon=4, config=cfg, device="cuda")
    windows = change_windows(series[80:], 8, 4)
    assert pipeline.score(net, windows, device="cuda")["mse"] == pytest.approx(pipeline.score(net, windows)["mse"], rel=1e-4)

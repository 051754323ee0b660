"""The Exchange-Rate benchmark: loader (both formats), protocol (splits, windows, scaler), Repeat
numbers on the shared data (skipped when it is absent), and a tiny training smoke test."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch

from forecaster.benchmarks import exchange as ex
from forecaster.configs import ModelConfig, TrainConfig
from forecaster.data import change_windows
from forecaster.data import exchange_rate as er
from forecaster.errors import ForecasterError
from forecaster.model.inference import forecast_windows

REPO = Path(__file__).resolve().parents[2]


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
    x, y = change_windows(splits["val"], 16, 4)
    assert ex.window_losses(forecast_windows(net, np.ascontiguousarray(x)), y).mean() == pytest.approx(
        fitted.best_val_mse, rel=1e-5)


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
    x, y = change_windows(series[80:], 8, 4)
    x = np.ascontiguousarray(x)
    on_cpu = ex.window_losses(forecast_windows(net, x), y).mean()
    assert ex.window_losses(forecast_windows(net.cuda(), x), y).mean() == pytest.approx(on_cpu, rel=1e-4)


# ---------------------------------------------------------------- selection: folds, the gate, RevIN (issue 11)

@pytest.mark.parametrize("horizon, k", [(96, 1), (192, 1), (336, 4), (720, 4)])
def test_fold_count_uses_folds_at_long_horizons_only(horizon, k):
    # the validation split holds 665 / 569 / 425 / 41 windows; folds below 2 H of them
    assert ex.fold_count(7588, 96, horizon, ex.CHOSEN) == k


@pytest.mark.parametrize("horizon", [96, 720])
def test_folds_are_chronological_and_never_validate_on_training_rows(horizon):
    n, L = 7588, 96
    folds = ex.make_folds(n, L, horizon, 4)
    bounds = ex.protocol_bounds(n, L)
    n_val = bounds["val"][1] - bounds["val"][0] - L
    assert [f.index for f in folds] == [3, 2, 1, 0]  # oldest first
    assert (folds[-1].train_end, folds[-1].val_end) == (bounds["train"][1], bounds["val"][1])  # fold 0 = the protocol
    for f in folds:
        assert f.val_end - f.train_end == n_val  # each block the protocol's validation size
    for older, newer in zip(folds, folds[1:]):
        assert older.val_end == newer.train_end and older.train_end < newer.train_end  # disjoint, in time order
    # the windows: targets of training windows end before the fold's first validation row
    values = np.cumsum(np.random.default_rng(4).normal(size=(n, 2)), axis=0)
    f = folds[0]
    w = ex.fold_windows(values, f, L, horizon)
    assert len(w["train"][0]) == f.train_end - L - horizon + 1  # last training target row = train_end - 1
    assert len(w["val"][0]) == n_val - horizon + 1  # first validation target row = train_end
    # no look-ahead: rows from the fold's validation block on do not move its training windows (scaler included)
    later = values.copy()
    later[f.train_end:] *= 5
    np.testing.assert_array_equal(ex.fold_windows(later, f, L, horizon)["train"][1], w["train"][1])


def test_selection_needs_a_point_forecast():
    with pytest.raises(ForecasterError, match="distribution"):
        ex.select_and_fit(np.zeros((400, 2)), 4, ex.with_overrides(_tiny(), distribution="student_t"))


def test_too_many_folds_is_a_clear_error():
    with pytest.raises(ForecasterError, match="fewer folds"):
        ex.make_folds(400, 16, 4, 20)
    with pytest.raises(ForecasterError, match="folds"):
        ex.ExchangeConfig(folds=0)


def test_choose_check_pools_folds_and_stops_at_the_shortest_fold():
    a = np.array([[1.0, 1.0], [0.5, 0.5], [0.2, 0.2], [0.1, 0.1]])  # (checks 4, windows 2): keeps improving
    b = np.array([[1.0, 1.0, 1.0], [0.9, 0.9, 0.9], [1.2, 1.2, 1.2]])  # stopped after check 2
    check, mse = ex.choose_check([a, b])
    assert len(mse) == 3  # only the checks every fold reached
    assert check == 1 and mse[1] == pytest.approx((0.5 * 2 + 0.9 * 3) / 5)
    assert ex.choose_check([a])[0] == 3


def _overlapping_losses(rng, n, h, skill):
    """Per-window losses of h-step forecasts from overlapping windows (moving sums), Repeat's and a model's."""
    shocks = rng.normal(size=n + h)
    repeat = np.convolve(shocks**2, np.ones(h) / h, mode="valid")[:n] + 1.0
    noise = np.convolve(rng.normal(size=n + h), np.ones(h) / h, mode="valid")[:n]
    return repeat * (1 - skill) + 0.1 * noise, repeat


def test_gate_keeps_repeat_without_significant_gain_and_the_model_with_it():
    rng = np.random.default_rng(5)
    none, rep = _overlapping_losses(rng, 600, 24, skill=0.0)
    kept = ex.gate_test([none], [rep], 24, 0.05)
    assert kept["kept"] == "Repeat" and kept["p"] >= 0.05 and kept["method"].startswith("DM")
    good, rep = _overlapping_losses(rng, 600, 24, skill=0.2)
    kept = ex.gate_test([good], [rep], 24, 0.05)
    assert kept["kept"] == "model" and kept["p"] < 0.05 and kept["windows"] == 600
    assert ex.gate_test([none], [rep], 24, 1.0)["kept"] == "model"  # gate 1 keeps any model
    assert ex.gate_test([rep], [rep], 24, 0.05)["kept"] == "Repeat"  # the model is Repeat: nothing to test


def test_gate_with_few_windows_tests_the_fold_means():
    rng = np.random.default_rng(6)
    # 4 folds of 41 windows at H = 720: fewer than 2 H pooled windows
    reps = [1.0 + rng.random(41) for _ in range(4)]
    better = [r * 0.9 for r in reps]
    mixed = [r * f for r, f in zip(reps, (0.8, 1.1, 0.9, 1.05))]
    assert ex.gate_test(better, reps, 720, 0.05)["kept"] == "model"
    t = ex.gate_test(mixed, reps, 720, 0.05)
    assert t["kept"] == "Repeat" and t["method"].startswith("t-test") and len(t["fold_gains"]) == 4
    assert ex.gate_test(better[:2], reps[:2], 720, 0.05)["kept"] == "Repeat"  # two folds cannot be tested


def _tiny(**selection) -> ex.ExchangeConfig:
    return ex.ExchangeConfig(lookback=16, model=ModelConfig(d_model=8, n_layer=1, d_state=4, distribution="none"),
                             train=TrainConfig(lr=3e-3, weight_decay=0.0, batch_size=32, epochs=2, patience=4,
                                               schedule="constant", checks_per_epoch=2, threads=1),
                             folds=3, fold_below=100.0, **selection)


def test_selection_keeps_repeat_on_a_random_walk():
    walk = np.cumsum(np.random.default_rng(0).normal(size=(400, 2)), axis=0).astype(np.float32)
    sel = ex.select_and_fit(walk, 4, _tiny())
    assert len(sel["folds"]) == 3 and sum(f["val_windows"] for f in sel["folds"]) == sel["gate"]["windows"]
    assert sel["kept"] == "Repeat"
    # here (seed 0) training found a validation "gain" at a later check, which the gate did not believe
    assert sel["check"] == 0 or (sel["gate"]["gain"] > 0 and sel["gate"]["p"] >= 0.05)
    assert {c["revin"] for c in sel["candidates"]} == {True, False}


def test_selection_keeps_the_model_on_a_predictable_series():
    values = np.concatenate([_oscillation()["train"], _oscillation()["test"][16:]])  # the 400 rows
    sel = ex.select_and_fit(values, 4, _tiny())
    assert sel["kept"] == "model" and sel["gate"]["p"] < 0.05 and sel["check"] > 0
    chosen = min(sel["candidates"], key=lambda c: c["val_mse"])
    assert sel["revin"] == chosen["revin"] and chosen["val_mse"] < chosen["val_repeat_mse"]
    # the returned network is fold 0's at the chosen check: its validation losses are the pooled ones' last fold
    fold0 = ex.fold_windows(values, ex.make_folds(400, 16, 4, 3)[-1], 16, 4)

    x, y = fold0["val"]
    loss = ex.window_losses(forecast_windows(sel["net"], np.ascontiguousarray(x)), y).mean()
    assert loss < np.mean(y.astype(np.float64) ** 2)


# ---------------------------------------------------------------- the table: annotations and verdicts

def _result(skill: float) -> ex.BenchmarkResult:
    from forecaster.evaluation.verdicts import compare_with_random_walk

    rows = []
    for h, kept in ((96, "model"), (720, "Repeat")):
        model, rep = _overlapping_losses(np.random.default_rng(h), 800, h, skill if kept == "model" else 0.0)
        if kept == "Repeat":
            model = rep
        verdict = compare_with_random_walk(model, rep, h, "test")
        gate = {"windows": 665, "val_mse": 0.12, "val_repeat_mse": 0.13, "method": "DM", "p": 0.01, "kept": kept}
        rows.append(ex.HorizonResult(
            horizon=h, test_windows=800, repeat={"mse": float(rep.mean()), "mae": 0.2},
            model={"mse": float(model.mean()), "mae": 0.2}, val_repeat_mse=0.13, val_model_mse=0.12, best_epoch=0.5,
            epochs_run=1.0, seconds=1.0, kept=kept, revin=True, verdict=verdict,
            selection={"folds": [{"val_windows": 665}], "gate": gate, "candidates": [], "check": 2},
            repeat_drop_last={"mse": 0.3, "mae": 0.4}))
    return ex.BenchmarkResult("x", 7588, ex.CHOSEN.to_dict(), "cpu", 0, rows, 1.0)


def test_table_annotates_the_last_batch_and_the_tfb_rows():
    text = ex.format_table(_result(0.2))
    lines = {line.split(" | ")[0] + " | " + line.split(" | ")[3]: line for line in text.splitlines()
             if line.startswith("| ") and line.count(" | ") > 4}
    assert "dropped (batch 32" in lines["| Repeat | DLinear paper (Zeng et al., AAAI 2023), Table 2"]
    assert "dropped (batch 32" in lines["| DLinear | DLinear paper (Zeng et al., AAAI 2023), Table 2"]
    assert "kept (batch 1)" in lines["| iTransformer | iTransformer paper (Liu et al., ICLR 2024), Table 10 (full results)"]
    assert "kept (batch 1)" in lines["| S-Mamba | S-Mamba paper (Wang et al., 2024), Table 2 (full long-term results)"]
    tfb = [line for line in text.splitlines() if ex.TFB in line]
    assert len(tfb) == 4 and "0.079 / 0.200" in tfb[0] and "0.751 / 0.650" in tfb[0]  # PatchTST, H=96 and 720
    assert "0.578 / 0.605" in " ".join(tfb)  # DLinear at H=720
    assert "optimistic" in text
    assert "(Repeat kept)" in text and "0.300 / 0.400" in text  # our drop_last Repeat row


def test_table_verdicts_need_significance():
    text = ex.format_table(_result(0.2))
    h96 = next(line for line in text.splitlines() if line.startswith("- H=96"))
    assert "better than Repeat (DM p" in h96 and "n = 800 test windows" in h96
    h720 = next(line for line in text.splitlines() if line.startswith("- H=720"))
    assert "Repeat kept by the gate" in h720 and "indistinguishable" in h720 and "little power" in h720
    weak = ex.format_table(_result(0.0))
    assert "better than" not in weak and "indistinguishable from Repeat (DM p = " in weak


def test_repeat_with_the_last_batch_dropped_reproduces_the_dlinear_row(values):
    test = ex.scaled_splits(values, 336)["test"]
    for horizon, mse, mae in ((336, 0.305, 0.396), (720, 0.823, 0.681)):
        scores = ex.repeat_scores(test, 336, horizon, drop_last_batch=32)
        assert (round(scores["mse"], 3), round(scores["mae"], 3)) == (mse, mae)
        assert scores["windows"] % 32 == 0 and scores["windows"] > ex.n_windows(len(test), 336, horizon) - 32

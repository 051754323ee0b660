"""Training, checkpoints, intervals and prediction (issue 4), on small synthetic data."""

import json
import os
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from forecaster import api
from forecaster.model import checkpoint
from forecaster.probabilistic import intervals
from forecaster.data import DataConfig
from forecaster.errors import ForecasterError
from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster
from forecaster.model.trainer import TrainConfig, fit

from conftest import TINY_MODEL, ar1_returns, price_series


def synthetic_series():
    return price_series(ar1_returns())


def quick_train(tmp_path, name="m", seed=0, epochs=3, quantiles=(), **kw):
    return api.train(
        design="windowed", name=name, series=synthetic_series(), data=DataConfig(lookback=16, horizon=3),
        model=replace(TINY_MODEL, quantiles=quantiles),
        train_config=TrainConfig(epochs=epochs, batch_size=32, seed=seed, device="cpu", patience=10),
        models_dir=tmp_path, progress=False, **kw,
    )


def test_overfits_a_tiny_series():
    torch.manual_seed(0)
    x = torch.randn(32, 12, 2)
    y = torch.cumsum(x[:, -3:, :1], dim=1)  # a function of the inputs: (32, 3, 1)
    model = MambaForecaster(ForecasterConfig(mamba=MambaConfig(d_model=16, n_layer=2, d_state=4), n_inputs=2, horizon=3))
    data = TensorDataset(x, y)
    result = fit(model, data, data, TrainConfig(epochs=150, batch_size=32, lr=1e-2, patience=150, warmup_frac=0.02,
                                                device="cpu"), progress=False)
    first = result.history[0]["val_loss"]  # the untrained (zero) model
    assert result.best_val_loss <= 0.1 * first


def test_untrained_start_is_the_random_walk_and_best_is_never_worse(tmp_path):
    trained = quick_train(tmp_path, epochs=2)
    m = trained.meta["metrics"]
    history = trained.meta["history"]
    assert history[0]["epoch"] == 0 and history[0]["val_mse"] == pytest.approx(m["val_mse_random_walk"], rel=1e-6)
    assert m["val_mse"] <= m["val_mse_random_walk"] + 1e-12


def test_same_seed_same_loss_and_resume_continues(tmp_path):
    a = quick_train(tmp_path, name="a", seed=3, epochs=4)
    b = quick_train(tmp_path, name="b", seed=3, epochs=4)
    assert [h["val_loss"] for h in a.meta["history"]] == [h["val_loss"] for h in b.meta["history"]]

    # an interrupted run: stop after epoch 2, then resume to 4
    from forecaster.model import estimator

    calls = []

    def interrupt(row):
        calls.append(row["epoch"])
        if row["epoch"] == 2:
            raise KeyboardInterrupt

    original = estimator.train_loop

    def fit_with_interrupt(*args, **kwargs):
        return original(*args, **kwargs, on_check=interrupt)

    estimator.train_loop = fit_with_interrupt
    try:
        with pytest.raises(KeyboardInterrupt):
            quick_train(tmp_path, name="c", seed=3, epochs=4)
    finally:
        estimator.train_loop = original
    assert calls == [1, 2] and (tmp_path / "c" / checkpoint.TRAIN_STATE).exists()
    resumed = quick_train(tmp_path, name="c", seed=3, epochs=4, resume=True)
    assert [h["epoch"] for h in resumed.meta["history"]] == [0, 1, 2, 3, 4]
    assert [h["val_loss"] for h in resumed.meta["history"]] == pytest.approx([h["val_loss"] for h in a.meta["history"]])


def test_save_load_predict_identical(tmp_path):
    trained = quick_train(tmp_path, quantiles=(0.1, 0.5, 0.9))
    series = synthetic_series()
    first = trained.predict(series)
    loaded = api.load("m", tmp_path)
    again = loaded.predict(series)
    assert np.array_equal(first.prices, again.prices)
    for level in ("0.8", "0.95"):
        assert np.array_equal(first.intervals[level]["lower"], again.intervals[level]["lower"])
        assert (again.intervals[level]["lower"] <= again.prices).all() and (again.prices <= again.intervals[level]["upper"]).all()
    assert len(again.dates) == 3 and again.dates[0] > series.frame.index[-1]
    assert again.to_dict()["steps"][0]["interval_95"][0] == pytest.approx(again.intervals["0.95"]["lower"][0])
    assert api.list_models(tmp_path)[0]["pair"] == "EURUSD"


class _Boom:
    """Unpickling this would run os.system; a safe loader must refuse."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/forecaster_pwned_by_test",))


def test_damaged_or_tampered_checkpoints_fail_clearly(tmp_path):
    quick_train(tmp_path, epochs=1)
    folder = tmp_path / "m"
    weights = folder / checkpoint.WEIGHTS
    good = weights.read_bytes()

    weights.write_bytes(good[: len(good) // 2])  # truncated
    with pytest.raises(ForecasterError, match="truncated or was altered"):
        api.load("m", tmp_path)

    # a malicious pickle with a matching hash: the hash check passes, weights_only refuses to run it
    marker = "/tmp/forecaster_pwned_by_test"
    if os.path.exists(marker):
        os.remove(marker)
    weights.write_bytes(pickle.dumps({"x": _Boom()}))
    meta = json.loads((folder / checkpoint.META).read_text())
    meta["weights_sha256"] = checkpoint._sha256(weights)
    (folder / checkpoint.META).write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="cannot be loaded safely"):
        api.load("m", tmp_path)
    assert not os.path.exists(marker)

    weights.write_bytes(good)
    meta["weights_sha256"] = checkpoint._sha256(weights)
    meta["model_config"]["mamba"]["d_model"] = 12  # config no longer fits the weights
    (folder / checkpoint.META).write_text(json.dumps(meta))
    with pytest.raises(ForecasterError, match="do not fit"):
        api.load("m", tmp_path)

    (folder / checkpoint.META).write_text("{not json")
    with pytest.raises(ForecasterError, match="corrupt"):
        api.load("m", tmp_path)
    with pytest.raises(ForecasterError, match="no saved model"):
        api.load("missing", tmp_path)


def test_conformal_intervals_cover_nominal_on_synthetic_data():
    rng = np.random.default_rng(1)
    n, h = 4000, 4
    pred = rng.standard_normal((2 * n, h)) * 0.3
    y = pred + rng.standard_normal((2 * n, h)) * np.linspace(0.5, 2.0, h)  # noise grows with the step
    cal = intervals.calibrate(pred[:n], y[:n])
    for level, (lo, hi) in intervals.intervals(pred[n:], cal).items():
        assert abs(intervals.coverage(y[n:], lo, hi) - float(level)) <= 0.05
        assert (np.diff(np.asarray(cal[level]["c"])) > 0).all()  # wider for later steps
    # quantile heads: conformalised quantile regression
    q = (0.025, 0.1, 0.5, 0.9, 0.975)
    qpred = np.stack([pred + z for z in (-0.5, -0.3, 0.0, 0.3, 0.5)], axis=-1)
    cal = intervals.calibrate(qpred[:n], y[:n], q)
    assert cal["0.8"]["method"] == "cqr"
    for level, (lo, hi) in intervals.intervals(qpred[n:], cal, q).items():
        assert abs(intervals.coverage(y[n:], lo, hi) - float(level)) <= 0.05





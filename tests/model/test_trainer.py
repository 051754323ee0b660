"""fit on plain arrays (as the backtest calls it), forecast_windows, and clear errors on bad input or resume."""

import numpy as np
import pytest
import torch

from forecaster.errors import ForecasterError
from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster
from forecaster.model.inference import forecast_windows
from forecaster.model.trainer import TrainConfig, fit


def _model(seed=0, d_model=8, quantiles=()):
    torch.manual_seed(seed)
    return MambaForecaster(ForecasterConfig(mamba=MambaConfig(d_model=d_model, n_layer=1, d_state=4), n_inputs=2,
                                            horizon=3, quantiles=quantiles))


def _arrays(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 12, 2)).astype(np.float32)
    y = np.cumsum(x[:, -3:, :1], axis=1)  # (n, 3, 1): learnable from the inputs
    return x, y


def test_fit_on_arrays_then_forecast_windows():
    x, y = _arrays()
    model = _model()
    before = forecast_windows(model, x)
    assert before.shape == (96, 3, 1) and not before.any()  # untrained = the no-change forecast
    result = fit(model, (x[:64], y[:64]), (x[64:], y[64:]), TrainConfig(epochs=3, batch_size=16, device="cpu"),
                 progress=False)
    assert [h["epoch"] for h in result.history][:2] == [0, 1]
    assert result.random_walk_val_mse == pytest.approx(float(np.mean(y[64:] ** 2)), rel=1e-5)
    after = forecast_windows(model, x[64:])
    assert after.shape == (32, 3, 1) and after.any()
    assert result.best_val_mse == pytest.approx(float(np.mean((after - y[64:]) ** 2)), rel=1e-4)


def test_forecast_windows_with_quantile_heads():
    x, y = _arrays()
    model = _model(quantiles=(0.1, 0.5, 0.9))
    fit(model, (x, y), (x, y), TrainConfig(epochs=2, batch_size=32, device="cpu"), quantiles=(0.1, 0.5, 0.9),
        progress=False)
    assert forecast_windows(model, x, batch_size=40).shape == (96, 3, 1, 3)


def test_fit_rejects_bad_data_and_unfit_resume_state(tmp_path):
    x, y = _arrays()
    with pytest.raises(ForecasterError, match="x holds 96 windows but y holds 10"):
        fit(_model(), (x, y[:10]), (x, y), TrainConfig(epochs=1, device="cpu"), progress=False)
    with pytest.raises(ForecasterError, match="is not accepted"):
        fit(_model(), x, (x, y), TrainConfig(epochs=1, device="cpu"), progress=False)
    state = tmp_path / "train_state.pt"
    fit(_model(), (x, y), (x, y), TrainConfig(epochs=1, device="cpu"), state_path=state, progress=False)
    with pytest.raises(ForecasterError, match="cannot resume"):  # a wider model cannot take this state
        fit(_model(d_model=16), (x, y), (x, y), TrainConfig(epochs=2, device="cpu"), state_path=state, resume=True,
            progress=False)
    with pytest.raises(ForecasterError, match="nothing to resume"):
        fit(_model(), (x, y), (x, y), TrainConfig(epochs=2, device="cpu"), state_path=tmp_path / "none.pt",
            resume=True, progress=False)
    with pytest.raises(ForecasterError, match="loss='l1' is invalid"):
        TrainConfig(loss="l1")


def test_train_config_json_round_trip():
    import json

    cfg = TrainConfig(epochs=7, lr=5e-4, loss="huber", seed=3, threads=2)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(ForecasterError, match="unknown TrainConfig setting"):
        TrainConfig.from_dict({"epochs": 2, "learning_rate": 0.1})


def test_ema_keeps_the_moving_average_of_the_weights_and_resumes_it(tmp_path, monkeypatch):
    """With TrainConfig.ema the fit scores and keeps the exponential moving average of the weights: the kept
    model is that average (recomputed here from the raw weights after each step), its validation MSE is
    the one recorded, and a run resumed mid-way keeps the same average as one that was not."""
    x, y = _arrays()
    train, val = (x[:64], y[:64]), (x[64:], y[64:])
    cfg = TrainConfig(epochs=2, batch_size=16, device="cpu", patience=10, ema=0.7, schedule="constant")
    raw_steps = []  # the raw weights after every optimiser step, from a run without averaging
    step = torch.optim.AdamW.step

    def record(self, *a, **k):
        out = step(self, *a, **k)
        raw_steps.append([p.detach().clone() for g in self.param_groups for p in g["params"]])
        return out

    with monkeypatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", record)
        fit(_model(), train, val, TrainConfig(**{**cfg.to_dict(), "ema": 0.0}), progress=False)
    averaged = _model()
    result = fit(averaged, train, val, cfg, progress=False)
    assert result.best_epoch == 2 and len(raw_steps) == 8  # 4 steps an epoch; the later average was the better one
    expected = raw_steps[0]
    for weights in raw_steps[1:]:
        expected = [0.7 * e + 0.3 * w for e, w in zip(expected, weights)]
    groups = [p for g in averaged.param_groups(cfg.weight_decay) for p in g["params"]]
    for kept, want in zip(groups, expected):
        torch.testing.assert_close(kept, want, rtol=1e-5, atol=1e-6)
    assert any(not torch.allclose(a, b) for a, b in zip(groups, raw_steps[-1]))  # not the raw weights
    assert result.best_val_mse == pytest.approx(float(np.mean((forecast_windows(averaged, x[64:]) - y[64:]) ** 2)), rel=1e-4)
    state = tmp_path / "train_state.pt"
    fit(_model(), train, val, TrainConfig(**{**cfg.to_dict(), "epochs": 1}), state_path=state, progress=False)
    resumed = _model()
    fit(resumed, train, val, cfg, state_path=state, resume=True, progress=False)
    for a, b in zip(resumed.state_dict().values(), averaged.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(ForecasterError, match="ema=1.0 is invalid"):
        TrainConfig(ema=1.0)

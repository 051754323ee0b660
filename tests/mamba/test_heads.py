"""MambaForecaster's output heads (point, quantiles, normal, student_t) and RevIN's mapping back."""

import pytest
import torch

from forecaster.probabilistic.losses import distribution_loss
from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster
from forecaster.mamba.heads import DF_INIT, DF_MAX

SMALL = dict(d_model=16, n_layer=2, d_state=4)
HEADS = {  # name -> config fields, size of the last output axis (None: no axis)
    "point": (dict(), None),
    "quantiles": (dict(quantiles=(0.05, 0.25, 0.5, 0.75, 0.95)), 5),
    "quantiles_no_median": (dict(quantiles=(0.1, 0.4, 0.9)), 3),
    "normal": (dict(distribution="normal"), 2),
    "student_t": (dict(distribution="student_t"), 3),
    "student_t_fixed": (dict(distribution="student_t", df=4.0), 3),
}


def _model(head: str, seed: int = 0, randomise: float = 0.0, **fields) -> MambaForecaster:
    torch.manual_seed(seed)
    extra, _ = HEADS[head]
    cfg = ForecasterConfig(mamba=MambaConfig(**SMALL), **{"n_inputs": 3, "n_outputs": 2, "horizon": 4, **extra, **fields})
    model = MambaForecaster(cfg).eval()
    if randomise:
        torch.nn.init.normal_(model.head.weight, std=randomise)
    return model


def _close(got: torch.Tensor, want: torch.Tensor, tol: float = 1e-5) -> bool:
    """Equal up to tol relative to the largest magnitude (RevIN's epsilon perturbs at about 1e-6)."""
    return bool((got - want).abs().max() <= tol * want.abs().max().clamp(min=1e-12))


def _loc(out: torch.Tensor, head: str) -> torch.Tensor:
    """The central forecast: the point, the median (0.5 quantile) or loc."""
    if head == "point":
        return out
    if head.startswith("quantiles"):
        return out[..., HEADS[head][0]["quantiles"].index(0.5)] if head == "quantiles" else None
    return out[..., 0]


@pytest.mark.parametrize("head", HEADS)
def test_shapes_and_positive_scales(head):
    model = _model(head, randomise=2.0)
    out = model(torch.randn(5, 30, 3) * 4)
    size = HEADS[head][1]
    assert out.shape == (5, 4, 2) + ((size,) if size else ())
    assert model.forecaster_config.n_params == (size or 0)
    assert torch.isfinite(out).all()
    if model.forecaster_config.distribution != "none":
        assert (out[..., 1] > 0).all()
    if head == "student_t":
        assert (out[..., 2] > 2).all() and (out[..., 2] <= DF_MAX).all() and out[..., 2].std() > 0
    if head == "student_t_fixed":
        assert (out[..., 2] == 4.0).all()


@pytest.mark.parametrize("revin", [False, True])
@pytest.mark.parametrize("head", HEADS)
def test_untrained_model_is_the_random_walk(head, revin):
    model = _model(head, revin=revin)
    out = model(torch.randn(3, 25, 3) * 10 + 5)
    if head == "quantiles_no_median":
        assert (out[..., 0] < 0).all() and (out[..., 1] < 0).all() and (out[..., 2] > 0).all()  # around 0
    else:
        assert torch.count_nonzero(_loc(out, head)) == 0
    if head == "student_t":
        assert torch.allclose(out[..., 2], torch.tensor(DF_INIT))
    if head in ("normal", "student_t") and not revin:
        assert torch.allclose(out[..., 1], torch.tensor(1.0))  # the unit scale of standardised targets


def test_untrained_quantiles_are_those_of_a_unit_normal():
    out = _model("quantiles")(torch.randn(2, 20, 3))
    want = torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor([0.05, 0.25, 0.5, 0.75, 0.95]))
    assert torch.allclose(out, want.expand_as(out), atol=1e-5)


@pytest.mark.parametrize("head", ["quantiles", "quantiles_no_median"])
def test_quantiles_never_cross(head):
    for seed in range(3):
        model = _model(head, seed=seed, randomise=5.0)  # large weights: raw outputs in all orders
        with torch.no_grad():
            torch.nn.init.normal_(model.head.bias, std=5.0)
        out = model(torch.randn(64, 20, 3) * 3)  # (64, 4, 2, Q)
        assert (out.diff(dim=-1) > 0).all()


def test_scale_depends_on_the_window_without_revin():
    model = _model("student_t", randomise=0.5)
    calm, storm = torch.randn(1, 40, 3) * 0.1, torch.randn(1, 40, 3) * 3
    out = model(torch.cat([calm, storm]))
    assert (out[0, ..., 1] - out[1, ..., 1]).abs().min() > 1e-4


def test_training_learns_a_window_dependent_scale():
    """Heteroscedastic windows: inputs and targets share the window's volatility (0.2 or 2); a few
    CRPS steps make the predicted scale of stormy windows larger than that of calm ones."""
    torch.manual_seed(0)
    model = MambaForecaster(ForecasterConfig(mamba=MambaConfig(d_model=8, n_layer=1, d_state=4), n_inputs=1,
                                             horizon=2, distribution="normal")).train()
    opt = torch.optim.Adam(model.parameters(), lr=0.02)

    def batch(n):
        vol = torch.where(torch.rand(n) < 0.5, 0.2, 2.0)[:, None, None]
        return torch.randn(n, 16, 1) * vol, torch.randn(n, 2, 1) * vol, vol.flatten()

    for _ in range(30):
        x, y, _ = batch(32)
        loss = distribution_loss(model(x), y, "normal", "crps")
        opt.zero_grad()
        loss.backward()
        opt.step()
    x, _, vol = batch(200)
    with torch.no_grad():
        scale = model.eval()(x)[..., 1].mean((1, 2))  # (200,)
    assert scale[vol == 2.0].mean() > 2 * scale[vol == 0.2].mean()


@pytest.mark.parametrize("head", HEADS)
def test_revin_outputs_scale_with_the_inputs(head):
    model = _model(head, randomise=0.5, revin=True)
    x = torch.randn(4, 30, 3, dtype=torch.float64) * 5
    model = model.double()
    out, scaled = model(x), model(x * 7.0 + 3.0)
    if model.forecaster_config.distribution != "none":
        assert _close(scaled[..., :2], out[..., :2] * 7.0)  # loc and scale
        if out.shape[-1] == 3:
            assert _close(scaled[..., 2], out[..., 2])  # df unchanged
    else:
        assert _close(scaled, out * 7.0)
    assert not _close(out * 7.0, out, 0.1)


def test_revin_level_shifts_by_the_window_mean():
    model = _model("normal", randomise=0.5, revin=True, revin_level=True).double()
    x = torch.randn(4, 30, 3, dtype=torch.float64) * 5
    out, moved = model(x), model(x * 2.0 + 10.0)
    assert _close(moved[..., 0], out[..., 0] * 2.0 + 10.0)
    assert _close(moved[..., 1], out[..., 1] * 2.0)
    untrained = _model("normal", revin=True, revin_level=True)(x.float())
    assert torch.allclose(untrained[..., 0], x.float().mean(1)[:, None, :2].expand(4, 4, 2), atol=1e-5)


def test_revin_channels_name_the_scaling_input():
    model = _model("quantiles", randomise=0.5, revin=True, revin_channels=(2, 0)).double()
    x = torch.randn(3, 30, 3, dtype=torch.float64) * 5
    k = torch.tensor([1.0, 1.0, 5.0], dtype=torch.float64)  # only input channel 2 grows
    out, scaled = model(x), model(x * k)
    assert _close(scaled[:, :, 0], out[:, :, 0] * 5.0)  # output 0 <- input 2
    assert _close(scaled[:, :, 1], out[:, :, 1])  # output 1 <- input 0


@pytest.mark.parametrize("head", HEADS)
def test_step_equals_forward_with_revin(head):
    """Step mode keeps the prefill's statistics; on a periodic series the full window at every
    whole period has those same statistics, so the steps must equal the full forward there."""
    model = _model(head, randomise=0.5, revin=True, revin_level=True).double()
    period = torch.randn(2, 9, 3, dtype=torch.float64) * torch.tensor([1.0, 4.0, 0.3], dtype=torch.float64) + 2
    x = period.repeat(1, 3, 1)  # (2, 27, 3)
    cache = model.allocate_cache(2)
    with torch.no_grad():
        outs = {9: model(x[:, :9], cache)}
        for t in range(9, 27):
            outs[t + 1] = model.step(x[:, t], cache)
        for t in (9, 18, 27):
            want = model(x[:, :t])
            assert torch.allclose(outs[t], want, rtol=1e-5, atol=1e-6)  # scan states are float32
        assert not torch.allclose(outs[14], model(x[:, :14]), rtol=1e-3)  # other lengths: different statistics


def test_config_round_trip_and_old_configs():
    cfg = ForecasterConfig(mamba=MambaConfig(d_model=8), n_inputs=3, n_outputs=2, horizon=4, revin=True,
                           revin_level=True, revin_channels=(2, 1), distribution="student_t", df=6)
    again = ForecasterConfig.from_json(cfg.to_json())
    assert again == cfg and again.revin_channels == (2, 1) and again.df == 6.0 and again.n_params == 3
    old = {"mamba": MambaConfig().to_dict(), "n_inputs": 2, "n_outputs": 1, "horizon": 3, "quantiles": [0.1, 0.9],
           "revin": True}  # saved before the distribution heads existed
    loaded = ForecasterConfig.from_dict(old)
    assert (loaded.distribution, loaded.df, loaded.revin_level, loaded.revin_channels) == ("none", None, False, ())
    assert loaded.output_channels == (0,)
    model = MambaForecaster(loaded)
    assert model(torch.randn(2, 10, 2)).shape == (2, 3, 1, 2)


@pytest.mark.parametrize(
    "fields, name",
    [
        (dict(distribution="laplace"), "distribution"),
        (dict(distribution="normal", quantiles=(0.1, 0.9)), "distribution"),
        (dict(distribution="normal", df=5.0), "df"),
        (dict(distribution="student_t", df=2.0), "df"),
        (dict(revin_channels=(0, 3)), "revin_channels"),
        (dict(revin_channels=(0,)), "revin_channels"),
        (dict(n_outputs=4, revin=True), "revin_channels"),
    ],
)
def test_config_errors_name_the_field(fields, name):
    base = dict(n_inputs=3, n_outputs=2)
    with pytest.raises(ValueError, match=name) as err:
        ForecasterConfig(**{**base, **fields})
    assert "accepted" in str(err.value)

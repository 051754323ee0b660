"""Mixer, encoder, cache and heads: step inference equals the full forward, configs validate."""

import math

import pytest
import torch

from forecaster.mamba import (
    ForecasterConfig, MambaConfig, MambaEncoder, MambaForCausalLM, MambaForecaster,
    MambaForFeatureExtraction, MambaForSequenceClassification, MambaMixer,
)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SMALL = dict(d_model=16, n_layer=2, d_state=4)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(torch.seed() % 2**31)


def _randomise_head(model):
    """Heads that start at zero would make step/forward agreement trivial."""
    for p in model.parameters():
        if p.dim() >= 2 and torch.count_nonzero(p) == 0:
            torch.nn.init.normal_(p, std=0.5)


def _max_rel(a, b):
    return ((a - b).abs().max() / b.abs().max().clamp(min=1e-12)).item()


def _step_through(model, inputs, prefill):
    cache = model.allocate_cache(inputs.shape[0])
    out = [model(inputs[:, :prefill], cache=cache)]
    for t in range(prefill, inputs.shape[1]):
        out.append(model.step(inputs[:, t], cache))
    assert cache.offset == inputs.shape[1]
    return out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("prefill", [1, 3, 11])
def test_forecaster_prefill_then_steps_equals_full_forward(prefill, device):
    cfg = ForecasterConfig(mamba=MambaConfig(**SMALL), n_inputs=3, n_outputs=2, horizon=5, quantiles=(0.1, 0.5, 0.9))
    model = MambaForecaster(cfg).to(device).eval()
    _randomise_head(model)
    x = torch.randn(2, 20, 3, device=device)
    with torch.no_grad():
        outs = _step_through(model, x, prefill)
        for t, got in zip(range(prefill, 21), outs):
            want = model(x[:, :t])
            assert got.shape == (2, 5, 2, 3)
            assert _max_rel(got, want) <= 1e-5


def test_feature_extraction_and_lm_steps_equal_full_forward():
    feats = MambaForFeatureExtraction(MambaConfig(**SMALL), n_inputs=4).eval()
    lm = MambaForCausalLM(MambaConfig(**SMALL), vocab_size=11).eval()
    x = torch.randn(3, 15, 4)
    ids = torch.randint(0, 11, (3, 15))
    with torch.no_grad():
        for model, inputs in ((feats, x), (lm, ids)):
            full = model(inputs)  # (b, l, ...)
            outs = _step_through(model, inputs, prefill=4)
            assert _max_rel(outs[0][:, -1], full[:, 3]) <= 1e-5
            for k, got in enumerate(outs[1:]):
                assert _max_rel(got, full[:, 4 + k]) <= 1e-5


def test_classifier_step_and_padding():
    clf = MambaForSequenceClassification(MambaConfig(**SMALL), num_classes=3, n_inputs=2).eval()
    x = torch.randn(2, 12, 2)
    with torch.no_grad():
        outs = _step_through(clf, x, prefill=5)
        for k, got in enumerate(outs):
            assert _max_rel(got, clf(x[:, : 5 + k])) <= 1e-5
        # right padding must not change any pooling
        mask = torch.ones(2, 12, dtype=torch.bool)
        mask[1, 8:] = False
        padded = x.clone()
        padded[1, 8:] = 100.0
        for pooling in ("last", "mean", "max"):
            clf.pooling = pooling
            got = clf(padded, mask=mask)
            assert _max_rel(got[1], clf(x[1:2, :8])[0]) <= 1e-5
            assert _max_rel(got[0], clf(x[0:1])[0]) <= 1e-5


def test_pieces_through_the_cache_equal_one_pass():
    enc = MambaEncoder(MambaConfig(**SMALL)).eval()
    x = torch.randn(2, 30, SMALL["d_model"])
    with torch.no_grad():
        cache = enc.allocate_cache(2)
        pieces = [enc(x[:, a:b], cache) for a, b in [(0, 2), (2, 17), (17, 30)]]
        assert _max_rel(torch.cat(pieces, 1), enc(x)) <= 1e-5


def test_greedy_generate_with_and_without_cache():
    lm = MambaForCausalLM(MambaConfig(**SMALL), vocab_size=13).eval()
    prompt = torch.randint(0, 13, (2, 5))
    with_cache = lm.generate(prompt, max_new_tokens=12, use_cache=True)
    without = lm.generate(prompt, max_new_tokens=12, use_cache=False)
    assert with_cache.shape == (2, 17)
    assert torch.equal(with_cache, without)
    assert torch.equal(with_cache[:, :5], prompt)


def test_sampling_filters():
    lm = MambaForCausalLM(MambaConfig(**SMALL), vocab_size=13).eval()
    prompt = torch.randint(0, 13, (2, 3))
    greedy = lm.generate(prompt, 6)
    assert torch.equal(lm.generate(prompt, 6, do_sample=True, top_k=1), greedy)
    assert torch.equal(lm.generate(prompt, 6, do_sample=True, top_p=1e-6), greedy)
    g = torch.Generator().manual_seed(3)
    sampled = lm.generate(prompt, 20, do_sample=True, temperature=2.0, top_k=5, generator=g)
    assert sampled.shape == (2, 23) and int(sampled.max()) < 13


def test_generate_stops_and_pads_at_eos():
    lm = MambaForCausalLM(MambaConfig(**SMALL), vocab_size=7).eval()
    prompt = torch.randint(0, 7, (1, 4))
    first = int(lm.generate(prompt, 1)[0, -1])  # make the first generated token the eos
    out = lm.generate(prompt, 10, eos_token_id=first)
    assert out.shape == (1, 5) and int(out[0, -1]) == first


def test_untrained_forecaster_is_the_random_walk():
    for revin in (False, True):
        cfg = ForecasterConfig(mamba=MambaConfig(**SMALL), n_inputs=4, n_outputs=1, horizon=7, revin=revin)
        y = MambaForecaster(cfg)(torch.randn(3, 25, 4) * 10 + 5)
        assert y.shape == (3, 7, 1)
        assert torch.count_nonzero(y) == 0


def test_mixer_initialisation():
    cfg = MambaConfig(d_model=32, d_state=8, dt_min=0.01, dt_max=0.05)
    mixer = MambaMixer(cfg)
    assert torch.allclose(-torch.exp(mixer.A_log), -torch.arange(1, 9.0).repeat(cfg.d_inner, 1))
    assert torch.equal(mixer.D.detach(), torch.ones(cfg.d_inner))
    dt = torch.nn.functional.softplus(mixer.dt_proj.bias.detach())
    assert float(dt.min()) >= 0.01 * (1 - 1e-4) and float(dt.max()) <= 0.05 * (1 + 1e-4)
    assert cfg.dt_rank == math.ceil(32 / 16)


def test_param_groups_exclude_A_log_D_norms_and_biases():
    model = MambaForecaster(ForecasterConfig(mamba=MambaConfig(**SMALL), n_inputs=2, horizon=3))
    decay, no_decay = model.param_groups(0.1)
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {names[id(p)] for p in decay["params"]}
    exempt = {names[id(p)] for p in no_decay["params"]}
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert len(decayed) + len(exempt) == len(names)
    assert all(n.endswith(("A_log", ".D", "bias", "norm.weight", "norm_f.weight")) for n in exempt)
    assert any(n.endswith("A_log") for n in exempt) and not any(n.endswith("A_log") for n in decayed)
    assert any(n.endswith("in_proj.weight") for n in decayed)


def test_cache_memory_and_reset():
    cfg = MambaConfig(**SMALL)
    enc = MambaEncoder(cfg)
    cache = enc.allocate_cache(3)
    per_layer = 3 * cfg.d_inner * (cfg.d_conv + cfg.d_state) * 4
    assert cache.memory_bytes() == cfg.n_layer * per_layer
    enc(torch.randn(3, 6, cfg.d_model), cache)
    assert cache.offset == 6 and any(torch.count_nonzero(s) for s in cache.ssm_states)
    cache.reset()
    assert cache.offset == 0 and not any(torch.count_nonzero(s) for s in cache.ssm_states + cache.conv_states)


def test_config_json_round_trip():
    cfg = ForecasterConfig(mamba=MambaConfig(d_model=48, n_layer=3, dt_rank=5), n_inputs=2, n_outputs=2,
                           horizon=4, quantiles=(0.9, 0.1), revin=True)
    again = ForecasterConfig.from_json(cfg.to_json())
    assert again == cfg and again.quantiles == (0.1, 0.9) and again.mamba.d_inner == 96
    assert MambaConfig.from_dict(MambaConfig().to_dict()) == MambaConfig()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(d_model=0), "d_model"), (dict(n_layer=-1), "n_layer"), (dict(d_state=2.5), "d_state"),
        (dict(d_conv=0), "d_conv"), (dict(expand=0), "expand"), (dict(dt_rank="big"), "dt_rank"),
        (dict(dt_min=0.0), "dt_min"), (dict(dt_min=0.5, dt_max=0.1), "dt_min"),
        (dict(dt_init_floor=-1.0), "dt_init_floor"), (dict(norm_eps=0.0), "norm_eps"),
    ],
)
def test_mamba_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field) as err:
        MambaConfig(**kwargs)
    assert "accepted" in str(err.value)


@pytest.mark.parametrize(
    "kwargs, field",
    [(dict(n_inputs=0), "n_inputs"), (dict(horizon=0), "horizon"), (dict(quantiles=(0.5, 1.0)), "quantiles"),
     (dict(quantiles=(0.5, 0.5)), "quantiles"), (dict(n_outputs=-2), "n_outputs")],
)
def test_forecaster_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field):
        ForecasterConfig(**kwargs)
    with pytest.raises(ValueError, match="unknown"):
        MambaConfig.from_dict({"d_model": 8, "colour": "red"})

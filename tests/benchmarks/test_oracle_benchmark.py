"""The oracle benchmark on a tiny size (seconds): the JSON it writes, the gap pooled over seeds, and
GARCH-t closing more of the step-1 gap than EWMA where GARCH-t is the truth."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
from typer.testing import CliRunner

from forecaster.benchmarks import oracle as ob
from forecaster.cli import app
from forecaster.configs import AnchoredConfig
from forecaster.errors import ForecasterError
from forecaster.probabilistic.oracle import GAP_TOLERANCE

runner = CliRunner()
TINY = ob.OracleConfig(markets=("garch_t",), seeds=2, days=2500, test_years=3.0,
                       anchored=AnchoredConfig(members=1, epochs=2, chunk=256, warm=50))
RISK = ("hist_vol", "hist_vol_empirical", "ewma", "garch_t", "gjr_t", "figarch_t", "constant_t")


@pytest.fixture(scope="module")
def garch(tmp_path_factory):
    out = tmp_path_factory.mktemp("oracle") / "garch.json"
    return ob.run_oracle(TINY, out=str(out), log=lambda text: None), json.loads(out.read_text())


def test_json_holds_every_model_step_and_seed(garch):
    result, written = garch
    assert written["config"]["seeds"] == [0, 1] and written["config"]["retrain_every"] == 0
    (block,) = written["blocks"]
    assert block["market"] == "garch_t" and block["reference"] == "garch_t" and block["seeds"] == 2
    assert 700 < block["origins_per_seed"] < 800  # 3 years of business days less the horizon
    assert set(block["models"]) == {"mamba", "mamba_raw", *RISK}  # the default design: the anchored model
    oracle = block["oracle"]
    assert oracle["mc_se"][0] == 0 and all(0 < s for s in oracle["mc_se"][1:])
    assert all(r < GAP_TOLERANCE for r in oracle["mc_se_over_gap"][1:])
    for name, m in block["models"].items():
        assert len(m["crps"]) == len(m["gap_closed"]) == len(m["gap_interval"]) == ob.HORIZON
        assert np.array(m["gap_per_seed"]).shape == (2, ob.HORIZON)
        assert set(m["coverage"]) == {"80", "95"} and set(m["coverage"]["95"]["by_tercile"]) == {"low", "mid", "high"}
        assert (m["dm"] is None) == (name == "garch_t") and (m["dm_ewma"] is None) == (name == "ewma")
        if m["dm"] is not None:
            assert m["dm"]["against"] == "garch_t" and len(m["dm"]["per_step"]) == ob.HORIZON
            assert m["dm"]["overall"]["verdict"] in ("better", "worse", "indistinguishable")
        lo, hi = np.array(m["gap_interval"]).T
        assert np.all(lo <= hi)
    assert block["models"]["hist_vol"]["gap_closed"] == pytest.approx([0.0] * ob.HORIZON, abs=1e-12)
    assert oracle["dm"]["overall"]["verdict"] in ("better", "worse", "indistinguishable")
    assert len(oracle["dm"]["per_step"]) == ob.HORIZON
    assert "gap closed" in ob.format_table(result).lower() and "The oracle itself" in ob.format_table(result)


def test_the_oracle_is_dm_tested_against_the_reference_as_the_models_are():
    rng = np.random.default_rng(5)
    reference = rng.gamma(2.0, 1.0, (900, ob.HORIZON))  # (N, H) per-origin CRPS
    lower = reference * 0.9 + rng.normal(0, 0.01, reference.shape)  # 10% below at every origin: clearly better
    same = reference + rng.normal(0, 0.01, reference.shape)  # noise around it: nothing to show
    assert ob._oracle_dm(lower, reference)["overall"]["verdict"] == "better"
    assert all(d["verdict"] == "better" for d in ob._oracle_dm(lower, reference)["per_step"])
    assert ob._oracle_dm(same, reference)["overall"]["verdict"] == "indistinguishable"


def test_garch_closes_more_of_the_gap_than_ewma_on_the_garch_market(garch):
    models = garch[1]["blocks"][0]["models"]
    assert models["garch_t"]["gap_closed"][0] > models["ewma"]["gap_closed"][0]
    assert models["garch_t"]["gap_closed"][0] > 0.8
    assert models["hist_vol_empirical"]["gap_closed_all"] < models["ewma"]["gap_closed_all"]


def test_the_gap_pools_seeds_as_the_ratio_of_mean_differences(garch):
    m = garch[1]["blocks"][0]["models"]["ewma"]
    per_seed = np.array(m["gap_per_seed"])  # (S, H) each seed's own ratio
    lo, hi = np.array(m["gap_interval"]).T
    assert np.all(lo <= per_seed.max(0) + 1e-12) and np.all(hi >= per_seed.min(0) - 1e-12)
    assert np.all((per_seed.min(0) - 1e-9 <= m["gap_closed"]) & (np.array(m["gap_closed"]) <= per_seed.max(0) + 1e-9))


def test_cli_iid_market_on_fresh_draws_has_no_gap_and_tests_against_the_constant_t(monkeypatch, tmp_path):
    monkeypatch.setattr(ob, "QUICK", replace(TINY, markets=("iid_t",), seeds=1, days=1500, test_years=2.0))
    out = tmp_path / "iid.json"
    result = runner.invoke(app, ["-q", "benchmark", "oracle", "--quick", "--first-seed", "11", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed["blocks"] == json.loads(out.read_text())["blocks"]
    assert printed["config"]["seeds"] == [11] and printed["blocks"][0]["seeds"] == 1  # fresh draws start at first_seed
    assert out.with_suffix(".md").read_text().startswith("1 seed(s)")
    (block,) = printed["blocks"]
    assert block["market"] == "iid_t" and block["reference"] == "constant_t"
    for name, m in block["models"].items():
        assert "gap_closed" not in m
        assert (m["dm"] is None) == (name == "constant_t")
    assert block["oracle"]["n_paths"] == [2000]  # no gap to resolve: the paths are not raised


def test_unknown_market_and_bad_variant_are_refused():
    with pytest.raises(ForecasterError, match="unknown"):
        ob.OracleConfig(markets=("garch",))
    data, net, train = ob.windowed_variant()
    with pytest.raises(ForecasterError, match="horizon"):
        ob.OracleConfig(variants={"wide": (replace(data, horizon=3), net, train)})
    with pytest.raises(ForecasterError, match="_raw"):
        ob.OracleConfig(variants={"mamba_raw": AnchoredConfig()})
    both = ob.OracleConfig(variants={"windowed": (data, net, train), "small": AnchoredConfig(members=2)})
    assert list(both.mambas()) == ["mamba", "windowed", "small"] and both.mambas()["mamba"].horizon == ob.HORIZON
    bad = runner.invoke(app, ["benchmark", "oracle", "--markets", "nope"])
    assert bad.exit_code == 1 and "unknown" in bad.output


def test_sized_overrides_only_the_options_given():
    quick = ob.sized(True, markets=" garch_t, harch_t ", seeds=2, days=None, pooled=None)
    assert quick.markets == ("garch_t", "harch_t") and quick.seeds == 2 and quick.days == ob.QUICK.days
    assert ob.sized(first_seed=11) == replace(ob.FULL, first_seed=11)
    with pytest.raises(ForecasterError, match="unknown"):
        ob.sized(markets="garch_t,nope")


def test_fresh_draws_start_at_first_seed():
    assert replace(TINY, seeds=2, first_seed=11).seed_list == [11, 12]  # run end to end by the CLI test above
    with pytest.raises(ForecasterError, match="first_seed"):
        replace(TINY, first_seed=-1)


def test_a_dm_cell_prints_the_one_sided_p_of_a_verdict_and_the_two_sided_p_otherwise():
    cell = lambda pb, verdict: ob._dm_cell({"overall": {"p_better": pb, "p_worse": None if pb is None else 1 - pb,
                                                        "verdict": verdict}}, None)
    assert cell(0.02, "better") == "better (p = 0.020)"
    assert cell(0.97, "worse") == "worse (p = 0.030)"
    assert cell(0.116, "indistinguishable") == "indistinguishable (p = 0.232, two-sided)"
    assert cell(None, "indistinguishable") == cell(float("nan"), "indistinguishable") == "indistinguishable (no difference)"

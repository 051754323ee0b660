"""Issue 19's acceptance rule run on the WINDOWED design — NOT RUN IN CI (its name does not match
test_*.py): the windowed model FAILS it on seeds 1 and 2. The default (anchored) design passes it in
CI: tests/backtest/test_mamba_learns_garch.py. Run this one with

    PYTHONPATH=. python -m pytest -q tests/backtest/acceptance_windowed_learns_garch.py


On a seeded GARCH(1,1)-t series (4,000 days, about 1,040 test origins, fitted once before the test)
the trained default model must close at least EWMA's share of the hist_vol-to-oracle CRPS gap minus
0.05, at step 1 and at step H; the same rule applied to the untrained model (the same pipeline with
learning switched off: its scale is the window's standard deviation through RevIN) must fail, so
the rule can tell a model that learns the volatility dynamics from one that does not.

Measured 2026-12-01 on the 2-core machine (gap closed at step 1 / step 5; oracle with 2,000 paths):
    seed 0  Mamba passes (EWMA's gap is small on this draw; the earlier run with the oracle's paths
            raised: Mamba 0.81 / 0.49, EWMA 0.61 / 0.23)
    seed 1  Mamba 0.73 / 0.11, EWMA 0.77 / 0.62: FAILS at step 5
    seed 2  Mamba 0.30 / -0.27, EWMA 0.60 / 0.25: FAILS at both steps
    the untrained model fails the rule on all three seeds (e.g. seed 0: -0.59 / -1.14), as it must.
About 35-50 s per seed on 2 busy cores (the trained and the untrained model, 10 epochs at most)."""

import pytest

from garch_case import closes_ewma_gap, garch_case

SEEDS = (0, 1, 2)


@pytest.fixture(scope="module", params=SEEDS, ids=lambda s: f"seed{s}")
def case(request):
    return garch_case(seed=request.param, design="windowed")


def test_trained_model_closes_at_least_ewmas_gap_at_step_one_and_h(case):
    assert closes_ewma_gap(case, "mamba"), {m: case.gap[m].round(3).tolist() for m in ("mamba", "ewma")}


def test_the_same_rule_fails_the_untrained_model(case):
    assert not closes_ewma_gap(case, "untrained"), {m: case.gap[m].round(3).tolist() for m in ("untrained", "ewma")}

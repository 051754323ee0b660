"""The skill sentence: each branch, from p-values and from losses, and bad input."""

import math

import numpy as np
import pytest

from forecaster.errors import ForecasterError
from forecaster.evaluation.verdicts import compare_with_random_walk, spa_sentence, verdict_vs_random_walk, verdict_word


def test_each_branch_of_the_sentence():
    assert verdict_vs_random_walk(0.012, 0.988, 740, "test") == \
        "better than the random walk (DM p = 0.012, one-sided, n = 740 test windows)"
    assert verdict_vs_random_walk(0.97, 0.03, 425, "validation") == \
        "worse than the random walk (DM p = 0.030, one-sided, n = 425 validation windows)"
    assert verdict_vs_random_walk(0.785, 0.215, 41, "validation") == \
        "indistinguishable from the random walk (DM p = 0.430, two-sided, n = 41 validation windows)"
    assert verdict_vs_random_walk(0.0004, 0.9996, 1, "test").startswith("better than the random walk (DM p < 0.001")
    assert "n = 1 test window)" in verdict_vs_random_walk(0.0004, 0.9996, 1, "test")
    assert verdict_vs_random_walk(math.nan, math.nan, 30, "test") == \
        "indistinguishable from the random walk (no loss difference to test, n = 30 test windows)"
    # the level decides: 0.06 is not enough at 5%, is at 10%
    assert verdict_word(0.06, 0.94) == "indistinguishable" and verdict_word(0.06, 0.94, alpha=0.1) == "better"
    assert verdict_word(0.9, 0.049) == "worse"


def test_from_losses_runs_dm_both_ways():
    rng = np.random.default_rng(0)
    n = 600
    rw = rng.normal(size=n) ** 2
    good = compare_with_random_walk(0.8 * rw, rw, h=1, split="test")
    assert good["verdict"] == "better" and good["text"].startswith("better") and good["dm_p_better"] < 0.05
    assert good["dm_p_better"] + good["dm_p_worse"] == pytest.approx(1.0) and good["n"] == n
    bad = compare_with_random_walk(1.2 * rw, rw, h=5, split="validation")
    assert bad["verdict"] == "worse" and "n = 600 validation windows" in bad["text"]
    same = compare_with_random_walk(rng.normal(size=n) ** 2, rw, h=1, split="test")
    assert same["verdict"] == "indistinguishable" and "two-sided" in same["text"]
    assert compare_with_random_walk(rw, rw, h=1, split="test")["verdict"] == "indistinguishable"


def test_bad_input_is_named():
    with pytest.raises(ForecasterError, match="dm_p_better=1.5"):
        verdict_vs_random_walk(1.5, 0.1, 10, "test")
    with pytest.raises(ForecasterError, match="split=''"):
        verdict_vs_random_walk(0.1, 0.9, 10, "")
    with pytest.raises(ForecasterError, match="n=-1"):
        verdict_vs_random_walk(0.1, 0.9, -1, "test")
    with pytest.raises(ForecasterError, match="same length"):
        compare_with_random_walk(np.ones(3), np.ones(4), h=1, split="test")
    with pytest.raises(ForecasterError, match="h=0"):
        compare_with_random_walk(np.ones(3), np.ones(3), h=0, split="test")


def test_spa_sentence():
    spa = {"spa_p": 0.21, "reality_check_p": 0.33, "models": 4, "n": 700, "block": 9, "reps": 1000}
    assert spa_sentence(spa) == ("SPA test over 4 models: no model is shown to beat the random walk (Hansen SPA p = "
                                 "0.210, White Reality Check p = 0.330, n = 700 windows, block 9, 1000 bootstraps)")
    assert "some model beats" in spa_sentence({**spa, "spa_p": 0.01})
    assert spa_sentence({"models": 0, "n": 700}).startswith("SPA test: no model")

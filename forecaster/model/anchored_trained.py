"""A saved anchored model (`forecaster train`, the default design): the TrainedModel of the anchored design.

It reads like a windowed TrainedModel to its callers (name, meta, folder, load_series, for_pair,
predict -> Forecast), but holds an AnchoredFit (forecaster.model.anchored) instead of one network:

    models/<name>/weights.pt   one state dict, member k's weights under "member{k}."
    models/<name>/model.json   "design": "anchored"; "anchored": the AnchoredConfig, EWMA start variance,
                               GARCH-t parameters, feature centre, combination weight w, training log;
                               "seen_until": the last bar its training or validation read; metrics (the
                               validation and test CRPS of the model, EWMA, GARCH-t and what is shipped,
                               the verdicts); source, data fingerprint and data_config (horizon, split)

A forecast reads the series from the first bar of the training data on (so EWMA and GARCH-t start
where they started in training) up to the origin, nothing later.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from forecaster.configs import ANCHORED, AnchoredConfig
from forecaster.data import PriceSeries, cumulative_returns, split_bounds
from forecaster.data.calendar import check_forecastable
from forecaster.data.history import History, on_common_dates
from forecaster.data.sources import SourceSpec
from forecaster.errors import ForecasterError
from forecaster.model import checkpoint
from forecaster.evaluation.verdicts import compare_with_baseline
from forecaster.model.anchored import AnchoredFit, fit_anchored, origin_crps
from forecaster.model.forecast import Forecast
from forecaster.model.trained import TrainedModel
from forecaster.probabilistic import intervals
from forecaster.probabilistic.contract import ModelForecast
from forecaster.probabilistic.intervals import LEVELS

DESIGN = ANCHORED  # meta["design"] of a saved anchored model (a windowed model's meta has none)


@dataclass
class AnchoredTrained(TrainedModel):
    fit: Optional[AnchoredFit] = field(default=None, repr=False)

    @property
    def config(self):
        """The anchored configuration (forecaster.configs.AnchoredConfig)."""
        return self.fit.cfg

    @property
    def quantiles(self) -> tuple:
        return ()

    @property
    def scalers(self) -> dict:
        return {}

    @property
    def calibration(self) -> dict:
        return {}

    @property
    def seen_until(self) -> pd.Timestamp:
        """The last bar whose price the training or validation read."""
        return pd.Timestamp(self.meta["seen_until"])

    def save(self, folder: Path) -> None:
        """Every member's weights and the meta (with the fit's own under "anchored") into folder, atomically."""
        checkpoint.save(folder, self.fit.state_dict(), {**self.meta, "design": DESIGN, "anchored": self.fit.meta})

    def forecast(self, x, target_scale=None) -> ModelForecast:
        raise ForecasterError(f"model {self.name!r} is an anchored model: it forecasts from the series itself "
                              "(predict(series), or distributions(histories)), not from scaled windows")

    def prepare(self, series, covariates=()):
        raise ForecasterError(f"model {self.name!r} is an anchored model: it reads no scaled windows")

    def start_row(self, series: PriceSeries) -> int:
        """The row of `series` where the training data began (its first bar, if the series starts later)."""
        return int(series.frame.index.searchsorted(pd.Timestamp(self.meta["fingerprint"]["first"])))

    def panel(self, series: PriceSeries, cache_dir=None, offline: bool = False) -> dict:
        """pair -> series: `series` with the pairs a cross-pair model reads (loaded from the model's own
        source, up to the newest bar), all on the dates every one has; `series` alone otherwise."""
        if not self.fit.context:
            return {series.pair: series}
        saved = {k: v for k, v in self.meta["source"].items() if k in SourceSpec.__dataclass_fields__}
        spec = SourceSpec(**{**saved, "end": None})
        return on_common_dates({series.pair: series, **{q: spec.load(cache_dir, offline, pair=q) for q in self.fit.context}})

    def fit_for(self, series: PriceSeries) -> AnchoredFit:
        """The fit with its GARCH models filtering from the row of `series` where its training data began."""
        return self.fit.filtering_from(self.start_row(series))

    def design(self) -> dict:
        """What predict says about the model: the anchor, whether the learnt correction and the
        combination with its partner (GJR-t, FIGARCH-t or GARCH-t) are on, and the weight w on the model."""
        w = self.fit.weight if self.fit.cfg.combine else 1.0
        return {"design": DESIGN, "anchor": self.fit.anchor, "correction": w > 0,
                "combination": bool(self.fit.cfg.combine), "weight": float(w), "members": len(self.fit.nets),
                "cross_pairs": list(self.fit.context),
                "partner": self.fit.partner.label,
                "shipped": shipped_words(w, self.fit.cfg.combine, self.fit.anchor, self.fit.partner.label)}

    def predict(self, series: Optional[PriceSeries] = None, covariates: Sequence[PriceSeries] = (),
                cache_dir=None, offline: bool = False, as_of=None) -> Forecast:
        """The next H bars after the last one in the data (or the last one on or before `as_of`)."""
        if series is None:
            series, _ = self.load_series(cache_dir, offline)
        if as_of is not None:
            series = series.until(as_of)
        check_forecastable(series)
        panel = self.panel(series, cache_dir, offline)
        series = panel[series.pair]
        history = History(panel, len(series.frame) - 1, self.start_row(series))
        model, combined = self.fit_for(series).distributions([history])
        out = ModelForecast.from_distribution(model if combined is None else combined)
        return self.as_forecast(out, series, series.frame.index[-1], float(series.frame["close"].iloc[-1]), as_of,
                                design=self.design())


def shipped_words(weight: float, combine: bool, anchor: str, partner: str) -> str:
    """What the forecast is, in words: e.g. '0.62 x anchored Mamba + 0.38 x GJR-GARCH(1,1)-t'."""
    if not combine:
        return f"the anchored Mamba alone (anchor {anchor}, its standard deviation x exp(learnt correction))"
    if weight == 0:
        return f"{partner} alone (w = 0: the learnt correction is off)"
    if weight == 1:
        return "the anchored Mamba alone (w = 1)"
    return f"{weight:.3g} x anchored Mamba + {1 - weight:.3g} x {partner}"


def load_anchored(state: dict, meta: dict, name: str, folder: Path) -> AnchoredTrained:
    """A saved anchored model from its checkpoint (checkpoint.load's state dict and meta)."""
    try:
        fit = AnchoredFit.from_saved(state, meta["anchored"])
    except (KeyError, ValueError, TypeError) as exc:
        raise ForecasterError(f"{folder}: the anchored model's meta is incomplete ({exc}); retrain the model") from exc
    return AnchoredTrained(net=None, meta=meta, name=name, folder=folder, fit=fit)


# ----------------------------------------------------------------------------- training and its scores

def train_anchored(series: PriceSeries, cfg: AnchoredConfig, split: tuple, progress: bool = False,
                   context: Optional[dict] = None) -> AnchoredTrained:
    """Fit the anchored model on the rows before the test split of `split` (DataConfig.split: its
    training and validation fractions, or dates), and score it (anchored_metrics). context: other
    pairs on the same dates, read by a cross-pair model (cfg.cross_pairs). The meta holds the metrics
    and "seen_until"; the caller adds name, source and fingerprint."""
    _, test_row, n = split_bounds(series.frame.index, split)
    fit_end = min(test_row, n) - 1  # the last row training and validation read
    panel = {series.pair: series, **(context or {})}
    fit = fit_anchored(History(panel, fit_end), cfg, progress=progress)
    meta = {"design": DESIGN, "seen_until": series.frame.index[fit_end].isoformat(),
            "metrics": anchored_metrics(fit, panel, fit_end)}
    return AnchoredTrained(net=None, meta=meta, fit=fit, seconds=fit.log["seconds"])


def _scores(fit: AnchoredFit, panel: dict, origins: np.ndarray, split: str) -> dict:
    """CRPS (mean over origins and steps) of EWMA, GARCH-t, the ensemble and what is shipped at origin
    rows `origins` of the forecast pair, the verdicts of the shipped model against GARCH-t and EWMA (DM on the
    per-origin CRPS), and the coverage of the shipped intervals. panel: the forecast pair's series
    first (and the pairs a cross-pair model reads)."""
    H = fit.cfg.horizon
    series = next(iter(panel.values()))
    y = cumulative_returns(np.log(series.frame["close"].to_numpy()), origins, H)  # (N, H)
    histories = [History(panel, int(t)) for t in origins]
    model, combined = fit.distributions(histories)
    crps = origin_crps(fit, histories, y, (model, combined))
    bands = (model if combined is None else combined).intervals(LEVELS)
    return {"origins": int(len(origins)), "crps": {k: float(v.mean()) for k, v in crps.items()},
            "verdict_garch_t": compare_with_baseline(crps["shipped"], crps["garch_t"], H, split, "GARCH-t"),
            "verdict_ewma": compare_with_baseline(crps["shipped"], crps["ewma"], H, split, "EWMA"),
            "coverage": {str(level): {"nominal": float(level), "empirical": intervals.coverage(y, lo, hi),
                                      "mean_width": intervals.width(lo, hi)} for level, (lo, hi) in bands.items()}}


def anchored_metrics(fit: AnchoredFit, panel: dict, fit_end: int) -> dict:
    """What `forecaster train --design anchored` reports: on the validation rows the combination weight
    was chosen on (the early-stopping rows excluded) and on the test rows after fit_end (origins whose
    H targets lie inside the data), the CRPS of EWMA, GARCH-t, the ensemble and what is shipped, with
    the verdicts; the weight w, what is shipped in words, training time and rows. panel: the forecast
    pair's series first (and the pairs a cross-pair model reads)."""
    H, rows = fit.cfg.horizon, fit.log["rows"]
    first = rows["train"] + rows["early_stopping"]  # return index of the first combination row
    out = {"design": DESIGN, "weight": fit.weight, "combine": fit.cfg.combine, "weight_bags": fit.cfg.weight_bags,
           "shipped": shipped_words(fit.weight, fit.cfg.combine, fit.anchor, fit.partner.label),
           "train_seconds": fit.log["seconds"],
           "rows": rows, "members": fit.log["members"], "gate": fit.log["validation"].get("gate")}
    out["validation"] = _scores(fit, panel, np.arange(first, first + rows["combination"]) + 1, "validation")
    test = np.arange(fit_end, len(next(iter(panel.values())).frame) - H)  # the forecast pair's rows
    if len(test):
        out["test"] = _scores(fit, panel, test, "test")
        out["test_coverage"] = out["test"]["coverage"]
    return out

"""The application's settings: one dataclass per concern, each default written once, here.

    DataConfig      windows: lookback, horizon, features, splits          (used by forecaster.data)
    ModelConfig     the Mamba forecaster the product trains               (forecaster.model.estimator)
    TrainConfig     the one trainer                                       (forecaster.model.trainer)
    CostConfig      trading costs                                         (forecaster.backtest.trading)
    BacktestConfig  the walk-forward                                      (forecaster.backtest.walkforward)

The CLI and the demo read their defaults from these classes. This module imports nothing heavy
(no torch, no pandas at import), so that `forecaster --help` stays fast.

Every config mixes in `JsonConfig`: `to_dict` gives plain JSON types (tuples become lists,
nested configs dicts), `from_dict` refuses unknown keys by name, and `to_json` / `from_json`
wrap both. The model library (`forecaster.mamba`) keeps a copy of its own, because it imports
nothing from the rest of the package and stands alone.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Optional

from forecaster.errors import ForecasterError


ALPHA = 0.05  # the significance level: a one-sided DM p below it earns "better" or "worse"; the gates use it


def _plain(value):
    if is_dataclass(value) and hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class JsonConfig:
    """to_dict / from_dict / to_json / from_json for a config dataclass (init fields only)."""

    def to_dict(self) -> dict:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.init}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, data: dict):
        known = [f.name for f in fields(cls) if f.init]  # type: ignore[arg-type]
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ForecasterError(f"unknown {cls.__name__} setting(s) {unknown}: accepted {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


FEATURES = ("log_return", "abs_return", "squared_return", "range", "body", "parkinson", "garman_klass", "day_of_week")
OHLC_FEATURES = ("range", "body", "parkinson", "garman_klass")  # need open, high and low
# what range features do when the bars' high/low look misaligned with the close (forecaster.data.alignment):
# lag = the previous completed bar's, refuse = an error, as_is = the bar's own (look-ahead risk)
MISALIGNED_RANGE = ("lag", "refuse", "as_is")
SPLITS = ("train", "val", "test")
# named sets of pairs for a global model (`forecaster train --pairs majors`); every pair here is on the ECB's list
PAIR_SETS = {"majors": ("EURUSD", "USDJPY", "GBPUSD", "USDCHF", "AUDUSD", "USDCAD")}


@dataclass
class DataConfig(JsonConfig):
    lookback: int = 48  # L: bars the model sees
    horizon: int = 5  # H: steps forecast
    stride: int = 1  # step between training window origins
    features: tuple = ("log_return", "abs_return")  # the move and its size (volatility clusters)
    covariates: tuple = ()  # other pairs whose log returns join the features
    split: tuple = (0.7, 0.15, 0.15)  # train/val/test fractions, or two dates: (val_start, test_start)
    misaligned_range: str = "lag"  # range features of bars that look misaligned: MISALIGNED_RANGE

    def __post_init__(self) -> None:
        if self.misaligned_range not in MISALIGNED_RANGE:
            raise ForecasterError(f"misaligned_range={self.misaligned_range!r} unknown: accepted "
                                  f"{', '.join(MISALIGNED_RANGE)}")
        self.features = tuple(self.features)
        self.covariates = tuple(c.upper() for c in self.covariates)
        self.split = tuple(self.split)
        for name in ("lookback", "horizon", "stride"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ForecasterError(f"{name}={value!r} is invalid: accepted an integer >= 1")
        unknown = [f for f in self.features if f not in FEATURES]
        if unknown or not self.features:
            raise ForecasterError(f"features {unknown or '()'} invalid: accepted a non-empty choice of {', '.join(FEATURES)}")
        if len(self.split) == 3:
            if not all(isinstance(f, (int, float)) and f >= 0 for f in self.split) or abs(sum(self.split) - 1) > 1e-6 \
                    or self.split[0] <= 0:
                raise ForecasterError(f"split={self.split!r}: fractions must be >= 0, train > 0, and sum to 1")
        elif len(self.split) == 2:
            import pandas as pd

            try:
                val_start, test_start = (pd.Timestamp(d) for d in self.split)
            except (ValueError, TypeError) as exc:
                raise ForecasterError(f"split={self.split!r}: two dates (validation start, test start) expected") from exc
            if not val_start <= test_start:
                raise ForecasterError(f"split={self.split!r}: the validation start must not be after the test start")
        else:
            raise ForecasterError(f"split={self.split!r}: give three fractions or two dates")


@dataclass
class ModelConfig(JsonConfig):
    """The forecaster the product trains. The size is chosen so that `forecaster train EURUSD`
    takes well under 2 minutes on 2 CPU cores (see BENCHMARKS.md)."""

    d_model: int = 16  # width of the residual stream
    n_layer: int = 2  # S6 blocks
    d_state: int = 8  # N: state size of each channel
    quantiles: tuple = ()  # quantile heads trained with the pinball loss; empty = point forecast
    distribution: str = "student_t"  # the forecast distribution: none (point) | normal | student_t (loc, scale, df)
    df: Optional[float] = None  # student_t degrees of freedom; None = learned
    revin: bool = True  # normalise each input window per channel, and scale the outputs back by its volatility

    def __post_init__(self) -> None:
        self.quantiles = tuple(self.quantiles)


LOSSES = ("mse", "huber", "crps", "nll")
BACKTEST_EPOCHS = 10  # most epochs of a model trained inside the walk-forward folds (it trains once per fold)
DEMO_EPOCHS = 12  # most epochs of the demo's model (the demo must stay well under 3 minutes on 2 cores)
SCHEDULES = ("cosine", "constant")


@dataclass
class TrainConfig(JsonConfig):
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3
    schedule: str = "cosine"  # cosine: linear warm-up then cosine decay; constant: lr throughout
    warmup_frac: float = 0.05  # share of all steps spent warming up linearly (cosine schedule)
    weight_decay: float = 0.01  # not applied to A_log, D, norms, biases
    clip: float = 1.0  # gradient norm clipping (0 = off)
    checks_per_epoch: int = 1  # validation checks per epoch (early stopping can stop mid-epoch)
    ema: float = 0.0  # decay per optimiser step of an exponential moving average of the weights, which is what
    #   validation scores and the fit keeps (torch.optim.swa_utils.AveragedModel); 0: the raw weights
    patience: int = 4  # validation checks without improvement before stopping
    min_epochs: int = 0  # the kept model is the best check at epoch >= this (0: the untrained one may be kept);
    #   patience counts only from there
    loss: str = "crps"  # point forecasts: mse | huber (crps and nll mean mse); distribution heads: crps | nll
    # (mse and huber mean crps); quantile heads always use the pinball loss
    gate: float = ALPHA  # keep the trained location only if its validation gain over the no-change forecast has
    # DM p < gate (one-sided, HAC); otherwise the location is reset to no change (1 = keep any trained model)
    huber_delta: float = 1.0
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # CPU threads for torch during fit (0 = leave torch's setting); see the note below
    num_workers: int = 0  # DataLoader worker processes (the windows are in memory: 0 is usually fastest)

    # Why one thread by default: these models are small, so extra intra-op threads gain little, and
    # on a busy machine OpenMP threads that wait on each other made a training step 30x slower
    # (measured: 0.3 s vs 11 s per batch on 2 shared cores). The setting is restored after fit.

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience", "checks_per_epoch"):
            if getattr(self, name) < 1:
                raise ForecasterError(f"{name}={getattr(self, name)!r} is invalid: accepted an integer >= 1")
        if not self.lr > 0:
            raise ForecasterError(f"lr={self.lr!r} is invalid: accepted a number > 0")
        if not 0 <= self.min_epochs <= self.epochs:
            raise ForecasterError(f"min_epochs={self.min_epochs!r} is invalid: accepted an integer in 0..epochs ({self.epochs})")
        if self.threads < 0 or self.num_workers < 0:
            raise ForecasterError(f"threads={self.threads!r}, num_workers={self.num_workers!r}: accepted integers >= 0")
        if self.loss not in LOSSES:
            raise ForecasterError(f"loss={self.loss!r} is invalid: accepted {', '.join(LOSSES)}")
        if not 0 < self.gate <= 1:
            raise ForecasterError(f"gate={self.gate!r} is invalid: accepted a significance level in (0, 1]")
        if self.schedule not in SCHEDULES:
            raise ForecasterError(f"schedule={self.schedule!r} is invalid: accepted {', '.join(SCHEDULES)}")
        if not 0 <= self.ema < 1:
            raise ForecasterError(f"ema={self.ema!r} is invalid: accepted a decay in [0, 1) (0: no averaging)")
        if not 0 <= self.warmup_frac < 1 or self.weight_decay < 0 or self.clip < 0:
            raise ForecasterError(f"warmup_frac={self.warmup_frac!r}, weight_decay={self.weight_decay!r}, "
                                  f"clip={self.clip!r}: accepted 0 <= warmup_frac < 1, weight_decay >= 0, clip >= 0")


@dataclass
class CostConfig(JsonConfig):
    spread_pips: float = 0.8  # quoted bid-ask spread, in pips (0.0001; 0.01 for JPY quotes)
    pip: float = 0.0001
    commission_bp: float = 0.0  # per unit of position change, basis points of notional
    slippage_bp: float = 0.0  # per unit of position change, basis points

    def __post_init__(self) -> None:
        for name in ("spread_pips", "commission_bp", "slippage_bp"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
                raise ForecasterError(f"{name}={value!r} is invalid: accepted a number >= 0")
        if not self.pip > 0:
            raise ForecasterError(f"pip={self.pip!r} is invalid: accepted a number > 0")


MODES = ("expanding", "sliding")
CALIBRATIONS = ("aci", "static")  # online recalibration of the intervals over the test (forecaster.probabilistic.intervals)


@dataclass
class BacktestConfig(JsonConfig):
    horizon: Optional[int] = None  # H: steps forecast at every origin (None: the models' own)
    test_years: float = 3.0  # the test period is the last test_years of the data ...
    test_start: Optional[str] = None  # ... or starts at this date
    retrain_every: int = 0  # K origins per fold; 0 = fit once before the test period
    folds: Optional[int] = None  # or cut the test period into this many folds
    mode: str = "expanding"  # expanding | sliding training window
    window: Optional[int] = None  # rows of the sliding window
    signal_step: int = 1  # which step's forecast sets the position
    threshold: float = 0.0  # |forecast log return| needed to take a position
    costs: CostConfig = field(default_factory=CostConfig)
    calibration: str = "aci"  # aci: adaptive conformal over the test (Gibbs & Candes 2021), reported beside the
    # intervals as issued; static: the intervals as issued only (the Mamba model's split-conformal from validation)
    aci_gamma: float = 0.005  # ACI step size of the miscoverage rate per realised outcome
    vol_target: Optional[float] = None  # annualised volatility target of the sized positions (e.g. 0.10), beside unit size
    vol_cap: float = 2.0  # most position size (leverage) the volatility targeting may take
    risk_target: float = 0.10  # annualised volatility a long position is sized to by each forecast distribution
    # (the risk-sizing simulation: what a distribution is good for when its centre is the random walk's)

    def __post_init__(self) -> None:
        if isinstance(self.costs, dict):
            self.costs = CostConfig.from_dict(self.costs)
        if self.horizon is not None and (not isinstance(self.horizon, int) or self.horizon < 1):
            raise ForecasterError(f"horizon={self.horizon!r} is invalid: accepted an integer >= 1")
        if self.test_start is None and not (isinstance(self.test_years, (int, float)) and self.test_years > 0):
            raise ForecasterError(f"test_years={self.test_years!r} is invalid: accepted a number > 0")
        if self.retrain_every < 0:
            raise ForecasterError(f"retrain_every={self.retrain_every!r} is invalid: accepted 0 (once) or K >= 1")
        if self.folds is not None and (self.folds < 1 or self.retrain_every):
            raise ForecasterError("give either folds >= 1 or retrain_every, not both")
        if self.mode not in MODES:
            raise ForecasterError(f"mode {self.mode!r} unknown: accepted {', '.join(MODES)}")
        if not 1 <= self.signal_step <= (self.horizon or self.signal_step):
            raise ForecasterError(f"signal_step={self.signal_step!r} is invalid: accepted 1..{self.horizon}")
        if self.threshold < 0:
            raise ForecasterError(f"threshold={self.threshold!r} is invalid: accepted a number >= 0")
        if self.calibration not in CALIBRATIONS:
            raise ForecasterError(f"calibration {self.calibration!r} unknown: accepted {', '.join(CALIBRATIONS)}")
        if not 0 <= self.aci_gamma < 1:
            raise ForecasterError(f"aci_gamma={self.aci_gamma!r} is invalid: accepted a step size in [0, 1), e.g. 0.005")
        if self.vol_target is not None and not (isinstance(self.vol_target, (int, float)) and 0 < self.vol_target < 10):
            raise ForecasterError(f"vol_target={self.vol_target!r} is invalid: accepted an annualised volatility in "
                                  f"(0, 10), e.g. 0.10 for 10%")
        if not (isinstance(self.risk_target, (int, float)) and 0 < self.risk_target < 10):
            raise ForecasterError(f"risk_target={self.risk_target!r} is invalid: accepted an annualised volatility in "
                                  f"(0, 10), e.g. 0.10 for 10%")
        if not (isinstance(self.vol_cap, (int, float)) and self.vol_cap > 0 and math.isfinite(self.vol_cap)):
            raise ForecasterError(f"vol_cap={self.vol_cap!r} is invalid: accepted a position size > 0, e.g. 2")


DESIGNS = ("anchored", "windowed")  # the Mamba model: the anchored sequence model (the default) or the 48-bar window model
ANCHORED, WINDOWED = DESIGNS  # the names; the windowed design is the one of global models, covariates and --resume


def refuse_other_design(design: str, windowed: dict, anchored: dict) -> None:
    """ForecasterError, before any work, when options of the other design were given: windowed /
    anchored map an option's name to (value given, default); it counts as given when they differ."""
    if design not in DESIGNS:
        raise ForecasterError(f"design {design!r} unknown: accepted {', '.join(DESIGNS)}")
    other, other_name = (windowed, WINDOWED) if design == ANCHORED else (anchored, ANCHORED)
    given = [name for name, (value, default) in other.items() if value != default]
    if given:
        raise ForecasterError(f"{', '.join(given)} configure{'s' if len(given) == 1 else ''} the {other_name} design, "
                              f"not the {design} one this run trains: choose --design {other_name} "
                              f"(design={other_name!r}), or drop {'it' if len(given) == 1 else 'them'}")


ANCHORED_FAMILIES = ("normal", "student_t")  # AnchoredConfig.family
ANCHORED_PARTNERS = ("gjr_t", "garch_t", "by_likelihood")  # AnchoredConfig.partner: a GarchT's name, or the choice
LONG_MEMORY_EVIDENCE = 5.0  # partner "by_likelihood": FIGARCH-t replaces GJR-t when its training log-likelihood is
#   higher by more than this (2 x 5 = 10: "very strong" evidence on Kass and Raftery's 1995 scale; same 5 parameters)


@dataclass
class AnchoredConfig(JsonConfig):
    """The anchored Mamba (forecaster.model.anchored, issue 20): scale = EWMA scale x exp(g), g learnt
    by a small Mamba read over long chunks of causal volatility inputs, combined with GARCH-t."""

    horizon: int = 5  # H: steps forecast (one correction g_h per step: the term structure)
    spans: tuple = (5, 22, 66, 250)  # bars of the trailing RMS volatility inputs
    clip_z: float = 8.0  # |r_t / EWMA sd_t| is clipped here (a shock is still a shock, not a blow-up)
    g_max: float = 2.0  # g = g_max tanh(raw / g_max): the correction's factor exp(g) in [e^-2, e^2]
    d_model: int = 16  # width of the residual stream
    n_layer: int = 1  # S6 blocks
    d_state: int = 8  # N: state size of each channel
    chunk: int = 512  # bars per training sequence (the state is reset per chunk); a forecast reads this many
    warm: int = 100  # first positions of a chunk left out of the loss (the state is still forming)
    members: int = 4  # ensemble of seeds seed..seed+members-1, corrections averaged in log space
    val_frac: float = 0.15  # last rows of the training history: early stopping (first half), combination (second)
    combine: bool = True  # ship w x model + (1 - w) x partner; False: the anchored ensemble alone
    weight_grid: int = 11  # the combination weight w on the model: linspace(0, 1, weight_grid), by validation CRPS
    weight_bags: int = 500  # w is the mean, over this many stationary-bootstrap resamples of the combination rows,
    #   of the grid point of least CRPS (bagging the argmin: a weight that moves less with which rows happened to
    #   fall there; BENCHMARKS.md, issue 20, sixth session); 0: the grid point of least CRPS on the rows themselves
    gate: Optional[float] = None  # scale gate: keep w > 0 only when the combination's CRPS beats GARCH-t's on the
    #   combination rows with a one-sided DM p below this (e.g. 0.05); None: no gate
    epochs: int = 30
    lr: float = 3e-3  # AdamW, cosine decay without warm-up; weight decay and clipping are TrainConfig's
    patience: int = 4  # epochs without a better early-stopping CRPS
    ema: float = 0.0  # TrainConfig.ema: each member kept as the moving average of its weights (decay per step); 0: off
    min_epochs: int = 1  # each member is kept at its best epoch from this one (or the last) on: 1 never keeps the
    #   untrained anchor (early stopping picks how long to train, w how much to trust it); 0 may keep it; 3 hurt a
    #   4,000-day case (BENCHMARKS.md, issue 20)
    cross_pairs: bool = False  # the cross-pair model: the other pairs of its history (same dates) are inputs too
    pool: bool = False  # with cross_pairs: the members train on every pair's sequence (each read as its own cross-pair
    #   model reads it), not the forecast pair's alone: one network for all, as many times the training data
    skip: bool = False  # a linear map from the inputs straight to g beside the Mamba (zero-initialised): a regression
    #   on the log volatilities over several spans (HAR-like) that the encoder's final RMSNorm cannot rescale away
    partner: str = "by_likelihood"  # the combination's other member: GJR-GARCH(1,1)-t (a negative return adds gamma r^2
    #   to the variance: leverage, which GARCH(1,1) cannot represent) unless FIGARCH(1,d,1)-t (long memory) fits the
    #   training rows better by LONG_MEMORY_EVIDENCE (BENCHMARKS.md, issue 20, sixth and seventh sessions); "gjr_t":
    #   GJR-t always; "garch_t"
    member_blocks: bool = False  # member k stops early on its own block of the latest training rows (block 0 the
    #   early-stopping rows, block k the k-th of that length before them) and trains on the rest: four stopping
    #   decisions on four blocks, four training sets; False: every member stops on the early-stopping rows
    abs_z: bool = False  # |z_i| as an input beside z_i: the last return's size and sign apart (leverage, GJR-like);
    #   measured worse on every GJR design market (BENCHMARKS.md, issue 20, sixth session)
    family: str = "student_t"  # the ensemble's distribution: a Student-t with GARCH-t's fitted df (the untrained model
    #   is EWMA's standard deviation in that t), or "normal" (the untrained model is EWMA itself)
    seed: int = 0

    def __post_init__(self) -> None:
        self.spans = tuple(int(s) for s in self.spans)
        for name in ("horizon", "d_model", "n_layer", "d_state", "members", "epochs", "patience", "weight_grid"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ForecasterError(f"{name}={getattr(self, name)!r} is invalid: accepted an integer >= 1")
        if not isinstance(self.weight_bags, int) or self.weight_bags < 0:
            raise ForecasterError(f"weight_bags={self.weight_bags!r} is invalid: accepted an integer >= 0 (0: no bagging)")
        if not isinstance(self.min_epochs, int) or self.min_epochs < 0:
            raise ForecasterError(f"min_epochs={self.min_epochs!r} is invalid: accepted an integer >= 0")
        if not 0 <= self.ema < 1:
            raise ForecasterError(f"ema={self.ema!r} is invalid: accepted a decay in [0, 1) (0: no averaging)")
        if not 0 <= self.warm < self.chunk:
            raise ForecasterError(f"warm={self.warm!r}, chunk={self.chunk!r}: accepted 0 <= warm < chunk")
        if not 0 < self.val_frac < 1:
            raise ForecasterError(f"val_frac={self.val_frac!r} is invalid: accepted a number in (0, 1)")
        if self.weight_grid < 2 and self.combine:
            raise ForecasterError("weight_grid must hold 2 points or more when combining")
        if self.pool and not self.cross_pairs:
            raise ForecasterError("pool=True trains one network on the pairs of a cross-pair model: it needs cross_pairs=True")
        if self.partner not in ANCHORED_PARTNERS:
            raise ForecasterError(f"partner={self.partner!r} is invalid: accepted {' or '.join(ANCHORED_PARTNERS)}")
        if self.family not in ANCHORED_FAMILIES:
            raise ForecasterError(f"family={self.family!r} is invalid: accepted {' or '.join(ANCHORED_FAMILIES)}")
        if self.gate is not None and not (isinstance(self.gate, (int, float)) and 0 < self.gate < 1):
            raise ForecasterError(f"gate={self.gate!r} is invalid: accepted a significance level in (0, 1), e.g. 0.05, or None")

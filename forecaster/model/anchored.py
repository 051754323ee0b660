"""The anchored Mamba (issue 20): a forecast distribution that starts as EWMA and learns what it misses.

    sd_h(t) = anchor_h(t) x exp(g_h(t)),   anchor_h(t) = EWMA sd_{t+1} x sqrt(h),   h = 1..H
    g = g_max tanh(raw / g_max),  raw = head(MambaEncoder(inputs)) [+ skip(inputs)],  both zero-initialised

in the family of AnchoredConfig.family: Student-t with the df of GARCH-t's fit on the same training rows
(t scale = sd x sqrt((df - 2) / df); the default), or normal. The untrained network IS the anchor
(EWMA's standard deviation in that family), and the shipped forecast is the density combination
w x model + (1 - w) x partner (forecaster.probabilistic.distributions.Mixture), the partner GJR-GARCH(1,1)-t
or, where its training log-likelihood is higher by LONG_MEMORY_EVIDENCE, FIGARCH(1,d,1)-t (AnchoredConfig.partner
"by_likelihood"; or either one, or GARCH(1,1)-t), w bagged over bootstrap resamples of held-out validation rows.

Glossary (index i = the i-th daily return r_i of a history, i.e. its row i + 1; everything at i is
known at the close of that row):
    z_i        r_i / EWMA sd before r_i, clipped to +-clip_z
    inputs     z_i, log EWMA sd_{i+1}, log trailing RMS of r over spans 5/22/66/250 bars up to r_i;
               each log minus log(training RMS) ("base"): no RevIN, nothing reads past i
    context    with a history of several pairs on common dates (the cross-pair model): the same
               inputs of every pair, |z| for z, averaged over the pairs (the forecast pair included),
               appended to the forecast pair's: a common volatility factor that one pair's GARCH
               cannot see; each pair's EWMA and base are fitted on its own training rows
    y_i,h      r_{i+1} + ... + r_{i+h}: the step-h cumulative return from row i + 1; scored in anchor
               units y / anchor_h(i), by the CRPS of the t of sd exp(g) (N(0, exp(2 g)) in the normal family)
    chunk      a training sequence of `chunk` bars; the state starts at zero, the first `warm`
               positions are left out of the loss, the head reads every position
Training (through the one trainer, forecaster.model.trainer.fit, with this module's loss): chunks of
the training rows at a random offset per epoch, one chunk per step; the last H training rows' targets
(which would reach into validation) masked; early stopping on the first half of the validation rows
(read as tiles of chunks; each member kept at its best epoch from min_epochs on, by default 1: never
the untrained anchor; with member_blocks, member k on its own block of that size: stop_blocks, member_data),
the combination weight on the second half (rows early stopping did not use).
A forecast at origin row t is read as a training position is: in the chunk (every chunk - warm bars
from the history's first bar) where t lies at least `warm` bars in (tile_starts): each origin depends
on its own past only, whatever batch it is forecast in, and a walk-forward reads each chunk once.
"""

from __future__ import annotations

import copy
import functools
import math
import time
from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from forecaster.configs import ANCHORED, LONG_MEMORY_EVIDENCE, AnchoredConfig, TrainConfig
from forecaster.data import trailing_mean_square
from forecaster.data.history import History
from forecaster.errors import ForecasterError
from forecaster.evaluation.stats import diebold_mariano
from forecaster.mamba import MambaConfig, MambaEncoder, param_groups
from forecaster.model.device import seed_everything
from forecaster.model.trainer import FitResult, fit as train_loop
from forecaster.probabilistic import losses
from forecaster.probabilistic.distributions import Mixture, Predictive, mixture_crps, t_scale
from forecaster.probabilistic.risk import EWMA, GarchT

VAR_FLOOR = 1e-12  # floor of a trailing mean square (a flat stretch) before its log
PREDICT_BATCH = 64  # chunks per forward pass when forecasting (bounds the scan's memory)
BAG_BLOCK = 10  # mean block length (rows) of the bootstrap that bags the combination weight (weight_bags)


# ----------------------------------------------------------------------------- inputs and targets

def anchor_sd(r: np.ndarray, ewma: EWMA) -> np.ndarray:
    """(n,) EWMA sd of r_{i+1} having seen r_0..r_i (the fitted start variance before r_0)."""
    return np.sqrt(ewma.variances(r))


def features(r: np.ndarray, ewma: EWMA, base: float, cfg: AnchoredConfig) -> np.ndarray:
    """(n, 2 [+ 1 with abs_z] + len(spans)) float32 causal inputs at each return index."""
    sd_next = anchor_sd(r, ewma)  # (n,)
    sd_before = np.concatenate([[math.sqrt(ewma.start_var)], sd_next[:-1]])  # (n,) the sd r_i was drawn with
    z = np.clip(r / sd_before, -cfg.clip_z, cfg.clip_z)
    cols = [z] + ([np.abs(z)] if cfg.abs_z else []) + [np.log(sd_next) - base]
    ends = np.arange(1, len(r) + 1)  # trailing windows up to and including r_i
    for span in cfg.spans:
        ms = trailing_mean_square(r, ends, span, partial=True)
        cols.append(0.5 * np.log(np.maximum(ms, VAR_FLOOR)) - base)
    return np.stack(cols, 1).astype(np.float32)  # (n, C)


def context_features(each: Sequence[np.ndarray]) -> np.ndarray:
    """(n, C) the cross-pair context: the pairs' inputs (each (n, C), features()) averaged, |z| for z."""
    return np.mean([np.concatenate([np.abs(x[:, :1]), x[:, 1:]], 1) for x in each], 0).astype(np.float32)


def n_inputs(cfg: AnchoredConfig, cross: bool) -> int:
    """Input width: the pair's own inputs, and as many again for the context of a cross-pair model."""
    return (2 + cfg.abs_z + len(cfg.spans)) * (2 if cross else 1)


def targets(r: np.ndarray, horizon: int) -> np.ndarray:
    """(n, H) y[i, h-1] = r_{i+1} + ... + r_{i+h}; NaN past the end."""
    c = np.concatenate([[0.0], np.cumsum(r)])  # (n+1,)
    steps = np.arange(len(r))[:, None] + np.arange(1, horizon + 1)  # (n, H) last return index of each target
    ok = steps < len(r)
    return np.where(ok, c[np.minimum(steps, len(r) - 1) + 1] - c[np.arange(len(r)) + 1][:, None], np.nan)


def anchor_scale(sd_next: np.ndarray, horizon: int) -> np.ndarray:
    """(n, H) the anchor's normal scale of the step-h cumulative return: sd x sqrt(h)."""
    return sd_next[:, None] * np.sqrt(np.arange(1, horizon + 1))


# ----------------------------------------------------------------------------- network and loss

class AnchoredNet(nn.Module):
    """x (B, L, C) -> g (B, L, H): the log-scale correction at every position (0 untrained)."""

    def __init__(self, n_inputs: int, cfg: AnchoredConfig):
        super().__init__()
        self.g_max = cfg.g_max
        self.inp = nn.Linear(n_inputs, cfg.d_model)
        self.encoder = MambaEncoder(MambaConfig(d_model=cfg.d_model, n_layer=cfg.n_layer, d_state=cfg.d_state))
        self.head = nn.Linear(cfg.d_model, cfg.horizon)
        self.skip = nn.Linear(n_inputs, cfg.horizon) if cfg.skip else None  # inputs -> g, beside the Mamba
        for layer in (self.head, self.skip):
            if layer is not None:
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor) -> Tensor:
        raw = self.head(self.encoder(self.inp(x)))  # (B, L, H)
        if self.skip is not None:
            raw = raw + self.skip(x)
        return self.g_max * torch.tanh(raw / self.g_max)

    def param_groups(self, weight_decay: float) -> list[dict]:
        return param_groups(self, weight_decay)


def anchored_crps(g: Tensor, yz: Tensor, df: float = math.inf) -> Tensor:
    """Mean CRPS at the anchor-standardised targets yz (B, L, H), NaN = not scored, of the distribution of
    standard deviation exp(g): N(0, exp(2 g)), or with a finite df the Student-t of that df."""
    scored = ~torch.isnan(yz)
    if not bool(scored.any()):
        raise ForecasterError("no target to score in this batch: the training or validation rows are too few")
    y = torch.where(scored, yz, torch.zeros_like(yz))
    if math.isinf(df):
        params = torch.stack([torch.zeros_like(g), torch.exp(g)], -1)  # (B, L, H, 2)
        crps = losses.crps_normal(params, y, reduction="none")  # (B, L, H)
    else:
        crps = losses.crps_student_t_fixed_df(torch.zeros_like(g), t_scale(torch.exp(g), df), df, y, reduction="none")
    return (crps * scored).sum() / scored.sum()


# ----------------------------------------------------------------------------- sequences for the trainer

class TrainChunks(Dataset):
    """Chunks of each training sequence xs[k] (n_k, C), yzs[k] (n_k, H) (one pair's, or every pair's of a
    pooled fit, or the parts of a sequence around a held-out block): chunk i of a sequence starts at
    offset + i (chunk - warm), the offset drawn per epoch (set_epoch); the first `warm` targets of each
    chunk are not scored. A sequence too short for a chunk adds none."""

    def __init__(self, xs: Sequence[np.ndarray], yzs: Sequence[np.ndarray], cfg: AnchoredConfig, seed: int):
        self.xs = [torch.from_numpy(x) for x in xs]
        self.yzs = [torch.from_numpy(yz.astype(np.float32)) for yz in yzs]
        self.chunk, self.warm, self.seed = cfg.chunk, cfg.warm, seed
        self.step = cfg.chunk - cfg.warm
        per = [len(range(self.step - 1, len(x) - self.warm - 1, self.step)) for x in xs]  # chunks, for every offset
        self.first = np.cumsum([0] + per)  # (K + 1,) index of each sequence's first chunk
        if self.first[-1] < 1:
            raise ForecasterError(f"{max(len(x) for x in xs)} training rows hold no chunk with a scored target: the "
                                  f"anchored model needs more than {cfg.warm + self.step + 1} (warm-up {cfg.warm}, "
                                  f"chunk {cfg.chunk})")
        self.offset = 0

    def set_epoch(self, epoch: int) -> None:
        self.offset = int(np.random.default_rng((self.seed, epoch)).integers(0, self.step))

    def __len__(self) -> int:
        return int(self.first[-1])

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        k = int(np.searchsorted(self.first, i, side="right")) - 1
        s = self.offset + (i - int(self.first[k])) * self.step
        x, yz = self.xs[k][s : s + self.chunk], self.yzs[k][s : s + self.chunk].clone()  # (L, C), (L, H)
        yz[: self.warm] = math.nan
        return x, yz


def tiles(x: np.ndarray, yz: np.ndarray, rows: range, cfg: AnchoredConfig) -> tuple[np.ndarray, np.ndarray]:
    """Chunks that score each row of `rows` once, after at least `warm` bars of its chunk (fewer at the
    series start): x (K, chunk, C) zero-padded at the end, yz (K, chunk, H) NaN outside `rows`."""
    step = cfg.chunk - cfg.warm
    xs, ys = [], []
    for s in range(max(rows.start - cfg.warm, 0), rows.stop, step):
        xc, yc = np.zeros((cfg.chunk, x.shape[1]), np.float32), np.full((cfg.chunk, yz.shape[1]), np.nan, np.float32)
        part = slice(s, min(s + cfg.chunk, len(x)))
        xc[: part.stop - s], yc[: part.stop - s] = x[part], yz[part]
        first = 0 if s == 0 else cfg.warm
        pos = np.arange(s, s + cfg.chunk)
        yc[(pos < rows.start) | (pos >= rows.stop) | (np.arange(cfg.chunk) < first)] = np.nan
        xs.append(xc)
        ys.append(yc)
    return np.stack(xs), np.stack(ys)


def tile_starts(idx: np.ndarray, cfg: AnchoredConfig) -> np.ndarray:
    """(N,) the first return index of the chunk that reads return index i: chunks start every
    chunk - warm bars from the series start, and i is read in the one where it lies at least `warm`
    bars in (from the start where i < warm): the context of a training position, warm..chunk-1 bars."""
    step = cfg.chunk - cfg.warm
    return np.maximum((np.asarray(idx, dtype=int) - cfg.warm) // step * step, 0)


@torch.no_grad()
def corrections(nets: Sequence[AnchoredNet], x: np.ndarray, idx: np.ndarray, cfg: AnchoredConfig) -> np.ndarray:
    """(N, H) the members' mean g at return indices idx, each read at its position in its chunk
    (tile_starts): each origin from its own past alone, and the same whatever batch it is in. Every
    chunk is read once (zero-padded past the data: the network is causal), so a walk-forward over N
    consecutive origins costs about N chunk-steps, not N chunks."""
    idx = np.asarray(idx, dtype=int)
    starts = tile_starts(idx, cfg)
    firsts, which = np.unique(starts, return_inverse=True)  # (T,) chunk starts, (N,) each origin's chunk
    xs = np.zeros((len(firsts), cfg.chunk, x.shape[1]), np.float32)  # (T, chunk, C)
    for k, s in enumerate(firsts):
        part = x[s : s + cfg.chunk]
        xs[k, : len(part)] = part
    out = np.zeros((len(idx), nets[0].head.out_features))
    for a in range(0, len(firsts), PREDICT_BATCH):
        xb = torch.from_numpy(xs[a : a + PREDICT_BATCH])  # (b, chunk, C)
        g = np.mean([net.eval()(xb).double().numpy() for net in nets], axis=0)  # (b, chunk, H)
        mine = (which >= a) & (which < a + len(xb))
        out[mine] = g[which[mine] - a, idx[mine] - starts[mine]]
    return out


# ----------------------------------------------------------------------------- the fitted model

@dataclass
class AnchoredFit:
    """The fitted anchored model: the members' networks and everything else it needs (meta):
    config, EWMA start variance, GARCH-t (and the partner's) parameters, feature centring, combination weight, and
    for a cross-pair model the other pairs' EWMA and centring (context)."""

    nets: list  # AnchoredNet, eval mode, on the CPU
    ewma: EWMA
    garch: GarchT
    base: float  # log RMS of the training returns: the inputs' centre
    cfg: AnchoredConfig
    weight: float = 1.0  # w on the model in the shipped combination (1 without GARCH-t)
    df: float = math.inf  # the ensemble's degrees of freedom (inf: normal; family "student_t": GARCH-t's)
    log: dict = field(default_factory=dict)  # validation scores, epochs, seconds
    context: dict = field(default_factory=dict)  # other pair -> (EWMA, base): their volatility is an input too
    other: Optional[GarchT] = None  # the combination's partner when it is not GARCH-t: GJR-t, or FIGARCH-t

    @property
    def partner(self) -> GarchT:
        """The combination's other member: GJR-GARCH(1,1)-t or FIGARCH-t, whichever the training likelihood favours
        (cfg.partner "by_likelihood", the default), GJR-t ("gjr_t") or GARCH-t ("garch_t", or a GJR-t fit failed)."""
        return self.garch if self.other is None else self.other

    def filtering_from(self, row: int) -> "AnchoredFit":
        """The fit with its GARCH models' filters starting at `row` of the histories it will be given."""
        moved = {}
        for name in ("garch", "other"):
            if getattr(self, name) is not None:
                moved[name] = copy.copy(getattr(self, name))
                moved[name].fit_start = row
        return replace(self, **moved)

    @property
    def anchor(self) -> str:
        """The anchor in words: EWMA's standard deviation, in a t of GARCH-t's df for the Student-t family."""
        ewma = f"EWMA {self.ewma.lam:g}"
        return ewma if math.isinf(self.df) else f"{ewma} in a Student-t of {self.df:.1f} df"

    @property
    def meta(self) -> dict:
        return {"design": ANCHORED, "config": self.cfg.to_dict(), "ewma": self.ewma.params, "base": self.base,
                "garch": {"params": [float(v) for v in self.garch.fitted], "fit_start": int(self.garch.fit_start)},
                "weight": self.weight, "df": None if math.isinf(self.df) else self.df, "log": self.log,
                "context": {q: {"ewma": e.params, "base": b} for q, (e, b) in self.context.items()},
                "other": None if self.other is None else {"name": self.other.name, "fit_start": int(self.other.fit_start),
                                                          "params": [float(v) for v in self.other.fitted]}}

    def state_dict(self) -> dict:
        """Every member's weights in one state dict, member k's keys prefixed "member{k}."."""
        return {f"member{k}.{key}": v for k, net in enumerate(self.nets) for key, v in net.state_dict().items()}

    @classmethod
    def from_saved(cls, state: dict, meta: dict) -> "AnchoredFit":
        """The fit rebuilt from state_dict() and meta (what a saved anchored model holds); ForecasterError
        when the weights do not fit the configuration."""
        cfg = AnchoredConfig.from_dict(meta["config"])
        context = {q: (_ewma(cfg, c["ewma"]), float(c["base"])) for q, c in meta.get("context", {}).items()}
        nets = []
        for k in range(cfg.members):
            prefix = f"member{k}."
            net = AnchoredNet(n_inputs(cfg, bool(context)), cfg)
            try:
                net.load_state_dict({key[len(prefix):]: v for key, v in state.items() if key.startswith(prefix)})
            except (RuntimeError, KeyError) as exc:
                raise ForecasterError(f"the saved weights of member {k} do not fit the anchored configuration "
                                      f"({exc}); retrain the model") from exc
            nets.append(net.eval())
        if len(state) != sum(len(net.state_dict()) for net in nets):
            raise ForecasterError(f"the saved weights hold more than the {cfg.members} members of the configuration: "
                                  "retrain the model")
        ewma, garch = _ewma(cfg, meta["ewma"]), GarchT(cfg.horizon)
        garch.fitted, garch.fit_start = np.array(meta["garch"]["params"], dtype=np.float64), int(meta["garch"]["fit_start"])
        other = None
        saved = meta.get("other") or (meta.get("gjr") and {**meta["gjr"], "name": "gjr_t"})  # "gjr": the sixth session's
        if saved:
            other = GarchT.named(cfg.horizon, saved["name"])
            other.fitted, other.fit_start = np.array(saved["params"], dtype=np.float64), int(saved["fit_start"])
        return cls(nets=nets, ewma=ewma, garch=garch, other=other, base=float(meta["base"]), cfg=cfg,
                   weight=float(meta["weight"]),
                   df=math.inf if meta.get("df") is None else float(meta["df"]), log=meta.get("log", {}), context=context)

    def distributions(self, histories: Sequence[History]) -> tuple[Predictive, Optional[Mixture]]:
        """The anchored ensemble's distribution (N, H) at each history's last bar, and the shipped combination
        with GARCH-t (None when the config does not combine)."""
        start = max(h.start for h in histories)
        longest = max(histories, key=lambda h: h.cutoff)
        r, x = inputs(longest, start, self.ewma, self.base, self.context, self.cfg)  # returns from the latest start on
        idx = np.array([h.cutoff - start - 1 for h in histories])  # (N,) each origin's last return
        if idx.min() + 1 < min(self.cfg.warm, 20):
            raise ForecasterError(f"the anchored model needs at least {min(self.cfg.warm, 20) + 1} bars before a "
                                  f"forecast origin, got {int(idx.min()) + 2}: start the test period later")
        scale = anchor_scale(anchor_sd(r, self.ewma)[idx], self.cfg.horizon)  # (N, H)
        g = corrections(self.nets, x, idx, self.cfg)  # (N, H)
        model = Predictive(np.zeros_like(scale), t_scale(scale * np.exp(g), self.df), self.df)
        if not self.cfg.combine:
            return model, None
        return model, Mixture([self.weight, 1.0 - self.weight], (model, self.partner.distribution(histories)))


def _fit_partner(history: History, garch: GarchT, cfg: AnchoredConfig) -> tuple[Optional[GarchT], Optional[str]]:
    """The combination's partner fitted on the history (None: GARCH-t itself, fitted already) and a note when
    a candidate could not be fitted (None when all were). "by_likelihood": GJR-t (GARCH-t if GJR-t cannot be
    fitted), unless FIGARCH-t's training log-likelihood is higher than that one's by more than
    LONG_MEMORY_EVIDENCE (GJR-t and FIGARCH-t have the same number of parameters, GARCH-t one fewer)."""
    names = {"garch_t": (), "gjr_t": ("gjr_t",), "by_likelihood": ("gjr_t", "figarch_t")}[cfg.partner]
    fitted, failed = {}, []
    for name in names:
        model = GarchT.named(cfg.horizon, name)
        try:
            model.fit(history)
            fitted[name] = model
        except ForecasterError as exc:  # the others (GARCH-t at least) stand in, and the log says so
            failed.append(f"{model.label} could not be fitted ({exc})")
    other = fitted.get("gjr_t")  # None: GARCH-t
    if "figarch_t" in fitted and (fitted["figarch_t"].fit_log[-1]["loglik"]
                                  > (other or garch).fit_log[-1]["loglik"] + LONG_MEMORY_EVIDENCE):
        other = fitted["figarch_t"]
    note = "; ".join(failed + [f"the partner is {(other or garch).label}"]) if failed else None
    return other, note


def _ewma(cfg: AnchoredConfig, params: dict) -> EWMA:
    """An EWMA rebuilt from its params."""
    ewma = EWMA(cfg.horizon, lam=params["lambda"])
    ewma.start_var = float(params["start_var"])
    return ewma


def inputs(history: History, start: int, ewma: EWMA, base: float, context: dict,
           cfg: AnchoredConfig) -> tuple[np.ndarray, np.ndarray]:
    """The forecast pair's returns r (n,) from the history's row `start` on, and the inputs x (n, C) at
    each: its own, and for a cross-pair model (context) the pairs' average beside them."""
    r = np.diff(history.log_close()[start - history.start :])
    x = features(r, ewma, base, cfg)
    if not context:
        return r, x
    missing = [q for q in context if q not in history.pairs]
    if missing:
        raise ForecasterError(f"this model reads the volatility of {', '.join(context)} beside {history.pair}'s; the "
                              f"history lacks {', '.join(missing)}: give it those pairs on the same dates")
    others = [features(np.diff(history.log_close(pair=q)[start - history.start :]), e, b, cfg)
              for q, (e, b) in context.items()]
    return r, np.concatenate([x, context_features([x] + others)], 1)


def _anchor(history: History, horizon: int) -> tuple[EWMA, float]:
    """The EWMA fitted on the history's (first) pair and its inputs' centre, the log RMS of its training returns."""
    ewma = EWMA(horizon)
    ewma.fit(history)
    return ewma, 0.5 * math.log(ewma.start_var)


def _other_pairs(history: History, ewma: EWMA, base: float, context: dict,
                 cfg: AnchoredConfig) -> list[tuple[np.ndarray, np.ndarray, EWMA]]:
    """A pooled fit's other sequences: each context pair's returns (n,), inputs (n, C) as its own cross-pair
    model would read them (inputs() with it first, the others in the history's order) and its EWMA anchor.
    Each pair's own inputs are computed once and shared by every pair's context."""
    anchors = {history.pair: (ewma, base), **context}  # the history's pairs, in its order
    r = {p: np.diff(history.log_close(pair=p)) for p in anchors}
    own = {p: features(r[p], e, b, cfg) for p, (e, b) in anchors.items()}
    return [(r[q], np.concatenate([own[q], context_features([own[q]] + [own[p] for p in anchors if p != q])], 1), e)
            for q, (e, _) in context.items()]


def fit_anchored(history: History, cfg: Optional[AnchoredConfig] = None, progress: bool = False) -> AnchoredFit:
    """Fit EWMA, GARCH-t (and the partner, _fit_partner) on the history, train the members, choose the combination
    weight. With cfg.cross_pairs and a history of several pairs, a cross-pair model of its first pair: the
    others' volatility is an input (context); with cfg.pool too, the members train (and stop early) on every
    pair's sequence, each in its own anchor's units, and forecast the first pair."""
    cfg = cfg or AnchoredConfig()
    began = time.perf_counter()
    H = cfg.horizon
    ewma, base = _anchor(history, H)
    garch = GarchT(H)
    garch.fit(history)
    df = garch.df if cfg.family == "student_t" else math.inf
    other, partner_note = _fit_partner(history, garch, cfg)
    context = {q: _anchor(History(history.series(pair=q), len(history) - 1), H)
               for q in (history.pairs[1:] if cfg.cross_pairs else [])}
    r, x = inputs(history, history.start, ewma, base, context, cfg)  # (n,), (n, C)
    n = len(r)
    n_val = max(int(round(n * cfg.val_frac)), 4 * (H + 1))
    val0, half = n - n_val, n - n_val + n_val // 2
    seqs = [(x_k, targets(r_k, H) / anchor_scale(anchor_sd(r_k, ewma_k), H))  # (n, C), (n, H) in the pair's anchor units
            for r_k, x_k, ewma_k in [(r, x, ewma)] + (_other_pairs(history, ewma, base, context, cfg) if cfg.pool else [])]
    blocks = stop_blocks(val0, half, cfg)
    data = {block: member_data(seqs, block, half, cfg) for block in dict.fromkeys(blocks)}  # (train set, val tiles)
    nets, epochs = [], []
    for k in range(cfg.members):
        seed = cfg.seed + k
        seed_everything(seed)
        net = AnchoredNet(x.shape[1], cfg)
        train_set, val_set = data[blocks[k]]
        train_set.seed = seed
        tc = TrainConfig(epochs=cfg.epochs, batch_size=1, lr=cfg.lr, warmup_frac=0.0, patience=cfg.patience,
                         min_epochs=min(cfg.min_epochs, cfg.epochs), ema=cfg.ema, seed=seed)
        result: FitResult = train_loop(net, train_set, val_set, tc, progress=progress,
                                       loss_fn=functools.partial(anchored_crps, df=df))
        nets.append(net.cpu().eval())
        epochs.append({"best_epoch": result.best_epoch, "epochs_run": result.history[-1]["epoch"],
                       "best_val_crps": result.best_val_loss, "anchor_val_crps": result.history[0]["val_loss"],
                       "stop_rows": list(blocks[k])})
    fitted = AnchoredFit(nets=nets, ewma=ewma, garch=garch, base=base, cfg=cfg, df=df, context=context, other=other)
    rows = np.arange(half, n - H)  # return indices of the combination rows (targets inside the history)
    scores = _validation_scores(fitted, history, rows, targets(r, H)[rows])
    fitted.weight = scores.pop("weight")
    fitted.log = {"members": epochs, "validation": scores, "seconds": time.perf_counter() - began,
                  "rows": {"train": val0, "early_stopping": half - val0, "combination": len(rows)},
                  "sequences": len(seqs), "partner": fitted.partner.name, "partner_note": partner_note}
    return fitted


def stop_blocks(val0: int, half: int, cfg: AnchoredConfig) -> list[tuple[int, int]]:
    """Each member's early-stopping rows, (first, stop) return indices: the early-stopping rows [val0, half)
    for every member, or with cfg.member_blocks member k's the k-th block of that length counted back from
    them (block 0 those rows; a block is used only with a chunk of training rows before it, and the members
    beyond the blocks that fit take them again in turn)."""
    size = half - val0
    fit = [(val0 - j * size, half - j * size) for j in range(cfg.members if cfg.member_blocks else 1)
           if j == 0 or val0 - j * size >= cfg.chunk + 1]
    return [fit[k % len(fit)] for k in range(cfg.members)]


def member_data(seqs: Sequence[tuple[np.ndarray, np.ndarray]], block: tuple[int, int], half: int,
                cfg: AnchoredConfig) -> tuple[TrainChunks, tuple[np.ndarray, np.ndarray]]:
    """The training chunks and early-stopping tiles of a member that stops early on the rows `block` of
    every sequence (x (n, C), yz (n, H)): it trains on the rows before `half` whose targets read nothing
    from the block on (before it) or lie after it; the rows after the block are a training sequence of
    their own, read from `warm` bars before them (inputs of the block are context, never targets); its
    early-stopping targets read nothing from the block's end on."""
    first, stop = block
    xs, yzs, vals = [], [], []
    for x, yz in seqs:
        row = np.arange(len(x))[:, None]  # (n, 1)
        last = row + np.arange(1, yz.shape[1] + 1)  # (n, H) the last return each target reads
        train = np.where((last < half) & ~((last >= first) & (row < stop)), yz, np.nan)
        xs.append(x[:first])
        yzs.append(train[:first])
        if stop < half:
            b = max(0, min(stop - cfg.warm, half - cfg.chunk - 1))
            xs.append(x[b:half])
            yzs.append(np.where(row[b:half] >= stop, train[b:half], np.nan))
        vals.append(tiles(x, np.where(last < stop, yz, np.nan), range(first, stop), cfg))
    return TrainChunks(xs, yzs, cfg, cfg.seed), tuple(np.concatenate(part) for part in zip(*vals))


def _validation_scores(fitted: AnchoredFit, history: History, rows: np.ndarray, y: np.ndarray) -> dict:
    """Mean CRPS (all H steps) on the combination rows of EWMA (the anchor), GARCH-t, the anchored
    ensemble and the combination at each grid weight; the weight (1 without combining): the grid weight with
    the least, bagged over cfg.weight_bags bootstrap resamples of the rows (bagged_weight) unless that is 0.
    With cfg.gate, a weight above 0 is kept only when the combination's per-origin CRPS beats GARCH-t's
    there with a one-sided DM p below the gate ("gate": the test and its decision); else w = 0."""
    panel = {q: history.series(pair=q) for q in history.pairs}  # rows renumbered from the history's start:
    histories = [History(panel, int(i) + 1) for i in rows]  # GARCH filters from row 0 here; return i is row i + 1
    local = fitted.filtering_from(0)
    ewma_pred = fitted.ewma.distribution(histories)
    model, _ = replace(fitted, cfg=replace(fitted.cfg, combine=False)).distributions(histories)
    garch_pred = local.garch.distribution(histories)
    garch_crps = garch_pred.crps(y)  # (N, H)
    partner_pred = garch_pred if local.other is None else local.other.distribution(histories)
    out = {"ewma": float(ewma_pred.crps(y).mean()), "garch_t": float(garch_crps.mean()),
           "model": float(model.crps(y).mean()), "weight": 1.0}
    if fitted.cfg.combine:
        parts = Mixture([0.5, 0.5], (model, partner_pred)).crps_parts(y)
        grid = np.linspace(0.0, 1.0, fitted.cfg.weight_grid)
        per_row = np.stack([mixture_crps(*parts, np.array([w, 1.0 - w])).mean(1) for w in grid], 1)  # (N, G)
        by_weight = per_row.mean(0).tolist()
        bags = fitted.cfg.weight_bags
        weight = bagged_weight(per_row, grid, bags, fitted.cfg.seed) if bags else float(grid[int(np.argmin(by_weight))])
        chosen = mixture_crps(*parts, np.array([weight, 1.0 - weight])).mean(1)  # (N,) the combination's CRPS per row
        out.update(weight=weight, combined=float(chosen.mean()), by_weight=by_weight)
        if fitted.cfg.gate is not None and weight > 0:
            p = diebold_mariano(chosen, garch_crps.mean(1), fitted.cfg.horizon)["dm_p"]
            kept = bool(p < fitted.cfg.gate)  # NaN (no difference to test) fails the gate
            out["gate"] = {"alpha": fitted.cfg.gate, "p_better": p, "kept": kept, "weight_chosen": weight}
            if not kept:
                out.update(weight=0.0, combined=by_weight[0])
    return out


def bagged_weight(per_row: np.ndarray, grid: np.ndarray, bags: int, seed: int) -> float:
    """The mean over `bags` stationary-bootstrap resamples of rows (arch; mean block BAG_BLOCK rows, for the
    overlapping H-step targets) of the grid weight with the least mean CRPS; per_row (N, G): each row's CRPS
    at each grid weight."""
    from arch.bootstrap import StationaryBootstrap

    resamples = StationaryBootstrap(BAG_BLOCK, per_row, seed=seed).bootstrap(bags)
    return float(np.mean([grid[int(np.argmin(data[0][0].mean(0)))] for data in resamples]))


def origin_crps(fitted: AnchoredFit, histories: Sequence[History], y: np.ndarray,
                distributions: Optional[tuple] = None) -> dict:
    """Per-origin CRPS (N,), the mean over the H steps of targets y (N, H), of EWMA (the anchor),
    GARCH-t, the anchored ensemble ("model") and what is shipped (the combination, or the ensemble
    when the config does not combine), all with the fitted parameters; distributions: what
    fitted.distributions(histories) gave, if the caller has it already."""
    model, combined = distributions or fitted.distributions(histories)
    out = {"ewma": fitted.ewma.distribution(histories).crps(y).mean(1),
           "garch_t": fitted.garch.distribution(histories).crps(y).mean(1), "model": model.crps(y).mean(1)}
    out["shipped"] = out["model"] if combined is None else combined.crps(y).mean(1)
    return out

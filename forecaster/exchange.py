"""The Exchange-Rate benchmark (Lai et al. 2018) under the standard long-horizon protocol.

The data: daily USD values of 8 currencies, 7,588 rows, in one of two files the user downloads:
  - the original headerless comma-separated `exchange_rate.txt(.gz)` (LSTNet repository);
  - the LTSF `exchange_rate.csv` (Autoformer / Time-Series-Library), header `date,0,...,6,OT`,
    whose `date` column is synthetic (never a feature) and whose last two columns are swapped
    with respect to Lai's order (OT = Lai's column 6, `6` = Lai's column 7).
Both load to the same (7588, 8) array in Lai's column order (CHANNELS).

The protocol (as in DLinear, iTransformer, PatchTST, S-Mamba...):
  - chronological split: train = int(0.7 n), test = int(0.2 n), val = the rest;
    val and test windows start `lookback` rows early so the first forecast has a full lookback;
  - z-score scaler (population std) fitted on the training rows only; all 8 channels in and out;
  - MSE and MAE on scaled values averaged over every stride-1 test window, step and channel
    (no dropped last batch).

The model: a MambaForecaster trained to predict the CHANGE from the last observed scaled value
(target = future scaled values - last input value), so an untrained model (zero output) is the
no-change forecast "Repeat"; the last value is added back before scoring. Training uses the
training windows only; the validation windows choose the epoch (early stopping, starting from
the untrained model, so the kept model is never worse than Repeat on validation) and, in
`select_config`, the lookback and size. The test split is touched once, for the final scores.
The training loop lives here: it was written before the app's trainer (forecaster/training.py)
landed, and it checks validation several times an epoch, which this data needs (the small gain
over Repeat appears within the first fraction of an epoch and is then overfitted away).

Glossary: n rows, C = 8 channels, L lookback, H horizon, B batch.
"""

from __future__ import annotations

import copy
import gzip
import io
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from forecaster.errors import ForecasterError

CHANNELS = ("AUD", "GBP", "CAD", "CHF", "CNY", "JPY", "NZD", "SGD")  # Lai's column order
HORIZONS = (96, 192, 336, 720)
LTSF_COLUMNS = ("0", "1", "2", "3", "4", "5", "OT", "6")  # LTSF csv columns in Lai's order
DATA_ENV = "FORECASTER_EXCHANGE_DATA"  # a file, or a folder holding exchange_rate.txt.gz / .csv

# Published rows (MSE, MAE) for H = 96, 192, 336, 720, each with its source.
PUBLISHED = (
    {"model": "Repeat", "lookback": 336, "source": "DLinear paper (Zeng et al., AAAI 2023), Table 2",
     "scores": ((0.081, 0.196), (0.167, 0.289), (0.305, 0.396), (0.823, 0.681))},
    {"model": "DLinear", "lookback": 336, "source": "DLinear paper (Zeng et al., AAAI 2023), Table 2",
     "scores": ((0.081, 0.203), (0.157, 0.293), (0.305, 0.414), (0.643, 0.601))},
    {"model": "S-Mamba", "lookback": 96, "source": "S-Mamba paper (Wang et al., 2024), Table 2 (full long-term results)",
     "scores": ((0.086, 0.207), (0.182, 0.304), (0.332, 0.418), (0.867, 0.703))},
    {"model": "iTransformer", "lookback": 96, "source": "iTransformer paper (Liu et al., ICLR 2024), Table 10 (full results)",
     "scores": ((0.086, 0.206), (0.177, 0.299), (0.331, 0.417), (0.847, 0.691))},
    {"model": "PatchTST", "lookback": 96, "source": "iTransformer paper (Liu et al., ICLR 2024), Table 10 (PatchTST rerun at lookback 96)",
     "scores": ((0.088, 0.205), (0.176, 0.299), (0.301, 0.397), (0.901, 0.714))},
)


# ----------------------------------------------------------------------------- data

def find_data(path: Optional[str | os.PathLike] = None) -> Path:
    """The data file: `path` (a file, or a folder holding exchange_rate.txt.gz or .csv), else the
    environment variable FORECASTER_EXCHANGE_DATA. Raises ForecasterError when there is none."""
    candidate = path if path is not None else os.environ.get(DATA_ENV)
    if candidate is None:
        raise ForecasterError(f"no Exchange-Rate data given: pass --data PATH (exchange_rate.txt(.gz) or the LTSF "
                              f"exchange_rate.csv) or set {DATA_ENV}")
    p = Path(candidate).expanduser()
    if p.is_dir():
        for name in ("exchange_rate.txt.gz", "exchange_rate.txt", "exchange_rate.csv"):
            if (p / name).is_file():
                return p / name
        raise ForecasterError(f"folder {str(p)!r} holds no exchange_rate.txt.gz, exchange_rate.txt or exchange_rate.csv")
    if not p.is_file():
        raise ForecasterError(f"Exchange-Rate data file {str(p)!r} does not exist: accepted exchange_rate.txt(.gz) or .csv")
    return p


def load_exchange(path: str | os.PathLike) -> np.ndarray:
    """Read either format -> (n, 8) float64 in Lai's column order (CHANNELS). The LTSF csv's
    synthetic date column is dropped and its columns reordered."""
    p = Path(path)
    try:
        raw = gzip.open(p, "rt").read() if p.suffix == ".gz" else p.read_text()
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        raise ForecasterError(f"cannot read {str(p)!r} as text: {exc}") from exc
    lines = [line for line in raw.splitlines() if line.strip()]
    if not lines:
        raise ForecasterError(f"{str(p)!r} is empty: expected 8 comma-separated currency columns")
    header = [h.strip() for h in lines[0].split(",")]
    if header[0].lower() == "date":  # LTSF csv: drop the synthetic date, put the columns in Lai's order
        missing = [c for c in LTSF_COLUMNS if c not in header]
        if missing:
            raise ForecasterError(f"{str(p)!r} has header {header}: an LTSF exchange_rate.csv needs columns "
                                  f"date,{','.join(sorted(LTSF_COLUMNS))} (missing {missing})")
        order = [header.index(c) for c in LTSF_COLUMNS]
        rows = _split_rows(p, lines[1:], len(header), first_line=2)
        return _numbers(p, [[r[i] for i in order] for r in rows], first_line=2)
    return _numbers(p, _split_rows(p, lines, 8, first_line=1), first_line=1)


def _split_rows(p: Path, lines: list[str], width: int, first_line: int) -> list[list[str]]:
    rows = [line.split(",") for line in lines]
    for i, r in enumerate(rows):
        if len(r) != width:
            raise ForecasterError(f"{str(p)!r} line {i + first_line} has {len(r)} fields: expected {width}")
    return rows


def _numbers(p: Path, rows: list[list[str]], first_line: int) -> np.ndarray:
    """rows of 8 strings -> (n, 8) float64, every value finite."""
    try:
        table = np.array([[float(v) for v in r] for r in rows], dtype=np.float64).reshape(len(rows), 8)
    except ValueError as exc:
        raise ForecasterError(f"{str(p)!r} holds a value that is not a number ({exc}): expected 8 numeric columns") from exc
    if not np.isfinite(table).all():
        row = int(np.argwhere(~np.isfinite(table))[0, 0])
        raise ForecasterError(f"{str(p)!r} line {row + first_line} holds a non-finite value: expected finite numbers")
    return table


@dataclass
class Split:
    """Row ranges [start, end) of one split, including the `lookback` rows borrowed before it."""

    name: str
    start: int
    end: int


def split_bounds(n: int, lookback: int) -> dict[str, Split]:
    """The standard chronological split: train int(0.7 n), test int(0.2 n), val the rest;
    val and test start `lookback` rows early."""
    n_train, n_test = int(n * 0.7), int(n * 0.2)
    n_val = n - n_train - n_test
    if lookback < 1 or lookback > n_train:
        raise ForecasterError(f"lookback={lookback!r} is invalid: accepted 1..{n_train} (the training rows)")
    return {
        "train": Split("train", 0, n_train),
        "val": Split("val", n_train - lookback, n_train + n_val),
        "test": Split("test", n - n_test - lookback, n),
    }


@dataclass
class Scaler:
    """z-score per channel (population std, as sklearn's StandardScaler)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, rows: np.ndarray) -> "Scaler":
        std = rows.std(axis=0)
        return cls(rows.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, rows: np.ndarray) -> np.ndarray:
        return (rows - self.mean) / self.std


@dataclass
class Prepared:
    """The scaled series of each split (lookback rows included) and the scaler fitted on train."""

    splits: dict[str, np.ndarray]  # name -> (rows, C) scaled float32
    scaler: Scaler
    lookback: int


def prepare(values: np.ndarray, lookback: int) -> Prepared:
    """Split, fit the scaler on the training rows only, scale every split."""
    bounds = split_bounds(len(values), lookback)
    scaler = Scaler.fit(values[bounds["train"].start:bounds["train"].end])
    scaled = scaler.transform(values).astype(np.float32)
    return Prepared({k: scaled[b.start:b.end] for k, b in bounds.items()}, scaler, lookback)


def n_windows(rows: int, lookback: int, horizon: int) -> int:
    """Stride-1 windows in a split of `rows` rows (lookback included)."""
    return max(0, rows - lookback - horizon + 1)


def gather(series, starts, lookback: int, horizon: int):
    """series (n, C) tensor, starts (B,) -> inputs (B, L, C) and future values (B, H, C)."""
    import torch

    idx = starts[:, None] + torch.arange(lookback + horizon, device=series.device)  # (B, L + H)
    block = series[idx]  # (B, L + H, C)
    return block[:, :lookback], block[:, lookback:]


# ----------------------------------------------------------------------------- scoring

def evaluate(forecast: Callable, series: np.ndarray, lookback: int, horizon: int, device: str = "cpu",
             batch_size: int = 256) -> dict:
    """MSE and MAE of `forecast(x (B, L, C)) -> changes (B, H, C)` (from the last input value) over
    every stride-1 window of `series` (rows, C), averaged over windows, steps and channels."""
    import torch

    count = n_windows(len(series), lookback, horizon)
    if count == 0:
        raise ForecasterError(f"no window fits: {len(series)} rows < lookback {lookback} + horizon {horizon}")
    data = torch.as_tensor(series, device=device)
    sq = ab = 0.0
    with torch.no_grad():
        for first in range(0, count, batch_size):
            starts = torch.arange(first, min(first + batch_size, count), device=device)
            x, future = gather(data, starts, lookback, horizon)  # (B, L, C), (B, H, C)
            pred = x[:, -1:, :] + forecast(x).float()  # (B, H, C)
            err = (pred - future).double()
            sq += float((err ** 2).sum())
            ab += float(err.abs().sum())
    total = count * horizon * series.shape[1]
    return {"mse": sq / total, "mae": ab / total, "windows": count}


class Repeat:
    """The no-change forecast as changes from the last input value: zeros (B, H, C)."""

    def __init__(self, horizon: int):
        self.horizon = horizon

    def __call__(self, x):
        return x.new_zeros(x.shape[0], self.horizon, x.shape[2])  # (B, H, C)


def repeat_scores(values: np.ndarray, horizon: int, lookback: int = 96, split: str = "test") -> dict:
    """Repeat (every future value = the last observed one) under the protocol."""
    prepared = prepare(values, lookback)
    return evaluate(Repeat(horizon), prepared.splits[split], lookback, horizon)


# ----------------------------------------------------------------------------- training

@dataclass
class ExchangeConfig:
    """Model size and training settings for one horizon (the horizon is given separately)."""

    lookback: int = 96  # L, chosen on validation (see select_config and BENCHMARKS.md)
    d_model: int = 64
    n_layer: int = 2
    d_state: int = 16
    revin: bool = True  # per-window input normalisation inside the model
    lr: float = 1e-4  # small steps: on this data the gain over Repeat is small and soon overfitted
    weight_decay: float = 0.05
    batch_size: int = 32
    max_epochs: int = 2
    checks_per_epoch: int = 8  # validation checks per epoch (early stopping can stop mid-epoch)
    patience: int = 2  # validation checks without a better validation MSE before stopping
    clip: float = 1.0  # gradient-norm clip
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("lookback", "d_model", "n_layer", "d_state", "batch_size", "max_epochs", "checks_per_epoch"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ForecasterError(f"{name}={value!r} is invalid: accepted an integer >= 1")
        if self.patience < 0:
            raise ForecasterError(f"patience={self.patience!r} is invalid: accepted an integer >= 0")
        if not (self.lr > 0 and self.weight_decay >= 0 and self.clip > 0):
            raise ForecasterError(f"lr={self.lr!r}, weight_decay={self.weight_decay!r}, clip={self.clip!r}: "
                                  "accepted lr > 0, weight_decay >= 0, clip > 0")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "ExchangeConfig":
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ForecasterError(f"unknown ExchangeConfig field(s) {sorted(unknown)}: accepted {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str) -> "ExchangeConfig":
        return cls.from_dict(json.loads(text))


# The configuration chosen on validation data (H=96 grid, see BENCHMARKS.md): lookback 96 and
# d_model 64 x 2 layers had the lowest validation MSE (0.1271; Repeat 0.1282; lookback 192 never beat Repeat).
CHOSEN = ExchangeConfig()
# The grid select_config searches: lookback x (d_model, n_layer).
GRID = {"lookback": (96, 192), "size": ((32, 1), (64, 2))}


def build_model(config: ExchangeConfig, horizon: int, n_channels: int = 8):
    from forecaster.mamba import ForecasterConfig, MambaConfig, MambaForecaster

    mamba = MambaConfig(d_model=config.d_model, n_layer=config.n_layer, d_state=config.d_state)
    return MambaForecaster(ForecasterConfig(mamba=mamba, n_inputs=n_channels, n_outputs=n_channels,
                                            horizon=horizon, revin=config.revin))


@dataclass
class FitResult:
    model: object
    best_epoch: float  # epochs trained by the kept model; 0 = the untrained model (Repeat) was best on validation
    val_mse: float
    history: list = field(default_factory=list)  # per epoch: {"epoch", "train_mse", "val_mse", "val_mae"}
    seconds: float = 0.0


def fit(train: np.ndarray, val: np.ndarray, horizon: int, config: ExchangeConfig, device: str = "cpu",
        progress: Optional[Callable[[str, int, int], None]] = None) -> FitResult:
    """Train on the stride-1 windows of `train` (rows, C) to predict changes from the last input
    value; `checks_per_epoch` times an epoch score `val` and keep the best state (epoch 0 = untrained = Repeat);
    stop after `patience` checks without improvement. progress(description, done, total)."""
    import torch

    from forecaster.training import seed_everything

    t0 = time.time()
    seed_everything(config.seed)
    L = config.lookback
    count = n_windows(len(train), L, horizon)
    if count < 1:
        raise ForecasterError(f"no training window fits: {len(train)} rows < lookback {L} + horizon {horizon}")
    model = build_model(config, horizon, train.shape[1]).to(device)
    opt = torch.optim.AdamW(model.param_groups(config.weight_decay), lr=config.lr)
    data = torch.as_tensor(train, device=device)
    gen = torch.Generator().manual_seed(config.seed)
    steps = math.ceil(count / config.batch_size)

    def val_score() -> dict:
        model.eval()
        out = evaluate(model, val, L, horizon, device)
        model.train()
        return out

    best = val_score()
    best_mse, best_epoch, best_state = best["mse"], 0.0, copy.deepcopy(model.state_dict())
    history = [{"epoch": 0.0, "train_mse": None, "val_mse": best["mse"], "val_mae": best["mae"]}]
    checks = sorted({math.ceil(steps * k / config.checks_per_epoch) for k in range(1, config.checks_per_epoch + 1)})
    since_best = 0  # validation checks without improvement
    model.train()
    for epoch in range(1, config.max_epochs + 1):
        order = torch.randperm(count, generator=gen).to(device)
        total, seen = 0.0, 0
        for i in range(steps):
            starts = order[i * config.batch_size:(i + 1) * config.batch_size]
            x, future = gather(data, starts, L, horizon)  # (B, L, C), (B, H, C)
            target = future - x[:, -1:, :]  # change from the last observed value
            loss = torch.nn.functional.mse_loss(model(x), target)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip)
            opt.step()
            total += float(loss.detach()) * len(starts)
            seen += len(starts)
            if progress:
                progress(f"H={horizon} epoch {epoch}/{config.max_epochs} loss {total / seen:.4f}",
                         i, steps)  # the check line below completes the bar
            if i + 1 not in checks:
                continue
            score = val_score()
            at = round(epoch - 1 + (i + 1) / steps, 3)
            history.append({"epoch": at, "train_mse": total / seen, "val_mse": score["mse"], "val_mae": score["mae"]})
            if progress:
                progress(f"H={horizon} L={L} d_model={config.d_model} n_layer={config.n_layer} epoch {at}: train MSE "
                         f"{total / seen:.4f}, val MSE {score['mse']:.4f} (untrained/Repeat {history[0]['val_mse']:.4f})",
                         steps, steps)
            if score["mse"] < best_mse:
                best_mse, best_epoch, best_state, since_best = score["mse"], at, copy.deepcopy(model.state_dict()), 0
            else:
                since_best += 1
            if since_best > config.patience:
                break
        if since_best > config.patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return FitResult(model, best_epoch, best_mse, history, time.time() - t0)


# ----------------------------------------------------------------------------- the benchmark

@dataclass
class HorizonResult:
    horizon: int
    test_windows: int
    repeat: dict  # {"mse", "mae"} on test
    model: Optional[dict]  # {"mse", "mae"} on test, None when not trained
    val_repeat_mse: float
    val_model_mse: Optional[float]
    best_epoch: Optional[float]
    epochs_run: Optional[float]  # epochs trained before stopping
    seconds: float

    @property
    def beats_repeat(self) -> Optional[bool]:
        return None if self.model is None else self.model["mse"] < self.repeat["mse"] and self.model["mae"] < self.repeat["mae"]

    def to_dict(self) -> dict:
        return {**asdict(self), "beats_repeat": self.beats_repeat}


@dataclass
class BenchmarkResult:
    data: str
    rows: int
    config: dict
    device: str
    seed: int
    horizons: list  # of HorizonResult
    seconds: float
    date: str = ""

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "horizons"},
                "horizons": [h.to_dict() for h in self.horizons], "published": list(PUBLISHED)}


def run_benchmark(data: str | os.PathLike, horizons: Sequence[int] = HORIZONS, config: ExchangeConfig = CHOSEN,
                  device: str = "auto", train: bool = True, show_progress: bool = True) -> BenchmarkResult:
    """Repeat and (unless train=False) the Mamba forecaster at each horizon, scored on the test split."""
    t0 = time.time()
    path = find_data(data)
    values = load_exchange(path)
    device = device_name(device)
    bad = [h for h in horizons if not isinstance(h, int) or h < 1]
    if bad or not horizons:
        raise ForecasterError(f"horizons {list(horizons)} invalid: accepted integers >= 1, e.g. 96 192 336 720")
    prepared = prepare(values, config.lookback)
    L = config.lookback
    results = []
    with _progress(show_progress) as bar:
        for h in horizons:
            t1 = time.time()
            test, val = prepared.splits["test"], prepared.splits["val"]
            if n_windows(len(val), L, h) < 1 or n_windows(len(test), L, h) < 1:
                raise ForecasterError(f"horizon {h} leaves no validation or test window (val {len(val) - L} rows, "
                                      f"test {len(test) - L} rows): accepted horizons <= {len(val) - L}")
            rep = evaluate(Repeat(h), test, L, h, device)
            val_rep = evaluate(Repeat(h), val, L, h, device)["mse"]
            model_scores = fitted = None
            if train:
                fitted = fit(prepared.splits["train"], val, h, config, device, progress=bar)
                model_scores = evaluate(fitted.model, test, L, h, device)
            results.append(HorizonResult(
                horizon=h, test_windows=rep["windows"], repeat={"mse": rep["mse"], "mae": rep["mae"]},
                model=None if model_scores is None else {"mse": model_scores["mse"], "mae": model_scores["mae"]},
                val_repeat_mse=val_rep, val_model_mse=fitted.val_mse if fitted else None,
                best_epoch=fitted.best_epoch if fitted else None,
                epochs_run=fitted.history[-1]["epoch"] if fitted else None, seconds=time.time() - t1))
    return BenchmarkResult(str(path), len(values), config.to_dict(), device, config.seed, results,
                           time.time() - t0, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))


def select_config(data: str | os.PathLike, horizon: int = 96, base: ExchangeConfig = CHOSEN, grid: dict = GRID,
                  device: str = "auto", show_progress: bool = True) -> list[dict]:
    """Train every lookback x size of `grid` at one horizon and rank them by VALIDATION MSE
    (the test split is never read). Returns rows sorted best first."""
    values = load_exchange(find_data(data))
    device = device_name(device)
    rows = []
    with _progress(show_progress) as bar:
        for lookback in grid["lookback"]:
            prepared = prepare(values, lookback)
            val_repeat = evaluate(Repeat(horizon), prepared.splits["val"], lookback, horizon)["mse"]
            for d_model, n_layer in grid["size"]:
                cfg = ExchangeConfig(**{**base.to_dict(), "lookback": lookback, "d_model": d_model, "n_layer": n_layer})
                fitted = fit(prepared.splits["train"], prepared.splits["val"], horizon, cfg, device, progress=bar)
                rows.append({"lookback": lookback, "d_model": d_model, "n_layer": n_layer, "val_mse": fitted.val_mse,
                             "val_repeat_mse": val_repeat, "best_epoch": fitted.best_epoch,
                             "seconds": round(fitted.seconds, 1)})
    return sorted(rows, key=lambda r: r["val_mse"])


class _progress:
    """A rich progress bar on stderr, handed out as a callback progress(description, done, total)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None
        self.task = None

    def __enter__(self):
        if not self.enabled:
            return None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=Console(stderr=True), transient=True)
        self.bar.start()
        self.task = self.bar.add_task("", total=1)
        return self.update

    def update(self, description: str, done: int, total: int) -> None:
        self.bar.update(self.task, description=description, completed=done, total=total)
        if done == total and not self.bar.console.is_terminal:  # logs and files get one line per epoch
            self.bar.console.print(description, highlight=False)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()


# ----------------------------------------------------------------------------- the table

def format_table(result: BenchmarkResult) -> str:
    """Markdown: our rows (Repeat and the Mamba forecaster, this run) beside the published rows."""
    hs = [r.horizon for r in result.horizons]
    head = "| model | lookback | source | " + " | ".join(f"H={h} MSE / MAE" for h in hs) + " |"
    lines = [head, "|" + "---|" * (3 + len(hs))]
    L = result.config["lookback"]

    def cells(scores) -> str:
        return " | ".join("–" if s is None else f"{s['mse']:.3f} / {s['mae']:.3f}" for s in scores)

    lines.append(f"| Repeat (no change) | {L} | this run | {cells([r.repeat for r in result.horizons])} |")
    if any(r.model is not None for r in result.horizons):
        size = f"d_model {result.config['d_model']}, {result.config['n_layer']} layers"
        lines.append(f"| **Mamba forecaster (ours)** | {L} | this run ({size}, seed {result.seed}, {result.device}) | "
                     f"{cells([r.model for r in result.horizons])} |")
    for row in PUBLISHED:
        scores = []
        for h in hs:
            i = HORIZONS.index(h) if h in HORIZONS else None
            scores.append(None if i is None else {"mse": row["scores"][i][0], "mae": row["scores"][i][1]})
        lines.append(f"| {row['model']} | {row['lookback']} | {row['source']} | {cells(scores)} |")
    verdicts = []
    for r in result.horizons:
        if r.model is not None:
            verdict = "beats" if r.beats_repeat else ("ties" if r.best_epoch == 0 else "does not beat")
            verdicts.append(f"H={r.horizon}: {verdict} Repeat (MSE {r.model['mse']:.4f} vs {r.repeat['mse']:.4f}, "
                            f"MAE {r.model['mae']:.4f} vs {r.repeat['mae']:.4f}; best epoch {r.best_epoch})")
    if verdicts:
        lines += ["", "Against Repeat on test: " + "; ".join(verdicts) + "."]
    return "\n".join(lines)


def device_name(name: str) -> str:
    """auto/cpu/cuda/cuda:N/mps -> a device string; ForecasterError when it is not available."""
    from forecaster.training import resolve_device

    return str(resolve_device(name))

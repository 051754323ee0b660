"""Training a forecaster: AdamW, warm-up then cosine, clipping, early stopping, resume, DDP.

`fit` is generic: any module mapping x (B, L, C_in) to (B, H, C_out[, Q]) and two datasets of
(x, y) pairs with y (H, C_out) scaled changes, so that a zero forecast is the no-change
(random walk) forecast. Validation is also run before the first epoch: the untrained model
outputs zero, so "epoch 0" is the random walk and the restored best model can never be worse
than it on the validation split.
"""

from __future__ import annotations

import math
import os
import random
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from forecaster.errors import ForecasterError
from forecaster.intervals import point_forecast

LOSSES = ("mse", "huber")


@dataclass
class TrainConfig:
    epochs: int = 20
    batch_size: int = 128
    lr: float = 2e-3
    warmup_frac: float = 0.05  # share of all steps spent warming up linearly
    weight_decay: float = 0.01  # not applied to A_log, D, norms, biases
    clip: float = 1.0  # gradient norm clipping
    patience: int = 4  # epochs without validation improvement before stopping
    loss: str = "mse"  # mse | huber (point forecasts); pinball is used when the model has quantiles
    huber_delta: float = 1.0
    seed: int = 0
    device: str = "auto"
    threads: int = 1  # CPU threads for torch during fit (0 = leave torch's setting); see the note below
    num_workers: int = 0  # DataLoader worker processes (the windows are in memory: 0 is usually fastest)

    # Why one thread by default: these models are small, so extra intra-op threads gain little, and
    # on a busy machine OpenMP threads that wait on each other made a training step 30x slower
    # (measured: 0.3 s vs 11 s per batch on 2 shared cores). The setting is restored after fit.

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "patience"):
            if getattr(self, name) < 1:
                raise ForecasterError(f"{name}={getattr(self, name)!r} is invalid: accepted an integer >= 1")
        if not self.lr > 0:
            raise ForecasterError(f"lr={self.lr!r} is invalid: accepted a number > 0")
        if self.threads < 0 or self.num_workers < 0:
            raise ForecasterError(f"threads={self.threads!r}, num_workers={self.num_workers!r}: accepted integers >= 0")
        if self.loss not in LOSSES:
            raise ForecasterError(f"loss={self.loss!r} is invalid: accepted {', '.join(LOSSES)}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ForecasterError(f"unknown training setting(s) {sorted(unknown)}: accepted {sorted(cls.__dataclass_fields__)}")
        return cls(**data)


@dataclass
class FitResult:
    history: list = field(default_factory=list)  # one dict per epoch: epoch, train_loss, val_loss, val_mse, seconds
    best_epoch: int = 0
    best_val_loss: float = math.inf
    best_val_mse: float = math.inf
    random_walk_val_mse: float = math.inf  # the no-change forecast on the same targets
    stopped_early: bool = False


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ForecasterError(f"device {name!r} is not a device: accepted auto, cpu, cuda, cuda:N or mps") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ForecasterError(f"device {name!r} asked for, but CUDA is not available here: use --device cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ForecasterError("device 'mps' asked for, but MPS is not available here: use --device cpu")
    return device


def pinball_loss(pred: Tensor, target: Tensor, quantiles: Tensor) -> Tensor:
    """pred (B, H, C, Q), target (B, H, C), quantiles (Q,) -> mean quantile (pinball) loss."""
    diff = target[..., None] - pred
    return torch.maximum(quantiles * diff, (quantiles - 1) * diff).mean()


def _loss_fn(cfg: TrainConfig, quantiles: tuple) -> Callable[[Tensor, Tensor], Tensor]:
    if quantiles:
        q = torch.tensor(quantiles)
        return lambda pred, y: pinball_loss(pred, y, q.to(pred.device, pred.dtype))
    if cfg.loss == "huber":
        return lambda pred, y: F.huber_loss(pred, y, delta=cfg.huber_delta)
    return F.mse_loss


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def is_main_process() -> bool:
    return not _distributed() or torch.distributed.get_rank() == 0


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, loss_fn, quantiles: tuple, device, batch_size: int = 1024) -> tuple[float, float, float]:
    """(mean loss, MSE of the point forecast, MSE of the zero = random-walk forecast) over a dataset."""
    model.eval()
    total, sq, rw, count = 0.0, 0.0, 0.0, 0
    for x, y in DataLoader(dataset, batch_size=batch_size):
        x, y = x.to(device), y.to(device)
        pred = model(x)
        total += float(loss_fn(pred, y)) * len(x)
        sq += float(((point_forecast(pred, quantiles) - y) ** 2).mean()) * len(x)
        rw += float((y**2).mean()) * len(x)
        count += len(x)
    if count == 0:
        raise ForecasterError("the validation split holds no windows: use more data or a shorter lookback/horizon")
    return total / count, sq / count, rw / count


def as_dataset(data) -> Dataset:
    """A torch Dataset as it is, or a pair of arrays (x (N, L, C_in), y (N, H, C_out)) as a TensorDataset."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in data)
        if len(x) != len(y):
            raise ForecasterError(f"x holds {len(x)} windows but y holds {len(y)}: they must match")
        return TensorDataset(x, y)
    raise ForecasterError(f"training data of type {type(data).__name__} is not accepted: give a torch Dataset of "
                          "(x, y) pairs or a tuple (x (N, L, C_in), y (N, H, C_out)) of arrays")


def fit(
    model: nn.Module, train_set, val_set, cfg: Optional[TrainConfig] = None, quantiles: tuple = (),
    state_path: Optional[Path] = None, resume: bool = False, progress: bool = True,
    on_epoch_end: Optional[Callable[[dict], None]] = None,
) -> FitResult:
    """Train in place; on return the model holds the best validation weights.

    train_set, val_set: torch Datasets of (x (L, C_in), y (H, C_out)) pairs, or tuples of arrays
    (x (N, L, C_in), y (N, H, C_out)). cfg: TrainConfig() when None.

    state_path: where the resumable training state is written after every epoch (rank 0 only).
    resume: continue from state_path. Under torch.distributed, each rank trains on its shard of
    the windows and gradients are averaged (DDP).
    """
    train_set, val_set = as_dataset(train_set), as_dataset(val_set)
    cfg = cfg or TrainConfig()
    with cpu_threads(cfg.threads):
        return _fit(model, train_set, val_set, cfg, quantiles, state_path, resume, progress, on_epoch_end)


@contextmanager
def cpu_threads(n: int):
    """torch's intra-op CPU threads set to n inside the block (0: unchanged), restored after."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _fit(model, train_set, val_set, cfg, quantiles, state_path, resume, progress, on_epoch_end) -> FitResult:
    device = resolve_device(cfg.device)
    if _distributed() and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    seed_everything(cfg.seed)
    model.to(device)
    loss_fn = _loss_fn(cfg, quantiles)
    groups = model.param_groups(cfg.weight_decay) if hasattr(model, "param_groups") else model.parameters()
    optimizer = torch.optim.AdamW(groups, lr=cfg.lr)
    net: nn.Module = model
    sampler = None
    if _distributed():
        from torch.nn.parallel import DistributedDataParallel
        from torch.utils.data.distributed import DistributedSampler

        sampler = DistributedSampler(train_set, shuffle=True, seed=cfg.seed, drop_last=False)
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    steps_per_epoch = math.ceil((len(sampler) if sampler else len(train_set)) / cfg.batch_size)
    total_steps = max(1, cfg.epochs * steps_per_epoch)
    warmup = max(1, int(cfg.warmup_frac * total_steps))

    def lr_factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total_steps - warmup))))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    result = FitResult()
    start_epoch, bad_epochs = 1, 0
    best_state = None
    if resume:
        if state_path is None or not Path(state_path).exists():
            raise ForecasterError(f"nothing to resume: no training state at {state_path}")
        try:
            state = torch.load(state_path, map_location=device, weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            best_state = state["best_state"]
            result = FitResult(**state["result"])
            start_epoch, bad_epochs = state["epoch"] + 1, state["bad_epochs"]
        except Exception as exc:  # damaged file, refused pickle, or another model's state
            raise ForecasterError(f"cannot resume from {state_path}: it is damaged or belongs to a model of another "
                                  f"shape ({type(exc).__name__}: {str(exc)[:200]}); train again without --resume") from exc
    else:
        val_loss, val_mse, rw = evaluate(model, val_set, loss_fn, quantiles, device)
        result.random_walk_val_mse = rw
        result.best_val_loss, result.best_val_mse, result.best_epoch = val_loss, val_mse, 0
        result.history.append({"epoch": 0, "train_loss": None, "val_loss": val_loss, "val_mse": val_mse, "seconds": 0.0})
        best_state = _copy_state(model)

    bar = _progress_bar(progress and is_main_process())
    task = bar.add_task("training", total=cfg.epochs, completed=start_epoch - 1, info="") if bar else None
    try:
        for epoch in range(start_epoch, cfg.epochs + 1):
            if bad_epochs >= cfg.patience:
                break
            began = time.perf_counter()
            train_loss = _train_epoch(net, train_set, sampler, optimizer, scheduler, loss_fn, cfg, epoch, device)
            val_loss, val_mse, _ = evaluate(model, val_set, loss_fn, quantiles, device)
            row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "val_mse": val_mse,
                   "seconds": time.perf_counter() - began}
            result.history.append(row)
            if val_loss < result.best_val_loss - 1e-9:
                result.best_val_loss, result.best_val_mse, result.best_epoch = val_loss, val_mse, epoch
                best_state, bad_epochs = _copy_state(model), 0
            else:
                bad_epochs += 1
            if bar:
                bar.update(task, advance=1, info=f"train {train_loss:.4f}  val {val_loss:.4f}  "
                                                 f"(random walk {result.random_walk_val_mse:.4f})")
            if state_path is not None and is_main_process():
                _save_state(state_path, model, optimizer, scheduler, best_state, result, epoch, bad_epochs)
            if on_epoch_end is not None:
                on_epoch_end(row)
        result.stopped_early = bad_epochs >= cfg.patience and result.history[-1]["epoch"] < cfg.epochs
    finally:
        if bar:
            bar.stop()
    model.load_state_dict(best_state)
    return result


def _train_epoch(net, train_set, sampler, optimizer, scheduler, loss_fn, cfg, epoch, device) -> float:
    net.train()
    if sampler is not None:
        sampler.set_epoch(epoch)
        loader = DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers)
    else:  # the shuffle depends on (seed, epoch) alone, so a resumed run sees the same batches
        generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, generator=generator,
                            num_workers=cfg.num_workers)
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        loss = loss_fn(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.clip:
            nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
        optimizer.step()
        scheduler.step()
        total += float(loss.detach()) * len(x)
        count += len(x)
    return total / max(count, 1)


def _copy_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _save_state(path, model, optimizer, scheduler, best_state, result, epoch, bad_epochs) -> None:
    from forecaster.checkpoint import atomic_torch_save

    atomic_torch_save({
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "best_state": best_state, "result": asdict(result), "epoch": epoch, "bad_epochs": bad_epochs,
    }, Path(path))


def _progress_bar(enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rich.console import Console

    bar = Progress(TextColumn("epoch"), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[info]}"), console=Console(stderr=True), transient=False)
    bar.start()
    return bar


def init_distributed_from_env(device: str = "auto") -> bool:
    """Join the process group torchrun describes (RANK/WORLD_SIZE in the environment): nccl when
    training on CUDA (one GPU per local rank), gloo on the CPU. Returns whether this is a distributed run."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) < 2:
        return False
    if not torch.distributed.is_initialized():
        on_gpu = resolve_device(device).type == "cuda"
        if on_gpu:
            local_rank = int(os.environ.get("LOCAL_RANK", 0))
            if local_rank >= torch.cuda.device_count():
                raise ForecasterError(f"local rank {local_rank} has no GPU ({torch.cuda.device_count()} visible): start "
                                      f"at most that many processes per node, or train on the CPU with --device cpu")
            torch.cuda.set_device(local_rank)
        torch.distributed.init_process_group(backend="nccl" if on_gpu else "gloo")
    return True

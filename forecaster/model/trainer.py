"""The one trainer: AdamW, warm-up then cosine (or a constant rate), clipping, early stopping, resume, DDP.

`fit` is generic: any module mapping x (B, L, C_in) to (B, H, C_out[, Q]) and two datasets of
(x, y) pairs with y (H, C_out) scaled changes, so that a zero forecast is the no-change
(random walk) forecast. Validation is also run before the first step: the untrained model
outputs zero, so "check 0" is the random walk and the restored best model can never be worse
than it on the validation split. A model that brings its own loss (`loss_fn(pred, y)`, e.g. a
sequence model whose y holds NaN where no target is scored) is trained and early-stopped on it
alone (the point-forecast MSE and MAE are then not computed: NaN). A training set with a
`set_epoch(epoch)` method is told each epoch before its batches are drawn (e.g. to move its chunks).
Validation runs `checks_per_epoch` times an epoch (once by default); `patience` counts checks
without a better validation loss. With `min_epochs` = k the kept model is the best check from epoch
k on (the untrained one is then never kept: for a model whose untrained output is already a strong
forecast, so that a small, noisy validation set cannot stop it before it learns anything).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from forecaster.configs import TrainConfig
from forecaster.errors import ForecasterError
from forecaster.probabilistic.intervals import point_forecast
from forecaster.probabilistic.families import family
from forecaster.probabilistic.losses import pinball_loss
from forecaster.model.device import _distributed, cpu_threads, is_main_process, resolve_device, seed_everything
from forecaster.util.progress import progress_bar

@dataclass
class FitResult:
    history: list = field(default_factory=list)  # one dict per check: epoch, train_loss, val_loss, val_mse, val_mae, seconds
    best_epoch: float = 0  # epochs trained by the kept model (fractional with several checks an epoch); 0 = untrained
    best_val_loss: float = math.inf
    best_val_mse: float = math.inf
    random_walk_val_mse: float = math.inf  # the no-change forecast on the same targets
    stopped_early: bool = False


def _loss_fn(cfg: TrainConfig, quantiles: tuple, distribution: str = "none") -> Callable[[Tensor, Tensor], Tensor]:
    if distribution != "none":
        loss = cfg.loss if cfg.loss in ("crps", "nll") else "crps"
        return lambda pred, y: family(distribution).loss(pred, y, loss)
    if quantiles:
        q = torch.tensor(quantiles)
        return lambda pred, y: pinball_loss(pred, y, q.to(pred.device, pred.dtype))
    if cfg.loss == "huber":
        return lambda pred, y: F.huber_loss(pred, y, delta=cfg.huber_delta)
    return F.mse_loss


@torch.no_grad()
def evaluate(model: nn.Module, dataset: Dataset, loss_fn, quantiles: tuple, device, batch_size: int = 1024,
             distribution: str = "none", point: bool = True) -> dict:
    """Mean loss, MSE and MAE of the point forecast, and the MSE and MAE of the zero (random-walk)
    forecast over a dataset, averaged over windows, steps and series (point=False: the loss only,
    the rest NaN)."""
    model.eval()
    sums = {"loss": 0.0, **dict.fromkeys(("mse", "mae", "random_walk_mse", "random_walk_mae"), 0.0 if point else math.nan)}
    count = 0
    for x, y in DataLoader(dataset, batch_size=batch_size):
        x, y = x.to(device), y.to(device)
        pred = model(x)
        sums["loss"] += float(loss_fn(pred, y)) * len(x)
        count += len(x)
        if not point:
            continue
        err = point_forecast(pred, quantiles, distribution) - y
        for key, value in (("mse", (err**2).mean()), ("mae", err.abs().mean()),
                           ("random_walk_mse", (y**2).mean()), ("random_walk_mae", y.abs().mean())):
            sums[key] += float(value) * len(x)
    if count == 0:
        raise ForecasterError("the validation split holds no windows: use more data or a shorter lookback/horizon")
    return {**{k: v / count for k, v in sums.items()}, "windows": count}


def as_dataset(data) -> Dataset:
    """A torch Dataset as it is, or a pair of arrays (x (N, L, C_in), y (N, H, C_out)) as a TensorDataset."""
    if isinstance(data, Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = (torch.tensor(np.asarray(a, dtype=np.float32)) for a in data)  # a copy: views of a table are read-only
        if len(x) != len(y):
            raise ForecasterError(f"x holds {len(x)} windows but y holds {len(y)}: they must match")
        return TensorDataset(x, y)
    raise ForecasterError(f"training data of type {type(data).__name__} is not accepted: give a torch Dataset of "
                          "(x, y) pairs or a tuple (x (N, L, C_in), y (N, H, C_out)) of arrays")


def fit(
    model: nn.Module, train_set, val_set, cfg: Optional[TrainConfig] = None, quantiles: tuple = (),
    state_path: Optional[Path] = None, resume: bool = False, progress: bool = True,
    on_check: Optional[Callable[[dict], None]] = None, distribution: str = "none",
    loss_fn: Optional[Callable[[Tensor, Tensor], Tensor]] = None,
) -> FitResult:
    """Train in place; on return the model holds the best validation weights.

    train_set, val_set: torch Datasets of (x (L, C_in), y (H, C_out)) pairs, or tuples of arrays
    (x (N, L, C_in), y (N, H, C_out)). cfg: TrainConfig() when None.
    quantiles / distribution: what the model outputs (quantile heads: pinball loss; a parametric
    head "normal" or "student_t": CRPS or NLL; otherwise MSE or Huber on the point forecast).

    state_path: where the resumable training state is written after every epoch (rank 0 only).
    resume: continue from state_path. Under torch.distributed, each rank trains on its shard of
    the windows and gradients are averaged (DDP).
    loss_fn: the model's own loss(pred, y) -> scalar, in place of the one chosen from
    quantiles / distribution / cfg.loss (validation then reports the loss alone).
    """
    train_set, val_set = as_dataset(train_set), as_dataset(val_set)
    cfg = cfg or TrainConfig()
    with cpu_threads(cfg.threads):
        return _fit(model, train_set, val_set, cfg, quantiles, distribution, state_path, resume, progress, on_check,
                    loss_fn)


def _fit(model, train_set, val_set, cfg, quantiles, distribution, state_path, resume, progress, on_check,
         own_loss=None) -> FitResult:
    device = resolve_device(cfg.device)
    if _distributed() and device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    seed_everything(cfg.seed)
    model.to(device)
    loss_fn = own_loss or _loss_fn(cfg, quantiles, distribution)
    point = own_loss is None
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
    checks = sorted({math.ceil(steps_per_epoch * k / cfg.checks_per_epoch) for k in range(1, cfg.checks_per_epoch + 1)})
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg, steps_per_epoch))
    result = FitResult()
    start_epoch, bad_checks = 1, 0
    best_state = None
    scored = model  # what validation scores and the fit keeps: the model, or the moving average of its weights
    averaged = None
    if cfg.ema:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        scored = averaged.module
    if resume:
        if state_path is None or not Path(state_path).exists():
            raise ForecasterError(f"nothing to resume: no training state at {state_path}")
        try:
            state = torch.load(state_path, map_location=device, weights_only=True)
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            best_state = state["best_state"]
            if averaged is not None:
                averaged.load_state_dict(state["averaged"])
            result = FitResult(**state["result"])
            start_epoch, bad_checks = state["epoch"] + 1, state["bad_epochs"]
        except Exception as exc:  # damaged file, refused pickle, or another model's state
            raise ForecasterError(f"cannot resume from {state_path}: it is damaged or belongs to a model of another "
                                  f"shape ({type(exc).__name__}: {str(exc)[:200]}); train again without --resume") from exc
    else:  # check 0: the untrained model, which forecasts no change
        val = evaluate(model, val_set, loss_fn, quantiles, device, distribution=distribution, point=point)
        result.random_walk_val_mse = val["random_walk_mse"]
        result.best_val_loss, result.best_val_mse, result.best_epoch = val["loss"], val["mse"], 0
        result.history.append({"epoch": 0, "train_loss": None, "val_loss": val["loss"], "val_mse": val["mse"],
                               "val_mae": val["mae"], "seconds": 0.0})
        best_state = _copy_state(model)

    total_checks = cfg.epochs * len(checks)
    with progress_bar("training", progress and is_main_process()) as bar:
        for epoch in range(start_epoch, cfg.epochs + 1):
            if bad_checks >= cfg.patience:
                break
            began = time.perf_counter()
            net.train()
            total, count = 0.0, 0
            if hasattr(train_set, "set_epoch"):
                train_set.set_epoch(epoch)
            for step, (x, y) in enumerate(_batches(train_set, sampler, cfg, epoch), start=1):
                x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
                loss = loss_fn(net(x), y)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.clip:
                    nn.utils.clip_grad_norm_(net.parameters(), cfg.clip)
                optimizer.step()
                scheduler.step()
                if averaged is not None:
                    averaged.update_parameters(model)
                total += float(loss.detach()) * len(x)
                count += len(x)
                if step not in checks:
                    continue
                val = evaluate(scored, val_set, loss_fn, quantiles, device, distribution=distribution, point=point)
                net.train()
                at = epoch if step == steps_per_epoch else round(epoch - 1 + step / steps_per_epoch, 3)
                row = {"epoch": at, "train_loss": total / count, "val_loss": val["loss"], "val_mse": val["mse"],
                       "val_mae": val["mae"], "seconds": time.perf_counter() - began}
                result.history.append(row)
                if at < cfg.min_epochs:
                    pass  # not yet a candidate: the best so far stays, patience waits
                elif val["loss"] < result.best_val_loss - 1e-9 or result.best_epoch < cfg.min_epochs:
                    result.best_val_loss, result.best_val_mse, result.best_epoch = val["loss"], val["mse"], at
                    best_state, bad_checks = _copy_state(scored), 0
                else:
                    bad_checks += 1
                if bar:
                    mse = (f"; val MSE {val['mse']:.4f} (random walk {result.random_walk_val_mse:.4f})"
                           if point else "")
                    bar((epoch - 1) * len(checks) + checks.index(step) + 1, total_checks,
                        f"epoch {at}: loss train {row['train_loss']:.4f} val {val['loss']:.4f}{mse}")
                if on_check is not None:
                    on_check(row)
                if bad_checks >= cfg.patience:
                    break
            if state_path is not None and is_main_process():
                _save_state(state_path, model, optimizer, scheduler, best_state, result, epoch, bad_checks, averaged)
        result.stopped_early = bad_checks >= cfg.patience and result.history[-1]["epoch"] < cfg.epochs
    model.load_state_dict(best_state)
    return result


def _lr_factor(cfg: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """The learning-rate multiplier at each optimiser step."""
    if cfg.schedule == "constant":
        return lambda step: 1.0
    total_steps = max(1, cfg.epochs * steps_per_epoch)
    warmup = max(1, int(cfg.warmup_frac * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total_steps - warmup))))

    return factor


def _batches(train_set, sampler, cfg: TrainConfig, epoch: int) -> DataLoader:
    if sampler is not None:
        sampler.set_epoch(epoch)
        return DataLoader(train_set, batch_size=cfg.batch_size, sampler=sampler, num_workers=cfg.num_workers)
    # the shuffle depends on (seed, epoch) alone, so a resumed run sees the same batches
    generator = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    return DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, generator=generator,
                      num_workers=cfg.num_workers)


def _copy_state(model: nn.Module) -> dict:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _save_state(path, model, optimizer, scheduler, best_state, result, epoch, bad_epochs, averaged=None) -> None:
    from forecaster.model.checkpoint import atomic_torch_save

    atomic_torch_save({
        "model": model.state_dict(), "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
        "best_state": best_state, "result": asdict(result), "epoch": epoch, "bad_epochs": bad_epochs,
        **({"averaged": averaged.state_dict()} if averaged is not None else {}),
    }, Path(path))



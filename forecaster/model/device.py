"""Where the model runs: the torch device, seeding, CPU threads and torch.distributed (DDP)."""

from __future__ import annotations

import os
import random
from contextlib import contextmanager

import numpy as np
import torch

from forecaster.errors import ForecasterError


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


def _distributed() -> bool:
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def is_main_process() -> bool:
    return not _distributed() or torch.distributed.get_rank() == 0


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

"""The one DDP test: api.train under torch.distributed as torchrun starts it (env vars, gloo): both
ranks end with identical trained weights, and only rank 0 writes."""

import os
import socket

import torch

from forecaster import api
from forecaster.model import checkpoint
from forecaster.data import DataConfig, PriceSeries
from forecaster.model.device import init_distributed_from_env, is_main_process
from forecaster.model.trainer import TrainConfig

from conftest import TINY_MODEL, ar1_returns, price_series


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _series(n=400) -> PriceSeries:
    return price_series(ar1_returns(n, phi=0.7))  # something to learn, so the kept weights are trained ones


def _worker(rank, world, port, models_dir):
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))
    assert init_distributed_from_env("cpu") and torch.distributed.get_backend() == "gloo"
    saves = []
    original = checkpoint.save
    checkpoint.save = lambda *a, **k: (saves.append(rank), original(*a, **k))
    try:
        trained = api.train(name="ddp", design="windowed", series=_series(), data=DataConfig(lookback=12, horizon=2),
                            model=TINY_MODEL,
                            train_config=TrainConfig(epochs=2, batch_size=16, device="cpu", gate=1.0),
                            models_dir=models_dir,
                            progress=False)
    finally:
        checkpoint.save = original
    torch.save({"saves": saves, "main": is_main_process(), "state": trained.net.state_dict()},
               os.path.join(models_dir, f"rank{rank}.result"))
    torch.distributed.destroy_process_group()


def test_torchrun_style_training_writes_once_with_identical_weights(tmp_path):
    torch.multiprocessing.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    r0, r1 = (torch.load(tmp_path / f"rank{r}.result", weights_only=True) for r in (0, 1))
    assert (r0["saves"], r0["main"]) == ([0], True) and (r1["saves"], r1["main"]) == ([], False)
    assert all(torch.equal(r0["state"][k], r1["state"][k]) for k in r0["state"])
    assert any(torch.count_nonzero(v) for k, v in r0["state"].items() if k.startswith("head"))  # it did train
    loaded = api.load("ddp", tmp_path)  # the one save is complete and checked
    assert all(torch.equal(loaded.net.state_dict()[k], r0["state"][k]) for k in r0["state"])

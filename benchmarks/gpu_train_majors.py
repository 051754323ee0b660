"""`forecaster train --pairs majors --design windowed` through the api (the GPU image's typer differs),
timed, with the validation numbers of each pair written as JSON (issue 22's user-facing figure).

    python benchmarks/gpu_train_majors.py --device cuda --out cuda.json
    taskset -c 0,1 python benchmarks/gpu_train_majors.py --device cpu --out cpu.json     # 2 CPU cores
    python benchmarks/gpu_train_majors.py --compare cpu.json cuda.json     # wall times, largest relative gap

The command's settings (offline data, the defaults of ModelConfig and TrainConfig, TrainConfig.threads
included) but for the device, and nothing saved (save=False).
"""

from __future__ import annotations

import argparse
import json
import time


def _train(device: str, epochs: int | None) -> dict:
    from forecaster import api
    from forecaster.configs import TrainConfig

    config = TrainConfig(device=device) if epochs is None else TrainConfig(device=device, epochs=epochs)
    start = time.perf_counter()
    fitted = api.train("majors", design="windowed", offline=True, save=False, progress=False, train_config=config)
    wall = time.perf_counter() - start
    members = {pair: {k: v for k, v in m["metrics"].items() if k.startswith("val")}
               for pair, m in fitted.meta["members"].items()}
    history = fitted.meta["history"]
    return {"device": fitted.meta["device"], "threads": config.threads, "wall_s": wall, "members": members,
            "metrics": {k: v for k, v in fitted.meta["metrics"].items() if k != "windows"},
            "history": history}


def _numbers(d, prefix=""):
    """Every float in a nested dict, by dotted path."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, list):
            out.update(_numbers(dict(enumerate(v)), f"{prefix}{k}."))
        elif isinstance(v, float) and k != "train_seconds":
            out[f"{prefix}{k}"] = v
    return out


def _compare(a_path: str, b_path: str) -> None:
    a, b = (json.load(open(p)) for p in (a_path, b_path))
    keys = ("members", "metrics", "history")
    na, nb = (_numbers({k: r[k] for k in keys}) for r in (a, b))
    worst = max(((abs(na[k] - nb[k]) / max(abs(na[k]), 1e-30), k) for k in na if k in nb), default=(0.0, "-"))
    print(f"{a['device']} ({a['threads']} threads) {a['wall_s']:.1f} s; {b['device']} {b['wall_s']:.1f} s; "
          f"largest relative gap of {len(na)} numbers: {worst[0]:.2e} ({worst[1]})")
    for k in sorted(na):
        if k in nb:
            print(f"  {k}: {na[k]:.6g} vs {nb[k]:.6g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, help="fewer epochs than TrainConfig's (a timing check only)")
    parser.add_argument("--out")
    parser.add_argument("--compare", nargs=2)
    args = parser.parse_args()
    if args.compare:
        _compare(*args.compare)
        return
    result = _train(args.device, args.epochs)
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

"""Exchange-Rate benchmark: Repeat and the Mamba forecaster under the standard protocol, beside
the published rows. Prints a markdown table; with --out also writes it there and JSON beside it.

    python benchmarks/exchange.py --device cuda --out results/exchange.md            # all four horizons
    python benchmarks/exchange.py --device cpu --horizons 96 --out /tmp/ex96.md      # one horizon on CPU
    python benchmarks/exchange.py --select --horizons 96                              # validation grid only

The data path: --data, else $FORECASTER_EXCHANGE_DATA, else ../shared/data next to the checkout
(or shared/data inside it, where a copy of the working tree carries one).
The model configuration is forecaster.benchmarks.exchange.CHOSEN (picked on validation data with --select);
flags override single fields. The test split is read only for the final scores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from forecaster.benchmarks import exchange as ex
from forecaster.data.exchange_rate import DATA_ENV
from forecaster.model.device import resolve_device
from forecaster.util.files import atomic_write_text

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=None, help="exchange_rate.txt(.gz) or LTSF .csv, or a folder holding one")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--seed", type=int, default=ex.CHOSEN.train.seed)
    parser.add_argument("--horizons", type=int, nargs="+", default=list(ex.HORIZONS))
    parser.add_argument("--lookback", type=int, default=None)
    parser.add_argument("--d-model", type=int, default=None)
    parser.add_argument("--n-layer", type=int, default=None)
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--weight-decay", type=float, default=None)
    parser.add_argument("--checks-per-epoch", type=int, default=None, help="validation checks per epoch")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--folds", type=int, default=None,
                        help=f"rolling-origin validation folds at long horizons (default {ex.CHOSEN.folds})")
    parser.add_argument("--revin", choices=("auto", "on", "off"), default="auto",
                        help="RevIN: chosen on validation (auto), or fixed")
    parser.add_argument("--repeat-only", action="store_true", help="score Repeat only, train nothing")
    parser.add_argument("--select", action="store_true",
                        help="rank the lookback x size grid on VALIDATION MSE at the first horizon and stop "
                             "(--lookback / --d-model / --n-layer narrow the grid)")
    parser.add_argument("--out", default=None, help="write the markdown table here and JSON beside it (.json)")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    data = args.data or os.environ.get(DATA_ENV) or next(
        (d for d in (REPO.parent / "shared" / "data", REPO / "shared" / "data") if d.is_dir()), REPO.parent / "shared" / "data")
    config = ex.with_overrides(ex.CHOSEN, seed=args.seed, lookback=args.lookback, d_model=args.d_model,
                               n_layer=args.n_layer, epochs=args.max_epochs, lr=args.lr, weight_decay=args.weight_decay,
                               checks_per_epoch=args.checks_per_epoch, folds=args.folds,
                               revin_choices=ex.REVIN_CHOICES[args.revin])
    device = str(resolve_device(args.device))
    machine = f"{platform.node()} ({platform.processor() or platform.machine()}, torch {torch.__version__}, " \
              f"{torch.get_num_threads()} CPU threads" + \
              (f", {torch.cuda.get_device_name(device)})" if device.startswith("cuda") else ")")
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])

    if args.select:
        t0 = time.time()
        grid = {"lookback": (args.lookback,) if args.lookback else ex.GRID["lookback"],
                "size": ((config.model.d_model, config.model.n_layer),) if args.d_model or args.n_layer else ex.GRID["size"]}
        rows = ex.select_config(data, args.horizons[0], config, grid, device=device, show_progress=not args.no_progress)
        lines = [f"Validation grid at H={args.horizons[0]} (seed {config.train.seed}, {device}, {machine}), best first:", "",
                 "| lookback | d_model | n_layer | val MSE | val MSE of Repeat | best epoch | seconds |",
                 "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['lookback']} | {r['d_model']} | {r['n_layer']} | {r['val_mse']:.4f} | "
                  f"{r['val_repeat_mse']:.4f} | {r['best_epoch']} | {r['seconds']} |" for r in rows]
        lines += ["", f"wall time {time.time() - t0:.0f} s; command: `{command}`"]
        _finish(args.out, "\n".join(lines), {"grid": rows, "command": command, "machine": machine})
        return

    result = ex.run_benchmark(data, args.horizons, config, device, train=not args.repeat_only,
                              show_progress=not args.no_progress)
    text = "\n".join([
        f"Exchange-Rate, standard protocol; {result.date}; device {result.device}; {machine}; seed {result.seed}; "
        f"wall time {result.seconds:.0f} s.",
        f"Config: {json.dumps(result.config)}",
        f"Command: `{command}`", "",
        ex.format_table(result), "",
        "Per horizon: " + "; ".join(
            f"H={h.horizon} {h.test_windows} test windows"
            + ("" if h.kept is None else f", kept {h.kept}, RevIN {h.revin}, fold 0 trained {h.epochs_run} epochs")
            + f", {h.seconds:.0f} s" for h in result.horizons),
    ])
    _finish(args.out, text, {**result.to_dict(), "command": command, "machine": machine})


def _finish(out: str | None, text: str, payload: dict) -> None:
    print(text)
    if out:
        md = Path(out)
        atomic_write_text(md, text + "\n")
        atomic_write_text(md.with_suffix(".json"), json.dumps(payload, indent=2, default=str) + "\n")
        print(f"wrote {md} and {md.with_suffix('.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()

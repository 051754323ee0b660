"""The six ECB majors refit yearly (issue 20): the shipped model and the anchored ensemble against
GARCH-t per pair (Holm over the pairs) and in a panel DM, and the calibration of the distributions as
issued by volatility tercile, pooled over the pairs (forecaster.benchmarks.majors). Prints markdown;
with --out also writes it there (.md), the summary as JSON beside it and every model's per-origin CRPS
(.crps.npz: benchmarks/majors_compare.py tests two runs against each other).

    python benchmarks/majors.py --jobs 6 --out reports/majors.md      # ~2 min a pair on one core
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

from forecaster.benchmarks import majors as mj
from forecaster.configs import AnchoredConfig
from forecaster.util.files import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default=",".join(mj.MajorsConfig.pairs))
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", default=None)
    parser.add_argument("--gate", type=float, default=None, help="the scale gate's level (AnchoredConfig.gate)")
    parser.add_argument("--min-epochs", type=int, default=AnchoredConfig.min_epochs, help="AnchoredConfig.min_epochs")
    parser.add_argument("--family", default=AnchoredConfig.family, help="AnchoredConfig.family (normal or student_t)")
    parser.add_argument("--skip", action="store_true", help="AnchoredConfig.skip: a linear path from the inputs to g")
    parser.add_argument("--partner", default=AnchoredConfig.partner, help="AnchoredConfig.partner (gjr_t or garch_t)")
    parser.add_argument("--abs-z", action="store_true", help="AnchoredConfig.abs_z: |z| as an input beside z")
    parser.add_argument("--member-blocks", action="store_true",
                        help="AnchoredConfig.member_blocks: each member stops early on its own block of the latest rows")
    parser.add_argument("--weight-bags", type=int, default=AnchoredConfig.weight_bags,
                        help="AnchoredConfig.weight_bags: bag the combination weight over this many resamples")
    parser.add_argument("--end", default=None, help="last date of the data (MajorsConfig.end), e.g. 2023-10-25: "
                        "the 3 years before it are a validation window")
    parser.add_argument("--cross", action="store_true", help="also the cross-pair model (mamba_global)")
    args = parser.parse_args()
    began = time.perf_counter()
    anchored = AnchoredConfig(gate=args.gate, min_epochs=args.min_epochs, family=args.family, skip=args.skip,
                              weight_bags=args.weight_bags, abs_z=args.abs_z, partner=args.partner,
                              member_blocks=args.member_blocks)
    config = mj.MajorsConfig(pairs=tuple(args.pairs.split(",")), anchored=anchored, cross=args.cross, end=args.end)
    parts, summary = mj.run_majors(config, jobs=args.jobs)
    import torch

    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    name = "Six majors" if config.pairs == mj.MajorsConfig.pairs else f"{len(config.pairs)} pairs ({', '.join(config.pairs)})"
    head = (f"{name}; {time.strftime('%Y-%m-%d')}; {platform.node()} ({os.cpu_count()} CPUs, torch {torch.__version__}); "
            f"{args.jobs} job(s); wall {time.perf_counter() - began:.0f} s; fits "
            + ", ".join(f"{p['pair']} {p['seconds']:.0f} s" for p in parts) + f".\nCommand: `{command}`")
    text = head + "\n\n" + mj.format_tables(summary)
    print(text)
    if args.out:
        md = Path(args.out).with_suffix(".md")
        atomic_write_text(md, text + "\n")
        atomic_write_json(md.with_suffix(".json"), {**summary, "command": command})
        mj.save_crps(parts, md.with_suffix(".crps.npz"))  # per-origin CRPS: benchmarks/majors_compare.py tests two runs


if __name__ == "__main__":
    main()

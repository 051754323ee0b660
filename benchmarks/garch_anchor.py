"""Probe (eighth session, issue 20): the six majors with the anchored ensemble anchored on GARCH(1,1)'s
one-step variance path instead of EWMA's (benchmarks/anchored_variants.py's garch_anchor, put in place of the
anchored model's EWMA in each worker: not product code). Prints the majors tables and writes the per-origin
CRPS, to be tested against a plain run of benchmarks/majors.py on the same window:

    python benchmarks/majors.py --jobs 8 --end 2023-10-25 --out val_base.md
    python benchmarks/garch_anchor.py --jobs 8 --end 2023-10-25 --out val_ga.crps.npz
    python benchmarks/majors_compare.py val_ga.crps.npz val_base.crps.npz --model mamba_raw
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from forecaster.benchmarks import majors as mj  # noqa: E402


def run_pair(pair: str, config: mj.MajorsConfig) -> dict:
    from anchored_variants import garch_anchor
    from forecaster.model import anchored

    anchored.EWMA = garch_anchor()
    return mj.run_pair(pair, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", default=",".join(mj.MajorsConfig.pairs))
    parser.add_argument("--end", default=None, help="last date of the data (MajorsConfig.end)")
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--out", required=True, help="the .crps.npz to write")
    args = parser.parse_args()
    config = mj.MajorsConfig(pairs=tuple(args.pairs.split(",")), end=args.end)
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = list(pool.map(run_pair, config.pairs, [config] * len(config.pairs)))
    print(mj.format_tables(mj.summarize(parts)))
    mj.save_crps(parts, args.out)


if __name__ == "__main__":
    main()

"""The oracle benchmark (issue 19): on simulated markets with a known conditional distribution, the
share of the gap between historical volatility (0) and the true distribution (1) that each model
closes, per step, pooled over seeds; coverage by volatility tercile; DM on CRPS against GARCH-t.
Prints a markdown table (with the date, machine and command); with --out also writes it there
(.md) and the JSON result beside it (.json).

    python benchmarks/oracle.py --quick                                  # a laptop: a few minutes
    python benchmarks/oracle.py --jobs 16 --out results/oracle.md        # full size: 6 markets x 3 seeds
    python benchmarks/oracle.py --markets garch_t,harch_t --seeds 2 --days 6000

The sizes are forecaster.benchmarks.oracle.QUICK and FULL; flags override single fields.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from forecaster.benchmarks import oracle as ob
from forecaster.configs import AnchoredConfig
from forecaster.util.files import atomic_write_json, atomic_write_text

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="the laptop size (2 markets, 1 seed, 4,000 days)")
    parser.add_argument("--markets", default=None, help="comma-separated market names")
    parser.add_argument("--seeds", type=int, default=None, help="draws of each market (seeds F..F+N-1, F = --first-seed, 0 by default)")
    parser.add_argument("--first-seed", type=int, default=None, help="the first draw's seed (fresh draws: e.g. 11)")
    parser.add_argument("--days", type=int, default=None, help="simulated business days per draw")
    parser.add_argument("--test-years", type=float, default=None, help="test period: the last years of each draw")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--no-global", action="store_true", help="leave out the cross-pair model (mamba_global) on the factor market")
    parser.add_argument("--gate", type=float, default=None, help="the default Mamba with its scale gate at this level (AnchoredConfig.gate)")
    parser.add_argument("--out", default=None, help="write the markdown table here and JSON beside it (.json)")
    args = parser.parse_args()

    config = ob.sized(args.quick, markets=args.markets, seeds=args.seeds, first_seed=args.first_seed, days=args.days,
                      test_years=args.test_years, pooled=False if args.no_global else None,
                      anchored=None if args.gate is None else AnchoredConfig(gate=args.gate))
    result = ob.run_oracle(config, jobs=args.jobs)
    command = "python " + " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    text = "\n".join([f"Oracle benchmark; {result.date}; {result.machine}; {result.jobs} job(s); "
                      f"wall time {result.seconds:.0f} s.", f"Command: `{command}`", "", ob.format_table(result)])
    print(text)
    if args.out:
        md = Path(args.out).with_suffix(".md")
        atomic_write_text(md, text + "\n")
        atomic_write_json(md.with_suffix(".json"), {**result.to_dict(), "command": command})
        print(f"wrote {md} and {md.with_suffix('.json')}", file=sys.stderr)


if __name__ == "__main__":
    main()

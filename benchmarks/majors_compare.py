"""Two runs of benchmarks/majors.py against each other (e.g. an option against the default on the same
window): per pair and in the panel, one model of run A against one of run B on the origin dates both share,
one-sided DM p-values (Holm over the pairs). Reads the .crps.npz files majors.py writes beside --out.

    python benchmarks/majors.py --jobs 6 --end 2023-10-25 --out val_base.md
    python benchmarks/majors.py --jobs 6 --end 2023-10-25 --member-blocks --out val_mb.md
    python benchmarks/majors_compare.py val_mb.crps.npz val_base.crps.npz --model mamba
"""

from __future__ import annotations

import argparse

from forecaster.benchmarks import majors as mj


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("a", help="run A's .crps.npz")
    parser.add_argument("b", help="run B's .crps.npz (the baseline)")
    parser.add_argument("--model", default="mamba", help="the model of run A (mamba: what ships)")
    parser.add_argument("--model-b", default=None, help="the model of run B (default: the same name)")
    args = parser.parse_args()
    (a, h), (b, _) = mj.load_crps(args.a), mj.load_crps(args.b)
    out = mj.compare_runs(a, b, h, args.model, args.model_b)
    name_b = args.model_b or args.model
    print(f"{args.model} of {args.a} against {name_b} of {args.b} (CRPS averaged over the {h} steps)\n")
    print("| pair | origins | CRPS change | p worse (Holm) | p better (Holm) |\n|---|---|---|---|---|")
    for pair, r in out["pairs"].items():
        print(f"| {pair} | {r['n']} | {r['mean_diff_pct']:+.3f}% | {r['p_worse']:.3f} ({r['p_worse_holm']:.3f}) "
              f"| {r['p_better']:.3f} ({r['p_better_holm']:.3f}) |")
    d = out["panel"]
    print(f"\nPanel DM over {len(out['pairs'])} pairs, {d['n_dates']} common dates: {d['mean_diff_pct']:+.3f}% "
          f"(p worse {d['p_worse']:.3f}, p better {d['p_better']:.3f})")


if __name__ == "__main__":
    main()

"""The oracle benchmark on markets whose parameters the project never chose (issue 20: the goals are also
checked on markets, parameters and seeds not in the project): the same tables as benchmarks/oracle.py, on
seeds 40-42, with each market replaced by a variant. A check, not a design tool: nothing is chosen on it.
The markets are put under the oracle benchmark's names at module level, so that its spawned workers (which
import this file again as their main module) see them too.

    PYTHONPATH=. python benchmarks/oracle_offproject.py --jobs 15 --out offproject     # ~95 s on 16 cores
"""
import argparse

from forecaster.probabilistic import markets as mk

OFF = {"garch_t": mk.GarchMarket(alpha=0.09, beta=0.88, df=4.5, vol=0.008),
       "gjr_garch_t": mk.GjrGarchMarket(alpha=0.01, gamma=0.12, beta=0.90, df=7.0),
       "harch_t": mk.HarchMarket(lags=(1, 7, 30, 200), weights=(0.25, 0.25, 0.2, 0.2), df=7.0),
       "markov_switching": mk.MarkovSwitchingMarket(vol_low=0.003, vol_high=0.012, stay_low=0.995, stay_high=0.97),
       "iid_t": mk.IidTMarket(df=3.5, vol=0.005)}
mk.MARKETS.update(OFF)

if __name__ == "__main__":
    from forecaster.benchmarks import oracle as ob
    from forecaster.util.files import atomic_write_text

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=1)
    parser.add_argument("--first-seed", type=int, default=40)
    parser.add_argument("--out", default=None, help="write OUT.md and OUT.json")
    args = parser.parse_args()
    result = ob.run_oracle(ob.OracleConfig(markets=tuple(OFF), seeds=3, first_seed=args.first_seed), jobs=args.jobs,
                           out=f"{args.out}.json" if args.out else None)
    text = "Markets not in the project: " + "; ".join(f"{k} {v}" for k, v in OFF.items()) + "\n\n" + ob.format_table(result)
    print(text)
    if args.out:
        atomic_write_text(f"{args.out}.md", text + "\n")

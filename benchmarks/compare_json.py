"""Compare two `--json` outputs of forecaster commands, leaving out what differs run to run (timings,
paths, creation times): prints the number of differences and the first 40.

    python benchmarks/compare_json.py before/bt_eur.json after/bt_eur.json

Used to check that a refactor changes no number (issue 18: train EURUSD, backtest EURUSD
--retrain-every 0, backtest GBPUSD --folds 3, each 0 differences)."""

import json
import sys

SKIP = ("seconds", "path", "files", "created", "fit_seconds", "folder")  # keys whose values vary by run


def differences(a, b, where: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if any(s in key for s in SKIP):
                continue
            if key not in a or key not in b:
                out.append(f"{where}/{key}: only in {'the second' if key not in a else 'the first'}")
            else:
                out += differences(a[key], b[key], f"{where}/{key}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = [f"{where}: {len(a)} vs {len(b)} items"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b)):
            out += differences(x, y, f"{where}[{i}]")
        return out
    return [] if a == b else [f"{where}: {a!r} vs {b!r}"]


if __name__ == "__main__":
    first, second = (json.load(open(path, encoding="utf-8")) for path in sys.argv[1:3])
    found = differences(first, second)
    print(f"{len(found)} differences")
    print("\n".join(found[:40]))

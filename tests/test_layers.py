"""The layers of forecaster/ hold: no import, at any depth (inside functions too), runs up a layer.

Ranks, from the ground up (DESIGN.md, "Layout"): a module may import its own package and the
packages of a lower rank, nothing else of forecaster.
"""

import ast
from pathlib import Path

import pytest

import forecaster

ROOT = Path(forecaster.__file__).parent
RANKS = {
    "forecaster": 0, "errors": 0,  # the ground: the package's version, the one error type
    "configs": 1, "util": 1,  # every default once; atomic files, console, progress, plotting
    "mamba": 2, "data": 2,  # the model library (knows no money); data (knows no model)
    "probabilistic": 3,  # the forecast contract, distributions, calibration, risk models, simulated markets
    "evaluation": 4,  # forecast statistics, proper scores, significance tests, verdicts
    "model": 5,  # estimator, trainer, inference, the trained model, the forecast
    "backtest": 6,  # the walk-forward against the one contract, baselines, trading, report
    "benchmarks": 7,  # Exchange-Rate, the oracle benchmark
    "api": 8, "demo": 9,
    "cli": 10, "__main__": 11,
}


def _room(module: str) -> str:
    """'forecaster.data.windows' -> 'data'; 'forecaster' -> 'forecaster'."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every forecaster import in the file, at any depth."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "forecaster"]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module == "forecaster":  # from forecaster import api, __version__
                found += [(node.lineno, f"forecaster.{a.name}") for a in node.names]
            elif node.module.split(".")[0] == "forecaster":
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import; write forecaster.… in full")
    return found


FILES = sorted(ROOT.rglob("*.py"))


def test_every_module_has_a_layer():
    rooms = {_room(_module_name(p)) for p in FILES}
    assert rooms <= set(RANKS), f"modules outside the known layers: {sorted(rooms - set(RANKS))}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_import_runs_up_a_layer(path):
    here = _room(_module_name(path))
    upward = []
    for line, module in _imports(path):
        there = _room(module)
        if there == "__version__":
            continue
        if there != here and RANKS[there] >= RANKS[here]:
            upward.append(f"line {line}: {module} ({there}, rank {RANKS[there]}) from {here} (rank {RANKS[here]})")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import_inside_a_function(tmp_path):
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from forecaster.backtest import run_backtest\n    return run_backtest\n")
    assert _imports(planted) == [(2, "forecaster.backtest")]

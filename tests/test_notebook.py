"""notebooks/quickstart.ipynb runs top to bottom (its code cells, in order, small settings)."""

import json
from pathlib import Path

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "quickstart.ipynb"


def test_quickstart_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_NB_EPOCHS", "1")
    monkeypatch.setenv("FORECASTER_NB_START", "2018-01-01")
    monkeypatch.setenv("FORECASTER_NB_DIR", str(tmp_path))
    cells = json.loads(NOTEBOOK.read_text())["cells"]
    code = [("".join(c["source"])) for c in cells if c["cell_type"] == "code"]
    assert len(code) >= 4
    namespace: dict = {}
    for i, source in enumerate(code):
        exec(compile(source, f"{NOTEBOOK.name}[cell {i}]", "exec"), namespace)
    assert (tmp_path / "forecast.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "backtest" / "metrics.json").is_file()
    assert len(namespace["forecast"].prices) == 5

"""`forecaster env`: versions, devices, and where data and models live."""

from __future__ import annotations

from forecaster.cli.app import app, emit_json, show
from forecaster.cli.options import JsonOpt


@app.command("env")
def env(as_json: bool = JsonOpt) -> None:
    """Show versions, compute devices, and the cache and model folders.

    Example: forecaster env --json
    """
    import platform
    import sys

    import numpy
    import pandas
    import sklearn
    import torch
    from rich.table import Table

    from forecaster import __version__
    from forecaster.api import device_summary
    from forecaster.model.checkpoint import default_models_dir
    from forecaster.data import ecb
    from forecaster.data.cache import default_cache_dir

    rates = ecb.rates(offline=True)  # what is on disk now; `forecaster data update` refreshes it
    devices = device_summary()
    info = {
        "forecaster": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
        "torch": torch.__version__, "numpy": numpy.__version__, "pandas": pandas.__version__,
        "scikit_learn": sklearn.__version__, "threads": torch.get_num_threads(),
        "devices": devices, "cache_dir": str(default_cache_dir()), "models_dir": str(default_models_dir()),
        "ecb_data": {"first": str(rates.index[0].date()), "last": str(rates.index[-1].date()),
                     "file": str(ecb.cache_file()) if ecb.cache_file().exists() else "bundled copy"},
    }
    if as_json:
        emit_json(info)
        return
    table = Table(title="forecaster environment", title_justify="left", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key, value in info.items():
        if key == "devices":
            gpus = ", ".join(devices["devices"]) or "none"
            value = f"auto picks {devices['auto']}; CUDA {'yes' if devices['cuda'] else 'no'}; GPUs: {gpus}"
        elif key == "ecb_data":
            value = f"{value['first']} .. {value['last']} ({value['file']})"
        table.add_row(key.replace("_", " "), str(value))
    show(table)

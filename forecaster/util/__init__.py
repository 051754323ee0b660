"""Small utilities with no knowledge of forecasting.

    files.py     atomic writes (temp file + rename), JSON that is always valid, writable-path checks
    console.py   the rich consoles for stdout (results) and stderr (notes, progress)
    progress.py  a progress bar on stderr that is silent when not wanted
    plotting.py  matplotlib on the file-only backend, figures written atomically

May import: forecaster.errors only.
"""

"""matplotlib on the file-only backend, and writing a figure atomically."""

from __future__ import annotations

from pathlib import Path

from forecaster.util.files import atomic_write


def pyplot():
    """matplotlib.pyplot on the Agg backend (files only; works without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path) -> Path:
    """Write a figure atomically and close it."""
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120, bbox_inches="tight", format="png"))
    finally:
        pyplot().close(fig)

"""The one progress bar: rich, on stderr, handed out as a callback progress(done, total, what)."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator, Optional

Progress = Callable[[int, int, str], None]


@contextmanager
def progress_bar(label: str, enabled: bool = True) -> Iterator[Optional[Progress]]:
    """A bar labelled `label` while the block runs; None when disabled."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress as Bar, TextColumn, TimeElapsedColumn

    from forecaster.util.console import stderr

    with Bar(TextColumn(label), MofNCompleteColumn(), BarColumn(), TimeElapsedColumn(),
             TextColumn("{task.description}"), console=stderr) as bar:
        task = bar.add_task("", total=None)
        yield lambda done, total, what: bar.update(task, completed=done, total=total, description=what)

"""The two consoles, as a Unix tool uses its streams: results a person reads (tables, summaries) on
stdout, so that `forecaster ... | less` and `| head` work; progress bars and logs on stderr."""

import os
import sys

from rich.console import Console


class _Console(Console):
    def on_broken_pipe(self) -> None:
        """The reader went away (`forecaster ... | head`): stop quietly with status 0 (rich exits 1)."""
        self.quiet = True
        os.dup2(os.open(os.devnull, os.O_WRONLY), (sys.stderr if self.stderr else sys.stdout).fileno())
        raise SystemExit(0)


stdout = _Console()
stderr = _Console(stderr=True)

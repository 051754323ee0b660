"""The one stderr console: progress bars, tables and logs for people (stdout stays for results)."""

from rich.console import Console

stderr = Console(stderr=True)

"""The Typer app object, its global options and the output helpers every command shares.

Conventions: results a program reads go to stdout as JSON (`--json`); tables, progress and logs
go to stderr, so `forecaster ... --json | jq` always sees clean JSON. Heavy imports (torch,
pandas, matplotlib) happen inside commands so that `forecaster --help` answers at once.
"""

from __future__ import annotations

import json
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import typer
from typer.core import TyperGroup

from forecaster.console import stderr
from forecaster.errors import ForecasterError


@dataclass
class Settings:
    """Global options, set by the root callback and read by commands."""

    verbosity: int = 0  # -1 quiet, 0 normal, 1+ verbose
    seed: int = 0
    device: str = "auto"


settings = Settings()


class _App(TyperGroup):
    """Turns user errors into one clear line and exit status 1 (traceback only with -v)."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ForecasterError as exc:
            _report(exc, expected=True)
        except BrokenPipeError:  # the reader went away (`forecaster ... | head`): nothing left to say
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(0)
        except KeyboardInterrupt:
            stderr.print("interrupted")
            raise typer.Exit(130)
        except Exception as exc:
            # Usage errors and exits belong to click (vendored inside newer typer): let it handle them.
            if type(exc).__module__.split(".")[0] in ("click", "typer"):
                raise
            _report(exc, expected=False)  # an unexpected failure: still no traceback unless -v


def _report(exc: Exception, expected: bool) -> None:
    if settings.verbosity > 0:
        stderr.print(traceback.format_exc(), markup=False, highlight=False)
    prefix = "error" if expected else f"error ({type(exc).__name__})"
    stderr.print(f"[bold red]{prefix}:[/] {exc}", highlight=False)
    if settings.verbosity <= 0:
        stderr.print("[dim](run with -v for details)[/]")
    raise typer.Exit(1)


app = typer.Typer(
    cls=_App,
    name="forecaster",
    help="Forex forecasting on a Mamba model: data, training, honest backtests and forecasts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _root(
    verbose: int = typer.Option(0, "-v", "--verbose", count=True, help="More logging; -v also shows tracebacks."),
    quiet: bool = typer.Option(False, "-q", "--quiet", help="Only results and errors."),
    seed: int = typer.Option(0, "--seed", help="Seed for torch, numpy and Python's random."),
    device: str = typer.Option("auto", "--device", help="auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps."),
) -> None:
    """Forex forecasting on a Mamba model: data, training, honest backtests and forecasts."""
    settings.verbosity = -1 if quiet else verbose
    settings.seed = seed
    settings.device = device


def info(message: str) -> None:
    """A progress or log line for people (stderr), silenced by -q."""
    if settings.verbosity >= 0:
        stderr.print(message, highlight=False)


@contextmanager
def progress_bar(label: str) -> Iterator[Optional[Callable[[int, int, str], None]]]:
    """A bar on stderr for work that reports progress(done, total, what); None under -q."""
    from forecaster.progress import progress_bar as bar

    with bar(label, enabled=settings.verbosity >= 0) as update:
        yield update


def emit_json(obj: Any) -> None:
    """Machine-readable result on stdout."""
    sys.stdout.write(json.dumps(obj, indent=2, default=_json_default) + "\n")
    sys.stdout.flush()


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)

"""The Typer app object, its global options and the output helpers every command shares.

Conventions, those of a Unix tool: results go to stdout (tables and summaries for people with
`show()`, JSON for programs with `--json` and `emit_json()`, always valid: NaN and infinities are
null); progress bars and logs go to stderr (`info()`, and the "forecaster" logger of the library),
so `forecaster ... | less`, `| head` and `--json | jq` all work, and a closed pipe ends quietly
with status 0. Boolean options are flags (`--json`, not `--json true`) and help shows them so.
Heavy imports (torch, pandas, matplotlib) happen inside commands so that `forecaster --help`
answers at once.
"""

from __future__ import annotations

import logging
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import typer
from typer.core import TyperGroup, TyperOption

from forecaster.util.console import stderr, stdout
from forecaster.errors import ForecasterError
from forecaster.util.files import json_text


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
    message = str(exc) if expected else _plain_message(exc)
    stderr.print("[bold red]error:[/] ", end="", highlight=False)
    stderr.print(message, highlight=False, markup=False, soft_wrap=True)  # [brackets] in a name are not markup
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


def _plain_message(exc: Exception) -> str:
    """An unexpected failure in words, without Python's class names (they are shown with -v)."""
    if isinstance(exc, OSError) and exc.strerror:
        name = exc.filename2 or exc.filename  # a rename names its destination second
        where = f"{name}: " if name else ""
        return f"{where}{exc.strerror[0].lower()}{exc.strerror[1:]}"
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    text = str(exc).strip() or "an unexpected failure"
    return f"{text} (an unexpected failure: run with -v for the details, and please report it)"


class _ConsoleLog(logging.Handler):
    """The library's "forecaster" logger, printed on stderr like every other log line."""

    def emit(self, record: logging.LogRecord) -> None:
        stderr.print(self.format(record), highlight=False, markup=False, soft_wrap=True)


def _route_logs(verbosity: int) -> None:
    logger = logging.getLogger("forecaster")
    for handler in [h for h in logger.handlers if isinstance(h, _ConsoleLog)]:
        logger.removeHandler(handler)
    logger.addHandler(_ConsoleLog())
    logger.setLevel(logging.WARNING if verbosity < 0 else logging.DEBUG if verbosity > 0 else logging.INFO)


def _flag_display_type(self: TyperOption, ctx: Any) -> Any:
    """Help shows no value type for flags and counters: `--json`, not `--json <bool>`."""
    if getattr(self, "is_flag", False) or getattr(self, "count", False):
        return None
    return _typer_display_type(self, ctx)


_typer_display_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_display_type  # typer >= 0.20 prints <bool> for flags otherwise


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
    _route_logs(settings.verbosity)


def info(message: str) -> None:
    """A progress or log line for people (stderr), silenced by -q."""
    if settings.verbosity >= 0:
        stderr.print(message, highlight=False, soft_wrap=True)


@contextmanager
def progress_bar(label: str) -> Iterator[Optional[Callable[[int, int, str], None]]]:
    """A bar on stderr for work that reports progress(done, total, what); None under -q."""
    from forecaster.util.progress import progress_bar as bar

    with bar(label, enabled=settings.verbosity >= 0) as update:
        yield update


def emit_json(obj: Any) -> None:
    """Machine-readable result on stdout: valid JSON (NaN and infinities as null)."""
    sys.stdout.write(json_text(obj))
    sys.stdout.flush()


def show(*items: Any) -> None:
    """A result for people (a table, a line of text) on stdout; never silenced by -q. Text lines are
    not wrapped (a pipe counts as 80 columns)."""
    for item in items:
        stdout.print(item, highlight=False, soft_wrap=isinstance(item, str))

"""Writing files atomically: a temporary file in the same folder, then a rename.

A reader (or a crash) never sees half a file: either the old one or the new one. Every file the
program writes (cache, checkpoints, reports, plots) goes through here.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

from forecaster.errors import ForecasterError


def atomic_write(path, write: Callable[[str], None]) -> Path:
    """Call write(tmp_path) to produce the file, then move it into place. Returns the path.
    A path that cannot be written (a folder, a file where a folder should be, no permission) is a
    ForecasterError naming it."""
    path = Path(path)
    if path.is_dir():
        raise ForecasterError(f"cannot write {path}: it is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp" + path.suffix)
    except (FileExistsError, NotADirectoryError) as exc:
        raise ForecasterError(f"cannot write {path}: a part of its folder path is a file, not a folder") from exc
    except OSError as exc:
        raise ForecasterError(f"cannot write {path}: {exc.strerror or exc}") from exc
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; ours are ordinary files
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def check_writable(path, folder: bool = False) -> Path:
    """Fail before any work when an output path cannot be written: a folder given for a file (or a file
    for a folder), a parent path that runs through a file, or a folder without write permission."""
    path = Path(path)
    kind = "folder" if folder else "file"
    if folder and path.exists() and not path.is_dir():
        raise ForecasterError(f"--out {path} is a file, not a folder: give a folder for the {kind}s to go in")
    if not folder and path.is_dir():
        raise ForecasterError(f"cannot write {path}: it is a folder; give a file name")
    probe = path if folder else path.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ForecasterError(f"cannot write {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK):
        raise ForecasterError(f"cannot write {path}: no permission to write in {probe}")
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def json_safe(value: Any) -> Any:
    """A structure that strict JSON can hold: NaN and infinities become None (null), numpy and torch
    scalars and arrays become numbers and lists, dates ISO strings, tuples and sets lists; anything
    else its str()."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "tolist"):  # numpy / torch scalars and arrays
        return json_safe(value.tolist())
    if hasattr(value, "item"):
        return json_safe(value.item())
    if isinstance(value, Path):
        return str(value)
    return str(value)


def json_text(value: Any) -> str:
    """Valid JSON (no NaN or Infinity tokens), indented, with a final newline."""
    return json.dumps(json_safe(value), indent=2, allow_nan=False) + "\n"


def atomic_write_json(path, value: Any) -> Path:
    return atomic_write_text(path, json_text(value))

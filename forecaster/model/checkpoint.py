"""Saved models: a folder per model, written atomically, loaded without executing anything.

    models/<name>/
        weights.pt        the state dict (torch.save), loaded with torch.load(weights_only=True)
        model.json        format version, package version, configs (model, data, training), scalers,
                          data fingerprint, metrics, loss curves, interval calibration, and the
                          sha256 of weights.pt (checked on load)
        train_state.pt    optimizer and schedule state to resume an interrupted run (optional)

model.json is written last: a folder without it is an unfinished save.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Optional

import torch

from forecaster import __version__
from forecaster.util import files
from forecaster.data.series import parse_pair
from forecaster.errors import ForecasterError
from forecaster.util.files import atomic_write

FORMAT = 2  # 2: non-crossing quantile heads and RevIN that maps outputs back (format-1 weights mean other things)
WEIGHTS, META, TRAIN_STATE = "weights.pt", "model.json", "train_state.pt"
ENV_VAR = "FORECASTER_MODELS_DIR"


def default_models_dir() -> Path:
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    root = Path(__file__).resolve().parents[1]
    if (root / "pyproject.toml").is_file() and (root / "forecaster").is_dir():
        return root / "models"
    return Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share")) / "forecaster" / "models"


def default_model_name(pair: str, interval: str = "1d") -> str:
    """The name `forecaster train PAIR` saves under and `forecaster predict PAIR` looks for:
    'EUR-USD', 'eur/usd' and 'EURUSD' all give 'eurusd-1d'."""
    return f"{''.join(parse_pair(pair)).lower()}-{interval}"


def model_dir(name: str, models_dir: Optional[Path] = None) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ForecasterError(f"model name {name!r} is invalid: use letters, digits, '-', '_' and '.' (no slashes)")
    return Path(models_dir or default_models_dir()) / name


def atomic_torch_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda tmp: torch.save(obj, tmp))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(folder: Path, state_dict: dict, meta: dict) -> None:
    """Weights first, then model.json with their hash (so a crash never leaves a loadable mismatch)."""
    folder = Path(folder)
    atomic_torch_save({k: v.detach().cpu() for k, v in state_dict.items()}, folder / WEIGHTS)
    meta = {**meta, "format": FORMAT, "package_version": __version__, "weights_sha256": _sha256(folder / WEIGHTS)}
    files.atomic_write_text(folder / META, json.dumps(meta, indent=2, default=_plain))


def _plain(value):
    if hasattr(value, "tolist"):
        return value.tolist()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in model.json")


def read_meta(folder: Path) -> dict:
    folder = Path(folder)
    path = folder / META
    if not folder.is_dir():
        raise ForecasterError(f"no saved model at {folder}: train one with `forecaster train PAIR --name {folder.name}`"
                              " or list them with `forecaster models`")
    if not path.is_file():
        raise ForecasterError(f"{folder} holds no {META}: the save was interrupted or the folder is not a model")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ForecasterError(f"{path} is corrupt ({exc}); retrain the model") from exc
    if not isinstance(meta, dict) or "format" not in meta:
        raise ForecasterError(f"{path} is not a forecaster model of format {FORMAT}")
    if meta["format"] != FORMAT:
        raise ForecasterError(f"{path} was saved in format {meta['format']} by forecaster {meta.get('package_version', '?')}; "
                              f"this version reads format {FORMAT}: retrain the model")
    return meta


def load(folder: Path, map_location="cpu") -> tuple[dict, dict]:
    """(state_dict, meta). The weights' hash must match model.json, and loading executes no code."""
    folder = Path(folder)
    meta = read_meta(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ForecasterError(f"{folder} has no {WEIGHTS}; retrain the model")
    if _sha256(weights) != meta.get("weights_sha256"):
        raise ForecasterError(f"{weights} does not match the hash in {META}: the file is truncated or was altered")
    try:
        state = torch.load(weights, map_location=map_location, weights_only=True)
    except Exception as exc:  # unpickling refused (weights_only) or a damaged archive
        raise ForecasterError(f"{weights} cannot be loaded safely: {exc}") from exc
    return state, meta

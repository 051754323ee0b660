"""Checkpoint files: atomic writes, where models live, names, listing damaged saves."""

import json

import pytest
import torch

from forecaster import api
from forecaster.model import checkpoint
from forecaster.util import files
from forecaster.errors import ForecasterError
from forecaster.util.files import atomic_write


def test_a_failed_write_leaves_the_old_file_and_no_temp(tmp_path):
    path = tmp_path / "model.json"
    files.atomic_write_text(path, '{"old": true}')

    def half_then_crash(tmp):
        with open(tmp, "w") as f:
            f.write('{"new": ')
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, half_then_crash)
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["model.json"]


def test_save_then_load_round_trip_and_hash(tmp_path):
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    checkpoint.save(tmp_path / "m", state, {"name": "m"})
    loaded, meta = checkpoint.load(tmp_path / "m")
    assert torch.equal(loaded["w"], state["w"]) and meta["format"] == checkpoint.FORMAT
    assert meta["weights_sha256"] == checkpoint._sha256(tmp_path / "m" / checkpoint.WEIGHTS)
    (tmp_path / "m" / checkpoint.WEIGHTS).unlink()
    with pytest.raises(ForecasterError, match="has no weights.pt"):
        checkpoint.load(tmp_path / "m")


def test_models_dir_choice_and_bad_names(tmp_path, monkeypatch):
    monkeypatch.setenv(checkpoint.ENV_VAR, str(tmp_path / "elsewhere"))
    assert checkpoint.default_models_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv(checkpoint.ENV_VAR)
    assert checkpoint.default_models_dir().name == "models"
    assert checkpoint.model_dir("eurusd", tmp_path) == tmp_path / "eurusd"
    for bad in ("", "../x", "a/b", ".hidden"):
        with pytest.raises(ForecasterError, match="is invalid"):
            checkpoint.model_dir(bad, tmp_path)


def test_listing_shows_an_unfinished_save_as_an_error(tmp_path):
    (tmp_path / "half").mkdir()  # weights written, model.json never was
    (tmp_path / "half" / checkpoint.WEIGHTS).write_bytes(b"x")
    rows = api.list_models(tmp_path)
    assert rows == [{"name": "half", "error": rows[0]["error"]}] and "interrupted" in rows[0]["error"]
    assert api.list_models(tmp_path / "none") == []


def test_train_and_predict_share_one_default_model_name(tmp_path):
    from forecaster.model.checkpoint import default_model_name

    assert default_model_name("EUR-USD") == default_model_name("eur/usd") == default_model_name("EURUSD") == "eurusd-1d"
    assert default_model_name("USDJPY", "1h") == "usdjpy-1h"
    with pytest.raises(ForecasterError, match="not a currency pair"):
        default_model_name("EURO")

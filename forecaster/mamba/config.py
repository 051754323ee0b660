"""Configuration dataclasses for the Mamba library.

`MambaConfig` sizes the encoder (the S6 blocks); `ForecasterConfig` adds what the forecasting
head needs. Both validate themselves in `__post_init__` (a ValueError names the field and the
accepted range) and round-trip through plain dicts and JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Optional, Union


def _check(condition: bool, name: str, value: Any, accepted: str) -> None:
    if not condition:
        raise ValueError(f"{name}={value!r} is invalid: accepted {accepted}")


class _JsonMixin:
    """to_dict / from_dict / to_json / from_json for flat or nested config dataclasses."""

    def to_dict(self) -> dict:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict):
        known = {f.name for f in fields(cls) if f.init}  # type: ignore[arg-type]
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s) {sorted(unknown)}: accepted {sorted(known)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_json(cls, text: str):
        return cls.from_dict(json.loads(text))


@dataclass
class MambaConfig(_JsonMixin):
    d_model: int = 64  # width of the residual stream
    n_layer: int = 2  # number of S6 blocks
    d_state: int = 16  # N: size of each channel's hidden state
    d_conv: int = 4  # kernel width of the causal depthwise convolution
    expand: int = 2  # d_inner = expand * d_model
    dt_rank: Union[int, str] = "auto"  # rank of the delta projection; "auto" = ceil(d_model / 16)
    dt_min: float = 0.001  # initial step sizes are log-uniform in [dt_min, dt_max]
    dt_max: float = 0.1
    dt_init_floor: float = 1e-4  # smallest initial step size
    dt_scale: float = 1.0  # scale of dt_proj's initial weights
    conv_bias: bool = True
    bias: bool = False  # biases in in_proj and out_proj
    residual_in_fp32: bool = True  # keep the residual stream in float32 under mixed precision
    norm_eps: float = 1e-5
    # derived in __post_init__
    d_inner: int = field(init=False)

    def __post_init__(self) -> None:
        for name in ("d_model", "n_layer", "d_state", "d_conv", "expand"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name, value, "an integer >= 1")
        if self.dt_rank == "auto":
            self.dt_rank = math.ceil(self.d_model / 16)
        _check(
            isinstance(self.dt_rank, int) and not isinstance(self.dt_rank, bool) and self.dt_rank >= 1,
            "dt_rank", self.dt_rank, '"auto" or an integer >= 1',
        )
        _check(0 < self.dt_min <= self.dt_max, "dt_min", self.dt_min, f"0 < dt_min <= dt_max ({self.dt_max})")
        _check(self.dt_max < math.inf, "dt_max", self.dt_max, "a finite number >= dt_min")
        _check(0 < self.dt_init_floor <= self.dt_max, "dt_init_floor", self.dt_init_floor, "0 < dt_init_floor <= dt_max")
        _check(self.dt_scale > 0, "dt_scale", self.dt_scale, "a number > 0")
        _check(0 < self.norm_eps < 1, "norm_eps", self.norm_eps, "0 < norm_eps < 1")
        self.d_inner = self.expand * self.d_model

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("d_inner")  # derived
        return data


# Parametric forecast distributions and their parameter count (loc, scale[, df]); "none" has no parameters.
DISTRIBUTIONS = {"none": 0, "normal": 2, "student_t": 3}


@dataclass
class ForecasterConfig(_JsonMixin):
    """A MambaForecaster: (B, L, n_inputs) -> (B, horizon, n_outputs[, P]).

    The last axis P is absent for a point forecast, len(quantiles) with quantiles, and the
    distribution's parameters with a parametric head: (loc, scale) for "normal",
    (loc, scale, df) for "student_t".
    """

    mamba: MambaConfig = field(default_factory=MambaConfig)
    n_inputs: int = 1  # C_in: features per time step
    n_outputs: int = 1  # C_out: series forecast
    horizon: int = 1  # H: steps ahead
    quantiles: tuple = ()  # e.g. (0.1, 0.5, 0.9); empty = point forecast
    revin: bool = False  # normalise each input window per instance and channel, outputs scaled back (RevIN)
    revin_level: bool = False  # with revin, also shift outputs by the window mean (off for change targets)
    revin_channels: tuple = ()  # input channel whose window statistics map back output c; () = channel c
    distribution: str = "none"  # "none" (point or quantiles), "normal" or "student_t" (parametric head)
    df: Optional[float] = None  # student_t degrees of freedom: None = learned per step and series, else fixed (> 2)

    def __post_init__(self) -> None:
        if isinstance(self.mamba, dict):
            self.mamba = MambaConfig.from_dict(self.mamba)
        _check(isinstance(self.mamba, MambaConfig), "mamba", self.mamba, "a MambaConfig or its dict")
        for name in ("n_inputs", "n_outputs", "horizon"):
            value = getattr(self, name)
            _check(isinstance(value, int) and not isinstance(value, bool) and value >= 1, name, value, "an integer >= 1")
        self.quantiles = tuple(float(q) for q in self.quantiles)
        _check(all(0 < q < 1 for q in self.quantiles), "quantiles", self.quantiles, "numbers strictly between 0 and 1")
        _check(len(set(self.quantiles)) == len(self.quantiles), "quantiles", self.quantiles, "distinct values")
        self.quantiles = tuple(sorted(self.quantiles))
        _check(self.distribution in DISTRIBUTIONS, "distribution", self.distribution, f"one of {tuple(DISTRIBUTIONS)}")
        _check(self.distribution == "none" or not self.quantiles, "distribution", self.distribution,
               '"none" when quantiles are given (a quantile head and a parametric head exclude each other)')
        if self.df is not None:
            _check(isinstance(self.df, (int, float)) and not isinstance(self.df, bool) and 2 < self.df < math.inf,
                   "df", self.df, "None (learned) or a number > 2")
            _check(self.distribution == "student_t", "df", self.df, 'None unless distribution="student_t"')
            self.df = float(self.df)
        self.revin_channels = tuple(self.revin_channels)
        if self.revin_channels:
            _check(len(self.revin_channels) == self.n_outputs and all(
                isinstance(c, int) and not isinstance(c, bool) and 0 <= c < self.n_inputs for c in self.revin_channels),
                "revin_channels", self.revin_channels,
                f"() or {self.n_outputs} input channel indices in [0, {self.n_inputs})")
        elif self.revin:
            _check(self.n_outputs <= self.n_inputs, "revin_channels", self.revin_channels,
                   f"{self.n_outputs} input channel indices in [0, {self.n_inputs}): with revin and more outputs "
                   "than inputs, name the input channel that scales each output")

    @property
    def output_channels(self) -> tuple:
        """The input channel whose window statistics RevIN maps each output back with."""
        return self.revin_channels or tuple(range(self.n_outputs))

    @property
    def n_params(self) -> int:
        """Size of the last output axis: 0 for a point forecast (no axis), Q, 2 (normal) or 3 (student_t)."""
        return DISTRIBUTIONS[self.distribution] or len(self.quantiles)

    def to_dict(self) -> dict:
        return {
            "mamba": self.mamba.to_dict(),
            "n_inputs": self.n_inputs,
            "n_outputs": self.n_outputs,
            "horizon": self.horizon,
            "quantiles": list(self.quantiles),
            "revin": self.revin,
            "revin_level": self.revin_level,
            "revin_channels": list(self.revin_channels),
            "distribution": self.distribution,
            "df": self.df,
        }

"""One object per distribution family of a parametric head, owning everything about it (the shape of
NeuralForecast's DistributionLoss): the parameter map of the head's output, the torch training loss,
the quantiles, and the numpy forecast distribution that the scores read.

    family = FAMILIES["student_t"]
    family.loss(params, y, "crps")              # torch, differentiable: the training loss
    family.quantiles(params, (0.1, 0.9))        # torch: (..., Q)
    family.predictive(raw, target_scale)        # numpy Predictive (N, H), in target units

params (..., P): normal P = 2 (loc, scale); student_t P = 3 (loc, scale, df) (forecaster.probabilistic.parametric).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from torch import Tensor

from forecaster.errors import ForecasterError
from forecaster.probabilistic import parametric
from forecaster.probabilistic.distributions import Predictive
from forecaster.probabilistic.losses import distribution_loss


@dataclass(frozen=True)
class Family:
    name: str

    @property
    def n_params(self) -> int:
        return parametric.n_params(self.name)

    def split(self, params: Tensor) -> tuple:
        """params (..., P) -> loc, scale, df (None for the normal), each (...)."""
        return parametric.split(params, self.name)

    def loss(self, params: Tensor, y: Tensor, kind: str = "crps", reduction: str = "mean") -> Tensor:
        """The training loss ("crps" or "nll", closed forms) of the forecast params at y."""
        return distribution_loss(params, y, self.name, kind, reduction)

    def quantiles(self, params: Tensor, levels: Sequence[float]) -> Tensor:
        """params (..., P) -> (..., Q) quantiles at levels."""
        return parametric.quantiles_from_params(params, levels, self.name)

    def predictive(self, raw: np.ndarray, target_scale: np.ndarray) -> Predictive:
        """A head's raw output (N, H, P), in scaled-target units, as the forecast distribution of the
        targets: location and scale multiplied by target_scale (H,)."""
        raw = np.asarray(raw, dtype=np.float64)
        s = np.asarray(target_scale, dtype=np.float64)[None, :]  # (1, H)
        df = raw[..., 2] if self.name == "student_t" else np.inf
        return Predictive(loc=raw[..., 0] * s, scale=raw[..., 1] * s, df=df)


FAMILIES = {name: Family(name) for name in parametric.FAMILIES}


def family(name: str) -> Family:
    if name not in FAMILIES:
        raise ForecasterError(f"distribution family {name!r} is unknown: accepted one of {sorted(FAMILIES)}")
    return FAMILIES[name]

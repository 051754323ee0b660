"""A residual block around a mixer: out = x + mixer(RMSNorm(x)) (pre-norm).

The mixer class is pluggable: anything with `forward(hidden, conv_state=None, ssm_state=None)` and
`step(hidden, conv_state, ssm_state)` (MambaMixer by default).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn

from forecaster.mamba.config import MambaConfig
from forecaster.mamba.mixer import MambaMixer


class RMSNorm(nn.Module):
    """x / rms(x) * weight, computed in float32."""

    def __init__(self, d: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x: Tensor) -> Tensor:
        x32 = x.float()
        out = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return (out * self.weight.float()).to(x.dtype)


class Block(nn.Module):
    def __init__(self, config: MambaConfig, mixer_cls: type = MambaMixer):
        super().__init__()
        self.residual_in_fp32 = config.residual_in_fp32
        self.norm = RMSNorm(config.d_model, config.norm_eps)
        self.mixer = mixer_cls(config)

    def _residual(self, x: Tensor, update: Tensor) -> Tensor:
        if self.residual_in_fp32:
            return (x.float() + update.float()).to(x.dtype)
        return x + update

    def forward(self, x: Tensor, conv_state: Optional[Tensor] = None, ssm_state: Optional[Tensor] = None) -> Tensor:
        """x (b, l, d_model) -> (b, l, d_model)."""
        return self._residual(x, self.mixer(self.norm(x), conv_state, ssm_state))

    def step(self, x: Tensor, conv_state: Tensor, ssm_state: Tensor) -> Tensor:
        """x (b, d_model) -> (b, d_model), advancing the states."""
        return self._residual(x, self.mixer.step(self.norm(x), conv_state, ssm_state))

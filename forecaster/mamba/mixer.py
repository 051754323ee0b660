"""The S6 mixer: Mamba's selective state-space layer.

    x (b, l, d_model)
      -> in_proj -> [x_in, z]                     (b, l, d_inner) each
      x_in -> causal depthwise conv1d -> SiLU     (b, l, d_inner)
           -> x_proj -> [dt (dt_rank), B (N), C (N)]
           -> dt_proj (weight only; its bias goes to the scan once, under softplus)
           -> selective_scan(x, dt, A, B, C, D, z)  = y * SiLU(z)
      -> out_proj                                 (b, l, d_model)

Initialisation follows Mamba (Gu & Dao 2023, section 3.6 and the reference code's defaults):
A_log = log(1..N) per channel (so A = -(1..N)), D = 1, dt_proj's bias = softplus^-1(dt) with dt
log-uniform in [dt_min, dt_max] floored at dt_init_floor. A_log and D carry `_no_weight_decay`.

Departures from the reference implementation: none in the maths; the scan is our own (scan.py):
a fused Triton kernel on CUDA (scan_triton.py), the chunked PyTorch path elsewhere.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forecaster.mamba.config import MambaConfig
from forecaster.mamba.scan import selective_scan


class MambaMixer(nn.Module):
    def __init__(self, config: MambaConfig):
        super().__init__()
        self.config = config
        d_inner, n, rank = config.d_inner, config.d_state, config.dt_rank
        self.in_proj = nn.Linear(config.d_model, 2 * d_inner, bias=config.bias)
        self.conv1d = nn.Conv1d(d_inner, d_inner, config.d_conv, groups=d_inner, bias=config.conv_bias)
        self.x_proj = nn.Linear(d_inner, rank + 2 * n, bias=False)
        self.dt_proj = nn.Linear(rank, d_inner, bias=True)
        self.out_proj = nn.Linear(d_inner, config.d_model, bias=config.bias)

        std = rank**-0.5 * config.dt_scale
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        dt = torch.exp(
            torch.rand(d_inner) * (math.log(config.dt_max) - math.log(config.dt_min)) + math.log(config.dt_min)
        ).clamp(min=config.dt_init_floor)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus
        self.A_log = nn.Parameter(torch.log(torch.arange(1, n + 1, dtype=torch.float32)).repeat(d_inner, 1))  # (d_inner, N)
        self.D = nn.Parameter(torch.ones(d_inner))
        self.A_log._no_weight_decay = True
        self.D._no_weight_decay = True

    def _ssm_inputs(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x (..., d_inner) -> dt (..., d_inner) without bias, B and C (..., N)."""
        n, rank = self.config.d_state, self.config.dt_rank
        dt, B, C = self.x_proj(x).split([rank, n, n], dim=-1)
        return F.linear(dt, self.dt_proj.weight), B, C

    def forward(self, hidden: Tensor, conv_state: Optional[Tensor] = None, ssm_state: Optional[Tensor] = None) -> Tensor:
        """hidden (b, l, d_model) -> (b, l, d_model).

        With states (a prefill or a continuation), the convolution continues from conv_state
        (b, d_inner, d_conv), the scan from ssm_state (b, d_inner, N), and both are updated in place.
        """
        length = hidden.shape[1]
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # (b, l, d_inner) each
        x = x.transpose(1, 2)  # (b, d_inner, l)
        if conv_state is None:
            x_padded = F.pad(x, (self.config.d_conv - 1, 0))
        else:
            x_padded = torch.cat([conv_state[:, :, 1:].to(x.dtype), x], dim=-1)  # continue from the last inputs
            conv_state.copy_(x_padded[:, :, -self.config.d_conv:])
        x = F.silu(F.conv1d(x_padded, self.conv1d.weight, self.conv1d.bias, groups=self.config.d_inner))
        x = x[:, :, :length].transpose(1, 2)  # (b, l, d_inner)
        dt, B, C = self._ssm_inputs(x)
        A = -torch.exp(self.A_log.float())  # (d_inner, N)
        y = selective_scan(
            x, dt, A, B, C, D=self.D.float(), z=z, delta_bias=self.dt_proj.bias.float(), delta_softplus=True,
            initial_state=ssm_state, return_final_state=ssm_state is not None,
        )
        if ssm_state is not None:
            y, final = y
            ssm_state.copy_(final)
        return self.out_proj(y)

    def step(self, hidden: Tensor, conv_state: Tensor, ssm_state: Tensor) -> Tensor:
        """One token: hidden (b, d_model) -> (b, d_model); conv_state (b, d_inner, d_conv) and
        ssm_state (b, d_inner, N, float32) advance in place. O(1) in the sequence length."""
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # (b, d_inner)
        conv_state.copy_(torch.roll(conv_state, shifts=-1, dims=-1))
        conv_state[:, :, -1] = x
        x = (conv_state * self.conv1d.weight[:, 0, :]).sum(-1)  # (b, d_inner)
        if self.conv1d.bias is not None:
            x = x + self.conv1d.bias
        x = F.silu(x)
        dt, B, C = self._ssm_inputs(x)
        dt = F.softplus(dt + self.dt_proj.bias).float()  # (b, d_inner)
        A = -torch.exp(self.A_log.float())
        dA = torch.exp(dt[:, :, None] * A)  # (b, d_inner, N)
        ssm_state.mul_(dA).add_((dt * x.float())[:, :, None] * B.float()[:, None, :])
        y = (ssm_state * C.float()[:, None, :]).sum(-1) + self.D.float() * x.float()  # (b, d_inner)
        y = (y * F.silu(z.float())).to(hidden.dtype)
        return self.out_proj(y)

"""The shared encoder (a stack of blocks and a final norm) and its inference cache.

MambaEncoder works on continuous inputs (b, l, d_model): heads bring their own embedding or
input projection. With an InferenceCache, a forward pass is a prefill (or a continuation) whose
final states land in the cache, and `step` then advances one position in O(1).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import torch
from torch import Tensor, nn

from forecaster.mamba.block import Block, RMSNorm
from forecaster.mamba.config import MambaConfig
from forecaster.mamba.mixer import MambaMixer


@dataclass
class InferenceCache:
    """Per-layer recurrent states for step-by-step inference.

    conv_states[i]: (b, d_inner, d_conv) the last d_conv inputs of layer i's convolution
    ssm_states[i]:  (b, d_inner, N) float32, layer i's scan state
    offset: how many positions have been consumed
    extra: what a head keeps beside the layers' states (e.g. RevIN statistics from the prefill)
    """

    conv_states: list
    ssm_states: list
    offset: int = 0
    extra: dict = field(default_factory=dict)

    @classmethod
    def allocate(cls, config: MambaConfig, batch_size: int, device=None, dtype=None) -> "InferenceCache":
        dtype = dtype or torch.float32
        conv = [torch.zeros(batch_size, config.d_inner, config.d_conv, device=device, dtype=dtype) for _ in range(config.n_layer)]
        ssm = [torch.zeros(batch_size, config.d_inner, config.d_state, device=device, dtype=torch.float32) for _ in range(config.n_layer)]
        return cls(conv, ssm, 0)

    def memory_bytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.conv_states + self.ssm_states)

    def reset(self) -> None:
        for t in self.conv_states + self.ssm_states:
            t.zero_()
        self.offset = 0
        self.extra.clear()


class MambaEncoder(nn.Module):
    """(b, l, d_model) -> (b, l, d_model): n_layer residual S6 blocks and a final RMSNorm."""

    def __init__(self, config: MambaConfig, mixer_cls: type = MambaMixer):
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(Block(config, mixer_cls) for _ in range(config.n_layer))
        self.norm_f = RMSNorm(config.d_model, config.norm_eps)

    def allocate_cache(self, batch_size: int, device=None, dtype=None) -> InferenceCache:
        param = next(self.parameters())
        return InferenceCache.allocate(self.config, batch_size, device or param.device, dtype or param.dtype)

    def forward(self, x: Tensor, cache: Optional[InferenceCache] = None) -> Tensor:
        for i, layer in enumerate(self.layers):
            if cache is None:
                x = layer(x)
            else:
                x = layer(x, cache.conv_states[i], cache.ssm_states[i])
        if cache is not None:
            cache.offset += x.shape[1]
        return self.norm_f(x)

    def step(self, x: Tensor, cache: InferenceCache) -> Tensor:
        """x (b, d_model) one position -> (b, d_model)."""
        for i, layer in enumerate(self.layers):
            x = layer.step(x, cache.conv_states[i], cache.ssm_states[i])
        cache.offset += 1
        return self.norm_f(x)


def param_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """AdamW parameter groups: no weight decay on A_log, D (marked `_no_weight_decay`), norm
    weights, biases and other vectors; decay on matrices and convolution kernels."""
    decay, no_decay = [], []
    for param in module.parameters():
        if not param.requires_grad:
            continue
        (no_decay if getattr(param, "_no_weight_decay", False) or param.dim() < 2 else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]

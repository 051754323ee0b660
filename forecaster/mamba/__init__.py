"""A pure-PyTorch Mamba (S6) library. It knows nothing about money.

Module tree (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces"):

    config.py   MambaConfig, ForecasterConfig (dataclasses, validated, JSON round-trip)
    scan.py     selective_scan: reference loop (the oracle), chunked fast path, dispatch
    scan_triton.py  the fused Triton scan, forward and backward (CUDA only; imported on first use)
    mixer.py    MambaMixer: in_proj -> conv1d -> SiLU -> x_proj -> dt_proj -> scan -> gate -> out_proj
    block.py    RMSNorm and the pre-norm residual Block (mixer pluggable)
    encoder.py  MambaEncoder (stack + final norm), InferenceCache, param_groups
    heads.py    MambaForCausalLM, MambaForSequenceClassification, MambaForFeatureExtraction, MambaForecaster

May import: torch (and triton, on the GPU path only). Nothing else of forecaster.
"""

from forecaster.mamba.block import Block, RMSNorm
from forecaster.mamba.config import ForecasterConfig, MambaConfig
from forecaster.mamba.encoder import InferenceCache, MambaEncoder, param_groups
from forecaster.mamba.heads import (
    MambaForCausalLM,
    MambaForecaster,
    MambaForFeatureExtraction,
    MambaForSequenceClassification,
)
from forecaster.mamba.mixer import MambaMixer
from forecaster.mamba.scan import selective_scan, selective_scan_chunked, selective_scan_ref

__all__ = [
    "Block", "RMSNorm", "ForecasterConfig", "MambaConfig", "InferenceCache", "MambaEncoder", "param_groups",
    "MambaForCausalLM", "MambaForecaster", "MambaForFeatureExtraction", "MambaForSequenceClassification",
    "MambaMixer", "selective_scan", "selective_scan_chunked", "selective_scan_ref",
]

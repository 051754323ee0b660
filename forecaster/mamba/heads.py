"""Task heads on the shared MambaEncoder.

    MambaForCausalLM                 token ids -> next-token logits; tied embedding; generate()
    MambaForSequenceClassification   token ids or features -> class logits (pooling last/mean/max)
    MambaForFeatureExtraction        token ids or features -> hidden states
    MambaForecaster                  features (b, l, C_in) -> forecast (b, H, C_out[, Q])

Every head has `forward(inputs, cache=None)` (a prefill when a cache is given) and
`step(one position, cache)`, and the two agree: the full forward equals a prefill followed by
one step at a time.
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from forecaster.mamba.config import ForecasterConfig, MambaConfig
from forecaster.mamba.encoder import InferenceCache, MambaEncoder, param_groups


class _EncoderHead(nn.Module):
    """An input layer (embedding for token ids, linear for features) in front of the encoder."""

    def __init__(self, config: MambaConfig, vocab_size: Optional[int] = None, n_inputs: Optional[int] = None):
        super().__init__()
        if (vocab_size is None) == (n_inputs is None):
            raise ValueError(f"give exactly one of vocab_size ({vocab_size!r}) and n_inputs ({n_inputs!r})")
        for name, value in (("vocab_size", vocab_size), ("n_inputs", n_inputs)):
            if value is not None and value < 1:
                raise ValueError(f"{name}={value!r} is invalid: accepted an integer >= 1")
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.d_model) if vocab_size else None
        self.input_proj = nn.Linear(n_inputs, config.d_model) if n_inputs else None
        self.encoder = MambaEncoder(config)

    def _embed(self, inputs: Tensor) -> Tensor:
        """(b, l) token ids or (b, l, C_in) features -> (b, l, d_model); also one position (b,) / (b, C_in)."""
        return self.embedding(inputs) if self.embedding is not None else self.input_proj(inputs)

    def hidden(self, inputs: Tensor, cache: Optional[InferenceCache] = None) -> Tensor:
        return self.encoder(self._embed(inputs), cache)  # (b, l, d_model)

    def hidden_step(self, inputs: Tensor, cache: InferenceCache) -> Tensor:
        return self.encoder.step(self._embed(inputs), cache)  # (b, d_model)

    def allocate_cache(self, batch_size: int, device=None, dtype=None) -> InferenceCache:
        return self.encoder.allocate_cache(batch_size, device, dtype)

    def param_groups(self, weight_decay: float) -> list[dict]:
        return param_groups(self, weight_decay)


class MambaForFeatureExtraction(_EncoderHead):
    def forward(self, inputs: Tensor, cache: Optional[InferenceCache] = None) -> Tensor:
        return self.hidden(inputs, cache)

    def step(self, inputs: Tensor, cache: InferenceCache) -> Tensor:
        return self.hidden_step(inputs, cache)


class MambaForCausalLM(_EncoderHead):
    """Language model with the output layer tied to the embedding."""

    def __init__(self, config: MambaConfig, vocab_size: int):
        super().__init__(config, vocab_size=vocab_size)

    def forward(self, input_ids: Tensor, cache: Optional[InferenceCache] = None) -> Tensor:
        """(b, l) -> logits (b, l, V)."""
        return F.linear(self.hidden(input_ids, cache), self.embedding.weight)

    def step(self, token: Tensor, cache: InferenceCache) -> Tensor:
        """(b,) -> logits (b, V)."""
        return F.linear(self.hidden_step(token, cache), self.embedding.weight)

    @torch.no_grad()
    def generate(
        self, input_ids: Tensor, max_new_tokens: int, do_sample: bool = False, temperature: float = 1.0,
        top_k: Optional[int] = None, top_p: Optional[float] = None, eos_token_id: Optional[int] = None,
        use_cache: bool = True, generator: Optional[torch.Generator] = None,
    ) -> Tensor:
        """(b, l) prompt -> (b, l + new) tokens. Greedy unless do_sample; sequences that reached
        eos are padded with eos; stops early when all have."""
        if temperature <= 0:
            raise ValueError(f"temperature={temperature!r} is invalid: accepted a number > 0 (use do_sample=False for greedy)")
        tokens = input_ids
        cache = self.allocate_cache(input_ids.shape[0]) if use_cache else None
        logits = self(input_ids, cache)[:, -1]
        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        for _ in range(max_new_tokens):
            nxt = _choose(logits, do_sample, temperature, top_k, top_p, generator)  # (b,)
            if eos_token_id is not None:
                nxt = torch.where(done, torch.full_like(nxt, eos_token_id), nxt)
                done |= nxt == eos_token_id
            tokens = torch.cat([tokens, nxt[:, None]], dim=1)
            if eos_token_id is not None and bool(done.all()):
                break
            logits = self.step(nxt, cache) if use_cache else self(tokens)[:, -1]
        return tokens


def _choose(logits: Tensor, do_sample: bool, temperature: float, top_k, top_p, generator) -> Tensor:
    """logits (b, V) -> token (b,): argmax, or a sample after temperature, top-k and top-p filtering."""
    if not do_sample:
        return logits.argmax(-1)
    logits = logits.float() / temperature
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p is not None:
        sorted_logits, order = logits.sort(-1, descending=True)
        probs = sorted_logits.softmax(-1)
        drop = probs.cumsum(-1) - probs > top_p  # keep the smallest prefix whose mass reaches top_p
        logits = logits.scatter(-1, order, sorted_logits.masked_fill(drop, float("-inf")))
    return torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]


class MambaForSequenceClassification(_EncoderHead):
    """Sequence -> class logits. mask (b, l) marks real positions (right padding)."""

    POOLINGS = ("last", "mean", "max")

    def __init__(self, config: MambaConfig, num_classes: int, vocab_size: Optional[int] = None,
                 n_inputs: Optional[int] = None, pooling: str = "last"):
        super().__init__(config, vocab_size=vocab_size, n_inputs=n_inputs)
        if pooling not in self.POOLINGS:
            raise ValueError(f"pooling={pooling!r} is invalid: accepted one of {self.POOLINGS}")
        if num_classes < 1:
            raise ValueError(f"num_classes={num_classes!r} is invalid: accepted an integer >= 1")
        self.pooling = pooling
        self.classifier = nn.Linear(config.d_model, num_classes)

    def forward(self, inputs: Tensor, mask: Optional[Tensor] = None, cache: Optional[InferenceCache] = None) -> Tensor:
        h = self.hidden(inputs, cache)  # (b, l, d_model)
        if mask is None:
            mask = torch.ones(h.shape[:2], dtype=torch.bool, device=h.device)
        mask = mask.bool()
        if self.pooling == "last":
            last = mask.long().cumsum(1).argmax(1)  # index of the last real position
            pooled = h[torch.arange(h.shape[0], device=h.device), last]
        elif self.pooling == "mean":
            pooled = (h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        else:
            pooled = h.masked_fill(~mask[..., None], float("-inf")).max(1).values
        return self.classifier(pooled)

    def step(self, inputs: Tensor, cache: InferenceCache) -> Tensor:
        """Logits as if the sequence ended at this position (pooling "last" only)."""
        if self.pooling != "last":
            raise ValueError(f"step() needs pooling='last'; this head pools with {self.pooling!r}")
        return self.classifier(self.hidden_step(inputs, cache))


class MambaForecaster(_EncoderHead):
    """Continuous multivariate input (b, l, C_in) -> multi-step forecast (b, H, C_out), or
    (b, H, C_out, Q) with quantiles, read from the last position's hidden state.

    The output layer starts at zero, so an untrained model forecasts zero: trained on changes
    from the last observed value, that is the no-change (random walk) forecast.
    With revin, each window's channels are standardised by their own mean and std over the
    lookback (Kim et al. 2022, without the affine part); outputs are changes and are not shifted back.
    In step mode the statistics of the prefill are kept.
    """

    def __init__(self, config: ForecasterConfig):
        super().__init__(config.mamba, n_inputs=config.n_inputs)
        self.forecaster_config = config
        q = max(1, len(config.quantiles))
        self.head = nn.Linear(config.mamba.d_model, config.horizon * config.n_outputs * q)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def _shape(self, out: Tensor) -> Tensor:
        cfg = self.forecaster_config
        shape = (out.shape[0], cfg.horizon, cfg.n_outputs) + ((len(cfg.quantiles),) if cfg.quantiles else ())
        return out.reshape(shape)

    def _normalise(self, x: Tensor, cache: Optional[InferenceCache], prefill: bool) -> Tensor:
        if not self.forecaster_config.revin:
            return x
        if prefill:
            mean = x.mean(1, keepdim=True)  # (b, 1, C_in)
            std = torch.sqrt(x.var(1, keepdim=True, unbiased=False) + 1e-5)
            if cache is not None:
                cache.extra["revin"] = (mean[:, 0], std[:, 0])
            return (x - mean) / std
        mean, std = cache.extra["revin"]
        return (x - mean) / std

    def forward(self, x: Tensor, cache: Optional[InferenceCache] = None) -> Tensor:
        h = self.hidden(self._normalise(x, cache, prefill=True), cache)  # (b, l, d_model)
        return self._shape(self.head(h[:, -1]))

    def step(self, x: Tensor, cache: InferenceCache) -> Tensor:
        """x (b, C_in) one new bar -> the forecast from that bar."""
        if self.forecaster_config.revin and "revin" not in cache.extra:
            raise ValueError("step() with revin needs a prefill first (its statistics come from the prefill)")
        return self._shape(self.head(self.hidden_step(self._normalise(x, cache, prefill=False), cache)))

"""Task heads on the shared MambaEncoder.

    MambaForCausalLM                 token ids -> next-token logits; tied embedding; generate()
    MambaForSequenceClassification   token ids or features -> class logits (pooling last/mean/max)
    MambaForFeatureExtraction        token ids or features -> hidden states
    MambaForecaster                  features (b, l, C_in) -> forecast (b, H, C_out[, P]): point,
                                     non-crossing quantiles, or normal / student_t parameters

Every head has `forward(inputs, cache=None)` (a prefill when a cache is given) and
`step(one position, cache)`, and the two agree: the full forward equals a prefill followed by
one step at a time.
"""

from __future__ import annotations

import math
from statistics import NormalDist
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


# Output transforms of the forecaster head (raw linear outputs -> forecast parameters).
MIN_SCALE = 1e-4  # floor of a parametric scale and of a quantile gap, in target units (before RevIN)
DF_INIT = 5.0  # a learned student_t df starts here (fat tails of daily FX returns)
DF_MAX = 100.0  # a learned df is clamped here (the t is then a normal for all practical purposes)


def _inverse_softplus(y: float) -> float:
    return y + math.log(-math.expm1(-y))  # softplus(x) = y  <=>  x = y + log(1 - exp(-y))


def _normal_ppf(q: float) -> float:
    return NormalDist().inv_cdf(q)


class MambaForecaster(_EncoderHead):
    """Continuous multivariate input (b, l, C_in) -> multi-step forecast read from the last
    position's hidden state:

        point        (b, H, C_out)      distribution="none", no quantiles
        quantiles    (b, H, C_out, Q)   non-crossing, in the order of config.quantiles
        normal       (b, H, C_out, 2)   (loc, scale)
        student_t    (b, H, C_out, 3)   (loc, scale, df)

    Targets are changes from the last observed value, so a forecast (point, loc or median) of 0
    is the no-change (random walk) forecast. The output layer's weights and the bias of every
    location start at zero: an untrained model forecasts exactly 0 whatever the input (its
    scale and quantile spread are then the same for every window, that of a unit normal, until
    training or RevIN makes them depend on the window).

    Parametric heads: loc is linear in the hidden state; scale = softplus(.) + MIN_SCALE > 0;
    a learned df = min(2 + softplus(.), DF_MAX) (> 2, so the variance exists), or config.df fixed.
    Quantile head (non-crossing by construction): the head predicts the median m and one gap
    per quantile; gaps are softplus(.) + MIN_SCALE > 0, and each quantile is m plus (above 0.5)
    or minus (below 0.5) the cumulative sum of the gaps between it and the median, so the
    quantiles increase strictly with the level for every input and stay differentiable. The
    gaps start at those of a unit normal; the median is an output even when 0.5 is not a level.

    RevIN (Kim et al. 2022, without the affine part): each window's channels are standardised
    by their own mean and std over the lookback before the encoder, and the outputs are mapped
    back: output channel c (point, loc, scale, quantiles; never df) is multiplied by the window
    std of input channel config.output_channels[c] and, with revin_level, shifted by its window
    mean. For targets that are changes from the last value, keep revin_level off: a change has
    no level, and the shift would move the untrained forecast away from the random walk.
    In step mode the statistics of the prefill are kept (both for the inputs and the outputs).
    """

    def __init__(self, config: ForecasterConfig):
        super().__init__(config.mamba, n_inputs=config.n_inputs)
        self.forecaster_config = config
        raw = self._raw_size(config)
        self.head = nn.Linear(config.mamba.d_model, config.horizon * config.n_outputs * raw)
        nn.init.zeros_(self.head.weight)
        with torch.no_grad():
            self.head.bias.copy_(self._initial_bias(config).repeat(config.horizon * config.n_outputs))
        levels = config.quantiles
        self._n_below = sum(q < 0.5 for q in levels)  # quantiles below the median
        self._has_median = 0.5 in levels

    @torch.no_grad()
    def reset_location(self) -> None:
        """Zero the weights and bias that produce the location (point, loc or median): the
        forecast's centre becomes 0, the no-change forecast, for every input, while the scale,
        df and quantile gaps stay as trained (with revin_level off)."""
        rows = torch.arange(0, self.head.out_features, self._raw_size(self.forecaster_config))
        self.head.weight[rows] = 0.0
        self.head.bias[rows] = 0.0

    @staticmethod
    def _raw_size(config: ForecasterConfig) -> int:
        """Raw outputs per (step, channel): 1 point; median + one gap per quantile other than 0.5;
        loc + scale (+ df when learned)."""
        if config.distribution == "none":
            return 1 + sum(q != 0.5 for q in config.quantiles) if config.quantiles else 1
        return 2 + (config.distribution == "student_t" and config.df is None)

    @staticmethod
    def _initial_bias(config: ForecasterConfig) -> Tensor:
        """(raw,) bias of one (step, channel): locations 0; scales 1; gaps of a unit normal; df DF_INIT."""
        if config.distribution != "none":
            bias = [0.0, _inverse_softplus(1.0 - MIN_SCALE)]
            if config.distribution == "student_t" and config.df is None:
                bias.append(_inverse_softplus(DF_INIT - 2.0))
            return torch.tensor(bias)
        if not config.quantiles:
            return torch.zeros(1)
        below = [q for q in config.quantiles if q < 0.5]
        above = [q for q in config.quantiles if q > 0.5]
        # gap of each quantile to its neighbour nearer the median, for a unit normal
        gaps = [_normal_ppf(nxt) - _normal_ppf(q) for q, nxt in zip(below, below[1:] + [0.5])]
        gaps += [_normal_ppf(q) - _normal_ppf(prev) for q, prev in zip(above, [0.5] + above[:-1])]
        return torch.tensor([0.0] + [_inverse_softplus(g - MIN_SCALE) for g in gaps])

    def _transform(self, raw: Tensor) -> Tensor:
        """raw (b, H, C, R) -> the forecast (b, H, C[, P]) before RevIN's mapping back."""
        cfg = self.forecaster_config
        if cfg.distribution != "none":
            loc = raw[..., 0]
            scale = F.softplus(raw[..., 1]) + MIN_SCALE
            if cfg.distribution == "normal":
                return torch.stack([loc, scale], dim=-1)  # (b, H, C, 2)
            if cfg.df is None:
                df = (2.0 + F.softplus(raw[..., 2])).clamp(max=DF_MAX)
            else:
                df = torch.full_like(loc, cfg.df)
            return torch.stack([loc, scale, df], dim=-1)  # (b, H, C, 3)
        if not cfg.quantiles:
            return raw[..., 0]  # (b, H, C)
        median = raw[..., :1]  # (b, H, C, 1)
        gaps = F.softplus(raw[..., 1:]) + MIN_SCALE  # (b, H, C, Q - has_median)
        below, above = gaps[..., :self._n_below], gaps[..., self._n_below:]
        lower = median - below.flip(-1).cumsum(-1).flip(-1)  # the lowest quantile subtracts every gap below
        upper = median + above.cumsum(-1)
        parts = [lower, median, upper] if self._has_median else [lower, upper]
        return torch.cat(parts, dim=-1)  # (b, H, C, Q)

    def _statistics(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """x (b, l, C_in) -> window mean and std, each (b, C_in)."""
        mean = x.mean(1)
        std = torch.sqrt(x.var(1, unbiased=False) + 1e-5)
        return mean, std

    def _map_back(self, out: Tensor, stats: Optional[tuple[Tensor, Tensor]]) -> Tensor:
        """RevIN's inverse on the forecast (b, H, C[, P]) with the window statistics (b, C_in) each."""
        cfg = self.forecaster_config
        if stats is None:
            return out
        channels = list(cfg.output_channels)
        mean, std = (s[:, channels][:, None] for s in stats)  # (b, 1, C_out)
        level = mean if cfg.revin_level else torch.zeros_like(mean)
        if cfg.distribution != "none":
            loc = out[..., 0] * std + level
            return torch.cat([loc[..., None], out[..., 1:2] * std[..., None], out[..., 2:]], dim=-1)
        if cfg.quantiles:
            return out * std[..., None] + level[..., None]
        return out * std + level

    def _forecast(self, last: Tensor, stats: Optional[tuple[Tensor, Tensor]]) -> Tensor:
        """last hidden state (b, d_model) -> the forecast (b, H, C[, P])."""
        cfg = self.forecaster_config
        raw = self.head(last).reshape(last.shape[0], cfg.horizon, cfg.n_outputs, -1)  # (b, H, C, R)
        return self._map_back(self._transform(raw), stats)

    def forward(self, x: Tensor, cache: Optional[InferenceCache] = None) -> Tensor:
        stats = None
        if self.forecaster_config.revin:
            stats = self._statistics(x)
            if cache is not None:
                cache.extra["revin"] = stats
            x = (x - stats[0][:, None]) / stats[1][:, None]
        h = self.hidden(x, cache)  # (b, l, d_model)
        return self._forecast(h[:, -1], stats)

    def step(self, x: Tensor, cache: InferenceCache) -> Tensor:
        """x (b, C_in) one new bar -> the forecast from that bar (RevIN statistics of the prefill)."""
        stats = None
        if self.forecaster_config.revin:
            if "revin" not in cache.extra:
                raise ValueError("step() with revin needs a prefill first (its statistics come from the prefill)")
            stats = cache.extra["revin"]
            x = (x - stats[0]) / stats[1]
        return self._forecast(self.hidden_step(x, cache), stats)

"""Attention, written out once and shared by the prompt encoder and the U-Net.

Scaled dot-product attention (Vaswani et al. 2017, "Attention Is All You Need", arXiv 1706.03762, eq. 1):

    Attention(Q, K, V) = softmax(Q·Kᵀ / √d) · V

Each query (a row of Q) takes a weighted average of the values; the weights are a softmax over how well
the query matches each key. Dividing by √d (d = the width of one head) keeps the dot products at unit
scale, so the softmax does not saturate when d grows.

Multi-head attention (same paper, sec. 3.2.2) projects the input to N heads of width d = D / N, attends in
each head separately and mixes the heads with a last linear layer. *Self*-attention takes queries, keys and
values from the same sequence; *cross*-attention takes the queries from one sequence (U-Net pixels) and the
keys and values from another (the prompt's context tokens) — this is how the prompt enters the image
(Rombach et al. 2022, arXiv 2112.10752, sec. 3.3).

Padding: a key padding mask (B, Lk) bool, True = a real token, sets the scores of padded keys to −∞, so
they receive exactly zero weight. A query row with *no* real key at all would be softmax(−∞, …, −∞) =
0/0 = NaN; here such a row gets all-zero weights and so outputs the zero vector (the same answer as
``torch.nn.functional.scaled_dot_product_attention`` gives), and its gradient is zero.

Rotary position embedding (RoPE; Su et al. 2021, "RoFormer", arXiv 2104.09864, eq. 34): instead of adding a
position vector to each token, self-attention can *rotate* every query and key by its position. The d
channels of a head form d/2 pairs; pair i of a token at position m is turned by the angle m·θ_i, with
θ_i = 10000^(−2i/d). A rotation by m·θ then one by −n·θ is a rotation by (m − n)·θ, so the score q_m·k_n
depends on the positions only through m − n: attention sees *relative* positions, for any length.

Shapes: q (B, N, Lq, d), k (B, N, Lk, d), v (B, N, Lk, d) → (B, N, Lq, d); modules take (B, L, D).
Simplified compared with the paper: no dropout, no causal mask (nothing here generates tokens one by one).
"""
from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn


def scaled_dot_product_attention(q, k, v, key_padding_mask=None):
    """softmax(Q·Kᵀ/√d)·V from scratch. q (B, N, Lq, d), k and v (B, N, Lk, d), mask (B, Lk) → (B, N, Lq, d)."""
    weights = attention_weights(q, k, key_padding_mask)  # (B, N, Lq, Lk)
    return weights @ v  # (B, N, Lq, d)


def attention_weights(q, k, key_padding_mask=None):
    """The softmax part of attention: how much each query looks at each key. → (B, N, Lq, Lk), rows sum to 1
    (or to 0 for a query whose keys are all padding)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, N, Lq, Lk)
    if key_padding_mask is None:
        return scores.softmax(dim=-1)
    real = key_padding_mask[:, None, None, :]  # (B, 1, 1, Lk)
    scores = scores.masked_fill(~real, float("-inf"))
    weights = scores.softmax(dim=-1)  # rows of all −∞ give NaN here ...
    return torch.where(real.any(dim=-1, keepdim=True), weights, 0.0)  # ... and are set to 0 here


def rotary(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE (RoFormer eq. 34): rotate the channel pairs (x_2i, x_2i+1) of x (B, N, L, d) by positions (B, L)
    (floats allowed) × θ_i, θ_i = base^(−2i/d). Position 0 leaves a token unchanged."""
    d = x.shape[-1]
    dtype = torch.float64 if x.dtype == torch.float64 else torch.float32  # angles never in half precision
    theta = base ** (-torch.arange(0, d, 2, device=x.device, dtype=dtype) / d)  # (d/2,)
    angle = positions.to(dtype)[:, None, :, None] * theta  # (B, 1, L, d/2)
    cos, sin = angle.cos().to(x.dtype), angle.sin().to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]  # (B, N, L, d/2) each
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # (B, N, L, d/2, 2)
    return rotated.flatten(-2)  # (B, N, L, d), pairs interleaved back in place


class MultiHeadAttention(nn.Module):
    """Self-attention (``context=None``) or cross-attention to ``context`` (B, Lk, context_dim).

    ``fast=True`` calls ``torch.nn.functional.scaled_dot_product_attention`` (fused, the same maths);
    ``fast=False`` calls the from-scratch function above — tests use it as the reference.
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, fast: bool = True):
        super().__init__()
        if dim % heads != 0:
            raise ValueError(f"dim must be divisible by heads, got dim={dim}, heads={heads}")
        self.heads, self.fast = heads, fast
        context_dim = context_dim or dim
        self.to_q = nn.Linear(dim, dim, bias=False)
        self.to_k = nn.Linear(context_dim, dim, bias=False)
        self.to_v = nn.Linear(context_dim, dim, bias=False)
        self.to_out = nn.Linear(dim, dim)

    def split_heads(self, x):
        B, L, D = x.shape
        return x.view(B, L, self.heads, D // self.heads).transpose(1, 2)  # (B, N, L, d)

    def qkv(self, x, context=None, positions=None):
        context = x if context is None else context
        q, k, v = self.split_heads(self.to_q(x)), self.split_heads(self.to_k(context)), self.split_heads(self.to_v(context))
        if positions is not None:  # self-attention with rotary positions (B, L)
            q, k = rotary(q, positions), rotary(k, positions)
        return q, k, v

    def forward(self, x, context=None, key_padding_mask=None, positions=None):
        """x (B, Lq, dim), context (B, Lk, context_dim) or None, key_padding_mask (B, Lk) bool, positions (B, L)
        for rotary self-attention or None → (B, Lq, dim)."""
        q, k, v = self.qkv(x, context, positions)  # (B, N, L, d) each
        if self.fast:
            mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]  # (B, 1, 1, Lk)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        else:
            out = scaled_dot_product_attention(q, k, v, key_padding_mask)  # (B, N, Lq, d)
        out = out.transpose(1, 2).flatten(2)  # (B, Lq, dim)
        return self.to_out(out)

    @torch.no_grad()
    def weights(self, x, context=None, key_padding_mask=None, positions=None):
        """The attention maps themselves (for figures): (B, N, Lq, Lk)."""
        q, k, _ = self.qkv(x, context, positions)
        return attention_weights(q, k, key_padding_mask)


class TransformerBlock(nn.Module):
    """Pre-norm transformer block (as in GPT-2 and Stable Diffusion's BasicTransformerBlock):

        x = x + SelfAttention(LN(x))
        x = x + CrossAttention(LN(x), context)      (only when context_dim is given)
        x = x + MLP(LN(x))                          MLP = Linear(D, r·D) → GELU → Linear(r·D, D)
    """

    def __init__(self, dim: int, heads: int, context_dim: int | None = None, mlp_ratio: int = 4):
        super().__init__()
        self.norm1, self.self_attn = nn.LayerNorm(dim), MultiHeadAttention(dim, heads)
        self.cross_attn = None
        if context_dim is not None:
            self.norm2, self.cross_attn = nn.LayerNorm(dim), MultiHeadAttention(dim, heads, context_dim)
        self.norm3 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_ratio * dim), nn.GELU(), nn.Linear(mlp_ratio * dim, dim))

    def forward(self, x, mask=None, context=None, context_mask=None, positions=None):
        """x (B, L, D), mask (B, L) bool for self-attention, context (B, Lk, Dc), context_mask (B, Lk), positions
        (B, L) rotary positions of the self-attention or None → (B, L, D)."""
        x = x + self.self_attn(self.norm1(x), key_padding_mask=mask, positions=positions)
        if self.cross_attn is not None:
            x = x + self.cross_attn(self.norm2(x), context, key_padding_mask=context_mask)
        return x + self.mlp(self.norm3(x))


@contextlib.contextmanager
def record_attention(model: nn.Module):
    """Within ``with record_attention(model) as maps:``, every forward pass through a MultiHeadAttention
    inside ``model`` stores its attention weights (B, N, Lq, Lk) in ``maps[module name]`` (for figures)."""
    maps, hooks = {}, []
    for name, module in model.named_modules():
        if isinstance(module, MultiHeadAttention):
            def grab(module, args, kwargs, output, name=name):
                maps[name] = module.weights(*args, **kwargs)  # same arguments as forward
            hooks.append(module.register_forward_hook(grab, with_kwargs=True))
    try:
        yield maps
    finally:
        for hook in hooks:
            hook.remove()

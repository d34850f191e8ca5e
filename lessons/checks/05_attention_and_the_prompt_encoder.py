"""Checks for lesson 05's exercises: attention with a padding mask, splitting heads, quoted-span positions."""
from __future__ import annotations

import torch

from minigptimage.attention import MultiHeadAttention, scaled_dot_product_attention
from minigptimage.encoder import text_positions

from .calling import call
from .compare import comparable, compare


def check_attention(fn) -> str | None:
    g = torch.Generator().manual_seed(1)
    q, k, v = (torch.randn(2, 3, L, 8, generator=g, dtype=torch.float64) for L in (4, 6, 6))
    key_mask = torch.tensor([[True] * 6, [True] * 2 + [False] * 4])  # the second prompt has 4 padding keys
    want = scaled_dot_product_attention(q, k, v, key_mask)
    got = call(fn, q.clone(), k.clone(), v.clone(), key_mask.clone())
    problem = compare(got, want, "your attention output", atol=1e-6,
                      where=lambda i: f"for batch item {i[0]}, head {i[1]}, query {i[2]}"
                      + (" (this item has padded keys: are they masked?)" if i[0] == 1 else ""))
    if problem and comparable(got, want):
        unscaled = torch.softmax((q @ k.transpose(-2, -1)).masked_fill(~key_mask[:, None, None], float("-inf")), -1) @ v
        if torch.allclose(got, unscaled, atol=1e-6):
            return problem + " — divide the scores by √d (d = the last dimension of q) before the softmax"
    return problem


def check_split_heads(fn) -> str | None:
    g = torch.Generator().manual_seed(2)
    x = torch.randn(2, 5, 12, generator=g)  # (B, L, D)
    module = MultiHeadAttention(12, 3)
    want = module.split_heads(x)  # (B, N, L, d)
    got = call(fn, x.clone(), 3)
    problem = compare(got, want, "your heads", where=lambda i: f"for item {i[0]}, head {i[1]}, token {i[2]}, "
                      f"channel {i[3]} of the head")
    if problem and comparable(got, want):
        wrong = x.view(2, 5, 4, 3).permute(0, 3, 1, 2)  # channels dealt out to heads round-robin
        if torch.equal(got, wrong):
            return problem + " — head h should take the contiguous channels h·d … (h+1)·d − 1: view (B, L, N, d)"
    return problem


def check_text_positions(fn) -> str | None:
    quoted = torch.tensor([[False, False, True, True, True, False, False, False],
                           [False, True, True, True, True, True, True, False],
                           [False] * 8])
    want = text_positions(quoted)
    got = call(fn, quoted.clone())
    problem = compare(got, want, "your positions", where=lambda i: f"for row {i[0]}, token {i[1]}"
                      + (" (inside the quotes)" if bool(quoted[i[0], i[1]]) else ""))
    if problem and comparable(got, want) and torch.allclose(got, want + (
            1.0 / quoted.sum(1, keepdim=True).clamp(min=1)).where(quoted, torch.ones(()))):
        return problem + " — a token's position counts the steps *before* it: the first token is at 0"
    return problem

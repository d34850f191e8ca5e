"""Checks for lesson 06's exercises: the timestep embedding, AdaGN (FiLM after a GroupNorm), the pooled prompt."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from minigptimage.unet import timestep_embedding

from .calling import call
from .compare import comparable, compare


def check_timestep_embedding(fn) -> str | None:
    t = torch.tensor([0, 1, 10, 250, 999])
    for dim in (8, 32):
        want = timestep_embedding(t, dim)
        got = call(fn, t.clone(), dim)
        if comparable(got, want) and torch.allclose(
                got, torch.cat([want[:, dim // 2:], want[:, :dim // 2]], 1), atol=1e-5):
            return f"for dim = {dim}: your halves are swapped — the cosines come first, then the sines"
        problem = compare(got, want, f"your embedding (dim = {dim})", atol=1e-4,
                          where=lambda i, dim=dim: f"at t = {int(t[i[0]])}, column {i[1]} "
                          f"({'cos' if i[1] < dim // 2 else 'sin'} of frequency index {i[1] % (dim // 2)})")
        if problem:
            return problem
    return None


def check_adagn(fn) -> str | None:
    g = torch.Generator().manual_seed(1)
    h = torch.randn(2, 8, 4, 4, generator=g) * 3 + 1  # (B, C, h, w)
    gamma, beta = torch.randn(2, 8, 1, 1, generator=g), torch.randn(2, 8, 1, 1, generator=g)
    want = F.group_norm(h, 4) * (1 + gamma) + beta
    got = call(fn, h.clone(), gamma.clone(), beta.clone(), 4)
    problem = compare(got, want, "your AdaGN output", atol=1e-4,
                      where=lambda i: f"for item {i[0]}, channel {i[1]} (group {i[1] // 2} of 4)")
    if problem and comparable(got, want):
        if torch.allclose(got, F.group_norm(h, 4) * gamma + beta, atol=1e-4):
            return problem + " — the scale is (1 + γ), so that γ = 0 leaves the normalised features unchanged"
        if torch.allclose(got, h * (1 + gamma) + beta, atol=1e-4):
            return problem + " — normalise first: F.group_norm(h, groups), then scale and shift"
    return problem


def check_pooled_context(fn) -> str | None:
    g = torch.Generator().manual_seed(2)
    context = torch.randn(3, 6, 5, generator=g)  # (B, L, D)
    mask = torch.tensor([[True] * 6, [True] * 3 + [False] * 3, [True] + [False] * 5])
    keep = mask[..., None].float()
    want = (context * keep).sum(1) / keep.sum(1)
    got = call(fn, context.clone(), mask.clone())
    problem = compare(got, want, "your pooled prompt", atol=1e-5, where=lambda i: f"for prompt {i[0]}, feature {i[1]}")
    if problem and comparable(got, want) and torch.allclose(got, context.mean(1)):
        return problem + " — padding tokens were averaged in: average only where context_mask is True"
    return problem

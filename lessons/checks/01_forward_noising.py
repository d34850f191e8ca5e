"""Checks for lesson 01's exercises: ᾱ_t from the betas, the closed-form q_sample, the posterior variance β̃_t."""
from __future__ import annotations

import torch

from minigptimage.schedule import NoiseSchedule

from .calling import call
from .compare import comparable, compare


def _betas(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(50, generator=g, dtype=torch.float64) * 0.05 + 1e-3  # (50,) random betas in (0.001, 0.051)


def check_alpha_bar(fn) -> str | None:
    betas = _betas(1)
    want = NoiseSchedule(betas).alphas_cumprod
    got = call(fn, betas.clone())
    problem = compare(got, want, "your ᾱ", where=lambda i: f"at t = {i[0]}")
    if problem and comparable(got, want):
        if torch.allclose(got.to(want), torch.cumprod(betas, 0)):
            return problem + " — ᾱ_t is the product of the α_s = 1 − β_s, not of the β_s"
        if torch.allclose(got[1:].to(want), want[:-1]):
            return problem + " — your values are shifted by one step: ᾱ_0 = α_0 = 1 − β_0 already"
    return problem


def check_q_sample(fn) -> str | None:
    schedule = NoiseSchedule.linear(1000)
    g = torch.Generator().manual_seed(2)
    x0 = torch.rand(6, 3, 8, 8, generator=g) * 2 - 1  # (B, C, H, W) in [-1, 1]
    noise = torch.randn(6, 3, 8, 8, generator=g)
    t = torch.tensor([0, 1, 50, 300, 700, 999])
    want = schedule.q_sample(x0, t, noise=noise)
    got = call(fn, x0.clone(), t.clone(), noise.clone(), schedule.alphas_cumprod.clone())
    problem = compare(got, want, "your x_t", where=lambda i: f"for item {i[0]} (t = {int(t[i[0]])})")
    if problem and comparable(got, want):
        ab = schedule.alphas_cumprod[t].reshape(-1, 1, 1, 1).float()
        if torch.allclose(got.float(), ab * x0 + (1 - ab) * noise, atol=1e-5):
            return problem + " — the coefficients are square roots: √ᾱ_t and √(1 − ᾱ_t)"
    return problem


def check_posterior_variance(fn) -> str | None:
    betas = _betas(3)
    schedule = NoiseSchedule(betas)
    want = schedule.posterior_variance
    got = call(fn, betas.clone(), schedule.alphas_cumprod.clone())
    problem = compare(got, want, "your β̃", where=lambda i: f"at t = {i[0]}")
    if problem and comparable(got, want) and torch.allclose(got[1:], want[1:]):
        return problem + " — only t = 0 is off: take ᾱ of 'the step before 0' to be 1, so β̃_0 = 0"
    return problem

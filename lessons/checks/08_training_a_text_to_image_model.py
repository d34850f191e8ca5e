"""Checks for lesson 08's exercises: the v target, x̂₀ from v̂, one EMA update."""
from __future__ import annotations

import torch

from minigptimage.schedule import NoiseSchedule

from .calling import call
from .compare import comparable, compare

TIMESTEPS = torch.tensor([0, 1, 100, 500, 900, 999])  # one per item: both ends of the schedule and between


def _latents(seed: int):
    g = torch.Generator().manual_seed(seed)
    x0 = torch.randn(6, 4, 8, 8, generator=g)    # (B, C, h, w), unit-variance latents
    noise = torch.randn(6, 4, 8, 8, generator=g)
    return x0, noise


def _where(index) -> str:
    return f"for item {index[0]} (t = {int(TIMESTEPS[index[0]])})"


def check_v_target(fn) -> str | None:
    schedule = NoiseSchedule.cosine(1000)
    x0, noise = _latents(8)
    want = schedule.get_v(x0, noise, TIMESTEPS)
    got = call(fn, x0.clone(), noise.clone(), TIMESTEPS.clone(), schedule.alphas_cumprod.clone())
    problem = compare(got, want, "your v", where=_where)
    if problem and comparable(got, want):
        if torch.allclose(got.float(), schedule.get_v(noise, x0, TIMESTEPS), atol=1e-5):
            return problem + " — x₀ and ε are swapped: v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ (ε goes with √ᾱ_t)"
        if torch.allclose(got.float(), -want, atol=1e-5):
            return problem + " — the sign is flipped: v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀"
        ab = schedule.alphas_cumprod[TIMESTEPS].reshape(-1, 1, 1, 1).float()
        if torch.allclose(got.float(), ab * noise - (1 - ab) * x0, atol=1e-5):
            return problem + " — the coefficients are square roots: √ᾱ_t and √(1 − ᾱ_t)"
    return problem


def check_x0_from_v(fn) -> str | None:
    schedule = NoiseSchedule.cosine(1000)
    x0, noise = _latents(9)
    x_t = schedule.q_sample(x0, TIMESTEPS, noise=noise)
    v = schedule.get_v(x0, noise, TIMESTEPS) + 0.1 * torch.randn(x0.shape, generator=torch.Generator().manual_seed(1))
    want = schedule.v_to_x0(v, x_t, TIMESTEPS)  # a network's v̂ is never exact: x̂₀ then differs from x₀
    got = call(fn, v.clone(), x_t.clone(), TIMESTEPS.clone(), schedule.alphas_cumprod.clone())
    problem = compare(got, want, "your x̂₀", where=_where)
    if problem and comparable(got, want):
        ab = schedule.alphas_cumprod[TIMESTEPS].reshape(-1, 1, 1, 1).float()
        if torch.allclose(got.float(), (1 - ab).sqrt() * x_t + ab.sqrt() * v, atol=1e-4):
            return problem + " — that is ε̂ = √(1−ᾱ)·x_t + √ᾱ·v̂; x̂₀ is √ᾱ·x_t − √(1−ᾱ)·v̂"
    return problem


def check_ema_update(fn) -> str | None:
    g = torch.Generator().manual_seed(10)
    ema = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]
    params = [torch.randn(3, 4, generator=g), torch.randn(5, generator=g)]
    before = [p.clone() for p in ema + params]  # what the inputs hold before the call
    got = call(fn, ema, params, 0.9)  # the tensors themselves: an in-place update shows in them afterwards
    if any(not torch.equal(a, b) for a, b in zip(before, ema + params)):
        return ("your function changed its inputs (an in-place update such as mul_, add_, lerp_ or copy_, or "
                "`e *= decay`): return new tensors and leave ema_params and params as they were")
    ema, params = before[:2], before[2:]
    if not isinstance(got, (list, tuple)) or len(got) != len(ema):
        return f"return a list of {len(ema)} tensors, one per parameter; got {type(got).__name__}"
    for k, (g_k, e, p) in enumerate(zip(got, ema, params)):
        problem = compare(g_k, e.lerp(p, 1 - 0.9), f"your averaged parameter {k} (decay 0.9)")
        if problem:
            if comparable(g_k, e) and torch.allclose(g_k, e.lerp(p, 0.9)):
                return problem + " — decay and 1 − decay are swapped: the average should keep 90% of θ_ema"
            return problem
    return None

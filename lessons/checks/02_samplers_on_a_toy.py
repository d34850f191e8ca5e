"""Checks for lesson 02's exercises: the DDIM timesteps, one DDIM step, the ELBO weight, ε̂ from x̂₀."""
from __future__ import annotations

import torch

from minigptimage.samplers import DDIMSampler
from minigptimage.schedule import NoiseSchedule

from .calling import call
from .compare import compare


def check_timesteps(fn) -> str | None:
    for T, n in ((1000, 20), (1000, 5), (1000, 3), (1000, 7), (100, 100), (10, 1)):
        for spacing in ("leading", "trailing"):
            want = DDIMSampler(NoiseSchedule.linear(T), n, spacing=spacing).timesteps.tolist()
            got = call(fn, T, n, spacing)
            got = got.tolist() if isinstance(got, torch.Tensor) else list(got)
            if len(got) != len(want):
                return f"for T = {T}, n = {n}, {spacing}: you gave {len(got)} timesteps, expected {n}"
            if [int(t) for t in got] != want:
                if sorted(int(t) for t in got) == sorted(want):
                    return f"for T = {T}, n = {n}, {spacing}: right timesteps, wrong order — DDIM visits them descending"
                return f"for T = {T}, n = {n}, {spacing}: you gave {got[:6]}…, expected {want[:6]}…"
    return None


def _step_inputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    schedule = NoiseSchedule.cosine(1000)
    t = torch.tensor([999, 700, 400, 100, 20, 0])
    t_prev = t - 50
    ab = schedule.alphas_cumprod[t].float()[:, None]  # (B, 1)
    ab_prev = torch.where(t_prev >= 0, schedule.alphas_cumprod[t_prev.clamp(min=0)], 1.0).float()[:, None]
    a, b = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    return schedule, t, ab, ab_prev, a, b


def check_ddim_step(fn) -> str | None:
    schedule, t, ab, ab_prev, eps_pred, x_t = _step_inputs(1)
    want = DDIMSampler(schedule, 20).step(eps_pred, t, x_t)  # T//n = 50, as t_prev above
    got = call(fn, eps_pred.clone(), x_t.clone(), ab.clone(), ab_prev.clone())
    return compare(got, want, "your x_{t'}", atol=1e-4,
                   where=lambda i: f"for the step from t = {int(t[i[0]])} to t' = {int(t[i[0]]) - 50}"
                   + (" (ᾱ_{t'} = 1: you land on x₀ itself)" if int(t[i[0]]) < 50 else ""))


def check_elbo_weight(fn) -> str | None:
    schedule = NoiseSchedule.linear(1000)
    t = torch.arange(1, 1000)
    want = schedule.betas[t] ** 2 / (2 * schedule.posterior_variance[t] * schedule.alphas[t]
                                      * (1 - schedule.alphas_cumprod[t]))  # DDPM eq. (12)
    got = call(fn, schedule.betas.clone(), schedule.alphas_cumprod.clone())
    if isinstance(got, torch.Tensor) and got.shape == (1000,):
        return "your λ has 1000 values; expected 999, for t = 1 … 999 (λ_0 is infinite, since β̃_0 = 0)"
    return compare(got, want, "your λ", where=lambda i: f"at t = {i[0] + 1}")


def check_eps_from_x0(fn) -> str | None:
    schedule, t, ab, _, x0_pred, x_t = _step_inputs(3)
    t, ab, x0_pred, x_t = t[:-1], ab[:-1], x0_pred[:-1], x_t[:-1]  # not t = 0, where √(1−ᾱ_0) is tiny
    want = schedule.x0_to_eps(x0_pred, x_t, t)
    got = call(fn, x0_pred.clone(), x_t.clone(), ab.clone())
    return compare(got, want, "your ε̂", atol=1e-4, rtol=1e-3,
                   where=lambda i: f"at t = {int(t[i[0]])} (ᾱ = {float(ab[i[0]]):.3g})")

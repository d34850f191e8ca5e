"""Checks for lesson 10's exercises: a DDIM step from v̂, DDIM's σ_t(η), the step with η > 0."""
from __future__ import annotations

import torch

from minigptimage.samplers import DDIMSampler
from minigptimage.schedule import NoiseSchedule

from .calling import call
from .compare import comparable, compare


def check_ddim_step(fn) -> str | None:
    schedule = NoiseSchedule.cosine(1000)
    sampler = DDIMSampler(schedule, 20, spacing="trailing", prediction="v")
    g = torch.Generator().manual_seed(12)
    for t in (999, 499, 49, 19):  # 19 - 50 < 0: the last step lands on x₀ itself (ᾱ_prev = 1)
        x_t = torch.randn(3, 4, 8, 8, generator=g)      # (B, C, h, w)
        v_pred = torch.randn(3, 4, 8, 8, generator=g)
        t_prev = t - sampler.step_ratio
        alpha_bar = float(schedule.alphas_cumprod[t])
        alpha_bar_prev = float(schedule.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
        want = sampler.step(v_pred, t, x_t)
        got = call(fn, v_pred.clone(), x_t.clone(), alpha_bar, alpha_bar_prev)
        problem = compare(got, want, f"your x_prev for the step t = {t} -> {t_prev}", atol=1e-4)
        if problem:
            if comparable(got, want):
                x0 = alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * v_pred
                if torch.allclose(got, x0, atol=1e-4):
                    return problem + " — that is x̂₀; re-noise it to ᾱ_prev: √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε̂"
                eps_as_v = alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * v_pred
                if torch.allclose(got, eps_as_v, atol=1e-4):
                    return problem + " — the network gives v̂, not ε̂: ε̂ = √(1−ᾱ_t)·x_t + √ᾱ_t·v̂"
            return problem
    return None


def check_ddim_sigma(fn) -> str | None:
    schedule = NoiseSchedule.cosine(1000)
    t = torch.tensor([999, 700, 300, 60])
    for ratio in (1, 50):  # no skipping (n = T), then DDIM with 20 steps
        t_prev = t - ratio
        ab, ab_prev = schedule.alphas_cumprod[t], schedule.alphas_cumprod[t_prev]
        for eta in (0.0, 0.5, 1.0):
            want = eta * ((1 - ab_prev) / (1 - ab) * (1 - ab / ab_prev)).sqrt()
            got = call(fn, ab.clone(), ab_prev.clone(), eta)
            problem = compare(got, want, f"your σ with η = {eta:g} and steps of {ratio}",
                              where=lambda i: f"at t = {int(t[i[0]])}")
            if problem:
                if comparable(got, want) and \
                        torch.allclose(got.double(), eta * (1 - ab / ab_prev).sqrt()):
                    return problem + " — the factor √((1−ᾱ_prev)/(1−ᾱ_t)) is missing"
                return problem
    return None


def check_ddim_step_eta(fn) -> str | None:
    schedule = NoiseSchedule.cosine(1000)
    g = torch.Generator().manual_seed(22)
    for eta in (0.0, 0.5, 1.0):
        sampler = DDIMSampler(schedule, 20, eta=eta, spacing="trailing", prediction="v")
        for t in (999, 449, 19):
            x_t, v_pred, noise = (torch.randn(2, 4, 8, 8, generator=g) for _ in range(3))
            t_prev = t - sampler.step_ratio
            alpha_bar = float(schedule.alphas_cumprod[t])
            alpha_bar_prev = float(schedule.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
            want = sampler.step(v_pred, t, x_t, noise=noise)
            got = call(fn, v_pred.clone(), x_t.clone(), alpha_bar, alpha_bar_prev, eta, noise.clone())
            problem = compare(got, want, f"your x_prev with η = {eta:g} for the step t = {t} -> {t_prev}", atol=1e-4)
            if problem:
                if eta > 0 and comparable(got, want):
                    x0 = alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * v_pred
                    eps = (1 - alpha_bar) ** 0.5 * x_t + alpha_bar ** 0.5 * v_pred
                    sigma = eta * ((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)) ** 0.5
                    plain = alpha_bar_prev ** 0.5 * x0 + (1 - alpha_bar_prev) ** 0.5 * eps + sigma * noise
                    if torch.allclose(got, plain, atol=1e-4):
                        return problem + " — with noise added, shrink ε̂'s coefficient to √(1 − ᾱ_prev − σ²)"
                return problem
    return None

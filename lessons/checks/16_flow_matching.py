"""Checks for lesson 16's exercises: the velocity target, one Euler step, SD3's shift of σ."""
from __future__ import annotations

import torch

from minigptimage.flow import flow_sigmas, flow_velocity_target, shift_sigma
from minigptimage.samplers import FlowEulerSampler

from .calling import call
from .compare import comparable, compare


def check_velocity_target(fn) -> str | None:
    g = torch.Generator().manual_seed(16)
    x0, noise = torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)  # (B, C, h, w)
    want = flow_velocity_target(x0, noise)
    got = call(fn, x0.clone(), noise.clone())
    problem = compare(got, want, "your velocity")
    if problem and comparable(got, want) and torch.allclose(got, -want, atol=1e-5):
        return problem + (" — the sign is flipped: x₀ − ε is the velocity of a path with the noise at t = 0 "
                          "(Liu et al., Lipman et al.); here the noise is at t = 1, so dx_t/dt = ε − x₀")
    return problem


def check_euler_step(fn) -> str | None:
    g = torch.Generator().manual_seed(17)
    sampler = FlowEulerSampler(5, shift=3.0)
    sigmas = sampler.sigmas.tolist()
    for i in range(len(sigmas) - 1):
        x, v = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)  # (B, d)
        want = sampler.step(v, i, x)
        got = call(fn, x.clone(), v.clone(), sigmas[i], sigmas[i + 1])
        where = f"for the step from σ = {sigmas[i]:.3f} to {sigmas[i + 1]:.3f}"
        problem = compare(got, want, "your x at σ_next", where=lambda index: where)
        if problem:
            if comparable(got, want) and torch.allclose(got, x + (sigmas[i] - sigmas[i + 1]) * v, atol=1e-5):
                return problem + (" — you stepped toward the noise: σ falls during sampling, so the step is "
                                  "(σ_next − σ)·v, a negative multiple of v")
            return problem
    return None


def check_shift(fn) -> str | None:
    sigma = torch.linspace(0, 1, 11, dtype=torch.float64)  # (11,), both ends included
    for shift in (3.0, 1.0, 0.5):
        got = call(fn, sigma.clone(), shift)
        problem = compare(got, shift_sigma(sigma, shift), f"your shifted σ at α = {shift:g}",
                          where=lambda index: f"at σ = {float(sigma[index[0]]):.1f}")
        if problem:
            if comparable(got, sigma) and float(got[-1]) != 1:
                return problem + " — the shift must map σ = 1 to 1 (check the (α − 1) in the denominator)"
            return problem
    grid = call(fn, torch.linspace(1, 0.2, 5, dtype=torch.float64), 3.0)  # the 5-step grid before its 0
    return compare(grid.float(), flow_sigmas(5, 3.0)[:-1], "your shifted 5-step grid", atol=1e-5)

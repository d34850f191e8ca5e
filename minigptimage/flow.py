"""Flow matching (rectified flow): the straight path between data and noise, its velocity, and SD3's shift of σ.

The path, on latents (Liu et al. 2022, arXiv 2209.03003, eq. 1; Lipman et al. 2022, arXiv 2210.02747, sec. 4.1
with σ_min = 0; Esser et al. 2024 "SD3", arXiv 2403.03206, eq. 1–4 with a_t = 1 − t, b_t = t, sec. 3.1):

    x_t = (1 − t)·x₀ + t·ε,     t ∈ [0, 1],  ε ~ N(0, I)         data at t = 0, noise at t = 1
    u = dx_t/dt = ε − x₀                                        the velocity: constant along each path
    v_θ(x_t, t) ≈ E[ε − x₀ | x_t]                               what the network learns (``objective.flow_loss``)

A network that predicts v̂ at x_t also predicts the two ends:  x̂₀ = x_t − t·v̂  and  ε̂ = x_t + (1 − t)·v̂.
Sampling integrates dx/dσ = v_θ(x, σ) from σ = 1 (pure noise) down to σ = 0 (``samplers.FlowEulerSampler``,
``FlowHeunSampler``). σ is the same number as t: diffusers and the samplers call it σ, the objective calls it t.
The U-Net reads σ·T as its timestep (T = the DDPM schedule's length, 1000), as diffusers' SD3 pipelines do, so
its sinusoidal embedding sees the same range of numbers under both objectives.

Which end is noise differs between codebases — read each with its own convention:
    noise at t = 1, data at t = 0, velocity ε − x₀: this code, SD3 (Esser et al. eq. 3), diffusers' FlowMatch
        schedulers, minRF;
    noise at t = 0, data at t = 1, velocity x₁ − x₀ = data − noise: Liu et al. (X₀ ~ π₀ is the noise), Lipman
        et al. (p₀ is the noise), facebookresearch/flow_matching, torchcfm, rectified-flow-pytorch.
The second is the first read backwards (t ↦ 1 − t): its velocity is the negative of ours and it samples t upward.

SD3's timestep shift (Esser et al. eq. 23, written on σ): σ' = s·σ / (1 + (s − 1)·σ). It maps 0 → 0 and 1 → 1,
is increasing, and for s > 1 spends more of a grid (or of the training draws) near the noise.

Equation -> function: the path -> ``flow_interpolate``; u -> ``flow_velocity_target``; x̂₀ -> ``flow_x0``; the
path from σ up to σ' given x₀ -> ``flow_renoise``; eq. 23 -> ``shift_sigma``; the sampling grid -> ``flow_sigmas``.
Shapes: x₀, ε, x_t, v (B, …), e.g. latents (B, C, h, w); t a number or (B,).
"""
from __future__ import annotations

import numbers

import torch


def _at(t, x: torch.Tensor):
    """t (a number, a 0-d or a (B,) tensor) ready to multiply x (B, …): (B, 1, …, 1) in x's dtype and device."""
    if isinstance(t, torch.Tensor):
        t = t.to(x.device, x.dtype)
        return t.reshape(-1, *([1] * (x.dim() - 1))) if t.dim() == 1 else t
    return t


def flow_interpolate(x0: torch.Tensor, noise: torch.Tensor, t) -> torch.Tensor:
    """x_t = (1 − t)·x₀ + t·ε (SD3 eq. 3 with a_t = 1 − t, b_t = t); x0 and noise (B, …), t a number or (B,)."""
    t = _at(t, x0)
    return (1 - t) * x0 + t * noise


def flow_velocity_target(x0: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """u = dx_t/dt = ε − x₀: the regression target of the flow loss (the same at every t of a path)."""
    return noise - x0


def flow_x0(x_t: torch.Tensor, v: torch.Tensor, t) -> torch.Tensor:
    """x̂₀ = x_t − t·v̂: where the straight line through x_t with velocity v̂ meets t = 0."""
    return x_t - _at(t, x_t) * v


def flow_renoise(x: torch.Tensor, sigma_from: float, sigma_to: float, noise: torch.Tensor) -> torch.Tensor:
    """x at σ_from moved up the path to σ_to ≥ σ_from (σ_from < 1), as the forward process would move it:
        x_to = a·x + √(σ_to² − a²·σ_from²)·ε,   a = (1 − σ_to)/(1 − σ_from)
    For x = (1 − σ_from)·x₀ + σ_from·ε₁ this is (1 − σ_to)·x₀ + noise of standard deviation σ_to: a fresh draw of
    the path at σ_to given x₀ (RePaint's resampling jump, editing.flow_repaint)."""
    a = (1 - sigma_to) / (1 - sigma_from)
    return a * x + max(sigma_to**2 - (a * sigma_from) ** 2, 0.0) ** 0.5 * noise


def shift_sigma(sigma, shift: float):
    """σ' = s·σ / (1 + (s − 1)·σ), SD3 eq. 23 on σ (s = ``shift`` > 0; s = 1 leaves σ as it is)."""
    return shift * sigma / (1 + (shift - 1) * sigma)


def flow_sigmas(num_inference_steps: int, shift: float = 1.0) -> torch.Tensor:
    """The σ grid of n steps: σ_i = shift(1 − i/n) for i = 0 … n, i.e. n values from 1 to 1/n spaced 1/n apart,
    each shifted (SD3 eq. 23), then 0 appended → (n+1,) float32, descending. This is diffusers'
    FlowMatchEulerDiscreteScheduler after ``set_timesteps(sigmas=linspace(1, 1/n, n))``, as its FLUX pipeline
    calls it; with ``use_dynamic_shifting`` (and only then) its ``mu`` sets the shift, s = e^mu. Its default
    grid (``set_timesteps(n)``, SD3's pipeline) runs instead from 1 to the smallest training σ, 1/T, shifted
    twice, so its last step before 0 is tiny: a 2-step Euler sample there is nearly a 1-step one."""
    if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, numbers.Integral) \
            or num_inference_steps < 1:
        raise ValueError(f"num_inference_steps must be an int >= 1, got {num_inference_steps!r}")
    if isinstance(shift, bool) or not isinstance(shift, numbers.Real) or not 0 < shift < float("inf"):
        raise ValueError(f"shift must be a finite number > 0, got {shift!r}")
    n = int(num_inference_steps)
    grid = torch.linspace(1.0, 1 / n, n, dtype=torch.float64)  # (n,): 1, 1 − 1/n, …, 1/n
    sigmas = shift_sigma(grid, shift).to(torch.float32)       # (n,)
    return torch.cat([sigmas, torch.zeros(1)])                # (n+1,), …, 0

"""The forward (noising) process of a diffusion model: a fixed Markov chain that dissolves data into noise.

Papers
    DDPM — Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models", arXiv 2006.11239
    improved DDPM — Nichol & Dhariwal 2021, arXiv 2102.09672 (cosine schedule, eq. 17)
    v-prediction — Salimans & Ho 2022, "Progressive Distillation", arXiv 2202.00512 (section 4)

The chain, with timesteps t = 0 … T−1 counted from 0 as in diffusers (the clean data x₀ is the state
*before* step 0, so ᾱ of "the step before 0" is 1):

    DDPM eq. (2)   q(x_t | x_{t−1}) = N(√(1−β_t)·x_{t−1}, β_t·I)                       -> q_step
    DDPM eq. (4)   q(x_t | x₀)      = N(√ᾱ_t·x₀, (1−ᾱ_t)·I),  α_t = 1−β_t, ᾱ_t = ∏_{s≤t} α_s  -> q_sample
    DDPM eq. (6-7) q(x_{t−1} | x_t, x₀) = N(μ̃_t, β̃_t·I)                                   -> q_posterior
                   μ̃_t = √ᾱ_{t−1}·β_t/(1−ᾱ_t)·x₀ + √α_t·(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t
                   β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t          (β̃_0 = 0: at t = 0 the "previous" state is x₀)

A network can be trained to predict ε (DDPM), x₀, or v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ (Salimans & Ho); since
x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, any one of them plus x_t gives the other two (the conversions below).

Shapes: x₀, x_t, ε, v are any (B, …) tensors, e.g. images (B, C, H, W). A timestep t is a Python int, a
0-d tensor or a (B,) tensor; its coefficients are broadcast over the remaining dims.

Precision: the schedule's tensors are stored in float64 on the CPU (ᾱ_t of the cosine schedule reaches ~1e-9,
and a float32 cumulative product drifts by ~1e-6). They never travel as float64: a method indexes them on the
CPU, casts the few values it needs to the dtype of its tensor input, and only then moves them to that input's
device — so float32 models see float32 numbers, and Apple's MPS (which has no float64) works. If you index the
attributes yourself, do the same: `schedule.alphas_cumprod[t].to(x.dtype).to(x.device)`.
Simplified: no "zero terminal SNR" rescaling, no scaled-linear or learned-variance schedules.
"""
from __future__ import annotations

import math
import numbers

import torch

PREDICTIONS = ("epsilon", "v", "x0")


def predict_x0_and_eps(model_output: torch.Tensor, x_t: torch.Tensor, alpha_bar: torch.Tensor,
                       prediction: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(x̂₀, ε̂) from a network output, given ᾱ already broadcast to x_t (a tensor or a float)."""
    if prediction == "epsilon":   # x₀ = (x_t − √(1−ᾱ)·ε)/√ᾱ
        eps = model_output
        x0 = (x_t - (1 - alpha_bar) ** 0.5 * eps) / alpha_bar ** 0.5
    elif prediction == "v":       # x₀ = √ᾱ·x_t − √(1−ᾱ)·v,  ε = √(1−ᾱ)·x_t + √ᾱ·v
        x0 = alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * model_output
        eps = (1 - alpha_bar) ** 0.5 * x_t + alpha_bar ** 0.5 * model_output
    elif prediction == "x0":      # ε = (x_t − √ᾱ·x₀)/√(1−ᾱ)
        x0 = model_output
        eps = (x_t - alpha_bar ** 0.5 * x0) / (1 - alpha_bar) ** 0.5
    else:
        raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
    return x0, eps


class NoiseSchedule:
    """β_1…β_T and everything derived from them; the forward process and its posterior."""

    def __init__(self, betas):
        betas = torch.as_tensor(betas, dtype=torch.float64)
        if betas.dim() != 1 or betas.numel() < 1:
            raise ValueError(f"betas must be a 1-D tensor with at least one step, got shape {tuple(betas.shape)}")
        if not bool(((betas > 0) & (betas < 1)).all()):
            raise ValueError("betas must all lie in the open interval (0, 1)")
        self.betas = betas                                                   # β_t
        self.alphas = 1.0 - betas                                            # α_t = 1 − β_t
        self.alphas_cumprod = torch.cumprod(self.alphas, dim=0)             # ᾱ_t = ∏_{s≤t} α_s
        self.alphas_cumprod_prev = torch.cat([betas.new_ones(1), self.alphas_cumprod[:-1]])  # ᾱ_{t−1}, ᾱ_{−1} = 1
        ab, ab_prev = self.alphas_cumprod, self.alphas_cumprod_prev
        self.posterior_variance = (1 - ab_prev) / (1 - ab) * betas           # eq. (7): β̃_t
        self.posterior_mean_coef1 = ab_prev.sqrt() * betas / (1 - ab)        # eq. (7): coefficient of x₀ in μ̃_t
        self.posterior_mean_coef2 = self.alphas.sqrt() * (1 - ab_prev) / (1 - ab)  # coefficient of x_t in μ̃_t
        self.snr = ab / (1 - ab)                                             # signal-to-noise ratio ᾱ/(1−ᾱ)

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def linear(cls, num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> "NoiseSchedule":
        """DDPM's schedule (section 4): β_t = linspace(beta_start, beta_end, T), literally."""
        _check_num_steps(num_steps)
        return cls(torch.linspace(beta_start, beta_end, num_steps, dtype=torch.float64))

    @classmethod
    def cosine(cls, num_steps: int, s: float = 0.008) -> "NoiseSchedule":
        """Improved DDPM eq. (17): ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2), and
        β_t = 1 − ᾱ(t+1)/ᾱ(t) capped at 0.999 (as diffusers' `betas_for_alpha_bar`, "squaredcos_cap_v2")."""
        _check_num_steps(num_steps)
        f = lambda u: math.cos((u + s) / (1 + s) * math.pi / 2) ** 2  # noqa: E731  (f(0) cancels in the ratio)
        betas = [min(1 - f((i + 1) / num_steps) / f(i / num_steps), 0.999) for i in range(num_steps)]
        return cls(torch.tensor(betas, dtype=torch.float64))

    @classmethod
    def from_name(cls, name: str, num_steps: int) -> "NoiseSchedule":
        """The schedule presets use. "linear" keeps DDPM's β range at T = 1000 and scales it by 1000/T
        otherwise (as improved DDPM does), so ᾱ_T is near 0 for any T ≥ 2; β is capped at 0.999 for T ≤ 20."""
        _check_num_steps(num_steps)
        if name == "linear":
            scale = 1000 / num_steps
            return cls(torch.linspace(1e-4 * scale, 0.02 * scale, num_steps, dtype=torch.float64).clamp(max=0.999))
        if name == "cosine":
            return cls.cosine(num_steps)
        raise ValueError(f"name must be 'linear' or 'cosine', got {name!r}")

    @property
    def num_steps(self) -> int:
        """T, the number of diffusion steps."""
        return self.betas.numel()

    # ---- timesteps ----------------------------------------------------------------------------------
    def check_timesteps(self, t, x: torch.Tensor) -> torch.Tensor:
        """t (int, 0-d or (B,) integer tensor) as a LongTensor on the CPU (where the tables are, so indexing
        them moves no float64 anywhere), checked against [0, T) and x's batch size."""
        if isinstance(t, numbers.Integral) and not isinstance(t, bool):
            t = torch.tensor(int(t))
        if not isinstance(t, torch.Tensor) or t.dtype.is_floating_point or t.dtype == torch.bool:
            raise ValueError(f"t must be an int or an integer tensor, got {t!r}")
        if t.dim() > 1 or (t.dim() == 1 and (x.dim() == 0 or t.shape[0] != x.shape[0])):
            raise ValueError(f"t must be 0-d or of shape (B,) matching x's batch, got {tuple(t.shape)} "
                             f"for x of shape {tuple(x.shape)}")
        if t.numel() and (int(t.min()) < 0 or int(t.max()) >= self.num_steps):
            raise ValueError(f"t must lie in [0, {self.num_steps}), got {t.tolist()}")
        return t.long().cpu()

    @staticmethod
    def broadcast(values: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """A 0-d or (B,) tensor as (B, 1, …, 1) (or 0-d) in x's dtype and device, ready to multiply x: cast
        first, then moved (a float64 tensor never reaches x's device unless x itself is float64)."""
        if values.dim() == 1:
            values = values.reshape(-1, *([1] * (x.dim() - 1)))  # (B, 1, …, 1)
        return values.to(x.dtype).to(x.device)

    def at(self, values: torch.Tensor, t, x: torch.Tensor) -> torch.Tensor:
        """values[t] broadcast over x: e.g. `schedule.at(schedule.alphas_cumprod, t, x)` is ᾱ_t. Indexed on the
        CPU, then cast to x's dtype, then moved to x's device."""
        return self.broadcast(values[self.check_timesteps(t, x)], x)

    # ---- the forward process ------------------------------------------------------------------------
    def q_sample(self, x0: torch.Tensor, t, noise: torch.Tensor | None = None,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """A sample of x_t ~ q(x_t | x₀) in one go, DDPM eq. (4): x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε."""
        eps = noise_like(x0, noise, generator)
        alpha_bar = self.at(self.alphas_cumprod, t, x0)
        return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps

    def q_step(self, x_prev: torch.Tensor, t, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
        """One Markov step x_{t−1} -> x_t, DDPM eq. (2): x_t = √(1−β_t)·x_{t−1} + √β_t·ε (t = 0 takes x₀)."""
        eps = noise_like(x_prev, noise, generator)
        beta = self.at(self.betas, t, x_prev)
        return (1 - beta).sqrt() * x_prev + beta.sqrt() * eps

    def q_posterior(self, x0: torch.Tensor, x_t: torch.Tensor, t) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean μ̃_t (shape of x_t) and variance β̃_t (broadcastable) of q(x_{t−1} | x_t, x₀), DDPM eq. (6-7)."""
        _check_same_shape(x0=x0, x_t=x_t)
        mean = self.at(self.posterior_mean_coef1, t, x_t) * x0 + self.at(self.posterior_mean_coef2, t, x_t) * x_t
        return mean, self.at(self.posterior_variance, t, x_t)

    # ---- ε, x₀ and v --------------------------------------------------------------------------------
    def eps_to_x0(self, eps: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """x₀ = (x_t − √(1−ᾱ_t)·ε)/√ᾱ_t."""
        return self.to_x0_and_eps(eps, x_t, t, "epsilon")[0]

    def x0_to_eps(self, x0: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """ε = (x_t − √ᾱ_t·x₀)/√(1−ᾱ_t)."""
        return self.to_x0_and_eps(x0, x_t, t, "x0")[1]

    def v_to_x0(self, v: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """x₀ = √ᾱ_t·x_t − √(1−ᾱ_t)·v."""
        return self.to_x0_and_eps(v, x_t, t, "v")[0]

    def v_to_eps(self, v: torch.Tensor, x_t: torch.Tensor, t) -> torch.Tensor:
        """ε = √(1−ᾱ_t)·x_t + √ᾱ_t·v."""
        return self.to_x0_and_eps(v, x_t, t, "v")[1]

    def get_v(self, x0: torch.Tensor, eps: torch.Tensor, t) -> torch.Tensor:
        """The v-prediction target, Salimans & Ho: v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀."""
        _check_same_shape(x0=x0, eps=eps)
        alpha_bar = self.at(self.alphas_cumprod, t, x0)
        return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0

    def to_x0_and_eps(self, model_output: torch.Tensor, x_t: torch.Tensor, t,
                      prediction: str) -> tuple[torch.Tensor, torch.Tensor]:
        """(x̂₀, ε̂) from a network's output, whatever it predicts ("epsilon", "v" or "x0")."""
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        _check_same_shape(model_output=model_output, x_t=x_t)
        return predict_x0_and_eps(model_output, x_t, self.at(self.alphas_cumprod, t, x_t), prediction)

    def __repr__(self) -> str:
        return f"NoiseSchedule(num_steps={self.num_steps}, ᾱ_T={float(self.alphas_cumprod[-1]):.3g})"


def _check_num_steps(num_steps) -> None:
    if not isinstance(num_steps, numbers.Integral) or num_steps < 1:
        raise ValueError(f"num_steps must be an int >= 1, got {num_steps!r}")


def _check_same_shape(**tensors: torch.Tensor) -> None:
    (name_a, a), (name_b, b) = tensors.items()
    if a.shape != b.shape:
        raise ValueError(f"{name_a} and {name_b} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}")


def noise_like(x: torch.Tensor, noise: torch.Tensor | None = None,
               generator: torch.Generator | None = None) -> torch.Tensor:
    """The given noise (checked: the shape of x) or a fresh N(0, I) draw of x's shape, dtype and device from
    `generator` (torch's default one when None). The forward process and the samplers draw through it."""
    if noise is None:
        return torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    if noise.shape != x.shape:
        raise ValueError(f"noise must have the shape of x, {tuple(x.shape)}, got {tuple(noise.shape)}")
    return noise

"""A toy data distribution whose optimal denoiser is known in closed form, to test and teach the samplers.

A mixture of isotropic Gaussians: under the forward process every x_t is again such a mixture, so E[ε | x_t]
(the best any trained ε-network can do, DDPM: Ho et al. 2020, arXiv 2006.11239) and E[ε − x₀ | x_t] on the
flow path (flow.py) are exact. Lessons 02 and 16 sample it; tests/test_samplers.py checks the samplers on it.
"""
from __future__ import annotations

import torch

from .schedule import NoiseSchedule


class GaussianMixture:
    """A toy data distribution whose optimal denoiser is known exactly, to test and teach samplers.

    x₀ ~ Σ_k π_k·N(μ_k, s_k²·I) in d dims (means (K, d), stds (K,), weights (K,)). Under q(x_t | x₀),
    x_t ~ Σ_k π_k·N(√ᾱ·μ_k, v_k·I) with v_k = ᾱ·s_k² + 1 − ᾱ, and the MMSE noise prediction is
    E[ε | x_t] = Σ_k r_k(x_t)·√(1−ᾱ)·(x_t − √ᾱ·μ_k)/v_k, r_k the posterior probability of component k.
    """

    def __init__(self, means, stds, weights=None):
        self.means = torch.as_tensor(means, dtype=torch.float64)                       # (K, d)
        self.stds = torch.as_tensor(stds, dtype=torch.float64).reshape(-1)             # (K,)
        K = self.means.shape[0]
        w = torch.ones(K, dtype=torch.float64) if weights is None else torch.as_tensor(weights, dtype=torch.float64)
        if self.means.dim() != 2 or self.stds.shape != (K,) or w.shape != (K,) or bool((w < 0).any()):
            raise ValueError("means must be (K, d), stds and weights (K,) with weights >= 0")
        self.weights = w / w.sum()                                                     # π_k

    def mean(self) -> torch.Tensor:
        return self.weights @ self.means                                               # (d,)

    def covariance(self) -> torch.Tensor:
        d = self.means.shape[1]
        centred = self.means - self.mean()                                             # (K, d)
        within = (self.weights * self.stds**2).sum() * torch.eye(d, dtype=torch.float64)
        return within + (self.weights[:, None] * centred).T @ centred                  # (d, d)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        k = torch.multinomial(self.weights, n, replacement=True, generator=generator)  # (n,)
        z = torch.randn(n, self.means.shape[1], generator=generator, dtype=torch.float64)
        return self.means[k] + self.stds[k, None] * z                                  # (n, d)

    def optimal_eps(self, x_t: torch.Tensor, t, schedule: NoiseSchedule) -> torch.Tensor:
        """E[ε | x_t] for x_t (B, d) at timestep t (int or (B,)), in x_t's dtype."""
        x = x_t.double()
        alpha_bar = schedule.at(schedule.alphas_cumprod, t, x)                         # (B, 1) or 0-d
        mu = alpha_bar.unsqueeze(-1).sqrt() * self.means                               # (B or 1, K, d)
        v = alpha_bar * self.stds**2 + 1 - alpha_bar                                   # (B or 1, K)
        diff = x[:, None, :] - mu                                                      # (B, K, d)
        d = x.shape[1]
        log_r = self.weights.log() - 0.5 * (diff**2).sum(-1) / v - 0.5 * d * v.log()   # (B, K)
        r = torch.softmax(log_r, dim=1)                                                # (B, K)
        eps = (1 - alpha_bar).unsqueeze(-1).sqrt() * diff / v.unsqueeze(-1)            # (B, K, d)
        return (r.unsqueeze(-1) * eps).sum(1).to(x_t.dtype)                            # (B, d)

    def optimal_velocity(self, x_t: torch.Tensor, t) -> torch.Tensor:
        """E[ε − x₀ | x_t] on the flow path x_t = (1 − t)·x₀ + t·ε (flow.py), for x_t (B, d) and t in [0, 1] (a
        number or (B,)), in x_t's dtype. Given component k, x_t ~ N((1−t)·μ_k, v_k·I) with v_k = (1−t)²·s_k² + t²,
        E[x₀ | x_t, k] = μ_k + (1−t)·s_k²/v_k·(x_t − (1−t)·μ_k) and E[ε | x_t, k] = t/v_k·(x_t − (1−t)·μ_k);
        the velocity is their difference, weighted by the posterior r_k(x_t) (finite at t = 0, where it is −x)."""
        x = x_t.double()
        t = torch.as_tensor(t, dtype=torch.float64).reshape(-1, 1)                    # (B or 1, 1)
        a = 1 - t
        v = a**2 * self.stds**2 + t**2                                                 # (B or 1, K)
        diff = x[:, None, :] - a[..., None] * self.means                               # (B, K, d)
        d = x.shape[1]
        log_r = self.weights.log() - 0.5 * (diff**2).sum(-1) / v - 0.5 * d * v.log()   # (B, K)
        r = torch.softmax(log_r, dim=1)                                                # (B, K)
        velocity = ((t - a * self.stds**2) / v)[..., None] * diff - self.means         # (B, K, d)
        return (r[..., None] * velocity).sum(1).to(x_t.dtype)                          # (B, d)

    def optimal_output(self, x_t: torch.Tensor, t, schedule: NoiseSchedule, prediction: str = "epsilon"):
        """The optimal ε̂, v̂ or x̂₀ (all three are consistent: they share E[x₀ | x_t])."""
        eps = self.optimal_eps(x_t, t, schedule)
        if prediction == "epsilon":
            return eps
        x0 = schedule.eps_to_x0(eps, x_t, t)
        return x0 if prediction == "x0" else schedule.get_v(x0, eps, t)

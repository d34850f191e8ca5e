"""The toy mixture's optimal denoiser against the score of its noised density (Tweedie's formula)."""
import torch

from minigptimage.gaussian_mixture import GaussianMixture
from minigptimage.schedule import NoiseSchedule

SCHEDULE = NoiseSchedule.cosine(1000)
MIXTURE = GaussianMixture([[-2.0, 0.0], [2.0, 1.0], [0.0, -2.0]], [0.3, 0.5, 0.4], [0.5, 0.3, 0.2])


def test_gaussian_mixture_optimal_eps_is_the_score():
    # Tweedie: E[ε | x_t] = −√(1−ᾱ_t)·∇ log p_t(x_t), p_t a mixture of N(√ᾱ·μ_k, (ᾱ·s_k² + 1 − ᾱ)·I)
    x = torch.randn(6, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64).requires_grad_()
    for t in (0, 300, 999):
        ab = SCHEDULE.alphas_cumprod[t]
        comps = torch.distributions.Independent(torch.distributions.Normal(
            ab.sqrt() * MIXTURE.means, (ab * MIXTURE.stds**2 + 1 - ab).sqrt()[:, None].expand(3, 2)), 1)
        p_t = torch.distributions.MixtureSameFamily(torch.distributions.Categorical(MIXTURE.weights), comps)
        (score,) = torch.autograd.grad(p_t.log_prob(x).sum(), x)
        torch.testing.assert_close(MIXTURE.optimal_eps(x.detach(), t, SCHEDULE), -(1 - ab).sqrt() * score)

"""Solutions to lesson 01's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/01_forward_noising.py`.
"""
import torch


def exercise_alpha_bar(betas):
    # α_t = 1 − β_t and ᾱ_t = ∏_{s≤t} α_s: a cumulative product.
    return torch.cumprod(1 - betas, dim=0)  # (T,)


def exercise_q_sample(x0, t, noise, alphas_cumprod):
    # DDPM eq. (4): x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε, with ᾱ_t picked per item and broadcast over (C, H, W).
    alpha_bar = alphas_cumprod[t].reshape(-1, 1, 1, 1).to(x0.dtype)  # (B, 1, 1, 1)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise  # (B, C, H, W)


def exercise_posterior_variance(betas, alphas_cumprod):
    # DDPM eq. (7): β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t, with ᾱ_{−1} = 1, so β̃_0 = 0.
    alphas_cumprod_prev = torch.cat([alphas_cumprod.new_ones(1), alphas_cumprod[:-1]])  # (T,) ᾱ_{t−1}
    return (1 - alphas_cumprod_prev) / (1 - alphas_cumprod) * betas  # (T,)


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_alpha_bar(betas):
    return torch.cumprod(betas, dim=0)


def mistake_q_sample(x0, t, noise, alphas_cumprod):
    alpha_bar = alphas_cumprod[t].reshape(-1, 1, 1, 1).to(x0.dtype)
    return alpha_bar * x0 + (1 - alpha_bar) * noise  # forgot the square roots


def mistake_posterior_variance(betas, alphas_cumprod):
    return betas.clone()  # β_t instead of β̃_t


ANSWERS = """
Q1. Why does training need the closed form (eq. 4) and not the chain (eq. 2)?
    Each training example picks a random t. With the chain, reaching t = 900 costs 900 noise draws and 900
    multiplications per image; with the closed form it costs one. Section 3 showed both give the same
    distribution (variance 1 − ᾱ_t to a few parts in a thousand), so nothing is lost.

Q2. Using the printout of section 4: at the middle step t = T/2, what fraction of x_t's variance is signal,
    for the linear and the cosine schedule?  The signal's share is ᾱ_t (for data of unit variance): 0.078 for
    the linear schedule, 0.49 for the cosine one. Half of the linear schedule's steps see less than 8 % of the
    signal; the cosine schedule keeps a usable signal far longer, which helps small images (Nichol & Dhariwal
    found the linear schedule's last quarter nearly useless at 64×64 and below).

Q3. Why does `NoiseSchedule.from_name("linear", 100)` rescale the betas by 1000/T?  With DDPM's literal
    linspace(1e-4, 0.02, 100), ᾱ_T = ∏(1 − β_t) ≈ exp(−Σβ_t) ≈ exp(−1.0) ≈ 0.36: after the last step a third of
    the variance is still the image, so sampling from pure noise N(0, I) would start from the wrong
    distribution. Scaling by 10 gives Σβ ≈ 10 and ᾱ_T ≈ 2e-5, as the plot shows.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.01_forward_noising")
    for name in ("alpha_bar", "q_sample", "posterior_variance"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

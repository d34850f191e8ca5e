"""Solutions to lesson 02's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/02_samplers_on_a_toy.py`.
"""


def exercise_timesteps(T, n, spacing):
    if spacing == "leading":   # 0, k, 2k, …, (n−1)·k with k = T//n, visited from the largest
        return [i * (T // n) for i in reversed(range(n))]
    if spacing == "trailing":  # starts at T − 1, the noisiest step
        return [round(T - i * T / n) - 1 for i in range(n)]
    raise ValueError(spacing)


def exercise_ddim_step(eps_pred, x_t, alpha_bar, alpha_bar_prev):
    x0_pred = (x_t - (1 - alpha_bar).sqrt() * eps_pred) / alpha_bar.sqrt()        # "predicted x₀" of eq. (12)
    return alpha_bar_prev.sqrt() * x0_pred + (1 - alpha_bar_prev).sqrt() * eps_pred  # eq. (12), σ_t = 0


def exercise_elbo_weight(betas, alphas_cumprod):
    beta, alpha_bar, alpha_bar_prev = betas[1:], alphas_cumprod[1:], alphas_cumprod[:-1]  # t = 1 … T−1
    posterior_variance = (1 - alpha_bar_prev) / (1 - alpha_bar) * beta                    # β̃_t, eq. (7)
    return beta**2 / (2 * posterior_variance * (1 - beta) * (1 - alpha_bar))              # λ_t, eq. (12)


def exercise_eps_from_x0(x0_pred, x_t, alpha_bar):
    return (x_t - alpha_bar.sqrt() * x0_pred) / (1 - alpha_bar).sqrt()


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_timesteps(T, n, spacing):
    return [i * (T // n) for i in range(n)]  # ascending: the order sampling does *not* use


def mistake_ddim_step(eps_pred, x_t, alpha_bar, alpha_bar_prev):
    x0_pred = (x_t - (1 - alpha_bar).sqrt() * eps_pred) / alpha_bar.sqrt()
    return alpha_bar_prev * x0_pred + (1 - alpha_bar_prev) * eps_pred  # forgot the square roots


def mistake_elbo_weight(betas, alphas_cumprod):
    return betas**2 / (2 * betas * (1 - betas) * (1 - alphas_cumprod))  # β_t for β̃_t, and t = 0 kept


def mistake_eps_from_x0(x0_pred, x_t, alpha_bar):
    return (x_t - alpha_bar * x0_pred) / (1 - alpha_bar)  # no square roots


ANSWERS = """
Q1. λ_t = β_t/(2·α_t·(1−ᾱ_{t−1})) is largest at small t, where 1 − ᾱ_{t−1} → 0: 0.6 at t = 1, 0.08 at t = 10,
    then nearly flat (0.005–0.01) from t = 100 on — see the printout and the left panel of 02_objective.png.
    Training on the ELBO would spend most of its gradient on
    removing the last imperceptible bit of noise, and little on the large t where the image's layout is
    decided. DDPM (§3.4 and table 2) reports better samples (FID) with L_simple, and a better likelihood with the
    ELBO: L_simple is a reweighting towards the steps that matter to the eye.

Q2. From ε̂, x̂₀ = (x_t − √(1−ᾱ)·ε̂)/√ᾱ: an error e in ε̂ becomes e·√(1−ᾱ)/√ᾱ in x̂₀, and at t = 999 of the
    linear schedule √ᾱ ≈ 0.006, a factor ≈ 160. From x̂₀, ε̂ = (x_t − √ᾱ·x̂₀)/√(1−ᾱ): an error e in x̂₀ becomes
    e·√ᾱ/√(1−ᾱ) in ε̂, and at t = 1 √(1−ᾱ) ≈ 0.015, a factor ≈ 67. From v̂ both factors are ≤ 1. This is why
    lesson 08 (and Stable Diffusion 2) train on v.

Q3. Each η = 1 step adds fresh noise of variance σ_t² and relies on later steps to remove it. With few, big
    steps the noise added is large and there are few steps left to correct it; with η = 0 the path is an ODE
    that a few big steps still follow well.

Q4. T//n = 333, so 666, 333, 0. The first step treats x_T ~ N(0, I) as x_666, whose ᾱ is 0.011 for the linear
    schedule (NoiseSchedule.linear(1000).alphas_cumprod[666]) and 0.25 for the
    cosine one — a quarter of the variance should be signal, and there is none.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.02_samplers_on_a_toy")
    for name in ("timesteps", "ddim_step", "elbo_weight", "eps_from_x0"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

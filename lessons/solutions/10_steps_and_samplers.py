"""Solutions to lesson 10's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/10_steps_and_samplers.py`.
"""


def exercise_ddim_step(v_pred, x_t, alpha_bar, alpha_bar_prev):
    # DDIM eq. 12 with σ = 0, from a v-prediction (Salimans & Ho's conversions).
    x0_pred = alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * v_pred   # x̂₀ = √ᾱ_t·x_t − √(1−ᾱ_t)·v̂
    eps_pred = (1 - alpha_bar) ** 0.5 * x_t + alpha_bar ** 0.5 * v_pred  # ε̂ = √(1−ᾱ_t)·x_t + √ᾱ_t·v̂
    return alpha_bar_prev ** 0.5 * x0_pred + (1 - alpha_bar_prev) ** 0.5 * eps_pred  # (B, C, h, w)


def exercise_ddim_sigma(alpha_bar, alpha_bar_prev, eta):
    # DDIM eq. 16: σ_t(η) = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev).
    return eta * ((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)).sqrt()


def exercise_ddim_step_eta(v_pred, x_t, alpha_bar, alpha_bar_prev, eta, noise):
    # DDIM eq. 12: x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − σ²)·ε̂ + σ·z.
    x0_pred = alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * v_pred
    eps_pred = (1 - alpha_bar) ** 0.5 * x_t + alpha_bar ** 0.5 * v_pred
    sigma = eta * ((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)) ** 0.5
    direction = max(1 - alpha_bar_prev - sigma ** 2, 0.0) ** 0.5 * eps_pred  # "direction pointing to x_t"
    return alpha_bar_prev ** 0.5 * x0_pred + direction + sigma * noise


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_ddim_step(v_pred, x_t, alpha_bar, alpha_bar_prev):
    return alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * v_pred  # stops at x̂₀


def mistake_ddim_step_eta(v_pred, x_t, alpha_bar, alpha_bar_prev, eta, noise):
    sigma = eta * ((1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)) ** 0.5
    return exercise_ddim_step(v_pred, x_t, alpha_bar, alpha_bar_prev) + sigma * noise  # ε̂'s share not shrunk


def mistake_ddim_sigma(alpha_bar, alpha_bar_prev, eta):
    return eta * (1 - alpha_bar / alpha_bar_prev).sqrt()  # the first factor of eq. 16 left out


ANSWERS = """
Q1. The re-noising line x_prev = √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε̂ reuses the ε̂ the network predicted. With η > 0,
    DDIM eq. 12 shrinks that term to √(1−ᾱ_prev−σ²)·ε̂ and adds σ·z with fresh noise z: then each run draws
    its own z, and two runs from the same x_T differ (η = 1 behaves like DDPM).

Q2. With ᾱ_prev = 1 the step returns √1·x̂₀ + √0·ε̂ = x̂₀: the model's best guess of the clean latent. That is
    right because "the step before 0" is the data itself, with no noise left to remove.

Q3. DDPM's step is an ancestral sample of q(x_{t−1} | x_t, x̂₀): its Gaussian form is only accurate when the
    step is small (β_t small), so it must take all T small steps. DDIM's η = 0 update is a discretisation of a
    deterministic ODE (the probability-flow ODE, Song et al. sec. 4.3): x̂₀ and ε̂ change slowly along it, so
    large jumps lose little — the quality curve of section 4 is nearly flat from 20–30 steps on.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.10_steps_and_samplers")
    for name in ("ddim_step", "ddim_sigma", "ddim_step_eta"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

"""Solutions to lesson 16's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/16_flow_matching.py`.
"""


def exercise_velocity_target(x0, noise):
    return noise - x0  # d/dt of (1 − t)·x0 + t·noise: constant along the path


def exercise_euler_step(x, v, sigma, sigma_next):
    return x + (sigma_next - sigma) * v  # σ_next < σ: a step toward the data


def exercise_shift(sigma, shift):
    return shift * sigma / (1 + (shift - 1) * sigma)  # SD3 eq. 23 on σ


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_velocity_target(x0, noise):
    return x0 - noise  # the convention with the noise at t = 0


def mistake_euler_step(x, v, sigma, sigma_next):
    return x + (sigma - sigma_next) * v  # a step toward the noise


def mistake_shift(sigma, shift):
    return shift * sigma / (1 + shift * sigma)  # forgot the − 1: σ = 1 no longer maps to 1


ANSWERS = """
Q1. x̂₀ = x_t − t·v̂ with v̂ = E[ε − x₀ | x_t] gives x̂₀ = x_t − t·E[ε | x_t] + t·E[x₀ | x_t]; at t = 1,
    x_1 = ε, so E[ε | x_1] = x_1 and x̂₀ = E[x₀ | x_1] = E[x₀], since pure noise says nothing about the data.
    One Euler step from σ = 1 to 0 moves x to x − 1·v̂ = x̂₀. One DDIM step from t = T−1 (ᾱ ≈ 0) lands on its
    x̂₀ = (x − √(1−ᾱ)·ε̂)/√ᾱ, the same E[x₀ | x_{T−1}] ≈ E[x₀]: a one-step sample of any exact denoiser is the
    mean of the data, whatever the path — a single step cannot follow a curved trajectory.

Q2. The trapezoid rule averages the slope at both ends of the step; the slope at the far end is the network at
    the Euler guess x̃, so it costs a second evaluation. Karras et al. (and diffusers' Heun schedulers) work on
    σ of a variance-exploding path, where the derivative (x − D(x))/σ is undefined at σ = 0, so their last
    step is Euler's (2n − 1 evaluations). A flow's velocity is defined at σ = 0 (there it is E[ε] − x = −x for
    the exact field), so every step here is a full Heun step: 2n evaluations.

Q3. With x₀ the noise and x₁ the data, their target is x₁ − x₀ = data − noise = −(ε − x₀ in our letters), and
    they sample by integrating t upward from 0 to 1. In our notation: t_ours = 1 − t_theirs, v_ours = −v_theirs,
    and we integrate σ downward from 1 to 0 — the same ODE and the same samples.

Q4. At a given σ a small image keeps less of its signal visible than a large one (fewer pixels share each
    feature), so the noisy end matters less and SD3's resolution rule (shift ∝ √(pixels)) points to a shift
    below 3, near 1 for 64×64 on a 16×16×4 latent. To decide, sample the same trained model with a few shifts
    (FlowEulerSampler(n, shift=s) in samplers.sample_loop) at equal evaluations and compare the exact word and
    colour binding of benchmarks.learner.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.16_flow_matching")
    for name in ("velocity_target", "euler_step", "shift"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

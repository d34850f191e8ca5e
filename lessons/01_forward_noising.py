# %% [markdown]
# # Lesson 01 — forward noising: an image dissolves into Gaussian noise, one small step at a time
#
# **Goal:** see the forward process of a diffusion model, and check that a thousand tiny Markov steps and
# the one-line closed form describe the same thing.
#
# **Prerequisites:** none (Gaussians, a mean and a variance).
#
# **Paper section:** Ho, Jain & Abbeel 2020, "Denoising Diffusion Probabilistic Models" (arXiv:2006.11239),
# §2: eq. (2) q(x_t | x_{t−1}) = N(√(1−β_t)·x_{t−1}, β_t·I) and eq. (4) q(x_t | x₀) = N(√ᾱ_t·x₀, (1−ᾱ_t)·I)
# with α_t = 1 − β_t and ᾱ_t = ∏_{s≤t} α_s; Nichol & Dhariwal 2021, "Improved DDPM" (arXiv:2102.09672),
# §3.2 and eq. (17), the cosine schedule.
#
# **What you should see:**
# 1. a word rendered as an image, dissolving: the chain step by step (top row) and the closed form (bottom
#    row) look alike at every t — they are different samples of the same distribution;
# 2. over many runs, the chain's per-pixel mean and variance match √ᾱ_t·x₀ and 1−ᾱ_t;
# 3. ᾱ_t and the signal-to-noise ratio ᾱ/(1−ᾱ) for the linear and cosine schedules: the linear one destroys
#    the signal early (ᾱ_t < 0.1 for 52 % of its steps, against 21 % for the cosine one);
# 4. three exercises: ᾱ_t from the betas, the closed form q_sample, and the posterior variance β̃_t.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib import font_manager
from PIL import Image, ImageDraw, ImageFont

from minigptimage.plots import fast_mode, output_dir, save_figure, to_numpy_image
from minigptimage.schedule import NoiseSchedule

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.01_forward_noising")

out = output_dir(HERE / "01_forward_noising.py")
torch.set_num_threads(1)
size = 32 if fast_mode() else 64
copies = 64 if fast_mode() else 128   # independent runs of the chain, to measure its mean and variance
T = 1000

# %% [markdown]
# ## 1. An image: a word in colour, as a (1, 3, H, W) tensor in [-1, 1]

# %%
font = ImageFont.truetype(font_manager.findfont("DejaVu Sans:bold"), int(size * 0.42))
picture = Image.new("RGB", (size, size), (245, 230, 200))
draw = ImageDraw.Draw(picture)
draw.rectangle([0, size * 0.72, size, size], fill=(40, 90, 160))
draw.text((size / 2, size * 0.38), "CAT", font=font, fill=(180, 30, 40), anchor="mm")
x0 = torch.tensor(np.array(picture)).permute(2, 0, 1)[None].float() / 127.5 - 1  # (1, 3, H, W)

# %% [markdown]
# ## 2. The Markov chain step by step, and the closed form
# `q_step(x, t)` applies eq. (2) once:   x_t = √(1−β_t)·x_{t−1} + √β_t·ε,      ε ~ N(0, I)
# `q_sample(x0, t)` jumps to step t with eq. (4):   x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε,   ᾱ_t = ∏_{s≤t} (1 − β_s)
#
# Why they agree: a sum of independent Gaussians is Gaussian, and its variances add. After two steps,
# x_1 = √α_1·(√α_0·x₀ + √β_0·ε₀) + √β_1·ε₁ has mean √(α_1α_0)·x₀ and variance α_1β_0 + β_1 = 1 − α_1α_0.
# Induction gives eq. (4).

# %%
schedule = NoiseSchedule.linear(T)
shown = [0, 50, 100, 200, 350, 500, 750, 999]
g = torch.Generator().manual_seed(0)
chain, closed = [], []
x = x0
for t in range(T):
    x = schedule.q_step(x, t, generator=g)
    if t in shown:
        chain.append(x[0])
        closed.append(schedule.q_sample(x0, t, generator=g)[0])

fig, axes = plt.subplots(2, len(shown) + 1, figsize=(1.5 * (len(shown) + 1), 3.4))
for row, (frames, label) in enumerate([(chain, "chain (eq. 2)"), (closed, "closed form (eq. 4)")]):
    axes[row, 0].imshow(to_numpy_image(x0[0]))
    axes[row, 0].set_title("x₀", fontsize=8)
    axes[row, 0].set_ylabel(label, fontsize=8)
    for k, (t, frame) in enumerate(zip(shown, frames)):
        axes[row, k + 1].imshow(to_numpy_image(frame))
        axes[row, k + 1].set_title(f"t={t}  ᾱ={float(schedule.alphas_cumprod[t]):.2g}", fontsize=7)
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("linear schedule, T=1000: the image dissolves", fontsize=9)
save_figure(fig, out / "01_dissolving.png")

# %% [markdown]
# ## 3. Many runs of the chain: the mean and variance of every pixel
# Run `copies` chains from the same x₀ and compare, at a few t, the empirical mean with √ᾱ_t·x₀ and the
# empirical variance with 1 − ᾱ_t (averaged over pixels, the variance estimate is very precise).

# %%
probe = [10, 100, 300, 999]
x = x0.expand(copies, -1, -1, -1)  # (copies, 3, H, W)
stats = {}
for t in range(T):
    x = schedule.q_step(x, t, generator=g)
    if t in probe:
        alpha_bar = float(schedule.alphas_cumprod[t])
        mean_error = (x.mean(0) - alpha_bar**0.5 * x0[0]).abs().max().item()
        stats[t] = (x.var(0).mean().item(), 1 - alpha_bar, mean_error)
for t, (var, expected, mean_error) in stats.items():
    print(f"t={t:4d}: chain variance {var:.4f}, closed form 1−ᾱ_t {expected:.4f};  "
          f"max |mean − √ᾱ_t·x₀| {mean_error:.3f}")

# %% [markdown]
# ## 4. The two schedules: ᾱ_t and the signal-to-noise ratio
# Linear (DDPM): β_t = linspace(10⁻⁴, 0.02, T). Cosine (Improved DDPM eq. 17): ᾱ_t = f(t)/f(0) with
# f(t) = cos²((t/T + s)/(1 + s)·π/2), s = 0.008. The linear schedule's ᾱ_t is down to 0.026 at t = 600 and
# below 0.1 for over half of the steps; the cosine one falls gently and almost linearly in the middle, so
# fewer steps are spent on near-pure noise. In log-SNR (right) the cosine curve lies about half a decade to
# a decade above the linear one over most of the range, and plunges only in the last few percent of steps.

# %%
schedules = {"linear (DDPM)": schedule, "cosine (Improved DDPM)": NoiseSchedule.cosine(T),
             "linear, T=100 rescaled (from_name)": NoiseSchedule.from_name("linear", 100)}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
for name, s in schedules.items():
    u = (torch.arange(s.num_steps) + 1) / s.num_steps  # t/T, so schedules of different lengths line up
    ax1.plot(u, s.alphas_cumprod, label=name)
    ax2.plot(u, s.snr.log10(), label=name)
ax1.set_xlabel("t / T")
ax1.set_ylabel("ᾱ_t")
ax2.set_xlabel("t / T")
ax2.set_ylabel("log₁₀ SNR = log₁₀ ᾱ/(1−ᾱ)")
ax1.legend(fontsize=7)
save_figure(fig, out / "01_schedules.png")
for name, s in schedules.items():
    print(f"{name:36s} ᾱ at t/T = 1/2: {float(s.alphas_cumprod[s.num_steps // 2]):.3f}   "
          f"ᾱ_T = {float(s.alphas_cumprod[-1]):.1e}   steps with ᾱ_t < 0.1: "
          f"{(s.alphas_cumprod < 0.1).double().mean():.0%}")
near_noise = {name: float((s.alphas_cumprod < 0.1).double().mean()) for name, s in schedules.items()}

# %% [markdown]
# ## Exercise 1 — ᾱ_t from the betas
# Write `exercise_alpha_bar(betas)`: betas is a 1-D float64 tensor (T,); return ᾱ (T,), with ᾱ_t = ∏_{s≤t} α_s
# and α_s = 1 − β_s. Hint: `torch.cumprod(…, dim=0)`. The check compares with `NoiseSchedule(betas).alphas_cumprod`.

# %%
def exercise_alpha_bar(betas):
    raise NotImplementedError


report(checks.check_alpha_bar, exercise_alpha_bar, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — the closed form q_sample
# Write `exercise_q_sample(x0, t, noise, alphas_cumprod)`: x0 and noise are (B, C, H, W), t a (B,) LongTensor
# of timesteps, alphas_cumprod the (T,) tensor ᾱ. Return x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε (eq. 4), each item with its
# own t. Hint: `alphas_cumprod[t]` is (B,); reshape it to (B, 1, 1, 1) so it broadcasts over C, H and W, and
# cast it to x0's dtype.

# %%
def exercise_q_sample(x0, t, noise, alphas_cumprod):
    raise NotImplementedError


report(checks.check_q_sample, exercise_q_sample, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the posterior variance β̃_t (needed by the DDPM sampler of lesson 02)
# Given x_t and x₀, the previous state is Gaussian: q(x_{t−1} | x_t, x₀) = N(μ̃_t, β̃_t·I) with
# β̃_t = (1 − ᾱ_{t−1})/(1 − ᾱ_t)·β_t (DDPM eq. 7). Write `exercise_posterior_variance(betas, alphas_cumprod)`
# returning β̃ (T,). Hint: build ᾱ_{t−1} by shifting ᾱ right by one and putting 1 in front (the state
# "before step 0" is x₀ itself, so β̃_0 = 0). Compare with `schedule.posterior_variance`.

# %%
def exercise_posterior_variance(betas, alphas_cumprod):
    raise NotImplementedError


report(checks.check_posterior_variance, exercise_posterior_variance, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/01_forward_noising.py`)
# 1. Training picks a random t for every image. Why does it need the closed form (eq. 4) and not the chain?
# 2. From the printout of section 4: at t = T/2, what share of x_t's variance is signal, for each schedule?
# 3. Why does `NoiseSchedule.from_name("linear", 100)` scale DDPM's betas by 1000/T? Compute ᾱ_T without it.

# %% [markdown]
# ## What we measured
# The chain's variance equals 1 − ᾱ_t to a few parts in a thousand: the closed form is exact, which is what lets
# training pick a random t and noise x₀ in one go. The linear schedule keeps ᾱ_t < 0.1 for more of its steps
# than the cosine one.

# %%
for t, (var, expected, mean_error) in stats.items():
    assert abs(var - expected) < 0.03 * expected + 0.002, (t, var, expected)
    assert mean_error < 6 / copies**0.5, (t, mean_error)  # 6 standard errors of a mean of `copies` draws
assert near_noise["linear (DDPM)"] > 0.45 > 0.25 > near_noise["cosine (Improved DDPM)"], near_noise
print("the Markov chain and its closed form agree")

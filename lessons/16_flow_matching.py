# %% [markdown]
# # Lesson 16 — flow matching: straight paths, a velocity, and the samplers of SD3 and FLUX
#
# **Goal:** learn the objective today's large text-to-image models train with (Stable Diffusion 3, FLUX) and
# see what it changes and what it does not. Flow matching joins each data point to its noise by a straight
# line and trains the network to predict the line's velocity; sampling integrates that velocity with Euler's
# or Heun's method. On the 2-D toy of lesson 02 the exact velocity field is known, so every error we see is
# the sampler's own — then a small MLP learns the field with the flow loss.
#
# **Prerequisites:** lesson 02 (the toy, DDIM, the simple loss and v), lesson 10 (steps against quality).
#
# **Paper section:** Liu, Gong & Liu 2022, "Rectified flow" (arXiv:2209.03003), eq. 1; Lipman et al. 2022,
# "Flow matching" (arXiv:2210.02747), sec. 4.1 (the optimal-transport path, σ_min = 0); Esser et al. 2024,
# "SD3" (arXiv:2403.03206), eq. 1–4 and sec. 3.1 (rectified flow in their notation, logit-normal timesteps,
# eq. 19), eq. 23 (the timestep shift). Karras et al. 2022 (arXiv:2206.00364), Algorithm 1 (Heun).
#
# **What you should see:**
# 1. the two paths between the same (x₀, ε): DDPM's curves (an arc, √ᾱ·x₀ + √(1−ᾱ)·ε), flow matching's is a
#    straight line; yet the trajectories the *sampler* follows curve, and one Euler step from pure noise puts
#    every particle on the same point — the mean of the data;
# 2. the velocity field at three times, and Euler against Heun: Euler's error halves when the steps double
#    (first order), Heun's falls about four times (second order), at two evaluations a step;
# 3. which end is noise, in our code and in each paper — the same path read backwards;
# 4. the timestep densities (uniform, logit-normal, shifted) and SD3's shift of the sampling grid;
# 5. an MLP trained with the flow loss, sampled with Euler and Heun;
# 6. the measured table of RESULTS.md: the learner's model (lesson 08) trained with each objective for the same
#    3,310 steps — alike from 8 network evaluations on (Tesseract 86–90%), flow ahead at 1–2 (60–68% against
#    52–54%) and without specks, Heun useful only from 4 steps (`tiny_data/flow_vs_ddpm.png`);
# 7. three exercises: the velocity target, one Euler step, the shift of σ.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import importlib
import time

import matplotlib.pyplot as plt
import torch

from lessons.checks import report
from minigptimage.flow import flow_interpolate, flow_sigmas, flow_velocity_target, flow_x0
from minigptimage.gaussian_mixture import GaussianMixture
from minigptimage.objective import draw_flow_randomness
from minigptimage.plots import fast_mode, output_dir, save_figure
from minigptimage.samplers import (DDIMSampler, FlowEulerSampler, FlowHeunSampler,
                                   flow_sample_loop, sample_loop)
from minigptimage.schedule import NoiseSchedule
from minigptimage.unet import timestep_embedding

checks = importlib.import_module("lessons.checks.16_flow_matching")
out = output_dir(HERE / "16_flow_matching.py")
torch.set_num_threads(1)
n_points = 1000 if fast_mode() else 4000
evaluations = [1, 2, 4, 8, 16, 30]

# %% [markdown]
# ## 1. Two paths between the same pair
# Lesson 02's toy: x₀ ~ a mixture of four Gaussians. Take one data point x₀ and one noise ε ~ N(0, I).
#     DDPM (eq. 4, the cosine schedule of our models):  x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε,   t = 0 … T−1
#     flow matching (SD3 eq. 3 with a_t = 1 − t, b_t = t):  x_t = (1 − t)·x₀ + t·ε,   t ∈ [0, 1]
# √ᾱ² + (√(1−ᾱ))² = 1, so DDPM's point moves on an arc of an ellipse; flow matching's moves on a straight line,
# at the constant velocity dx_t/dt = ε − x₀ — the target the network learns (`flow_velocity_target`).

# %%
toy = GaussianMixture(means=[[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]], stds=[0.25, 0.25, 0.4, 0.15],
                      weights=[0.4, 0.3, 0.2, 0.1])
cosine = NoiseSchedule.cosine(1000)
g = torch.Generator().manual_seed(0)
data = toy.sample(n_points, generator=g)                                # (n, 2)
x_T = torch.randn(n_points, 2, generator=g, dtype=torch.float64)        # (n, 2): the same noise everywhere below
field = lambda x, t, cond: toy.optimal_velocity(x, t / 1000)  # noqa: E731  (the exact v, as a "network")

pairs_x0, pairs_eps = data[:5], x_T[:5]
t_grid = torch.linspace(0, 1, 101, dtype=torch.float64)
straight = torch.stack([flow_interpolate(pairs_x0, pairs_eps, t) for t in t_grid.tolist()])  # (101, 5, 2)
alpha_bar = cosine.alphas_cumprod[torch.linspace(0, 999, 101).long()]                         # (101,)
curved = alpha_bar.sqrt()[:, None, None] * pairs_x0 + (1 - alpha_bar).sqrt()[:, None, None] * pairs_eps
exact_ode, traj = flow_sample_loop(field, FlowHeunSampler(100), x_T[:5], return_trajectory=True)
one_step = flow_sample_loop(field, FlowEulerSampler(1), x_T)             # (n, 2)
print("one Euler step from pure noise, first three particles:", one_step[:3].tolist(),
      "  mean of the data:", toy.mean().tolist())

fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax in axes:
    ax.scatter(data[:, 0], data[:, 1], s=2, c="0.85")
    ax.set_aspect("equal")
for i in range(5):
    axes[0].plot(curved[:, i, 0], curved[:, i, 1], color=f"C{i}", ls="--", lw=0.9)
    axes[0].plot(straight[:, i, 0], straight[:, i, 1], color=f"C{i}", lw=1.2)
    axes[0].plot(*pairs_eps[i], "kx", ms=4)
    axes[0].plot(*pairs_x0[i], "k.")
    axes[1].plot(traj["x_t"][:, i, 0], traj["x_t"][:, i, 1], color=f"C{i}", lw=1.2)
    axes[1].plot(*x_T[i], "kx", ms=4)
axes[1].plot(*toy.mean(), "r*", ms=12, label="where one Euler step puts every particle")
axes[0].set_title("training paths: DDPM's arcs (dashed), flow's lines", fontsize=9)
axes[1].set_title("sampled paths of the exact flow ODE (Heun, 100 steps)", fontsize=9)
axes[1].legend(fontsize=7, loc="lower left")
fig.tight_layout()
save_figure(fig, out / "16_paths.png")

# %% [markdown]
# Each training path is straight, but one x_t lies on the paths of many pairs, and the network can only learn
# their average: v(x, t) = E[ε − x₀ | x_t = x]. The average of straight lines is not a straight line, so the
# sampled trajectories curve (right). At t = 1, x_t *is* the noise and says nothing about x₀, so the best
# prediction is x̂₀ = E[x₀], the mean of the data — and one Euler step from t = 1 lands exactly there, for every
# particle (the red star, far from all four components). That is why one or two steps fail, for flow matching as
# for DDIM; straighter *learned* paths (rectified flow's reflow, distillation) are what make one step work.

# %% [markdown]
# ## 2. The velocity field, and Euler against Heun
# Sampling solves dx/dσ = v(x, σ) from σ = 1 to σ = 0 on a grid 1 = σ₀ > σ₁ > … > σ_n = 0:
#     Euler:  x_{i+1} = x_i + (σ_{i+1} − σ_i)·v(x_i, σ_i)                                    one evaluation
#     Heun:   x̃ = Euler's step;  x_{i+1} = x_i + (σ_{i+1} − σ_i)·(v(x_i, σ_i) + v(x̃, σ_{i+1}))/2    two
# (`FlowEulerSampler.step`, `FlowHeunSampler.step`; the U-Net reads σ·1000 as its timestep.) At an equal number
# of network evaluations Heun takes half the steps; is each step more than twice as good?

# %%
grid = torch.stack(torch.meshgrid(torch.linspace(-3.5, 3.5, 15), torch.linspace(-3.5, 3.5, 15), indexing="xy"),
                   -1).reshape(-1, 2).double()                          # (225, 2)
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, t in zip(axes, (1.0, 0.5, 0.1)):
    v = toy.optimal_velocity(grid, t)                                   # (225, 2)
    ax.scatter(data[:, 0], data[:, 1], s=1, c="0.85")
    ax.quiver(grid[:, 0], grid[:, 1], -v[:, 0], -v[:, 1], angles="xy", color="C0", width=0.004)
    ax.set_title(f"−v(x, σ = {t}): where a sampler moves x next", fontsize=9)
    ax.set_aspect("equal")
save_figure(fig, out / "16_velocity_field.png")

reference = flow_sample_loop(field, FlowHeunSampler(400), x_T)           # the ODE's end, to 1e-5
directions = torch.nn.functional.normalize(torch.randn(256, 2, generator=g, dtype=torch.float64), dim=1)
true_set = toy.sample(n_points, generator=g)


def sliced_distance(a, b):
    return ((a @ directions.T).sort(0).values - (b @ directions.T).sort(0).values).abs().mean().item()


ode_error, quality = {"Euler": {}, "Heun": {}}, {"Euler": {}, "Heun": {}, "DDIM (exact ε)": {}}
for e in evaluations:
    for name, sampler in (("Euler", FlowEulerSampler(e)), ("Heun", FlowHeunSampler(e // 2) if e % 2 == 0 else None)):
        if sampler is not None:
            x0 = flow_sample_loop(field, sampler, x_T)
            ode_error[name][e] = (x0 - reference).norm(dim=1).mean().item()
            quality[name][e] = sliced_distance(x0, true_set)
    exact_eps = lambda x, t, c: toy.optimal_eps(x, t, cosine)  # noqa: E731
    quality["DDIM (exact ε)"][e] = sliced_distance(sample_loop(exact_eps, DDIMSampler(cosine, e, spacing="trailing"),
                                                               x_T), true_set)
floor = sliced_distance(toy.sample(n_points, generator=g), true_set)
for name in ode_error:
    print(f"{name:>5}: distance to the ODE's end", "  ".join(f"E={e}: {d:.4f}" for e, d in ode_error[name].items()))
for name in quality:
    print(f"{name:>14}: sliced W1 to the toy", "  ".join(f"E={e}: {d:.3f}" for e, d in quality[name].items()))
print(f"floor (true vs true): {floor:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
for name, errors in ode_error.items():
    axes[0].loglog(list(errors), list(errors.values()), marker="o", label=name)
axes[0].set_xlabel("network evaluations E")
axes[0].set_ylabel("mean distance to the exact ODE solution")
axes[0].set_title("the sampler's own error: order 1 and order 2", fontsize=9)
for name, ds in quality.items():
    axes[1].loglog(list(ds), list(ds.values()), marker="o", label=name)
axes[1].axhline(floor, color="0.5", ls=":", label="floor: true vs true")
axes[1].set_xlabel("network evaluations E")
axes[1].set_ylabel("sliced Wasserstein-1 to the toy")
axes[1].set_title("samples against the data (exact denoisers)", fontsize=9)
for ax in axes:
    ax.legend(fontsize=7)
fig.tight_layout()
save_figure(fig, out / "16_euler_vs_heun.png")

# %% [markdown]
# Measured: Euler's distance to the exact solution halves with every doubling (≈ 0.76, 0.29, 0.15, 0.08 at
# 2, 4, 8, 16 evaluations); Heun's falls three to seven times per doubling (1.34, 0.33, 0.046, 0.016 at 2, 4,
# 8, 16), so from 8 evaluations on Heun is ahead at the same cost. Against the data the picture is the same,
# down to a little above the floor. And DDIM (η = 0) on DDPM's path, with its own exact denoiser, scores
# almost exactly as Euler does. That is no accident: written with x̂₀ = x − σ·v̂, an Euler step is
# x_next = (σ_next/σ)·x + (1 − σ_next/σ)·x̂₀, which, like DDIM's step, is exact whenever x̂₀ stays the same
# over the step. Both are one integrator — Euler in the coordinates (x divided by its signal scale, the
# noise-to-signal ratio) (Song et al. 2021, sec. 4.3; Karras et al. 2022, sec. 3) — on two grids of that
# ratio. With exact fields the objectives differ in which grid a number of steps buys, not in the sampler;
# what training makes of each on a real network is section 6's question.

# %% [markdown]
# ## 3. Which end is noise?
# Codebases disagree, and a sign error here silently trains a model that runs backwards:
#
# | where | noise at | data at | velocity |
# |---|---|---|---|
# | this code, SD3 (Esser et al. eq. 3), diffusers' FlowMatch schedulers, minRF | t = 1 | t = 0 | ε − x₀ |
# | Liu et al. (X₀ ~ π₀ noise), Lipman et al. (p₀ noise), facebookresearch/flow_matching, torchcfm, rectified-flow-pytorch | t = 0 | t = 1 | x₁ − x₀ |
#
# They are the same path read backwards: with s = 1 − t, (1 − t)·data + t·noise = s·data + (1 − s)·noise, and
# d/ds = −d/dt, so the velocity flips its sign. In our code, t and σ are one number (σ in the samplers, as in
# diffusers; t in the objective, as in SD3), and sampling runs σ *down*, 1 → 0.

# %%
x_data, x_noise = data[:3], x_T[:3]
for t in (0.0, 0.3, 1.0):
    ours = flow_interpolate(x_data, x_noise, t)                           # noise at t = 1
    s = 1 - t
    lipman = s * x_data + (1 - s) * x_noise                               # noise at s = 0, data at s = 1
    assert torch.allclose(ours, lipman)
ours_v, lipman_v = flow_velocity_target(x_data, x_noise), x_data - x_noise
assert torch.equal(ours_v, -lipman_v)
print("our x_t at t equals the noise-at-0 path at s = 1 − t; our velocity ε − x₀ is minus theirs, x₁ − x₀")

# %% [markdown]
# ## 4. Where to train, where to step: the timestep density and SD3's shift
# Which t a training step draws decides where the network gets good. Uniform t trains every level equally.
# SD3 (sec. 3.1) found the middle of the path hardest and drew t from a *logit-normal*: t = sigmoid(m + s·z),
# z ~ N(0, 1), which peaks at sigmoid(m) (`TrainConfig.logit_normal = (m, s)`). The shift (eq. 23)
# σ' = α·σ/(1 + (α − 1)·σ) moves draws — or a sampler's grid — toward the noise; SD3 shifts its sampling grid
# by α = 3 at 1024² pixels, because a larger image keeps more signal at the same σ. Our training draws share
# these densities with DDPM's (`objective.draw_randomness` discretises the same u, z and shift).

# %%
densities = {"uniform": draw_flow_randomness(20000, (1,), 0.1, torch.Generator().manual_seed(0))["t"],
             "logit-normal (0, 1)": draw_flow_randomness(20000, (1,), 0.1, torch.Generator().manual_seed(0),
                                                         logit_normal=(0.0, 1.0))["t"],
             "shift α = 3": draw_flow_randomness(20000, (1,), 0.1, torch.Generator().manual_seed(0),
                                                 timestep_shift=3.0)["t"]}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
for name, t in densities.items():
    axes[0].hist(t.numpy(), bins=50, range=(0, 1), histtype="step", density=True, label=name)
    print(f"{name:>20}: mean t {t.mean():.3f}, share with t > 0.5: {(t > 0.5).double().mean():.3f}")
axes[0].set_xlabel("t (1 = pure noise)")
axes[0].set_title("training timestep densities", fontsize=9)
axes[0].legend(fontsize=7)
for row, shift in enumerate((1.0, 3.0)):
    sigmas = flow_sigmas(10, shift)
    axes[1].plot(sigmas, [row] * len(sigmas), "o-", label=f"shift {shift:g}")
axes[1].set_yticks([0, 1], ["shift 1", "shift 3"])
axes[1].set_xlabel("σ of the 10-step grid (sampling runs right to left)")
axes[1].set_title("SD3's shift of the sampling grid", fontsize=9)
fig.tight_layout()
save_figure(fig, out / "16_timestep_density.png")

# %% [markdown]
# ## 5. Learning the field: the flow loss on the toy
# The flow loss is lesson 02's simple loss with a new target:
#     L = E_{t, x₀, ε} ‖v_θ(x_t, t) − (ε − x₀)‖²,   x_t = (1 − t)·x₀ + t·ε
# (`objective.flow_loss`, which the U-Net trains with `train --objective flow`, with t·1000 as its timestep).
# A squared error is minimised by the conditional mean, so the best v_θ is the exact field of section 2.
# We train lesson 02's MLP on it and sample with Euler and Heun.

# %%
mlp_steps, batch_size = (600, 256) if fast_mode() else (2000, 256)
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(34, 128), torch.nn.SiLU(), torch.nn.Linear(128, 128), torch.nn.SiLU(),
                          torch.nn.Linear(128, 2))
optimizer = torch.optim.Adam(net.parameters(), lr=3e-3)
lr_decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, mlp_steps)
g_train, start = torch.Generator().manual_seed(1), time.time()
for step in range(mlp_steps):
    x0 = toy.sample(batch_size, generator=g_train).float()                     # (B, 2)
    t = torch.rand(batch_size, generator=g_train)                              # (B,), uniform in [0, 1)
    eps = torch.randn(batch_size, 2, generator=g_train)                        # (B, 2)
    x_t = flow_interpolate(x0, eps, t)                                         # (B, 2)
    pred = net(torch.cat([x_t, timestep_embedding(t * 1000, 32)], dim=1))      # (B, 2 + 32) → (B, 2)
    loss = (pred - flow_velocity_target(x0, eps)).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    lr_decay.step()
print(f"MLP trained with the flow loss: {mlp_steps} steps in {time.time() - start:.0f} s, last loss {loss.item():.3f}")


def learned(x, t, cond):
    with torch.no_grad():
        return net(torch.cat([x.float(), timestep_embedding(t.float(), 32)], dim=1)).double()


learned_quality = {}
for name, sampler in (("Euler, 4 steps", FlowEulerSampler(4)), ("Euler, 30 steps", FlowEulerSampler(30)),
                      ("Heun, 15 steps", FlowHeunSampler(15))):
    learned_quality[name] = sliced_distance(flow_sample_loop(learned, sampler, x_T), true_set)
print("learned field:", {k: round(v, 3) for k, v in learned_quality.items()}, f" floor {floor:.3f}")
x_mid = flow_interpolate(data[:500], x_T[:500], 0.5)
v_error = (learned(x_mid, torch.full((500,), 500.0), None) - toy.optimal_velocity(x_mid, 0.5)).norm(dim=1).mean()
print(f"at t = 0.5 the learned velocity is {v_error:.3f} from the exact one (|v| ≈ "
      f"{toy.optimal_velocity(x_mid, 0.5).norm(dim=1).mean():.2f})")
x0_hat = flow_x0(x_mid, learned(x_mid, torch.full((500,), 500.0), None), 0.5)  # x̂₀ = x_t − t·v̂

# %% [markdown]
# Measured (2,000 training steps): Heun with 15 steps (30 evaluations) samples the mixture at the floor
# (≈ 0.05), Euler with 30 steps nearly so (≈ 0.06), Euler with 4 steps at ≈ 0.2; the fast mode's 600 steps
# leave about twice those distances. x̂₀ at t = 0.5 is a blur between the components: the velocity is an
# average over every pair whose line passes through x_t.

# %%

fig, axes = plt.subplots(1, 3, figsize=(11, 3.6))
for ax, (name, sampler) in zip(axes, (("Euler, 4 steps", FlowEulerSampler(4)),
                                     ("Heun, 15 steps", FlowHeunSampler(15)))):
    samples = flow_sample_loop(learned, sampler, x_T)
    ax.scatter(true_set[:, 0], true_set[:, 1], s=1, c="0.85")
    ax.scatter(samples[:, 0], samples[:, 1], s=1)
    ax.set_title(f"learned field, {name}: {learned_quality[name]:.3f}", fontsize=8)
    ax.set_aspect("equal")
axes[2].scatter(x0_hat[:, 0], x0_hat[:, 1], s=1)
axes[2].set_title("x̂₀ = x_t − t·v̂ at t = 0.5: blurred toward the mean", fontsize=8)
axes[2].set_aspect("equal")
fig.tight_layout()
save_figure(fig, out / "16_learned_field.png")

# %% [markdown]
# ## 6. The measured comparison: the learner's model, each objective, the same steps
# `python -m minigptimage train --preset tiny-workshop --objective flow` trains the same U-Net on the same frozen
# encoder and VAE with the flow loss (a flow step costs what a DDPM step costs, so equal steps are equal time); `python -m minigptimage.benchmarks.flow_vs_ddpm --checkpoint A --checkpoint B` scores DDIM on the
# DDPM model and Euler and Heun on the flow model at 1, 2, 4, 8, 16 and 30 network evaluations. The table
# below is read from RESULTS.md, where the runs are recorded with their commands.

# %%
results_md = HERE.parent / "RESULTS.md"
heading = "## Flow matching against DDPM at an equal budget"
text = results_md.read_text(encoding="utf-8") if results_md.exists() else ""
section = text.split(heading, 1)[1].split("\n## ", 1)[0] if heading in text else ""
table = [line for line in section.splitlines() if line.startswith("|")]
print("\n".join(table) if table else f"(not measured yet: RESULTS.md has no section {heading[3:]!r})")

# %% [markdown]
# ## Exercise 1 — the velocity target
# Write `exercise_velocity_target(x0, noise)`: x0 and noise are (B, C, h, w); return the velocity of the path
# x_t = (1 − t)·x0 + t·noise that the network learns (section 1). Mind which end is noise (section 3).

# %%
def exercise_velocity_target(x0, noise):
    raise NotImplementedError


report(checks.check_velocity_target, exercise_velocity_target, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — one Euler step
# Write `exercise_euler_step(x, v, sigma, sigma_next)`: x and v are (B, d), sigma > sigma_next are numbers in
# [0, 1]. Return x at sigma_next, one Euler step along v (section 2). The check compares with
# `FlowEulerSampler.step`.

# %%
def exercise_euler_step(x, v, sigma, sigma_next):
    raise NotImplementedError


report(checks.check_euler_step, exercise_euler_step, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — SD3's shift of σ
# Write `exercise_shift(sigma, shift)`: sigma is a tensor of values in [0, 1], shift α > 0 a number; return
# α·σ/(1 + (α − 1)·σ) (eq. 23 on σ). It must map 0 to 0 and 1 to 1, and α = 1 must change nothing.

# %%
def exercise_shift(sigma, shift):
    raise NotImplementedError


report(checks.check_shift, exercise_shift, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/16_flow_matching.py`)
# 1. One Euler step from σ = 1 lands on E[x₀]. Show it from x̂₀ = x_t − t·v̂ and v = E[ε − x₀ | x_t]. What does
#    one DDIM step from t = T−1 land on, and why is it the same point?
# 2. Heun is exact when v depends on σ only, affinely. Why does it use two evaluations per step, and why does
#    our last step need no Euler fallback, while Karras et al.'s (and diffusers' Heun schedulers) does?
# 3. A paper writes x_t = t·x₁ + (1 − t)·x₀ with x₀ ~ N(0, I). Write its velocity target and its sampling
#    direction in our notation.
# 4. SD3 samples 1024² images with a shift of 3. Would our 64×64 images, on a 16×16 latent, want a larger or a
#    smaller shift? What would you measure to decide?

# %% [markdown]
# ## What we measured
# The training paths are straight and the sampled ones curve: one step lands on the mean, and the sampler's
# error falls with the steps, at first order for Euler and second order for Heun, which wins at an equal
# number of evaluations from about 8 on. A small MLP trained with the flow loss learns the field well enough
# to sample the mixture.

# %%
assert torch.allclose(one_step, toy.mean().expand_as(one_step))  # one step: every particle on the mean
assert ode_error["Euler"][16] < ode_error["Euler"][4] / 2.5, ode_error      # first order
assert ode_error["Heun"][16] < ode_error["Heun"][4] / 6, ode_error          # second order
assert ode_error["Heun"][8] < ode_error["Euler"][8], ode_error              # the same cost, closer
assert quality["Heun"][30] < 2 * floor + 0.02, (quality["Heun"], floor)
assert learned_quality["Heun, 15 steps"] < min(learned_quality["Euler, 4 steps"], quality["Euler"][1] / 4), \
    learned_quality
print("straight training paths, curved sampling paths; Heun's second order pays from a few steps on")

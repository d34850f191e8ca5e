"""Lesson 02 — samplers on a toy: DDPM and DDIM run backwards from noise with a perfect denoiser.

Goal: see what a sampler does, apart from any network: on a 2-D Gaussian mixture the best possible noise
prediction E[ε | x_t] is known in closed form, so every error we see is the sampler's own.
Prerequisites: lesson 01 (the forward process, ᾱ_t).
Paper section: Ho et al. 2020 (arXiv:2006.11239), Algorithm 2 and eq. (6-7): ancestral sampling through all T
steps; Song, Meng & Ermon 2021, "DDIM" (arXiv:2010.02502), eq. (12) and (16): jump over steps, with noise
σ_t(η) — η = 0 deterministic, η = 1 like DDPM.
What you should see:
  1. trajectories (x = start x_T, dot = end x₀): DDPM particles jitter (fresh noise at every step), DDIM
     (η = 0) particles glide along smooth paths; both end on or near the mixture's components (with 20 steps
     a DDIM particle can stop short, between two of them);
  2. the predicted x̂₀ along the way: a blurry average of the components early on, a single one at the end;
  3. quality against the number of steps: DDIM's error falls roughly like 1/n, and with ~50 steps it reaches
     the sampling-noise floor; η = 1 with few steps is worse (each big step adds too much fresh noise).
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import matplotlib.pyplot as plt
import torch

from minigptimage.plots import fast_mode, output_dir, save_figure
from minigptimage.samplers import DDIMSampler, DDPMSampler, GaussianMixture, sample_loop
from minigptimage.schedule import NoiseSchedule

out = output_dir(__file__)
torch.set_num_threads(1)
n_points = 1000 if fast_mode() else 4000
step_counts = [2, 5, 10, 20, 50] if fast_mode() else [2, 5, 10, 20, 50, 100, 250, 1000]

# %% [markdown]
# ## 1. The toy and its exact denoiser
# x₀ ~ Σ_k π_k·N(μ_k, s_k²·I). Noised, x_t is again a mixture, of N(√ᾱ·μ_k, (ᾱ·s_k² + 1 − ᾱ)·I), so the
# posterior over components and E[ε | x_t] are exact (`GaussianMixture.optimal_eps`).

# %%
toy = GaussianMixture(means=[[2.0, 0.0], [0.0, 2.0], [-2.0, 0.0], [0.0, -2.0]], stds=[0.25, 0.25, 0.4, 0.15],
                      weights=[0.4, 0.3, 0.2, 0.1])
schedule = NoiseSchedule.linear(1000)
denoiser = lambda x_t, t, cond: toy.optimal_eps(x_t, t, schedule)  # noqa: E731  (the "network")
g = torch.Generator().manual_seed(0)
data = toy.sample(n_points, generator=g)  # (n, 2)
x_T = torch.randn(n_points, 2, generator=g, dtype=torch.float64)  # (n, 2)

# %% [markdown]
# ## 2. Trajectories: DDPM (1000 steps) and DDIM (η = 0, 20 steps) from the same noise

# %%
ddpm_x0, ddpm_traj = sample_loop(denoiser, DDPMSampler(schedule), x_T[:5], generator=g, return_trajectory=True)
ddim_x0, ddim_traj = sample_loop(denoiser, DDIMSampler(schedule, 20), x_T[:5], return_trajectory=True)
fig, axes = plt.subplots(1, 3, figsize=(12, 4))
for ax, traj, title in [(axes[0], ddpm_traj, "DDPM, 1000 steps"), (axes[1], ddim_traj, "DDIM η=0, 20 steps")]:
    ax.scatter(data[:, 0], data[:, 1], s=2, c="0.8")
    for i in range(5):
        ax.plot(traj["x_t"][:, i, 0], traj["x_t"][:, i, 1], lw=0.6, alpha=0.8)
        ax.plot(traj["x_t"][0, i, 0], traj["x_t"][0, i, 1], "kx", ms=4)   # start: x_T
        ax.plot(traj["x_t"][-1, i, 0], traj["x_t"][-1, i, 1], "k.")       # end: x₀
    ax.set_title(title, fontsize=9)
    ax.set_aspect("equal")
for i in range(3):  # x̂₀ along the DDIM run: the average of the components, then one of them
    axes[2].plot(ddim_traj["timesteps"], ddim_traj["x0_pred"][:, i, 0], marker=".", label=f"particle {i}")
axes[2].invert_xaxis()
axes[2].set_xlabel("timestep t (sampling runs left to right)")
axes[2].set_ylabel("first coordinate of x̂₀")
axes[2].set_title("DDIM: predicted x̂₀ at each step", fontsize=9)
axes[2].legend(fontsize=7)
fig.tight_layout()
save_figure(fig, out / "02_trajectories.png")

# %% [markdown]
# ## 3. Quality against the number of steps
# Sliced Wasserstein-1 distance to fresh samples of the toy: project both clouds on random directions, sort,
# compare. Two independent sets of true samples are not at distance 0 — that "floor" is the best any sampler
# can show with this many points.

# %%
directions = torch.nn.functional.normalize(torch.randn(64, 2, generator=g, dtype=torch.float64), dim=1)  # (64, 2)
reference = toy.sample(n_points, generator=g)


def sliced_distance(a, b):
    return ((a @ directions.T).sort(0).values - (b @ directions.T).sort(0).values).abs().mean().item()


floor = sliced_distance(data, reference)
results = {"DDIM η=0": [], "DDIM η=1": []}
for n in step_counts:
    for eta, name in [(0.0, "DDIM η=0"), (1.0, "DDIM η=1")]:
        x0 = sample_loop(denoiser, DDIMSampler(schedule, n, eta=eta, spacing="trailing"), x_T, generator=g)
        results[name].append(sliced_distance(x0, reference))
ddpm = sample_loop(denoiser, DDPMSampler(schedule), x_T, generator=g)
ddpm_distance = sliced_distance(ddpm, reference)
for name, ds in results.items():
    print(name, "  ".join(f"n={n}: {d:.3f}" for n, d in zip(step_counts, ds)))
print(f"DDPM (1000 steps): {ddpm_distance:.3f}   floor (two sets of true samples): {floor:.3f}")

fig, ax = plt.subplots(figsize=(5, 3.4))
for name, ds in results.items():
    ax.loglog(step_counts, ds, marker="o", label=name)
ax.axhline(ddpm_distance, color="k", ls="--", lw=0.8, label="DDPM, 1000 steps")
ax.axhline(floor, color="0.5", ls=":", label="floor: true vs true")
ax.set_xlabel("number of sampling steps n")
ax.set_ylabel("sliced Wasserstein-1 to the toy")
ax.legend(fontsize=7)
save_figure(fig, out / "02_quality_vs_steps.png")

# %% [markdown]
# ## What we measured
# With the exact denoiser, DDIM's error shrinks with the number of steps until it meets the floor, and DDPM
# with all 1000 steps is at the floor too. Few steps hurt η = 1 more than η = 0.

# %%
eta0 = dict(zip(step_counts, results["DDIM η=0"]))
assert eta0[50] < eta0[5] / 2, eta0
assert eta0[50] < 2.5 * floor and ddpm_distance < 2.5 * floor, (eta0[50], ddpm_distance, floor)
assert results["DDIM η=1"][1] > eta0[5], results
print("more steps, closer to the data; DDIM at 50 steps is as good as DDPM at 1000 on this toy")

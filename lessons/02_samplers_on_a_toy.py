# %% [markdown]
# # Lesson 02 — samplers on a toy, and the objective that trains their denoiser
#
# **Goal:** see what a sampler does, apart from any network: on a 2-D Gaussian mixture the best possible
# noise prediction E[ε | x_t] is known in closed form, so every error we see is the sampler's own. Then
# train a small MLP with the simple loss and watch it learn that same exact denoiser — as ε, x₀ or v.
#
# **Prerequisites:** lesson 01 (the forward process, ᾱ_t, β̃_t).
#
# **Paper section:** Ho et al. 2020 (arXiv:2006.11239), Algorithm 2 and eq. (6-7): ancestral sampling
# through all T steps; eq. (5), (8), (12), (14): from the ELBO to the simple loss. Song, Meng & Ermon 2021,
# "DDIM" (arXiv:2010.02502), eq. (12) and (16): jump over steps, with noise σ_t(η) — η = 0 deterministic,
# η = 1 like DDPM. Lin et al. 2023 (arXiv:2305.08891, table 2): "leading" and "trailing" timestep spacings.
# Salimans & Ho 2022 (arXiv:2202.00512, §4): v-prediction.
#
# **What you should see:**
# 1. trajectories (x = start x_T, dot = end x₀): DDPM particles jitter (fresh noise at every step), DDIM
#    (η = 0) particles glide along smooth paths; both end on or near the mixture's components;
# 2. the predicted x̂₀ along the way: the mixture's average early on, a single component at the end;
# 3. quality against the number of steps: DDIM's error falls steeply with n and meets the floor (the
#    distance between two sets of true samples) by about 50 steps; η = 1 needs more steps than η = 0;
# 4. the two timestep spacings, and what each gives up;
# 5. the objective: the ELBO's weight λ_t (60× larger at t = 1 than at t = 100, nearly flat after), and
#    three MLPs trained with the simple loss on ε, x₀ and v: each lands near the exact denoiser where its
#    target is easy, and its converted predictions blow up where the conversion divides by a small number
#    (x̂₀ of the ε-model at large t, ε̂ of the x₀-model at small t); the v-model has neither problem and
#    samples best of the three;
# 6. four exercises: the DDIM timesteps, one DDIM step, the ELBO weight, and ε̂ from x̂₀.

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
from minigptimage.gaussian_mixture import GaussianMixture
from minigptimage.plots import fast_mode, output_dir, save_figure
from minigptimage.samplers import DDIMSampler, DDPMSampler, sample_loop
from minigptimage.schedule import NoiseSchedule
from minigptimage.unet import timestep_embedding

checks = importlib.import_module("lessons.checks.02_samplers_on_a_toy")
out = output_dir(HERE / "02_samplers_on_a_toy.py")
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
# DDPM step (Alg. 2 with eq. 7): x_{t−1} = μ̃_t(x_t, x̂₀) + √β̃_t·z, where x̂₀ = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t and
# μ̃_t = √ᾱ_{t−1}·β_t/(1−ᾱ_t)·x̂₀ + √α_t·(1−ᾱ_{t−1})/(1−ᾱ_t)·x_t.
# DDIM step (eq. 12), from t to t' = t − T/n:
#     x_{t'} = √ᾱ_{t'}·x̂₀ + √(1 − ᾱ_{t'} − σ_t²)·ε̂ + σ_t·z,   σ_t = η·√((1−ᾱ_{t'})/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_{t'})  (eq. 16)
# With η = 0 there is no fresh noise: the step keeps the same ε̂ and moves x̂₀ and ε̂ to the new noise level.

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
axes[2].axhline(float(toy.mean()[0]), color="0.6", ls=":", lw=0.8, label="mean of the mixture")
axes[2].invert_xaxis()
axes[2].set_xlabel("timestep t (sampling runs left to right)")
axes[2].set_ylabel("first coordinate of x̂₀")
axes[2].set_title("DDIM: predicted x̂₀ at each step", fontsize=9)
axes[2].legend(fontsize=7)
fig.tight_layout()
save_figure(fig, out / "02_trajectories.png")

# %% [markdown]
# ## 3. Quality against the number of steps
# Sliced Wasserstein-1 distance to a reference set of true samples: project both clouds on random
# directions, sort, compare. Two independent sets of true samples are not at distance 0: the "floor" is the
# mean distance of eight fresh true sets to the reference, and the shaded band their spread — a sampler
# inside the band is as good as we can tell with this many points.

# %%
directions = torch.nn.functional.normalize(torch.randn(256, 2, generator=g, dtype=torch.float64), dim=1)  # (256, 2)
reference = toy.sample(n_points, generator=g)


def sliced_distance(a, b):
    return ((a @ directions.T).sort(0).values - (b @ directions.T).sort(0).values).abs().mean().item()


floors = torch.tensor([sliced_distance(toy.sample(n_points, generator=g), reference) for _ in range(8)])
floor = floors.mean().item()
results = {"DDIM η=0": [], "DDIM η=1": []}
for n in step_counts:
    for eta, name in [(0.0, "DDIM η=0"), (1.0, "DDIM η=1")]:
        x0 = sample_loop(denoiser, DDIMSampler(schedule, n, eta=eta, spacing="trailing"), x_T, generator=g)
        results[name].append(sliced_distance(x0, reference))
ddpm = sample_loop(denoiser, DDPMSampler(schedule), x_T, generator=g)
ddpm_distance = sliced_distance(ddpm, reference)
for name, ds in results.items():
    print(name, "  ".join(f"n={n}: {d:.3f}" for n, d in zip(step_counts, ds)))
print(f"DDPM (1000 steps): {ddpm_distance:.3f}   floor (true vs true): {floor:.3f}, "
      f"from {floors.min():.3f} to {floors.max():.3f}")

fig, ax = plt.subplots(figsize=(5, 3.4))
for name, ds in results.items():
    ax.loglog(step_counts, ds, marker="o", label=name)
ax.axhline(ddpm_distance, color="k", ls="--", lw=0.8, label="DDPM, 1000 steps")
ax.axhline(floor, color="0.5", ls=":", label="floor: true vs true")
ax.axhspan(floors.min().item(), floors.max().item(), color="0.5", alpha=0.15)
ax.set_xlabel("number of sampling steps n")
ax.set_ylabel("sliced Wasserstein-1 to the toy")
ax.legend(fontsize=7)
save_figure(fig, out / "02_quality_vs_steps.png")

# %% [markdown]
# ## 4. Which timesteps? "leading" and "trailing" spacing
# With n steps out of T, DDIM visits n timesteps spaced T//n apart and always steps from t to t − T//n
# (ᾱ of "the step before 0" is 1). The two conventions of diffusers (Lin et al. 2023, table 2):
#     leading:  t_i = i·(T//n) for i = n−1 … 0           T=1000, n=5: 800, 600, 400, 200, 0
#     trailing: t_i = round(T − i·T/n) − 1 for i = 0 … n−1   T=1000, n=5: 999, 799, 599, 399, 199
# Each gives something up. *Leading* never starts at the pure-noise end: its first step treats x_T ~ N(0, I)
# as if it were x_800, whose ᾱ is not 0 — the mismatch is ᾱ at the first timestep. *Trailing* starts at
# t = T−1, where x_T really is noise, but never visits the clean end: its last step reads x̂₀ at
# t = T/n − 1 (199 here) and jumps straight to it. The pipeline uses trailing (DDIMSampler(…, spacing="trailing")).

# %%
for spacing in ("leading", "trailing"):
    print(f"{spacing:>8}, n=5:", DDIMSampler(schedule, 5, spacing=spacing).timesteps.tolist())
spacing_results = {}
for schedule_name, sched in (("linear", schedule), ("cosine", NoiseSchedule.cosine(1000))):
    exact = lambda x_t, t, cond, sched=sched: toy.optimal_eps(x_t, t, sched)  # noqa: E731
    for spacing in ("leading", "trailing"):
        row = []
        for n in (2, 5, 20):
            sampler = DDIMSampler(sched, n, spacing=spacing)
            row.append(sliced_distance(sample_loop(exact, sampler, x_T), reference))
        spacing_results[schedule_name, spacing] = row
        first_alpha_bar = float(sched.alphas_cumprod[DDIMSampler(sched, 5, spacing=spacing).timesteps[0]])
        print(f"{schedule_name} schedule, {spacing:>8}: ᾱ at the first of 5 steps {first_alpha_bar:.4f};  "
              + "  ".join(f"n={n}: {d:.3f}" for n, d in zip((2, 5, 20), row)))

# %% [markdown]
# Measured (full mode, the same x_T for every run, so the comparison is paired): with the linear schedule the
# spacing hardly matters — leading's first step assumes ᾱ = 0.0015, close enough to pure noise. With the
# cosine schedule it assumes ᾱ = 0.093 for n = 5, and trailing is ahead from 5 steps on (≈ 0.12 against 0.13,
# 0.03 against 0.04 at n = 20); at n = 2 leading is ahead, because trailing's only other step reads x̂₀ at
# t = 499, where the exact x̂₀ is still a blurred average. The differences are small next to the effect of n.

# %% [markdown]
# ## 5. Where the denoiser comes from: the training objective
# DDPM trains ε_θ by maximising a lower bound on log p(x₀) (the ELBO, eq. 5):
#     −log p(x₀) ≤ L_T + Σ_{t>1} L_{t−1} + L_0,   L_{t−1} = KL( q(x_{t−1} | x_t, x₀) ‖ p_θ(x_{t−1} | x_t) ).
# Both distributions in L_{t−1} are Gaussians with variance σ_t² (we take σ_t² = β̃_t), so the KL is a
# squared distance between their means (eq. 8): L_{t−1} = ‖μ̃_t(x_t, x₀) − μ_θ(x_t, t)‖² / (2σ_t²) + const.
# Write the mean through a noise prediction, μ_θ = (x_t − β_t/√(1−ᾱ_t)·ε_θ)/√α_t (eq. 11), and it becomes
#     L_{t−1} = λ_t·‖ε − ε_θ(x_t, t)‖²,   λ_t = β_t² / (2σ_t²·α_t·(1−ᾱ_t))                      (eq. 12)
# DDPM then drops λ_t (eq. 14) — the "simple loss":
#     L_simple = E_{t, x₀, ε} ‖ε − ε_θ(√ᾱ_t·x₀ + √(1−ᾱ_t)·ε, t)‖².
# The models of the later lessons train this unweighted loss with one change: their U-Net predicts v rather
# than ε (every preset's `prediction = "v"`; the end of this section shows why, lesson 08 writes that loss).
# A squared error is minimised by the conditional mean, so the best ε_θ(x_t, t) is E[ε | x_t]: exactly
# `toy.optimal_eps`. Below we plot λ_t, then train a small MLP with L_simple and compare it with the exact one.

# %%
t_all = torch.arange(1, schedule.num_steps)  # λ_0 is infinite (β̃_0 = 0): L_0 is a separate decoder term
weight = (schedule.betas[t_all] ** 2 / (2 * schedule.posterior_variance[t_all] * schedule.alphas[t_all]
                                        * (1 - schedule.alphas_cumprod[t_all])))  # eq. (12)'s λ_t
print("ELBO weight λ_t:", ", ".join(f"{weight[t - 1]:.3g} at t = {t}" for t in (1, 2, 10, 100, 500, 999)),
      "(the simple loss uses 1 everywhere)")

# %% [markdown]
# ### ε, x₀ and v: three names for one prediction
# x_t = √ᾱ·x₀ + √(1−ᾱ)·ε, so knowing x_t, any one of ε, x₀ or v = √ᾱ·ε − √(1−ᾱ)·x₀ gives the other two:
#     x₀ = (x_t − √(1−ᾱ)·ε)/√ᾱ        ε = (x_t − √ᾱ·x₀)/√(1−ᾱ)
#     x₀ = √ᾱ·x_t − √(1−ᾱ)·v           ε = √(1−ᾱ)·x_t + √ᾱ·v
# (with cos φ = √ᾱ, (x_t, v) is (x₀, ε) rotated by the angle φ). A network can be trained on any of the three
# targets; `schedule.to_x0_and_eps` converts its output. What differs is how an error is amplified:
# an error e in ε̂ becomes an error e·√((1−ᾱ)/ᾱ) = e/√SNR in x̂₀ — huge at large t, where ᾱ → 0; an error
# e in x̂₀ becomes e·√SNR in ε̂ — huge at small t; an error e in v̂ becomes at most e in both.
# We train three identical MLPs, one per target, with the same data, noise and steps.

# %%
mlp_steps, batch_size = (150, 128) if fast_mode() else (2000, 256)


def mlp_output(net, x_t, t):
    return net(torch.cat([x_t, timestep_embedding(t, 32)], dim=1))  # (B, 2 + 32) → (B, 2)


nets, train_time = {}, time.time()
for prediction in ("epsilon", "x0", "v"):
    torch.manual_seed(0)  # the same initial weights for all three
    net = torch.nn.Sequential(torch.nn.Linear(34, 128), torch.nn.SiLU(), torch.nn.Linear(128, 128),
                              torch.nn.SiLU(), torch.nn.Linear(128, 2))
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    lr_decay = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, mlp_steps)
    g_train = torch.Generator().manual_seed(1)  # the same data, t and noise for all three
    for step in range(mlp_steps):
        x0 = toy.sample(batch_size, generator=g_train).float()                     # (B, 2)
        t = torch.randint(0, schedule.num_steps, (batch_size,), generator=g_train)  # (B,)
        eps = torch.randn(batch_size, 2, generator=g_train)                        # (B, 2)
        x_t = schedule.q_sample(x0, t, noise=eps)                                  # eq. (4)
        target = {"epsilon": eps, "x0": x0, "v": schedule.get_v(x0, eps, t)}[prediction]
        loss = (mlp_output(net, x_t, t) - target).square().mean()                 # L_simple
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        lr_decay.step()
    nets[prediction] = net
print(f"three MLPs, {mlp_steps} steps each, in {time.time() - train_time:.0f} s")

# %% [markdown]
# Compare each MLP, converted to ε̂ and x̂₀, with the exact denoiser on fresh x_t at a grid of timesteps.

# %%
probe_t = [1, 10, 50, 100, 200, 400, 600, 800, 950, 999]
g_eval = torch.Generator().manual_seed(2)
errors = {p: {"eps": [], "x0": []} for p in nets}
simple_loss = {p: 0.0 for p in [*nets, "exact"]}
with torch.no_grad():
    for t in probe_t:
        x0 = toy.sample(2000, generator=g_eval).float()
        eps = torch.randn(2000, 2, generator=g_eval)
        x_t = schedule.q_sample(x0, t, noise=eps)
        t_batch = torch.full((2000,), t)
        eps_exact = toy.optimal_eps(x_t.double(), t, schedule).float()
        x0_exact = schedule.eps_to_x0(eps_exact, x_t, t)
        simple_loss["exact"] += (eps_exact - eps).square().mean().item() / len(probe_t)
        for p, net in nets.items():
            x0_pred, eps_pred = schedule.to_x0_and_eps(mlp_output(net, x_t, t_batch), x_t, t, p)
            errors[p]["eps"].append((eps_pred - eps_exact).square().mean().sqrt().item())
            errors[p]["x0"].append((x0_pred - x0_exact).square().mean().sqrt().item())
            simple_loss[p] += (eps_pred - eps).square().mean().item() / len(probe_t)
for p in nets:
    print(f"{p:>7}-prediction: RMS error of ε̂ at t=1 {errors[p]['eps'][0]:.3f}, t=999 {errors[p]['eps'][-1]:.3f};"
          f"  of x̂₀ at t=1 {errors[p]['x0'][0]:.3f}, t=999 {errors[p]['x0'][-1]:.3f}")
print("simple loss (in ε) on the probe:", {k: round(v, 4) for k, v in simple_loss.items()},
      "— the exact denoiser's is the smallest possible")

# Sample with each learned denoiser (DDIM, 50 trailing steps) from the same x_T as section 3.
learned = {}
for p, net in nets.items():
    with torch.no_grad():
        samples = sample_loop(lambda x, t, c, net=net: mlp_output(net, x.float(), t).double(),
                              DDIMSampler(schedule, 50, spacing="trailing", prediction=p), x_T)
    learned[p] = (samples, sliced_distance(samples, reference))
print("DDIM, 50 steps, learned denoisers:", {p: round(d, 3) for p, (_, d) in learned.items()},
      f" exact: {results['DDIM η=0'][step_counts.index(50)]:.3f}, floor {floor:.3f}")

# %% [markdown]
# Measured (full mode, 2,000 steps per MLP): the simple loss of each MLP is within a few percent of the exact
# denoiser's for ε and v (0.40 against 0.38; no network can go below the exact one), while the x₀-model's ε̂
# error explodes at small t (RMS ≈ 10 at t = 1, figure `02_objective.png`, middle) and the ε-model's x̂₀
# error at large t (≈ 13 at t = 999, right). Sampled with DDIM (50 steps, `02_learned_samples.png`), all three
# find the four components, with stragglers between them: the v-model is closest (≈ 0.06, twice the floor),
# then ε (≈ 0.07), then x₀ (≈ 0.10), whose samples are pulled to the components' inner edges — its ε̂ is
# worst exactly at the last, small-t steps.

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
axes[0].semilogy(t_all, weight)
axes[0].set_xlabel("t")
axes[0].set_title("ELBO weight λ_t of ‖ε − ε̂‖² (eq. 12); L_simple uses 1", fontsize=8)
for ax, key, title in ((axes[1], "eps", "RMS error of ε̂ vs the exact E[ε | x_t]"),
                       (axes[2], "x0", "RMS error of x̂₀ vs the exact E[x₀ | x_t]")):
    for p in nets:
        ax.semilogy(probe_t, errors[p][key], marker="o", label=f"trained on {p}")
    ax.set_xlabel("t")
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=7)
save_figure(fig, out / "02_objective.png")

fig, axes = plt.subplots(1, 3, figsize=(10, 3.4))
for ax, (p, (samples, distance)) in zip(axes, learned.items()):
    ax.scatter(reference[:, 0], reference[:, 1], s=1, c="0.85")
    ax.scatter(samples[:, 0], samples[:, 1], s=1)
    ax.set_title(f"MLP trained on {p}: distance {distance:.3f}", fontsize=8)
    ax.set_aspect("equal")
save_figure(fig, out / "02_learned_samples.png")

# %% [markdown]
# ## Exercise 1 — the DDIM timesteps
# Write `exercise_timesteps(T, n, spacing)` returning the n timesteps DDIM visits, in the order it visits them
# (descending), as a list of ints, for spacing "leading" or "trailing" (formulas in section 4). Hint: for
# "trailing", round(T − i·T/n) − 1 with Python's `round`. The check compares with `DDIMSampler(…).timesteps`.

# %%
def exercise_timesteps(T, n, spacing):
    raise NotImplementedError


report(checks.check_timesteps, exercise_timesteps, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — one DDIM step (η = 0)
# Write `exercise_ddim_step(eps_pred, x_t, alpha_bar, alpha_bar_prev)`: eps_pred and x_t are (B, d);
# alpha_bar (ᾱ_t) and alpha_bar_prev (ᾱ_{t'}, the timestep landed on) are (B, 1), ready to broadcast.
# Return x_{t'} = √ᾱ_{t'}·x̂₀ + √(1−ᾱ_{t'})·ε̂ with x̂₀ = (x_t − √(1−ᾱ_t)·ε̂)/√ᾱ_t (eq. 12 with σ = 0).

# %%
def exercise_ddim_step(eps_pred, x_t, alpha_bar, alpha_bar_prev):
    raise NotImplementedError


report(checks.check_ddim_step, exercise_ddim_step, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the ELBO weight λ_t
# Write `exercise_elbo_weight(betas, alphas_cumprod)` (both (T,)) returning λ_t = β_t² / (2·β̃_t·α_t·(1−ᾱ_t))
# for t = 1 … T−1, shape (T−1,), with β̃_t = (1−ᾱ_{t−1})/(1−ᾱ_t)·β_t (lesson 01, exercise 3) and α_t = 1 − β_t.
# Hint: slice [1:] for t and [:-1] for t − 1. The check compares with `weight` of section 5.

# %%
def exercise_elbo_weight(betas, alphas_cumprod):
    raise NotImplementedError


report(checks.check_elbo_weight, exercise_elbo_weight, "Exercise 3")

# %% [markdown]
# ## Exercise 4 — ε̂ from an x̂₀ prediction
# Write `exercise_eps_from_x0(x0_pred, x_t, alpha_bar)` (x0_pred, x_t (B, d); alpha_bar (B, 1)) returning
# ε̂ = (x_t − √ᾱ·x̂₀)/√(1−ᾱ): what a sampler needs from an x₀-prediction network. Then look at section 5's
# figure again: which factor here blows up at small t?

# %%
def exercise_eps_from_x0(x0_pred, x_t, alpha_bar):
    raise NotImplementedError


report(checks.check_eps_from_x0, exercise_eps_from_x0, "Exercise 4")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/02_samplers_on_a_toy.py`)
# 1. The ELBO weight λ_t is largest at small t. What would training with the ELBO instead of L_simple spend
#    its effort on, and why might that make worse samples?
# 2. In the section 5 figure, the ε-trained MLP has the largest x̂₀ error at large t and the x₀-trained MLP
#    the largest ε̂ error at small t. Explain both from the conversion formulas.
# 3. Why does η = 1 need more steps than η = 0 to reach the floor?
# 4. With T = 1000, which timesteps does "leading" spacing visit for n = 3? Which ᾱ does its first step assume
#    the pure noise x_T has, for the linear and for the cosine schedule?

# %% [markdown]
# ## What we measured
# With the exact denoiser, DDIM's error shrinks with the number of steps until it meets the floor (≈ 50
# steps), and DDPM with all 1000 steps is at the floor too. Few steps hurt η = 1 more than η = 0. A small MLP
# trained with the simple loss learns the denoiser well enough to sample the mixture; which target it is
# trained on decides where its errors are amplified.

# %%
eta0 = dict(zip(step_counts, results["DDIM η=0"]))
assert eta0[50] < eta0[5] / 2, eta0
assert eta0[50] < 2 * floor and ddpm_distance < 2 * floor, (eta0[50], ddpm_distance, floor)
assert results["DDIM η=1"][1] > eta0[5], results
assert all(simple_loss[p] >= simple_loss["exact"] - 0.01 for p in nets), simple_loss
assert errors["epsilon"]["x0"][-1] > errors["v"]["x0"][-1] and errors["x0"]["eps"][0] > errors["v"]["eps"][0], errors
if not fast_mode():
    assert all(d < results["DDIM η=0"][0] / 4 for _, d in learned.values()), learned  # far better than 2 exact steps
print("more steps, closer to the data; a denoiser learned with the simple loss samples the toy")

# %% [markdown]
# # Lesson 10 — steps and samplers: quality against time
#
# **Goal.** DDPM walks all T = 1000 steps of the reverse Markov chain; DDIM jumps through a subsequence of
# them with a deterministic (η = 0) update. Write one DDIM step by hand, see which timesteps it visits, and
# measure how few steps we can afford before the words stop reading.
#
# **Prerequisites.** Lessons 02 (DDPM and DDIM on a toy) and 08 (v-prediction, x̂₀ from v̂).
#
# **Papers.** Ho et al. 2020 (arXiv 2006.11239), Algorithm 2; Song et al. 2021, "DDIM" (arXiv 2010.02502),
# eq. 12 and 16, sec. 4.2; Lin et al. 2023, "Common Diffusion Noise Schedules and Sample Steps are Flawed"
# (arXiv 2305.08891), sec. 3.3 and table 2: "trailing" timestep spacing.
#
# **What you should see** (measured in full mode on 2026-12-06 with the model shipped that day — 15,000 steps on
# the 32×32×4 latent, in the git history — and the wide reader):
# 1. "leading" spacing starts at t = 900, where ᾱ = 0.024; "trailing" at t = 999, where ᾱ = 2·10⁻⁹ — pure
#    noise, as training saw it;
# 2. the hand-written DDIM step equals `DDIMSampler.step`;
# 3. the trajectory of x̂₀: the word is there from the very first step, in its place (the reader reads "SPELL"
#    at every frame shown, from t = 999 on) — not late: the glyph canvas shows the U-Net the letters' shapes
#    at every step. The colour settles over the first steps (the first frame's letters are a lighter, pinker
#    purple than the asked one, the next frames' darker, and a faint speckle comes and goes in the
#    background); after that the steps only refine: x̂₀ changes by a few hundredths (mean |Δ| 0.016–0.040)
#    from one frame shown to the next, after a first jump of 0.107. (A less trained
#    model, such as lesson 08's, takes longer to settle its colours.)
# 4. quality against steps: the reader's scores rise from 2 to 5 DDIM steps (characters 79% → 97%, exact words
#    67% → 92%) and change little from 5 to 50 (characters 97–98%, exact words 92%; n = 6 per split: read
#    the trend, not the digits; the reader misreads 4% of clean held-out renders; the lesson's DDPM line is
#    one image per split; on the first data's long model, 10 DDIM steps read as well as 50 and as DDPM's
#    1000 — RESULTS.md, "The first data"). Cost is one guided step = two U-Net calls, so time grows
#    linearly with the steps and DDPM's 1000 steps cost 2000 calls per image, 33 times 30 DDIM steps. The
#    scored images are shown with what the reader read in each, after the reader's own misses on clean
#    renders of the same texts.
#
# Set `MINIGPTIMAGE_CHECKPOINT` to a checkpoint file or training folder (lesson 08) to run this on your model.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import os
import time

import matplotlib.pyplot as plt
import torch

from minigptimage.__main__ import resolve_checkpoint
from minigptimage.evaluate import evaluation_samples, generate_in_batches, reader_misses, score_images
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir, save_figure, trajectory
from minigptimage.reader import GlyphReader
from minigptimage.samplers import DDIMSampler, sample_loop

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.10_steps_and_samplers")

OUT = output_dir(HERE / "10_steps_and_samplers.py")
FAST = fast_mode()
CHECKPOINT = os.environ.get("MINIGPTIMAGE_CHECKPOINT")  # your model from lesson 08; unset: the shipped one
model, reader = MiniGPTImage.load(resolve_checkpoint(CHECKPOINT)), GlyphReader.pretrained()
print(f"model: {CHECKPOINT or 'the shipped tiny model'}")
T = model.config.num_steps

# %% [markdown]
# ## 1. Which timesteps does DDIM visit? Leading and trailing spacing (lesson 02, on our model's schedule)
# With n steps out of T, DDIM jumps by T//n each time. "Leading" spacing (DDIM's own code) takes 0, k, 2k, …
# and so starts at T − k: for n = 10 its first step is t = 900, where ᾱ is not yet 0 — the sampler starts from
# pure noise but treats it as if it still held a trace of the image. "Trailing" (Lin et al. table 2) counts down
# from T − 1, the step where training saw pure noise, which is why `generate` uses it.

# %%
for spacing in ("leading", "trailing"):
    sampler = DDIMSampler(model.schedule, 10, spacing=spacing, prediction=model.config.prediction)
    first = int(sampler.timesteps[0])
    print(f"{spacing:8s} n = 10: {sampler.timesteps.tolist()}  (ᾱ at the first step: "
          f"{float(model.schedule.alphas_cumprod[first]):.1e})")

# %% [markdown]
# ## 2. One DDIM step, by hand (η = 0)
# From the network's v̂ at (x_t, t), with ᾱ_t and ᾱ_prev = ᾱ at t_prev = t − T//n (1 before step 0):
#
#     x̂₀ = √ᾱ_t·x_t − √(1−ᾱ_t)·v̂             "predicted x₀"  (lesson 08, exercise 2)
#     ε̂  = √(1−ᾱ_t)·x_t + √ᾱ_t·v̂             the noise that goes with it
#     x_prev = √ᾱ_prev·x̂₀ + √(1−ᾱ_prev)·ε̂     DDIM eq. 12 with σ_t = 0: re-noise x̂₀ to the lower level
#
# The step keeps ε̂ — the direction it believes the noise points — and only lowers the noise level. With
# η > 0, part of ε̂ is replaced by fresh noise of size σ_t(η) (eq. 16); η = 1 is DDPM-like.

# %%
prompt = 'the word "SPELL" in purple on white, in the center'
sampler = DDIMSampler(model.schedule, 30, spacing="trailing", prediction=model.config.prediction)
cond, uncond = model.condition([prompt]), model.null_condition(1)
x_t = torch.randn(model.latent_shape(1), generator=torch.Generator().manual_seed(1))  # (1, C, h, w)
t = int(sampler.timesteps[0])
with torch.no_grad():
    v_c, v_u = model.denoise(x_t, torch.tensor([t]), cond), model.denoise(x_t, torch.tensor([t]), uncond)
v_hat = v_u + model.config.guidance * (v_c - v_u)  # guided v̂ (lesson 09)
alpha_bar = float(model.schedule.alphas_cumprod[t])
t_prev = t - T // sampler.num_inference_steps
alpha_bar_prev = float(model.schedule.alphas_cumprod[t_prev]) if t_prev >= 0 else 1.0
x0_hat = alpha_bar ** 0.5 * x_t - (1 - alpha_bar) ** 0.5 * v_hat
eps_hat = (1 - alpha_bar) ** 0.5 * x_t + alpha_bar ** 0.5 * v_hat
x_prev = alpha_bar_prev ** 0.5 * x0_hat + (1 - alpha_bar_prev) ** 0.5 * eps_hat
assert torch.allclose(x_prev, sampler.step(v_hat, t, x_t), atol=1e-5), "the hand-written step should match"
print(f"step t = {t} -> {t_prev}: ᾱ {alpha_bar:.2e} -> {alpha_bar_prev:.2e}; matches DDIMSampler.step")

# %% [markdown]
# ## 3. One trajectory: the predicted clean image x̂₀ along 30 DDIM steps (10 in fast mode)
# `generate(..., return_trajectory=True)` records x̂₀ at every step. Each frame is titled with its t and
# what the glyph reader reads in it. Remember what the glyph-aware model is given: the glyph canvas (the word
# drawn in a plain font, where it should go) enters the U-Net at every step, from the first one.

# %%
traj_steps = 10 if FAST else 30
images, traj = model.generate([prompt], steps=traj_steps, seed=1, return_trajectory=True)
picks = [0, 1, 2, 4, 6, 9] if FAST else [0, 1, 2, 4, 8, 14, 20, 29]
frames = model.decode(traj["x0_pred"][picks, 0])  # (8, 3, 64, 64)
frame_reads = reader.read(frames)
labels = [f"{int(traj['timesteps'][k])}: {r or '∅'}" for k, r in zip(picks, frame_reads)]
trajectory(frames, labels, OUT / "lesson10_trajectory.png", title=prompt)
change = [(frames[k + 1] - frames[k]).abs().mean().item() for k in range(len(picks) - 1)]
print("x̂₀ read at t =", ", ".join(labels))
print("mean |Δx̂₀| between the frames shown:", ", ".join(f"{c:.3f}" for c in change))

# %% [markdown]
# ## 4. Quality and cost against the number of steps
# The cost of a sample is its number of U-Net calls: one per step, two with guidance. We count them with a
# denoiser that wraps the model (wall time on a shared machine is too noisy to compare small differences).
# The quality is scored as `evaluate` scores it — n captions of training-vocabulary text and n of held-out text,
# the same seeds — written out so that we can look at the images the reader scored.
#
# **How far to trust the reader.** On clean renders of held-out text (right by construction) the reader still
# misses some: S/s, O/o, C/c and 0/O look alike at 64 pixels. That miss rate is the floor under every "exact
# word" figure below; when a title's reading looks wrong, look at the image.

# %%
clean = evaluation_samples("heldout", 16 if FAST else 200)  # the evaluation's own held-out captions, rendered clean
misses = reader_misses(reader, clean)  # (text, read) for each clean render the reader gets wrong
print(f"the reader misreads {len(misses)} of {len(clean)} clean held-out renders ({len(misses) / len(clean):.0%})"
      + (f", e.g. (text, read) {misses[:4]}" if misses else ""))


def scored(steps: int, n: int, sampler: str = "ddim"):
    """(seen, held-out) scores of n captions each at this many steps, as `evaluate` draws them; shows the images."""
    scores = []
    for split in ("train", "heldout"):
        samples = evaluation_samples(split, n)
        start = time.perf_counter()
        images = generate_in_batches(model, [s.caption for s in samples], steps, sampler=sampler)  # (n, 3, H, W)
        scores.append(score_images(images, samples, reader, split, (time.perf_counter() - start) / n))
        shown.append(images)
        shown_titles.extend(f"{sampler} {steps}: {s.text} → {r or '∅'}" for s, r in zip(samples, reader.read(images)))
    return scores


calls = 0


def counting_denoiser(x, t, c):
    global calls
    calls += 1
    return model.denoise(x, t, c)


step_counts = [2, 5, 10] if FAST else [2, 5, 10, 20, 50]
n = 4 if FAST else 6
results, shown, shown_titles = [], [], []
for steps in step_counts:
    calls = 0
    sample_loop(counting_denoiser, model.make_sampler("ddim", steps, 0.0), x_t, cond=cond, uncond=uncond,
                guidance=model.config.guidance)
    seen, held = scored(steps, n)
    results.append((steps, (seen.char_acc + held.char_acc) / 2, (seen.word_acc + held.word_acc) / 2,
                    seen.seconds_per_image, calls))
    print(f"DDIM {steps:3d} steps: {calls:3d} U-Net calls, characters read {results[-1][1]:.0%}, exact words "
          f"{results[-1][2]:.0%}, {results[-1][3] * 1000:.0f} ms per image")
if not FAST:
    seen, held = scored(T, 1, sampler="ddpm")
    print(f"DDPM {T} steps ({2 * T} U-Net calls, n = 1 per split): characters read "
          f"{(seen.char_acc + held.char_acc) / 2:.0%}, exact words {(seen.word_acc + held.word_acc) / 2:.0%}, "
          f"{seen.seconds_per_image * 1000:.0f} ms per image")
image_grid(torch.cat(shown), OUT / "lesson10_scored_images.png", titles=shown_titles, ncols=2 * n)  # asked → read

fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].plot([r[0] for r in results], [r[1] for r in results], "o-", label="characters")
ax[0].plot([r[0] for r in results], [r[2] for r in results], "s-", label="exact words")
ax[0].set(xscale="log", xlabel="DDIM steps", ylabel="fraction read", title=f"quality (n = {n} per split)")
ax[0].legend()
ax[1].plot([r[0] for r in results], [r[3] * 1000 for r in results], "o-")
ax[1].set(xscale="log", yscale="log", xlabel="DDIM steps", ylabel="ms per image", title="time")
save_figure(fig, OUT / "lesson10_quality_vs_steps.png")

# %% [markdown]
# ## Exercise 1 — one DDIM step (η = 0) from v̂
# Write `exercise_ddim_step(v_pred, x_t, alpha_bar, alpha_bar_prev)`: v_pred and x_t are (B, C, h, w), alpha_bar
# and alpha_bar_prev two floats (ᾱ_t and ᾱ at t_prev). Return x_prev with the three lines of section 2
# (lesson 02's exercise took ε̂; our model predicts v̂).
# Hint: compute x̂₀ and ε̂ first. The check compares with `DDIMSampler.step` at several t, the last step included.

# %%
def exercise_ddim_step(v_pred, x_t, alpha_bar, alpha_bar_prev):
    raise NotImplementedError


report(checks.check_ddim_step, exercise_ddim_step, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — DDIM's noise σ_t(η)
# DDIM eq. 16: σ_t(η) = η·√((1−ᾱ_prev)/(1−ᾱ_t))·√(1 − ᾱ_t/ᾱ_prev). Write `exercise_ddim_sigma(alpha_bar,
# alpha_bar_prev, eta)` for tensors alpha_bar, alpha_bar_prev (B,) and a float η. Hint: when DDIM skips steps,
# 1 − ᾱ_t/ᾱ_prev is not the β_t of one step — use the ᾱ's you are given.

# %%
def exercise_ddim_sigma(alpha_bar, alpha_bar_prev, eta):
    raise NotImplementedError


report(checks.check_ddim_sigma, exercise_ddim_sigma, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the DDIM step with η > 0
# DDIM eq. 12 in full: x_prev = √ᾱ_prev·x̂₀ + √(1 − ᾱ_prev − σ²)·ε̂ + σ·z, with σ = σ_t(η) of exercise 2 and z
# fresh noise. Write `exercise_ddim_step_eta(v_pred, x_t, alpha_bar, alpha_bar_prev, eta, noise)` (tensors
# (B, C, h, w), ᾱ's as floats, z = noise). Hint: reuse your two functions above; with η = 0 it must give
# exercise 1's answer.

# %%
def exercise_ddim_step_eta(v_pred, x_t, alpha_bar, alpha_bar_prev, eta, noise):
    raise NotImplementedError


report(checks.check_ddim_step_eta, exercise_ddim_step_eta, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/10_steps_and_samplers.py`)
# 1. With η = 0, two runs from the same x_T give the same image. Which line of section 2 would change that?
# 2. At the last step t_prev < 0 and ᾱ_prev = 1. What does the step return then, and why is that right?
# 3. Why does DDPM need all 1000 steps while DDIM gets by with 30?

# %% [markdown]
# ## What we measured
# Each DDIM step is exactly one guided U-Net evaluation (two calls), and DDIM converges: with more steps the
# image gets closer to a many-step reference from the same starting noise.

# %%
few, many, most = (2, 8, 16) if FAST else (2, 20, 50)
reference = model.generate([prompt], steps=most, seed=1)
distance = {k: (model.generate([prompt], steps=k, seed=1) - reference).abs().mean().item() for k in (few, many)}
print(f"mean |x(n steps) − x({most} steps)|: {few} steps {distance[few]:.3f}, {many} steps {distance[many]:.3f}")
calls_per_step = 1 if model.config.guidance == 1 else 2
assert all(r[4] == calls_per_step * r[0] for r in results), "one guided step is two U-Net calls"
assert distance[many] < distance[few], "DDIM with more steps should approach the many-step sample"

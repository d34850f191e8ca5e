# %% [markdown]
# # Lesson 09 — classifier-free guidance
#
# **Goal.** See what the guidance scale does. One network was trained both with the prompt and, 10% of the
# time, with a learned "null" prompt and no glyph canvas (lesson 08, step 5); at sampling time we run it twice
# per step and extrapolate from the unconditional prediction towards the conditional one.
#
# **Prerequisites.** Lessons 02 (samplers) and 08 (training, and v-prediction).
#
# **Paper.** Ho & Salimans 2022, "Classifier-Free Diffusion Guidance" (arXiv 2207.12598), eq. 6 and sec. 3.2.
# The paper writes ε̃ = (1 + w)·ε(z, c) − w·ε(z): w = 0 is the plain conditional model. We (like diffusers and
# most code) write out = out_uncond + s·(out_cond − out_uncond), which is the same formula with **s = 1 + w**:
# s = 1 is the plain conditional model (the paper's w = 0), s = 0 the unconditional one (w = −1), and the
# shipped model's recommended s = 2 is the paper's w = 1.
#
# **What you should see** (measured in full mode on 2026-12-06 with the model shipped that day — 15,000 steps on
# the 32×32×4 latent, in the git history — and the wide reader):
# 1. the formula on one step: s = 1 returns the conditional prediction exactly; at t = 500 the prompt changes
#    the prediction by about three quarters of its size (73% for the shipped model), which s multiplies;
# 2. the sweep: s = 0 is the unconditional model (no prompt, no canvas) — no readable word, colours at
#    chance; from s = 1 on the word reads in the asked colours and place (at s = 1 the letters are still a
#    little soft, crisp from s = 2); at s = 5–8 the colours overshoot (red darkens, blue turns cyan, the
#    yellow glares) and the flat background fills with coloured speckles: extrapolating far past the
#    conditional prediction pushes the latents off what the model saw in training. (A less trained model, such as lesson 08's, draws soft letters at s = 1 and needs s ≈ 2–3 to
#    draw them crisply.)
# 3. measured (n = 8 per split: read the trend, not the digits): the characters read jump from 8% at s = 0 to
#    94% at s = 1 and peak at s = 2 and 3 (96%; exact words 88% at both), then fall: 90% at s = 5, 86% at
#    s = 8 (exact words 75%, 50%). The colour is right 94–100% of the time from s = 1 to 5 (100% at s = 2
#    and 3), 81% at s = 8 and 12% at s = 0. The reader itself misreads 9 of 200 clean held-out renders (4%).
#    Every scored image is shown with what the reader read in it, and the reader's own misses on clean
#    renders of the same kind of text are measured first: an image the reader gets wrong may still be right.
#
# Set `MINIGPTIMAGE_CHECKPOINT` to a checkpoint file or training folder (lesson 08) to run this on your model.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import os

import matplotlib.pyplot as plt
import torch

from minigptimage.__main__ import resolve_checkpoint
from minigptimage.evaluate import evaluation_samples, generate_in_batches, reader_misses, score_images
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir, save_figure
from minigptimage.reader import GlyphReader
from minigptimage.samplers import classifier_free_guidance

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.09_classifier_free_guidance")

OUT = output_dir(HERE / "09_classifier_free_guidance.py")
FAST = fast_mode()
CHECKPOINT = os.environ.get("MINIGPTIMAGE_CHECKPOINT")  # your model from lesson 08; unset: the shipped one
model, reader = MiniGPTImage.load(resolve_checkpoint(CHECKPOINT)), GlyphReader.pretrained()
print(f"model: {CHECKPOINT or 'the shipped tiny model'}; it recommends guidance s = {model.config.guidance:g}")

# %% [markdown]
# ## 1. The formula, on one denoising step
# Two calls of the same U-Net at the same x_t and t: one with the prompt (and its glyph canvas), one with the
# null prompt (and no canvas). Guidance works on whatever the network predicts — here v — and the sampler
# then turns the guided v̂ into x̂₀ and ε̂ as usual (lesson 08, exercise 2). s = 1 must give exactly the
# conditional prediction.

# %%
prompts = ['the word "HELLO" in red on white, in the center', '"WORLD" in blue letters on yellow, at the top']
cond, uncond = model.condition(prompts), model.null_condition(len(prompts))
x_t = torch.randn(model.latent_shape(len(prompts)), generator=torch.Generator().manual_seed(0))  # (2, C, h, w)
t = torch.full((len(prompts),), 500)
with torch.no_grad():
    out_c, out_u = model.denoise(x_t, t, cond), model.denoise(x_t, t, uncond)  # v̂(x_t, c), v̂(x_t, ∅)
s = 3.0
guided = out_u + s * (out_c - out_u)  # Ho & Salimans eq. 6 with s = 1 + w: (1 + w)·v̂(c) − w·v̂(∅)
assert torch.allclose(guided, classifier_free_guidance(out_c, out_u, s), atol=1e-6)
assert torch.equal(classifier_free_guidance(out_c, out_u, 1.0), out_c)
relative = ((out_c - out_u).norm() / out_c.norm()).item()
print(f"at t = 500 the prompt changes the prediction by {relative:.0%} of its size; s = {s:g} multiplies that "
      f"difference by {s:g}")

# %% [markdown]
# ## 2. A guidance sweep: the same prompts and seeds at several scales
# Each column pair is one seed; each row a scale. The starting noise is the same in every row, so what changes
# is only how hard each step is pushed towards the prompt.

# %%
scales = [0.0, 1.0, 3.0] if FAST else [0.0, 1.0, 2.0, 3.0, 5.0, 8.0]
steps = 8 if FAST else 30
rows, titles = [], []
for scale in scales:
    rows.append(torch.cat([model.generate(prompts, steps=steps, guidance=scale, seed=seed) for seed in (0, 1)]))
    titles += [f"s={scale:g}: {r or '∅'}" for r in reader.read(rows[-1])]
image_grid(torch.cat(rows), OUT / "lesson09_guidance_grid.png", titles=titles, ncols=4)

# %% [markdown]
# ## 3. Measured: how well the reader reads the asked word, and the colour, at each scale
# As `evaluate` does: n captions of training-vocabulary text and n of held-out text (`evaluation_samples`), one
# image per caption at the given scale (`generate_in_batches`, the same seeds as `evaluate`), read back and
# scored (`score_images`; lesson 08, section 5) — written out here so that we can look at the images too.
#
# **First, how far to trust the reader.** Every score below is the glyph reader's reading, and the reader is
# not perfect: on clean renders of held-out text — images whose text is right by construction — it misses some
# (S/s, O/o, C/c and 0/O look alike at 64 pixels). Its miss rate on clean renders is the floor under every
# "exact word" figure; when a title reads "VORLD" on an image that plainly says WORLD, trust the image.

# %%
clean = evaluation_samples("heldout", 16 if FAST else 200)  # the evaluation's own held-out captions, rendered clean
misses = reader_misses(reader, clean)  # (text, read) for each clean render the reader gets wrong
print(f"the reader misreads {len(misses)} of {len(clean)} clean held-out renders ({len(misses) / len(clean):.0%})"
      + (f", e.g. (text, read) {misses[:4]}" if misses else ""))

# %%
n = 2 if FAST else 8
accuracy, shown, shown_titles = {}, [], []
for scale in scales:
    scores = []
    for split in ("train", "heldout"):
        samples = evaluation_samples(split, n)
        images = generate_in_batches(model, [s.caption for s in samples], steps, guidance=scale)  # (n, 3, H, W)
        scores.append(score_images(images, samples, reader, split, seconds=float("nan")))
        shown.append(images)
        shown_titles += [f"s={scale:g} {s.text} → {r or '∅'}" for s, r in zip(samples, reader.read(images))]
    seen, held = scores
    accuracy[scale] = {"characters": (seen.char_acc + held.char_acc) / 2, "words": (seen.word_acc + held.word_acc) / 2,
                       "colour": (seen.colour_acc + held.colour_acc) / 2}
    print(f"guidance s = {scale:4g} (w = {scale - 1:4g}): characters read {accuracy[scale]['characters']:.0%}, "
          f"exact words {accuracy[scale]['words']:.0%}, colour {accuracy[scale]['colour']:.0%}")
image_grid(torch.cat(shown), OUT / "lesson09_scored_images.png", titles=shown_titles, ncols=2 * n)  # asked → read
fig, ax = plt.subplots(figsize=(5, 3))
for key in ("characters", "words", "colour"):
    ax.plot(scales, [accuracy[scale][key] for scale in scales], "o-", label=key)
ax.set(xlabel="guidance scale s (= 1 + w)", ylabel="fraction right", title=f"n = {n} per split, DDIM {steps}")
ax.legend()
save_figure(fig, OUT / "lesson09_accuracy_vs_guidance.png")

# %% [markdown]
# ## Exercise 1 — the guidance combination
# Write `exercise_guidance(cond_out, uncond_out, scale)`: two predictions of the same shape (B, C, h, w) and
# the scale s; return out_uncond + s·(out_cond − out_uncond). Hint: one line; check s = 0 and s = 1 by hand.

# %%
def exercise_guidance(cond_out, uncond_out, scale):
    raise NotImplementedError


report(checks.check_guidance, exercise_guidance, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — the paper's w
# Ho & Salimans write ε̃ = (1 + w)·ε(z, c) − w·ε(z). Write `exercise_guidance_paper(cond_out, uncond_out, w)`
# with their formula, literally. The check calls it with w and compares with our function at s = 1 + w.

# %%
def exercise_guidance_paper(cond_out, uncond_out, w):
    raise NotImplementedError


report(checks.check_guidance_paper, exercise_guidance_paper, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — a diversity measure
# Guidance trades variety for fidelity. To see it, measure how different the images of one prompt are across
# seeds. Write `exercise_diversity(images)`: images (N, 3, H, W), N ≥ 2; return a 0-d tensor, the mean over
# all pairs i < j of the root-mean-square pixel difference √(mean((x_i − x_j)²)). Hint: flatten each image to a
# vector; `torch.pdist` gives the Euclidean distance of every pair, and RMS = distance / √(number of values).

# %%
def exercise_diversity(images):
    raise NotImplementedError


report(checks.check_diversity, exercise_diversity, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/09_classifier_free_guidance.py`)
# 1. Generate one prompt with 8 seeds at s = 0, 1, 2, 4 and 8 and measure `exercise_diversity` at each scale.
#    How does the variety change with s, and what does that say about guidance?
# 2. Guidance costs two U-Net calls per step. Which scale gives the plain conditional model for one call?
# 3. At s = 0 the glyph canvas is not given either. What would you expect the unconditional samples to show?

# %% [markdown]
# ## What we measured
# Guidance 1 is the conditional prediction exactly, and guided samples read better than unguided (s = 0) ones.

# %%
best = max(accuracy, key=lambda scale: accuracy[scale]["characters"])
print(f"most characters read at s = {best:g}")
assert max(accuracy[scale]["characters"] for scale in scales if scale >= 1) > accuracy[0.0]["characters"], \
    "guided samples should read better than s = 0"

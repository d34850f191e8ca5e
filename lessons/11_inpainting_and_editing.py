# %% [markdown]
# # Lesson 11 — editing without retraining: repaint a masked word (RePaint) and redraw an image (SDEdit)
#
# **Goal.** Use a trained text-to-image model for two new tasks by changing only the sampling loop —
# inpainting (replace the word inside a mask, keep every other pixel) and text-guided editing (noise a whole
# image part way, then denoise it under a new prompt).
#
# **Prerequisites.** Lessons 01 (q_sample), 07 (the VAE and its latents), 09 (guidance), 10 (the DDIM step).
#
# **Papers.** Lugmayr et al. 2022, "RePaint" (arXiv 2201.09865), sec. 4.1 eq. 8–9 and Algorithm 1 (the known
# region is re-noised to the level of every step's output), sec. 4.2 (resampling); Meng et al. 2022, "SDEdit"
# (arXiv 2108.01073), sec. 3 (the strength t₀ trades faithfulness to the input for realism).
#
# **What you should see** (measured in full mode on 2026-12-06 with the model shipped that day — 15,000 steps on
# the 32×32×4 latent, in the git history — and the wide reader):
# 1. held-out texts repainted with another text of the same length: every pixel outside the mask comes back
#    exactly (PSNR = ∞), while decoding the whole latent would have changed them (PSNR min 36.1 dB, mean
#    43.0 dB); each repainted image is titled with what the glyph reader reads in it — 8 of the 12 read as the
#    new text exactly (the misses: DEPARTURE → "DEPARTUuRE", YOU SOLI → "YOU SOLl", Soli → "SSHI8", Hoe →
#    "HO0"; look at them: the last three read right to the eye, the reader stumbles on bold and small
#    letters) — next to the true render of the new text, read by the same reader (12 of 12 exactly): how
#    often the reader misses a clean image is the floor under that score;
# 2. the first step's merge written out by hand equals `inpaint`'s;
# 3. the trajectory of one repaint: outside the mask the original under less and less noise, inside the new
#    word condensing out of it;
# 4. SDEdit, the trade-off in two strips (the printout names each result's colours and PSNR to the input).
#    A change of style ("ROBOT" red on white in the center; the prompt asks for blue on yellow at the top):
#    strength 0 is the VAE's reconstruction; as the strength grows the input's red word fades and the prompt's
#    word appears at the top, with the small strengths (0.05–0.1) showing a ghost of both (faint red letters
#    below faint blue ones, which the reader cannot read); from 0.15 on the blue word at the top is clear
#    ("5OBOT" at 0.15, "ROBOT" from 0.2), but the input's white background stays up to 0.8: the yellow
#    background comes only at strength 1. A damaged input
#    (blurred, noisy: noise 0.19) with its own caption:
#    small strengths (0.05–0.2) already remove most of the noise (0.07–0.04 left, 0.03–0.01 beyond; "ROBOT"
#    reads exactly from 0.1) and
#    keep the input's letters, colours and place;
#    larger ones keep less and less — the letters take the model's own shapes — and strength 1 (plain
#    generation) is a new sample of the prompt.
#
# Set `MINIGPTIMAGE_CHECKPOINT` to a checkpoint file or training folder (lesson 08) to run this on your model.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import os

import torch

from minigptimage.__main__ import resolve_checkpoint
from minigptimage.editing import edit, inpaint, latent_mask, mask_box, region_psnr
from minigptimage.glyphs import GlyphDataset, collate, render_word
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir, trajectory
from minigptimage.reader import GlyphReader
from minigptimage.samplers import classifier_free_guidance
from minigptimage.scoring import background_colour, glyph_colour, glyph_position
from minigptimage.vae import psnr

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.11_inpainting_and_editing")

out = output_dir(HERE / "11_inpainting_and_editing.py")
FAST = fast_mode()
CHECKPOINT = os.environ.get("MINIGPTIMAGE_CHECKPOINT")  # your model from lesson 08; unset: the shipped one
model, reader = MiniGPTImage.load(resolve_checkpoint(CHECKPOINT)), GlyphReader.pretrained()
print(f"model: {CHECKPOINT or 'the shipped tiny model'}")
n, steps = (4, 10) if FAST else (12, 30)

# %% [markdown]
# ## 1. Repaint a word
# `GlyphDataset(pairs=True)` gives two renders that share colours, font, size and place but say different words
# of the same length. We keep the first image, mask its word's box (mask 1 = repaint, the dataset's convention;
# RePaint's code uses 1 = keep) and ask for the second word with the second caption.

# %%
pairs = [GlyphDataset("heldout", length=n, seed=11, pairs=True)[i] for i in range(n)]
first, second = collate([a for a, _ in pairs]), collate([b for _, b in pairs])
images, masks = first["image"], first["mask"]  # (n, 3, 64, 64), (n, 1, 64, 64)
prompts = list(second["caption"])
repainted, traj = inpaint(model, images, masks, prompts, steps=steps, seed=0, return_trajectory=True)

# %% [markdown]
# ### The merge, written out for the first step
# RePaint, in latent space: z₀ = the input's latent, m = the mask on the latent grid (a cell is repainted when
# any of its 4×4 pixels is). Each DDIM step t → t_prev:
#
#     x_unknown  = DDIM step from x_t under the new prompt           (lesson 10; RePaint eq. 8, lower line)
#     x_known    = √ᾱ_{t_prev}·z₀ + √(1−ᾱ_{t_prev})·ε                  (eq. 8, upper line: q_sample at t_PREV,
#                                                                     the level the step's output is at)
#     x_{t_prev} = m·x_unknown + (1 − m)·x_known                       (eq. 9)
#
# After the last step the latent is decoded and blended in pixels, out = M·decoded + (1 − M)·input, so every
# pixel outside the mask comes back bit for bit. The random draws come from one generator in a fixed order —
# x_T first, then each step's ε — so we can redo the first step and land exactly on the library's.

# %%
with torch.no_grad():
    generator = torch.Generator().manual_seed(0)
    x_t = torch.randn(model.latent_shape(n), generator=generator)  # x_T, (n, C, h, w)
    cond = model.condition(prompts, boxes=[mask_box(m) for m in masks])  # the word (canvas, box token) at the mask
    uncond = model.null_condition(n)
    z0 = model.vae.encode_latents(images)  # (n, C, h, w)
    m = latent_mask(masks, z0.shape[-1]).bool()  # (n, 1, h, w)
    sampler = model.make_sampler("ddim", steps, eta=0.0)
    t = int(sampler.timesteps[0])
    t_prev = t - sampler.step_ratio
    t_batch = torch.full((n,), t)
    v_hat = classifier_free_guidance(model.denoise(x_t, t_batch, cond), model.denoise(x_t, t_batch, uncond),
                                     model.config.guidance)
    x_unknown = sampler.step(v_hat, t, x_t)
    alpha_bar_prev = float(model.schedule.alphas_cumprod[t_prev])
    noise = torch.randn(z0.shape, generator=generator)
    x_known = alpha_bar_prev ** 0.5 * z0 + (1 - alpha_bar_prev) ** 0.5 * noise
    merged = torch.where(m, x_unknown, x_known)  # m·x_unknown + (1−m)·x_known
assert torch.allclose(merged, traj["x_t"][1], atol=1e-5), "the hand-written merge should match inpaint's first step"
print(f"first step t = {t} -> {t_prev}: the merge by hand equals inpaint's; {int(m.sum())} of {m.numel()} "
      "latent cells are repainted")

# %%
with torch.no_grad():
    decoded_only = model.decode(traj["x_t"][-1])  # the whole latent decoded, without the pixel blend
psnr_outside = {}  # per image, 10·log10(2² / MSE) over the kept pixels (peak-to-peak 2); inf when identical
for name, y in [("blended", repainted), ("decoded only", decoded_only)]:
    psnr_outside[name] = region_psnr(y, images, 1 - masks)  # (n,)
    print(f"PSNR outside the mask, {name}: min {psnr_outside[name].min():.1f} dB, "
          f"mean {psnr_outside[name].mean():.1f} dB")
read, read_true = reader.read(repainted), reader.read(second["image"])  # the repaints; clean renders of the same texts
rows = torch.cat([images, (masks * 2 - 1).expand(-1, 3, -1, -1), repainted, second["image"]])  # every scored image
image_grid(rows, out / "11_inpaint.png", ncols=n,
           titles=[f"input {w}" for w in first["text"]] + ["mask"] * n
           + [f"asked {w}, read {r or '∅'}" for w, r in zip(second["text"], read)]
           + [f"true render, read {r or '∅'}" for r in read_true])
hits = sum(r == w for r, w in zip(read, second["text"]))
true_hits = sum(r == w for r, w in zip(read_true, second["text"]))
print(f"reader: {hits}/{n} repainted images read as the new word; e.g. {list(zip(second['text'], read))[:5]}")
print(f"the same reader on the clean true renders of those texts: {true_hits}/{n} read exactly — a repaint it "
      "misreads may still be right: look at the image")

# %% [markdown]
# ## 2. The trajectory of one repaint
# Decoding the latent after each step: outside the mask we see the original image under less and less noise
# (exactly q_sample(z₀, t_prev)); inside, the new word condenses out of the noise.

# %%
with torch.no_grad():
    frames = model.decode(traj["x_t"][:, 0])  # (S+1, 3, 64, 64), the first image's latents decoded
labels = ["ε"] + [max(t - model.config.num_steps // steps, -1) for t in traj["timesteps"].tolist()]
keep = torch.linspace(0, len(frames) - 1, min(9, len(frames))).round().long().tolist()  # x_T … x₀, evenly
trajectory(frames[keep], [labels[k] for k in keep], out / "11_inpaint_trajectory.png",
           title="RePaint: x after each step (t_prev)")

# %% [markdown]
# ## 3. SDEdit: faithful to the input, or to the prompt?
# Noise the input's latent to t₀ ≈ strength·T with q_sample, then run only the last ⌈strength·steps⌉ DDIM steps
# under the prompt. Strength 0 gives back the VAE's reconstruction; strength 1 ignores the input (it is
# `generate`). Two inputs show the two sides of the trade-off:
# * **a change of style** — "ROBOT" in red on white in the center, with the prompt asking for blue on yellow at
#   the top: low strengths keep the input's colours and place, high strengths follow the prompt;
# * **a damaged image** — the same render blurred and covered in noise, with its own caption: low strengths
#   keep the damage (faithful), higher ones redraw a clean image (realistic) that still says the word. We
#   measure the noise left as the spread of the top and bottom rows, plain background in a clean render.

# %%
strengths = [0.0, 0.1, 0.2, 0.4, 1.0] if FAST else [0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6, 0.8, 1.0]
clean = render_word("ROBOT", "red", "white", font="serif", position="center")[0].float()[None] / 127.5 - 1
blurred = torch.nn.functional.avg_pool2d(clean, 3, stride=1, padding=1, count_include_pad=False)
damaged = (blurred + 0.35 * torch.randn(clean.shape, generator=torch.Generator().manual_seed(3))).clamp(-1, 1)
cases = {"style": (clean, 'the word "ROBOT" in blue on yellow, at the top'),
         "damage": (damaged, 'the word "ROBOT" in red on white, in the center')}


def noise_left(image: torch.Tensor) -> float:
    """Spread (std over pixels, averaged over R, G, B) of the top and bottom 8 rows, plain background for a
    word in the center: 0 for a clean render."""
    rows = torch.cat([image[:, :8], image[:, -8:]], dim=1)  # (3, 16, W)
    return float(rows.flatten(1).std(dim=1).mean())


strips = {}
for name, (x, prompt) in cases.items():
    strips[name] = torch.cat([edit(model, x, [prompt], s, steps=steps, seed=0) for s in strengths])  # (S, 3, 64, 64)
    print(f"--- {name}: {prompt}" + (f" (the input's noise: {noise_left(x[0]):.2f})" if name == "damage" else ""))
    for s, y in zip(strengths, strips[name]):
        kept = f"noise {noise_left(y):.2f}" if name == "damage" else f"text {glyph_colour(y)} on " \
            f"{background_colour(y)}, at the {glyph_position(y)}"
        print(f"strength {s:4.2f}: PSNR to the input {float(psnr(y[None], x)):5.1f} dB, {kept}, "
              f"read {reader.read(y[None])[0] or '∅'}")
titles = []
for name, label in (("style", "input: red on white"), ("damage", "input: damaged")):
    titles += [label] + [f"{s:g}: {r or '∅'}" for s, r in zip(strengths, reader.read(strips[name]))]
image_grid(torch.cat([cases["style"][0], strips["style"], cases["damage"][0], strips["damage"]]),
           out / "11_sdedit_strip.png", ncols=len(strengths) + 1, titles=titles)
with torch.no_grad():
    reconstruction = model.decode(model.vae.encode_latents(clean))

# %% [markdown]
# ## Exercise 1 — the RePaint merge
# Write `exercise_repaint_merge(x_unknown, z0, noise, mask, alpha_bar_prev)`: x_unknown, z0 and noise are
# (B, C, h, w), mask is (B, 1, h, w) bool with True = repaint, alpha_bar_prev a float. Return eq. 8–9:
# m·x_unknown + (1 − m)·(√ᾱ_prev·z₀ + √(1−ᾱ_prev)·ε). Hint: `torch.where(mask, a, b)` broadcasts the mask.

# %%
def exercise_repaint_merge(x_unknown, z0, noise, mask, alpha_bar_prev):
    raise NotImplementedError


report(checks.check_repaint_merge, exercise_repaint_merge, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — the mask on the latent grid
# Write `exercise_latent_mask(masks, latent_side)`: masks (B, 1, H, W) float in {0, 1}; return (B, 1, h, w) with
# h = w = latent_side, where a cell is 1 when ANY of the pixels it covers is 1. Hint: a max-pool with kernel
# H // latent_side. Why not an average-pool rounded, or every 4th pixel?

# %%
def exercise_latent_mask(masks, latent_side):
    raise NotImplementedError


report(checks.check_latent_mask, exercise_latent_mask, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — PSNR over a region
# Write `exercise_region_psnr(a, b, region)`: images (B, 3, H, W) in [-1, 1] and region (B, 1, H, W) in {0, 1};
# return (B,) PSNRs 10·log10(2² / MSE) with the MSE over the pixels (all three channels) where region is 1.
# Hint: expand the region to 3 channels; MSE = Σ region·(a − b)² / Σ region.

# %%
def exercise_region_psnr(a, b, region):
    raise NotImplementedError


report(checks.check_region_psnr, exercise_region_psnr, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/11_inpainting_and_editing.py`)
# 1. What goes wrong if x_known is noised to t (the step's input level) instead of t_prev?
# 2. Why does decoding the whole latent ("decoded only" above) change pixels outside the mask?
# 3. In the SDEdit "style" strip, why does the input's word fade gradually while the background changes late?

# %% [markdown]
# ## What we measured
# The kept pixels come back exactly, strength 0 is the VAE's round trip, and a higher strength moves the result
# away from the input.

# %%
worst = float(psnr_outside["blended"].min())
assert worst >= 40, f"pixels outside the mask changed: PSNR {worst:.1f} dB"
assert torch.allclose(strips["style"][0:1], reconstruction), "strength 0 should be the VAE reconstruction"
faithfulness = [float(psnr(y[None], clean)) for y in strips["style"]]
assert faithfulness[-1] < faithfulness[0] - 3, f"strength 1 should be far from the input: {faithfulness}"

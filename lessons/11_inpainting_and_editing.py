"""Lesson 11 — editing without retraining: repaint a masked word (RePaint) and redraw an image (SDEdit).

Goal: use a trained text-to-image model for two new tasks by changing only the sampling loop — inpainting
(replace the word inside a mask, keep every other pixel) and text-guided editing (noise a whole image part way,
then denoise it under a new prompt).
Prerequisites: lessons 01 (q_sample), 02 (DDIM), 07 (the VAE and its latents), 09 (guidance).
Paper section: Lugmayr et al. 2022, "RePaint" (arXiv 2201.09865), sec. 4.1 eq. (8)-(9) and Algorithm 1 (the
known region is re-noised to the level of every step's output), sec. 4.2 (resampling); Meng et al. 2022,
"SDEdit" (arXiv 2108.01073), sec. 3 (the strength t₀ trades faithfulness to the input for realism).
What you should see:
  1. held-out words with their masks repainted with another word of the same length; the pixels outside the
     mask come back exactly (PSNR = inf), while decoding the whole latent would lose them to the VAE;
  2. the denoising trajectory of one repaint: the kept region stays the (noised) original at every step;
  3. an SDEdit strip at strengths 0 … 1: strength 0 is the VAE's reconstruction, strength 1 a new sample;
  4. measured: PSNR outside the mask (asserted ≥ 40 dB) and strength 0 equal to the VAE round trip; with the
     shipped model and reader, how often the repainted image reads as the new word.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import torch

from minigptimage.editing import edit, inpaint, region_psnr
from minigptimage.glyphs import GlyphDataset, collate
from minigptimage.pipeline import PRETRAINED, MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir, trajectory
from minigptimage.reader import GlyphReader
from minigptimage.vae import psnr

torch.set_num_threads(1)
out = output_dir(__file__)
shipped = PRETRAINED.exists()
model = MiniGPTImage.pretrained() if shipped else MiniGPTImage.from_preset("micro")  # micro: untrained stand-in
print("model:", "the shipped tiny model" if shipped else "an untrained micro model (no tiny_data checkpoint yet)")
n, steps = (4, 10) if fast_mode() else (20, 30)

# %% [markdown]
# ## 1. Repaint a word
# `GlyphDataset(pairs=True)` gives two renders that share colours, font, size and place but say different words
# of the same length. We keep the first image, mask its word's box (mask 1 = repaint, the dataset's convention;
# RePaint's code uses 1 = keep) and ask for the second word with the second caption.
# At every DDIM step t -> t_prev the known latent cells are replaced by q_sample(z₀, t_prev): noised to the
# level of the step's *output*. At the end the latent is decoded and blended in pixels:
# out = mask·decoded + (1 − mask)·input.

# %%
pairs = [GlyphDataset("heldout", length=n, seed=11, pairs=True)[i] for i in range(n)]
first, second = collate([a for a, _ in pairs]), collate([b for _, b in pairs])
images, masks = first["image"], first["mask"]  # (n, 3, 64, 64), (n, 1, 64, 64)
prompts = list(second["caption"])
repainted, traj = inpaint(model, images, masks, prompts, steps=steps, seed=0, return_trajectory=True)

with torch.no_grad():
    decoded_only = model.decode(traj["x_t"][-1])  # the whole latent decoded, without the pixel blend
psnr_outside = {}  # per image, 10·log10(2² / MSE) over the kept pixels (peak-to-peak 2); inf when identical
for name, y in [("blended", repainted), ("decoded only", decoded_only)]:
    psnr_outside[name] = region_psnr(y, images, 1 - masks)  # (n,)
    print(f"PSNR outside the mask, {name}: min {psnr_outside[name].min():.1f} dB, "
          f"mean {psnr_outside[name].mean():.1f} dB")
rows = torch.cat([images[:4], (masks[:4] * 2 - 1).expand(-1, 3, -1, -1), repainted[:4], second["image"][:4]])
image_grid(rows, out / "11_inpaint.png", ncols=4,
           titles=[f"input {w}" for w in first["text"][:4]] + ["mask"] * 4
           + [f"repainted {w}" for w in second["text"][:4]] + ["the true render"] * 4)

# %% [markdown]
# ## 2. The trajectory of one repaint
# Decoding the latent after each step: outside the mask we see the original image under less and less noise
# (exactly q_sample(z₀, t_prev)); inside, the new word condenses out of the noise.

# %%
with torch.no_grad():
    frames = model.decode(traj["x_t"][:, 0])  # (S+1, 3, 64, 64), the first image's latents decoded
labels = ["ε"] + [max(t - model.config.num_steps // steps, -1) for t in traj["timesteps"].tolist()]
trajectory(frames, labels, out / "11_inpaint_trajectory.png", title="RePaint: x after each step (t_prev)")

# %% [markdown]
# ## 3. SDEdit at several strengths
# Noise z₀ to t₀ ≈ strength·T with q_sample, then run only the last ⌈strength·steps⌉ DDIM steps under
# the new prompt. Strength 0 gives back the VAE's reconstruction; strength 1 ignores the input (it is generate).

# %%
strengths = [0.0, 0.25, 0.5, 0.75, 1.0]
x, prompt = images[:1], prompts[:1]
strip = torch.cat([edit(model, x, prompt, s, steps=steps, seed=0) for s in strengths])  # (5, 3, 64, 64)
with torch.no_grad():
    reconstruction = model.decode(model.vae.encode_latents(x))
for s, y in zip(strengths, strip):
    print(f"strength {s:.2f}: PSNR to the input {float(psnr(y[None], x)):5.1f} dB")
image_grid(torch.cat([x, strip]), out / "11_sdedit_strip.png", ncols=6,
           titles=["input"] + [f"strength {s}" for s in strengths])

# %% [markdown]
# ## 4. Does the repainted image say the new word?
# The glyph reader of `reader.py` reads each repainted image (it only sees the new word if the old one is gone).

# %%
reader_file = PRETRAINED.parent / "reader.pt"
if shipped and reader_file.exists():
    read = GlyphReader.pretrained().read(repainted)
    hits = sum(r == w for r, w in zip(read, second["text"]))
    print(f"reader: {hits}/{n} repainted images read as the new word; e.g. {list(zip(second['text'], read))[:5]}")

worst = float(psnr_outside["blended"].min())
assert worst >= 40, f"pixels outside the mask changed: PSNR {worst:.1f} dB"
assert torch.allclose(strip[0:1], reconstruction), "strength 0 should be the VAE reconstruction"

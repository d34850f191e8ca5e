"""Lesson 07 — the tiny VAE: squeezing 64×64 images into 16×16 latents and back.

Goal: see what the latent-to-image decoder keeps and loses, what a latent looks like, and why latent
diffusion rescales its latents before adding noise.
Prerequisites: lesson 03 (the glyph dataset); a VAE is an encoder giving a Gaussian q(z|x) and a decoder.
Paper section: Kingma & Welling 2014 (arXiv 1312.6114, sec. 2.4 and appendix B: the reparameterisation
trick and the Gaussian KL); Rombach et al. 2022 (arXiv 2112.10752, sec. 3.1: perceptual compression with a
small KL weight; the latent scale factor of their appendix G).
What you should see:
  1. held-out words (never seen in training) and their reconstructions from the shipped tiny_data/vae.pt,
     with the PSNR and whether the glyph reader still reads each word;
  2. the latent channels of one image: a 16×16 map per channel that still looks like the word;
  3. the scale factor: raw latents have a std far from 1, scaled latents have std ≈ 1, the scale the noise
     schedule of lessons 01–02 assumes — and decoding pure noise shows why we need diffusion at all;
  4. measured: PSNR and reader accuracy on held-out reconstructions, asserted above a threshold.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import matplotlib.pyplot as plt
import torch

from minigptimage.glyphs import GlyphDataset, collate
from minigptimage.plots import fast_mode, image_grid, output_dir, save_figure
from minigptimage.reader import GlyphReader
from minigptimage.scoring import word_accuracy
from minigptimage.vae import VAE, psnr

torch.set_num_threads(1)
out = output_dir(__file__)
n = 32 if fast_mode() else 256
vae, reader = VAE.pretrained(), GlyphReader.pretrained()
batch = collate([GlyphDataset("heldout", length=n, seed=3)[i] for i in range(n)])
x, words = batch["image"], batch["text"]  # (n, 3, 64, 64) in [-1, 1]
print(vae.cfg)
print(f"parameters: encoder {sum(p.numel() for p in vae.encoder.parameters()):,}, "
      f"decoder {sum(p.numel() for p in vae.decoder.parameters()):,}")

# %% [markdown]
# ## 1. Reconstructions
# Encode to the mean of q(z|x) (no sampling: at generation time the diffusion model hands the decoder one
# latent), decode, clamp to [-1, 1]. 64·64·3 = 12,288 numbers go in; 16·16·C come out of the encoder.

# %%
with torch.no_grad():
    mean, logvar = vae.encode(x)  # (n, C, 16, 16) each
    x_hat = vae.decode(mean).clamp(-1, 1)  # (n, 3, 64, 64)
print(f"latent {tuple(mean.shape[1:])}: {mean[0].numel()} numbers for {x[0].numel()} pixel values "
      f"({x[0].numel() / mean[0].numel():.0f}× fewer)")
scores = psnr(x_hat, x)
read = reader.read(x_hat)
accuracy = word_accuracy(read, words)
print(f"held-out reconstructions: PSNR {scores.mean():.1f} dB (min {scores.min():.1f}), "
      f"reader reads {accuracy:.0%} (on the originals: {word_accuracy(reader.read(x), words):.0%})")
k = 8
image_grid(torch.cat([x[:k], x_hat[:k]]), out / "07_reconstructions.png",
           titles=words[:k] + [f"{r} {p:.0f}dB" for r, p in zip(read[:k], scores[:k].tolist())], ncols=k)

# %% [markdown]
# ## 2. The latent channels
# Each channel is a 16×16 map. The encoder learned on its own to keep the layout: the word is still visible
# in the channels, which is what lets a U-Net with local convolutions denoise it.

# %%
C = mean.shape[1]
fig, axes = plt.subplots(1, C + 1, figsize=(1.6 * (C + 1), 1.9))
axes[0].imshow(((x[0] + 1) / 2).permute(1, 2, 0))
axes[0].set_title(words[0], fontsize=8)
for c in range(C):
    axes[c + 1].imshow(mean[0, c], cmap="RdBu_r")
    axes[c + 1].set_title(f"channel {c}", fontsize=8)
for ax in axes:
    ax.axis("off")
save_figure(fig, out / "07_latent_channels.png")
print("posterior std exp(logvar/2): mean", f"{(0.5 * logvar).exp().mean():.3f}",
      "— small: the KL weight is tiny, q(z|x) is nearly a point")

# %% [markdown]
# ## 3. Why the scale factor matters
# The diffusion schedule mixes √ᾱ_t·z₀ with √(1−ᾱ_t)·ε, ε ~ N(0, I). If z₀ has std 3, the "fully noised"
# z_T still carries signal and the signal-to-noise ratio of every step is off by 3² from what the schedule
# promises. So latent diffusion measures s = 1 / std(z) once on data and works on z·s. The shipped VAE
# stores s; refitting it on this batch gives about the same number.

# %%
raw_std = mean.std().item()
scaled = vae.encode_latents(x).detach()  # mean·s
print(f"raw latent std {raw_std:.3f}, shipped scale factor s = {vae.scale_factor.item():.3f}, "
      f"scaled latent std {scaled.std():.3f}; 1 / std on this batch = {1 / raw_std:.3f}")
fig, ax = plt.subplots(figsize=(5, 3))
ax.hist(mean.flatten(), bins=80, alpha=0.6, density=True, label=f"raw z (std {raw_std:.2f})")
ax.hist(scaled.flatten(), bins=80, alpha=0.6, density=True, label=f"z·s (std {scaled.std():.2f})")
ax.hist(torch.randn(10000), bins=80, alpha=0.4, density=True, label="N(0, 1) noise")
ax.legend(fontsize=7)
ax.set_title("latent values before and after scaling", fontsize=9)
save_figure(fig, out / "07_scale_factor.png")

# What does the decoder make of pure noise? Not a word: that is the diffusion model's job.
with torch.no_grad():
    from_noise = vae.decode_latents(torch.randn(8, C, 16, 16, generator=torch.Generator().manual_seed(0)))
image_grid(from_noise.clamp(-1, 1), out / "07_decoded_noise.png", titles=reader.read(from_noise), ncols=8)

# %%
assert abs(scaled.std().item() - 1) < 0.25, "scaled latents should have about unit variance"
assert scores.mean() > 22 and accuracy >= 0.85, f"PSNR {scores.mean():.1f} dB, reader {accuracy:.0%}"
print("ok")

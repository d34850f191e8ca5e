# %% [markdown]
# # Lesson 13 — provenance: a manifest inside the PNG and an invisible keyed watermark in its pixels
#
# **Goal:** label every generated image twice — with metadata that says exactly how it was made (and notices any
# edit), and with a mark in the pixels that survives when the metadata is stripped — and measure both.
#
# **Prerequisites:** lesson 03 (the glyph images we mark here stand in for generated samples).
#
# **Paper section:** Cox et al. 1997, "Secure spread spectrum watermarking for multimedia" (§III–IV: a long keyed
# random sequence at low amplitude, found by correlation); the manifest follows the idea of C2PA content
# credentials (c2pa.org) but is NOT a signed C2PA manifest — it is sealed with HMAC-SHA256 and a shared key.
#
# **What you should see** (measured in full mode, 500 dataset images standing in for samples):
# 1. the manifest JSON stored in the PNG, and `verify` saying OK;
# 2. the mark: invisible (PSNR 42.1 dB, the bound 20·log10(255/2) for a ±2-grey-level change), a keyed ±1
#    pattern once the difference is amplified 30×;
# 3. a histogram of detector scores: unmarked images and the wrong key centred on 0 with spread about 1 (none
#    of the 500 unmarked images above the threshold 3.03), marked images far to the right — median z ≈ 55
#    after PNG, 44 after noise, 23 after JPEG q90, the lowest 8.4; after noise and JPEG in two bumps (the lower
#    one: images on a pure white or black background, which keep only half the mark);
# 4. tampering caught: one changed pixel breaks the pixel hash, one changed field breaks the HMAC, a wrong key
#    fails both, and a stripped manifest still leaves the mark;
# 5. three exercises: the threshold from Hoeffding's bound, embedding the mark, the correlation score.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import json

import matplotlib.pyplot as plt
import numpy as np
import torch

from minigptimage.benchmarks.watermark_bench import add_noise, jpeg_round_trip, png_round_trip
from minigptimage.glyphs import GlyphDataset
from minigptimage.plots import fast_mode, output_dir, save_figure, to_numpy_image
from minigptimage.provenance import PNG_TEXT_KEY, read_png, save_png_with_provenance, verify_png, write_png
from minigptimage.vae import psnr
from minigptimage.watermark import DETECTION_THRESHOLD, detect_watermark, embed_watermark, watermark_pattern

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.13_provenance_and_watermarks")

out = output_dir(HERE / "13_provenance_and_watermarks.py")
n = 60 if fast_mode() else 500
ds = GlyphDataset("train", length=n, seed=13)

# %% [markdown]
# ## 1. Write a PNG with a manifest and a mark
# In the pipeline the image is a fresh sample; here a dataset image stands in for one. The manifest records
# the generation settings, the software version, the UTC time and the SHA-256 of the exact 8-bit pixels, and
# is sealed with HMAC-SHA256 under a key. Our demo key is public, so the seal shows integrity, not authorship.

# %%
key = "lesson-13-secret"
sample = ds[0]
path = out / "13_marked.png"
manifest = save_png_with_provenance(sample.image, path, {
    "prompt": sample.caption, "seed": 0, "sampler": "ddim", "steps": 30, "guidance": 3.0,
    "checkpoint_sha256": "(none: a dataset image stands in for a sample)"}, key=key)
print(json.dumps(manifest, indent=2))
verified = verify_png(path, key=key)
print(verified.summary())

# %% [markdown]
# ## 2. The mark is invisible
# x' = clip(x + s·(2/255)·w) with w the key's ±1 pattern and s = 2 grey levels, on R, G and B alike.
# Amplified 30× the difference is the pattern itself — except where the pixel was already white (255) or
# black (0): there only the half of the pattern that has room survives, the other half is clipped away.
# (Blown up on a perfectly flat synthetic background you may just see a faint grain; on real samples you won't.)

# %%
pixels, _ = read_png(path)
marked = torch.from_numpy(pixels.astype(np.float32)).permute(2, 0, 1) / 127.5 - 1  # (3, H, W) as written
difference = marked - png_round_trip(sample.image[None])[0]
quality = psnr(marked, png_round_trip(sample.image[None])[0])
fig, axes = plt.subplots(1, 4, figsize=(9, 2.6))
panels = [(to_numpy_image(sample.image), "original"), (to_numpy_image(marked), f"marked, PSNR {quality:.1f} dB"),
          (to_numpy_image((difference * 30).clamp(-1, 1)), "difference × 30"),
          (watermark_pattern(key, 64, 64).numpy(), "key pattern w (±1)")]
for ax, (picture, title) in zip(axes, panels):
    ax.imshow(picture, cmap="gray", interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.axis("off")
save_figure(fig, out / "13_difference.png")
print(f"PSNR marked vs original: {quality:.2f} dB; largest change {difference.abs().max() * 127.5:.1f} grey levels")

# %% [markdown]
# ## 3. Detection: a z-score
# The detector keeps the fine detail of the luminance (a high-pass residual), weights each pixel by how quiet
# its neighbourhood is (flat areas show the mark clearly; glyph edges drown it), and correlates with w:
# z = Σ u·w / √(Σ u²). Without the mark, z has mean 0 and variance 1 for *any* image, and Hoeffding's
# inequality gives P(z > t) ≤ exp(−t²/2) — so t = 3.03 keeps false alarms below 1% with no calibration.

# %%
images = torch.stack([ds[i].image for i in range(n)])
keys = [f"{key}-{i}" for i in range(n)]  # one key per image, as if from n different users
marked_all = torch.stack([embed_watermark(x, k) for x, k in zip(images, keys)])
generator = torch.Generator().manual_seed(0)
conditions = {"unmarked": png_round_trip(images), "marked, wrong key": None, "marked, PNG": png_round_trip(marked_all),
              "marked, noise σ=2/255": add_noise(marked_all, 2.0, generator), "marked, JPEG q90": jpeg_round_trip(marked_all, 90)}
scores = {}
for name, batch in conditions.items():
    if batch is None:  # each marked image scored with the next user's key
        scores[name] = np.array([detect_watermark(x, keys[(i + 1) % n])[0] for i, x in enumerate(conditions["marked, PNG"])])
    else:
        scores[name] = np.array([detect_watermark(x, k)[0] for x, k in zip(batch, keys)])
    print(f"{name:24s} z median {np.median(scores[name]):6.2f}  min {scores[name].min():6.2f}  "
          f"max {scores[name].max():6.2f}  detected {np.mean(scores[name] > DETECTION_THRESHOLD):.3f}")

# After noise and JPEG the marked scores come in two bumps. The lower one is the images on a pure white or black
# background: the clip removed half of their mark (a white pixel cannot get whiter), and once noise or JPEG
# disturbs the flat background the remaining half scores only ~30 (noise) and ~12 (JPEG) against ~45 and ~25 for
# the other backgrounds — still far above the threshold. Straight after PNG both groups score alike (~54): in a
# perfectly flat background the detector's weighting finds even half a mark clearly.

# %%
fig, ax = plt.subplots(figsize=(6, 3))
bins = np.linspace(-4, max(s.max() for s in scores.values()) + 1, 60)
for name, z in scores.items():
    ax.hist(z, bins=bins, alpha=0.5, label=name)
ax.axvline(DETECTION_THRESHOLD, color="k", ls="--", label=f"threshold {DETECTION_THRESHOLD:.2f}")
ax.set_xlabel("detector score z")
ax.set_ylabel("images")
ax.legend(fontsize=7)
save_figure(fig, out / "13_score_histogram.png")

# %% [markdown]
# ## 4. Tampering is caught
# Change one pixel by one grey level; change one word of the prompt in the manifest; use the wrong key;
# strip the manifest (what most image editors do when they re-save). `verify` says what broke.

# %%
pixels, manifest = read_png(path)
edited = pixels.copy()
edited[32, 32, 0] ^= 1  # one grey level in one channel of one pixel
write_png(edited, out / "13_pixel_edited.png", {PNG_TEXT_KEY: json.dumps(manifest)})
write_png(pixels, out / "13_field_edited.png", {PNG_TEXT_KEY: json.dumps({**manifest, "seed": 1})})
write_png(pixels, out / "13_stripped.png")
reports = {"untouched": verify_png(path, key=key), "one pixel": verify_png(out / "13_pixel_edited.png", key=key),
           "one field": verify_png(out / "13_field_edited.png", key=key), "wrong key": verify_png(path, key="guess"),
           "stripped": verify_png(out / "13_stripped.png", key=key)}
for name, r in reports.items():
    print(f"--- {name}\n{r.summary()}")

# %% [markdown]
# ## Exercise 1 — the detection threshold
# Hoeffding's inequality bounds the false-alarm rate of an unmarked image: P(z ≥ t) ≤ exp(−t²/2). Write
# `exercise_threshold(alpha)`: the smallest t for which that bound is at most α (a float in (0, 1)).
# Hint: solve exp(−t²/2) = α for t > 0. For α = 0.01 you should get the library's 3.03.

# %%
def exercise_threshold(alpha):
    raise NotImplementedError


report(checks.check_threshold, exercise_threshold, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — embed the mark
# Write `exercise_embed(image, pattern, strength)`: image (3, H, W) in [-1, 1], pattern (H, W) of ±1, strength s
# in 8-bit grey levels; return clip(x + s·(2/255)·w, −1, 1), the same w on R, G and B. Hint: one grey level is
# 2/255 in [-1, 1] units; the pattern broadcasts over the channel axis.

# %%
def exercise_embed(image, pattern, strength):
    raise NotImplementedError


report(checks.check_embed, exercise_embed, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the score
# Write `exercise_z_score(u, w)`: u (B, H, W) the weighted residuals of B images, w (H, W) the ±1 pattern;
# return the (B,) scores z = Σ u·w / √(Σ u²), the sums over each image's pixels. Hint: `flatten(1)`, then sum
# and norm along dim 1. Why is z's variance exactly 1 when u does not depend on w?

# %%
def exercise_z_score(u, w):
    raise NotImplementedError


report(checks.check_z_score, exercise_z_score, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/13_provenance_and_watermarks.py`)
# 1. Our demo key is public. What does a valid HMAC then prove, and what does it not?
# 2. Which of this lesson's attacks would remove the mark, and which would not? Think of a crop, a resize, a
#    screenshot.
# 3. After noise or JPEG, why do images on pure white or black backgrounds score lower than the others?

# %% [markdown]
# ## What we measured

# %%
fpr = np.mean(scores["unmarked"] > DETECTION_THRESHOLD)
worst_marked = min(scores[name].min() for name in scores if name.startswith("marked, ") and "wrong" not in name)
print(f"false positives {fpr:.3f}; lowest marked score {worst_marked:.2f} vs threshold {DETECTION_THRESHOLD:.2f}")
assert quality >= 40, quality
assert fpr <= 0.01 and np.mean(scores["marked, wrong key"] > DETECTION_THRESHOLD) <= 0.02
assert worst_marked > DETECTION_THRESHOLD, "every marked image is found, even after JPEG q90"
assert reports["untouched"].ok and not any(r.ok for name, r in reports.items() if name != "untouched")
assert not reports["one pixel"].pixels_match and reports["one field"].pixels_match
assert not reports["one field"].signature_valid and reports["stripped"].watermark_detected

"""Lesson 03 — the glyph dataset: words drawn with real fonts, with captions, boxes, masks and glyph canvases.

Goal: see the data every later lesson trains on, and check that its labels are true.
Prerequisites: none (PyTorch tensors; images are (3, H, W) in [-1, 1]).
Paper section: the task is the visual-text rendering of Imagen (arXiv:2205.11487, §4.4) and TextDiffuser
(arXiv:2305.10855, §3), shrunk to one UPPERCASE word of 2–6 letters in a 64 × 64 image.
What you should see:
  1. a grid of samples: three fonts, contrasting colours, nine named regions, the caption above each;
  2. for a few samples, the image, its layout box, its mask (1 = the region to paint) and its glyph canvas
     (the same word in the same font, filling the same box — what the glyph-aware U-Net branch sees);
  3. a pair: same style and place, a different word (what editing lessons use);
  4. measured: the mask covers exactly the box, items are reproducible, the planner's box (from the caption
     alone) overlaps the true box, and how many images per second the dataset renders.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import time

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from minigptimage.glyphs import GlyphDataset
from minigptimage.layout import plan_box
from minigptimage.plots import fast_mode, image_grid, output_dir, save_figure, to_numpy_image

torch.set_num_threads(1)
out = output_dir(__file__)
n = 60 if fast_mode() else 500
ds = GlyphDataset("train", length=n, seed=0)

# %% [markdown]
# ## 1. A grid of samples
# Each item is a pure function of (split, seed, index): `ds[i]` always gives the same picture.

# %%
samples = [ds[i] for i in range(16)]
image_grid(torch.stack([s.image for s in samples]), out / "03_samples.png",
           titles=[f'"{s.text}" {s.color}/{s.background}, {s.position}' for s in samples], ncols=4)
for s in samples[:4]:
    print(f"{s.caption!r:70s} box={s.box} font={s.font} size={s.size}")

# %% [markdown]
# ## 2. Labels: box, mask and glyph canvas
# The box is the tight box of the ink, with exclusive ends (`image[:, y0:y1, x0:x1]`); the mask is 1 inside it.

# %%
fig, axes = plt.subplots(4, 3, figsize=(6, 8))
for row, s in zip(axes, samples[:4]):
    x0, y0, x1, y1 = s.box
    row[0].imshow(to_numpy_image(s.image), interpolation="nearest")
    row[0].add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, ec="magenta", lw=1.5))
    row[1].imshow(s.mask[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    row[2].imshow(s.glyph[0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for ax, title in zip(row, (f'"{s.text}" + box', "mask", "glyph canvas")):
        ax.set_title(title, fontsize=8)
        ax.axis("off")
save_figure(fig, out / "03_box_mask_glyph.png")

# %% [markdown]
# ## 3. Pairs: same colours, font, size and place; a different word

# %%
pairs = [ds.pair(i) for i in range(4)]
image_grid(torch.stack([p.image for pair in pairs for p in pair]), out / "03_pairs.png",
           titles=[p.text for pair in pairs for p in pair], ncols=8)

# %% [markdown]
# ## 4. Measure what the labels promise

# %%
items = [ds[i] for i in range(n)]
mask_area = torch.stack([s.mask.sum() for s in items])
box_area = torch.tensor([float((s.box[2] - s.box[0]) * (s.box[3] - s.box[1])) for s in items])
again = GlyphDataset("train", length=n, seed=0)
same = all(torch.equal(again[i].image, items[i].image) for i in range(0, n, 7))


def iou(a, b):
    ix, iy = max(0, min(a[2], b[2]) - max(a[0], b[0])), max(0, min(a[3], b[3]) - max(a[1], b[1]))
    return ix * iy / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - ix * iy)


mean_iou = sum(iou(plan_box(s.caption, 64), s.box) for s in items) / n
fresh = GlyphDataset("train", length=n, seed=123)  # new words, fonts and sizes: nothing cached yet
start = time.process_time()
for i in range(n):
    fresh[i]
rate = n / (time.process_time() - start)
print(f"mask area == box area for all {n}: {torch.equal(mask_area, box_area)}; reproducible: {same}")
print(f"planned box (from the caption only) vs true box: mean IoU {mean_iou:.3f}")
print(f"{rate:.0f} renders per CPU-second (first renders; repeated words and sizes are cached)")
assert torch.equal(mask_area, box_area) and same and mean_iou > 0.7

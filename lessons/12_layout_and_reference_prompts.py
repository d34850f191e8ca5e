# %% [markdown]
# # Lesson 12 — prompts that are more than text: a box that places the word, an image that sets its style
#
# **Goal.** See the multimodal half of the prompt encoder at work. A layout box becomes one token (Fourier
# features of its corners) and, for the glyph-aware model, the place where the glyph canvas draws the word; a
# reference image becomes 64 patch tokens the U-Net cross-attends to, and lends its colours and place to a new
# word.
#
# **Prerequisites.** Lessons 03 (dataset pairs), 05 (the prompt encoder's token types), 08 (training),
# 09 (guidance).
#
# **Papers.** GlyphControl (Yang et al. 2023, arXiv 2305.18259, sec. 3: a glyph image fixes where the text
# goes); TextDiffuser (Chen et al. 2023, arXiv 2305.10855, sec. 3.1: layout boxes); ViT patch tokens
# (Dosovitskiy et al. 2020, arXiv 2010.11929, sec. 3.1); Fourier features (Tancik et al. 2020, arXiv 2006.10739).
#
# **What you should see** (measured in full mode on 2026-12-06 with the model shipped that day — 15,000 steps on
# the 32×32×4 latent, in the git history — and the wide reader):
# 1. one prompt drawn into four boxes of our choosing, off the nine named regions: the ink lands in each asked
#    box (each title gives the IoU of the ink's box with it, 1.00 in all four, and what the reader reads:
#    MOON in each, the smallest box's letters included);
# 2. reference images lending a new word their background, text colour and place, next to the same prompts
#    without the image: the prompt names no colour, so without it the colours are a guess;
# 3. measured: the ink's box overlaps the asked box with mean IoU 0.97 (IoU > 0.5 for 100%; asserted > 0.5;
#    exact words 100%, where the reader reads 100% of the clean renders of the same texts), and with the
#    reference the text colour, background and region agree with it 100%, 100% and 100% of the time against
#    15%, 10% and 25% without (asserted for the text colour: at least 25 points more). Exact words: 80% with
#    the reference, 95% without (at n = 20: read the trend, not the digits). Every scored
#    image is shown, titled with what the reader read, and the reader's own reading of the clean renders of the
#    same texts says how many of its misses are its own.
#
# **How it was trained.** `train.py` gives every training item its true box as a box token, and every 5th item
# (`TrainConfig.reference_every`) is a style pair from `GlyphDataset.pair`: target and reference share colours,
# font, size and place but say different words, and the caption names only the word — so the style can only
# come from the image tokens.
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
from minigptimage.evaluate import evaluate_reference, evaluation_samples, generate_in_batches, moved_boxes
from minigptimage.glyphs import REFERENCE_CAPTION, GlyphDataset
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir
from minigptimage.reader import GlyphReader
from minigptimage.scoring import box_iou, glyph_box, word_accuracy

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.12_layout_and_reference_prompts")

out = output_dir(HERE / "12_layout_and_reference_prompts.py")
CHECKPOINT = os.environ.get("MINIGPTIMAGE_CHECKPOINT")  # your model from lesson 08; unset: the shipped one
model = MiniGPTImage.load(resolve_checkpoint(CHECKPOINT))
print(f"model: {CHECKPOINT or 'the shipped tiny model'}")
reader = GlyphReader.pretrained()
n, steps = (8, 10) if fast_mode() else (20, 30)

# %% [markdown]
# ## 1. A box in the prompt
# `generate(..., boxes=[(x0, y0, x1, y1)])` — pixel boxes with exclusive ends, like slicing. The pipeline turns
# the box into a box token of the encoder *and* draws the glyph canvas into it. A box that is not one of the
# named regions (the captions only ever say "top left", "center", …) still places the word.

# %%
prompt = 'the word "MOON" in white on blue'
boxes = [(2, 2, 34, 14), (28, 10, 62, 24), (6, 40, 46, 56), (20, 24, 44, 36)]
placed = model.generate([prompt] * len(boxes), steps=steps, seed=0, boxes=boxes)  # (4, 3, 64, 64)
read = reader.read(placed)
ious = [box_iou(glyph_box(image), box) for image, box in zip(placed, boxes)]  # the ink's box against the asked one
image_grid(placed, out / "12_boxes.png", ncols=4,
           titles=[f"{r or '∅'}, IoU {iou:.2f}" for r, iou in zip(read, ious)])
for box, r, iou in zip(boxes, read, ious):
    print(f"asked box {box}: read {r or '∅'}, ink box IoU {iou:.2f}")

# %% [markdown]
# ## 2. A reference image sets the style
# `generate(..., reference=images)`: a (B, 3, 64, 64) image in [-1, 1] per prompt. Its 8×8 patches become 64
# tokens of type "image"; without a box, the word also goes where the reference's ink is (its bounding box).

# %%
pairs = [GlyphDataset("heldout", length=4, seed=7, pairs=True)[i] for i in range(4)]
references = torch.stack([ref.image for _, ref in pairs])  # (4, 3, 64, 64)
prompts = [REFERENCE_CAPTION.format(text=target.text) for target, _ in pairs]
styled = model.generate(prompts, steps=steps, seed=0, reference=references)
unstyled = model.generate(prompts, steps=steps, seed=0)  # the same prompts with no image
image_grid(torch.cat([references, styled, unstyled]), out / "12_reference.png", ncols=4,
           titles=[f"reference {r.text}" for _, r in pairs]
           + [f'"{t.text}" with it → {r or "∅"}' for (t, _), r in zip(pairs, reader.read(styled))]
           + [f'"{t.text}" without → {r or "∅"}' for (t, _), r in zip(pairs, reader.read(unstyled))])

# %% [markdown]
# ## 3. Measured
# Layout: held-out words, each asked for in its natural-sized box moved to a random place — what
# `evaluate.evaluate_layout` measures, written out here so that we can look at every scored image. Style:
# held-out pairs, "the word X in the style of the image", scored by agreement with the reference
# (`evaluate_reference`; the grid of section 2 shows four such pairs).
#
# **How far to trust the reader.** The exact-word figures are the glyph reader's readings, and the reader
# misses some clean renders too (S/s, O/o, 0/O look alike at 64 pixels): the last row of the grid reads the
# dataset's own clean render of each asked text. A generated image it misreads may still say the word.

# %%
samples = evaluation_samples("heldout", n)  # held-out texts, as evaluate_layout draws them
layout_boxes = moved_boxes(samples, model.config.image_size, seed=0)  # each word's box, moved somewhere random
layout_images = generate_in_batches(model, [f'the word "{s.text}" in {s.color} on {s.background}' for s in samples],
                                    steps, seed=0, boxes=layout_boxes)  # (n, 3, 64, 64)
layout_read = reader.read(layout_images)
layout_ious = [box_iou(glyph_box(image), box) for image, box in zip(layout_images, layout_boxes)]
clean_read = reader.read(torch.stack([s.image for s in samples]))  # the same texts, rendered clean
texts = [s.text for s in samples]
layout_scores = {"iou": sum(layout_ious) / n, "iou>0.5": sum(i > 0.5 for i in layout_ious) / n,
                 "word_acc": word_accuracy(layout_read, texts)}
image_grid(torch.cat([layout_images, torch.stack([s.image for s in samples])]), out / "12_layout_scored.png",
           ncols=min(n, 10), titles=[f"{t} → {r or '∅'}, IoU {i:.2f}" for t, r, i in zip(texts, layout_read, layout_ious)]
           + [f"clean {t} → {r or '∅'}" for t, r in zip(texts, clean_read)])
with_ref = evaluate_reference(model, n=n, steps=steps, reader=reader)
without = evaluate_reference(model, n=n, steps=steps, reader=reader, use_reference=False)
print(f"layout: mean IoU {layout_scores['iou']:.2f}, IoU > 0.5 for {layout_scores['iou>0.5']:.0%}, "
      f"exact words {layout_scores['word_acc']:.0%} (the reader reads {word_accuracy(clean_read, texts):.0%} of "
      "the clean renders of the same texts)")
for name, s in [("with the reference", with_ref), ("without it", without)]:
    print(f"style {name}: text colour {s['colour']:.0%}, background {s['background']:.0%}, "
          f"region {s['position']:.0%}, exact words {s['word_acc']:.0%}")


# %% [markdown]
# ## Exercise 1 — intersection over union of two boxes
# Write `exercise_box_iou(a, b)`: two boxes (x0, y0, x1, y1) of ints with exclusive ends (like slicing);
# return the area of their intersection divided by the area of their union, a float; 0.0 when they do not
# overlap. Hint: the intersection's width is max(0, min(a.x1, b.x1) − max(a.x0, b.x0)); no "+ 1" with
# exclusive ends.

# %%
def exercise_box_iou(a, b):
    raise NotImplementedError


report(checks.check_box_iou, exercise_box_iou, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — the box of the ink
# Write `exercise_ink_box(mask)`: mask is an (H, W) bool tensor with at least one True; return the bounding
# box (x0, y0, x1, y1) of the True pixels as ints, exclusive ends — the box `glyph_box` measures above, once
# `scoring.drop_specks` has removed lone blots of under 20 pixels.
# Hint: `torch.nonzero(mask, as_tuple=True)` gives the rows (y) and columns (x) of the True pixels.

# %%
def exercise_ink_box(mask):
    raise NotImplementedError


report(checks.check_ink_box, exercise_ink_box, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the box token's Fourier features
# The encoder turns a box into one token: the corners divided by the image size, c ∈ [0, 1]⁴, then for each
# coordinate and each frequency f_k = 2π·2^k (k = 0 … F−1) the pair sin(c·f_k), cos(c·f_k), then an MLP.
# Write `exercise_box_features(box, image_size, num_freqs)`: box (B, 4) float pixels; return (B, 8F) laid out
# as the library does: coordinate by coordinate, each with its F sines then its F cosines.
# Hint: angles = c[:, :, None] · freqs is (B, 4, F); concatenate sin and cos on the last axis, then flatten.

# %%
def exercise_box_features(box, image_size, num_freqs):
    raise NotImplementedError


report(checks.check_box_features, exercise_box_features, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/12_layout_and_reference_prompts.py`)
# 1. Why Fourier features of the corners rather than the four numbers themselves?
# 2. The reference lends its colours through 64 image tokens. Why does the caption of a style pair name no
#    colour in training?
# 3. Ask for a box 6 pixels tall. What do you expect, and why (think of the letter heights the data has)?

# %% [markdown]
# ## What we measured
# The word lands in the asked box, and the reference image, not the caption, carries the style.

# %%
if not CHECKPOINT:  # what the shipped model showed; for your own model, read the numbers above
    assert layout_scores["iou"] > 0.5, layout_scores
    assert with_ref["colour"] >= without["colour"] + 0.25, (with_ref, without)

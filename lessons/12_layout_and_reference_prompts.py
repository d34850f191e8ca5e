"""Lesson 12 — prompts that are more than text: a box that places the word, an image that sets its style.

Goal: see the multimodal half of the prompt encoder at work. A layout box becomes one token (Fourier features
of its corners) and, for the glyph-aware model, the place where the glyph canvas draws the word; a reference
image becomes 64 patch tokens the U-Net cross-attends to, and lends its colours and place to a new word.
Prerequisites: lessons 03 (dataset pairs), 05 (the prompt encoder's token types), 08 (training), 09 (guidance).
Paper section: GlyphControl (Yang et al. 2023, arXiv 2305.18259, sec. 3: a glyph image fixes where the text
goes); TextDiffuser (Chen et al. 2023, arXiv 2305.10855, sec. 3.1: layout boxes); ViT patch tokens
(Dosovitskiy et al. 2020, arXiv 2010.11929, sec. 3.1); Fourier features (Tancik et al. 2020, arXiv 2006.10739).
What you should see:
  1. one prompt drawn into four boxes of our choosing — off the nine named regions;
  2. reference images and a new word drawn "in the style of the image", next to the same prompt without the
     image (the prompt names no colour, so without the image the colours are a guess);
  3. measured: the IoU of the generated ink's box with the asked box (asserted > 0.5 on average), and how
     often text colour, background and region agree with the reference — with and without it (asserted: the
     reference raises the colour agreement well above the no-reference guess).
How it was trained: ``train.py`` gives every training item its true box as a box token, and every 5th item
(``TrainConfig.reference_every``) is a style pair from ``GlyphDataset.pair``: target and reference share colours,
font, size and place but say different words, and the caption names only the word — so the style can only come
from the image tokens.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import torch

from minigptimage.evaluate import evaluate_layout, evaluate_reference
from minigptimage.glyphs import REFERENCE_CAPTION, GlyphDataset
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir
from minigptimage.reader import GlyphReader

torch.set_num_threads(1)
out = output_dir(__file__)
model = MiniGPTImage.pretrained()
reader = GlyphReader.pretrained()
n, steps = (8, 10) if fast_mode() else (50, 30)

# %% [markdown]
# ## 1. A box in the prompt
# `generate(..., boxes=[(x0, y0, x1, y1)])` — pixel boxes with exclusive ends, like slicing. The pipeline turns
# the box into a box token of the encoder *and* draws the glyph canvas into it. A box that is not one of the
# named regions (the captions only ever say "top left", "center", …) still places the word.

# %%
prompt = 'the word "MOON" in white on blue'
boxes = [(2, 2, 34, 14), (28, 10, 62, 24), (6, 40, 46, 56), (20, 24, 44, 36)]
placed = model.generate([prompt] * len(boxes), steps=steps, seed=0, boxes=boxes)  # (4, 3, 64, 64)
image_grid(placed, out / "12_boxes.png", ncols=4, titles=[str(b) for b in boxes])
print("read in the boxes:", reader.read(placed))

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
           titles=[f"reference {r.text}" for _, r in pairs] + [f'"{t.text}" with it' for t, _ in pairs]
           + [f'"{t.text}" without' for t, _ in pairs])

# %% [markdown]
# ## 3. Measured
# Layout: held-out words, each asked for in its natural-sized box moved to a random place. Style: held-out
# pairs, "the word X in the style of the image", scored by agreement with the reference.

# %%
layout_scores = evaluate_layout(model, n=n, steps=steps, reader=reader)
with_ref = evaluate_reference(model, n=n, steps=steps, reader=reader)
without = evaluate_reference(model, n=n, steps=steps, reader=reader, use_reference=False)
print(f"layout: mean IoU {layout_scores['iou']:.2f}, IoU > 0.5 for {layout_scores['iou>0.5']:.0%}, "
      f"exact words {layout_scores['word_acc']:.0%}")
for name, s in [("with the reference", with_ref), ("without it", without)]:
    print(f"style {name}: text colour {s['colour']:.0%}, background {s['background']:.0%}, "
          f"region {s['position']:.0%}, exact words {s['word_acc']:.0%}")

assert layout_scores["iou"] > 0.5, layout_scores
assert with_ref["colour"] >= without["colour"] + 0.25, (with_ref, without)

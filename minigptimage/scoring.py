"""Evaluation measures for generated word images: did the image say the word, in the colour, at the place?

* Spelling — ``word_accuracy`` (exact match) and ``char_accuracy`` (1 − normalised Levenshtein distance) of
  what the glyph reader (reader.py) reads against the prompt's word.
* Colour, position, box — read off the pixels without a network, from the ink mask of ``ink.py`` (the
  background is the median of the ``BORDER`` frame; a pixel is ink when its colour distance to the
  background is more than ``threshold`` × the image's strongest contrast). Then
      glyph_colour    the per-channel median colour of the ink's core (threshold 0.75: fully inked pixels),
                      named by the nearest colour of glyphs.COLORS
      glyph_position  the ink centroid, named by the nearest centre of the regions in glyphs.REGIONS
      glyph_box       the bounding box of the ink (x0, y0, x1, y1), exclusive ends, like GlyphDataset's box,
                      once specks are dropped (``drop_specks``): a blot of one latent pixel (4×4 image pixels)
                      the sampler leaves in a corner is not a letter, and would stretch the box to that corner
                      (``ink.glyph_box``, which the pipeline also uses to place a word like a reference image's)
  An image without ink (strongest distance below ``MIN_INK_DISTANCE``) gets None from all three.

Thin strokes of small serif letters are mostly anti-aliased pixels, blends of text and background; the
core-pixel threshold and the median (rather than the mean) keep them from pulling the colour towards the
background (with the mean of all ink, black on white reads as grey and yellow on black as orange).
"""
from __future__ import annotations

import torch

from .glyphs import COLORS, REGIONS
from .ink import (BORDER, MIN_INK_DISTANCE, MIN_SPECK, check_rgb, drop_specks,  # noqa: F401  (re-exported)
                  glyph_box, glyph_mask)


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance: fewest insertions, deletions and substitutions turning a into b (row-by-row DP)."""
    row = list(range(len(b) + 1))  # distances from a[:0] to every prefix of b
    for i, ca in enumerate(a, 1):
        prev_diag, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev_diag, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev_diag + (ca != cb))
    return row[-1]


def _check_pairs(read, targets):
    if len(read) != len(targets) or not len(targets):
        raise ValueError(f"read, targets: expected two non-empty lists of equal length, got {len(read)} "
                         f"and {len(targets)}")


def word_accuracy(read: list[str], targets: list[str]) -> float:
    """Fraction of words read exactly."""
    _check_pairs(read, targets)
    return sum(r == t for r, t in zip(read, targets)) / len(targets)


def char_accuracy(read: list[str], targets: list[str]) -> float:
    """Mean over pairs of 1 − edit_distance(r, t) / max(len(r), len(t)): 1 for an exact read, 0 when nothing
    matches (for example an empty read), and partial credit for one wrong letter in a long word."""
    _check_pairs(read, targets)
    return sum(1 - edit_distance(r, t) / max(len(r), len(t), 1) for r, t in zip(read, targets)) / len(targets)


def glyph_colour(image: torch.Tensor, threshold: float = 0.75) -> str | None:
    """Name (a key of glyphs.COLORS) of the colour nearest to the median colour of the ink's core (a high
    threshold: thin strokes are mostly anti-aliased blends of text and background), or None without ink."""
    mask = glyph_mask(image, threshold)
    if mask is None:
        return None
    rgb = (check_rgb(image)[:, mask].median(dim=1).values + 1) * 127.5  # (3,) in 0–255
    palette = torch.tensor(list(COLORS.values()), dtype=torch.float32)  # (K, 3)
    return list(COLORS)[int((palette - rgb).norm(dim=1).argmin())]


def background_colour(image: torch.Tensor) -> str:
    """Name (a key of glyphs.COLORS) of the colour nearest to the median of the ``BORDER`` frame's pixels."""
    image = check_rgb(image)
    frame = torch.ones(image.shape[1:], dtype=torch.bool)
    frame[BORDER:-BORDER, BORDER:-BORDER] = False
    rgb = (image[:, frame].median(dim=1).values + 1) * 127.5  # (3,) in 0–255
    palette = torch.tensor(list(COLORS.values()), dtype=torch.float32)  # (K, 3)
    return list(COLORS)[int((palette - rgb).norm(dim=1).argmin())]


def glyph_position(image: torch.Tensor) -> str | None:
    """Name (a key of glyphs.REGIONS) of the region whose centre is nearest to the ink centroid, or None."""
    mask = glyph_mask(image)
    if mask is None:
        return None
    ys, xs = torch.nonzero(mask, as_tuple=True)
    H, W = mask.shape
    cx, cy = (xs.float().mean() + 0.5) / W, (ys.float().mean() + 0.5) / H  # centroid as fractions of the side
    centres = {name: ((x0 + x1) / 2, (y0 + y1) / 2) for name, (x0, y0, x1, y1) in REGIONS.items()}
    return min(centres, key=lambda n: (centres[n][0] - cx) ** 2 + (centres[n][1] - cy) ** 2)


def box_iou(a, b) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1) with exclusive ends; 0 when either is None."""
    if a is None or b is None:
        return 0.0
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def speck_mask(image: torch.Tensor, box=None, threshold: float = 0.25) -> torch.Tensor | None:
    """(H, W) bool: the ink pixels of the specks that lie away from the text, or None without ink.

    A speck is ``drop_specks``'s rule: a cluster of fewer than ``MIN_SPECK`` ink pixels (ink up to 4 pixels
    apart shares a cluster), ink at ``threshold`` as in ``glyph_box``. A cluster that chains to the text's box
    — ``box`` (x0, y0, x1, y1), else ``glyph_box(image)``, the ink's box without its specks — by that same rule
    (overlapping it, or within 4 pixels of it: the margin) is part of the text, not a speck. So a clean render
    has none, and a blot the sampler leaves in a corner is one. (An image whose only ink is a few pixels, under
    0.2% of the image, has no ink at all for ``ink_map``'s contrast quantile, and so no speck.)"""
    mask = glyph_mask(image, threshold)
    if mask is None:
        return None
    box = glyph_box(image, threshold) if box is None else box
    specks = mask & ~drop_specks(mask)  # every cluster of fewer than MIN_SPECK pixels
    if box is None:  # no cluster is large enough to be text: all the ink is specks
        return specks
    x0, y0, x1, y1 = box
    text = torch.zeros_like(mask)
    text[y0:y1, x0:x1] = True  # the text's box as one large cluster: specks that chain to it join it
    return specks & ~drop_specks(specks | text)


def has_speck(image: torch.Tensor, box=None) -> bool:
    """Whether an image (3, H, W) in [-1, 1] carries a speck away from its text (``speck_mask``)."""
    specks = speck_mask(image, box)
    return specks is not None and bool(specks.any())

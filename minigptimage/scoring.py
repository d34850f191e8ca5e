"""Evaluation measures for generated word images: did the image say the word, in the colour, at the place?

* Spelling — ``word_accuracy`` (exact match) and ``char_accuracy`` (1 − normalised Levenshtein distance) of
  what the glyph reader (reader.py) reads against the prompt's word.
* Colour, position, box — read off the pixels without a network. Our images are a flat background with a
  word on it, so: the **background** is the per-channel median of the border pixels (the outermost
  ``BORDER`` rows and columns, where words never reach); a pixel is **ink** when its colour distance to the
  background is more than ``threshold`` × the image's strongest contrast (a high quantile of the distances,
  so a few stray pixels do not set the scale). Then
      glyph_colour    the per-channel median colour of the ink's core (threshold 0.75: fully inked pixels),
                      named by the nearest colour of glyphs.COLORS
      glyph_position  the ink centroid, named by the nearest centre of the regions in glyphs.REGIONS
      glyph_box       the bounding box of the ink (x0, y0, x1, y1), exclusive ends, like GlyphDataset's box,
                      once specks are dropped (``drop_specks``): a blot of one latent pixel (4×4 image pixels)
                      the sampler leaves in a corner is not a letter, and would stretch the box to that corner
  An image without ink (contrast below ``MIN_CONTRAST``) gets None from all three.

Thin strokes of small serif letters are mostly anti-aliased pixels, blends of text and background; the
core-pixel threshold and the median (rather than the mean) keep them from pulling the colour towards the
background (with the mean of all ink, black on white reads as grey and yellow on black as orange).
"""
from __future__ import annotations

import torch

from .glyphs import COLORS, REGIONS
from .reader import ink_map

BORDER = 2  # width in pixels of the frame whose median colour is the background
MIN_CONTRAST = 0.25  # below this strongest ink-to-background distance ([-1, 1] units) there is no ink
CONTRAST_QUANTILE = 0.998  # "strongest contrast" = this quantile of the pixel distances (robust to strays)
MIN_SPECK = 20  # a cluster of fewer ink pixels is a speck, not text (a 4×4 latent blot is 16)


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


def _check_image(image: torch.Tensor) -> torch.Tensor:
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image: expected a (3, H, W) tensor in [-1, 1], got "
                         f"{tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__}")
    return image.detach().float().cpu()


def glyph_mask(image: torch.Tensor, threshold: float = 0.5) -> torch.Tensor | None:
    """(H, W) bool: pixels whose distance to the background exceeds threshold × the strongest contrast
    (reader.ink_map, the reader's own input), or None when the strongest contrast is below MIN_CONTRAST."""
    ink, contrast = ink_map(_check_image(image)[None], BORDER, CONTRAST_QUANTILE, MIN_CONTRAST)
    if contrast[0] < MIN_CONTRAST:
        return None
    return ink[0, 0] > threshold


def glyph_colour(image: torch.Tensor, threshold: float = 0.75) -> str | None:
    """Name (a key of glyphs.COLORS) of the colour nearest to the median colour of the ink's core (a high
    threshold: thin strokes are mostly anti-aliased blends of text and background), or None without ink."""
    mask = glyph_mask(image, threshold)
    if mask is None:
        return None
    rgb = (_check_image(image)[:, mask].median(dim=1).values + 1) * 127.5  # (3,) in 0–255
    palette = torch.tensor(list(COLORS.values()), dtype=torch.float32)  # (K, 3)
    return list(COLORS)[int((palette - rgb).norm(dim=1).argmin())]


def background_colour(image: torch.Tensor) -> str:
    """Name (a key of glyphs.COLORS) of the colour nearest to the median of the ``BORDER`` frame's pixels."""
    image = _check_image(image)
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


def glyph_box(image: torch.Tensor, threshold: float = 0.25) -> tuple[int, int, int, int] | None:
    """Bounding box (x0, y0, x1, y1), exclusive ends, of the ink without its specks (``drop_specks``); a lower
    threshold than the colour's so faint anti-aliased edges count, as they do in GlyphDataset's box. None
    without ink."""
    mask = glyph_mask(image, threshold)
    if mask is None:
        return None
    mask = drop_specks(mask)
    if not mask.any():
        return None
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def drop_specks(mask: torch.Tensor, min_pixels: int = MIN_SPECK, reach: int = 2) -> torch.Tensor:
    """(H, W) bool → the same without its specks: clusters of fewer than ``min_pixels`` ink pixels, where ink
    up to ``2·reach`` pixels apart shares a cluster (so the letters of a word chain into one, and a lone blot
    does not). Clusters are labelled by spreading the largest pixel number through the widened mask (a 3×3
    max-pool kept inside it) until nothing changes; a cluster's size is the ink pixels that share its label."""
    H, W = mask.shape
    wide = torch.nn.functional.max_pool2d(mask[None, None].float(), 2 * reach + 1, 1, reach)[0, 0] > 0  # (H, W)
    labels = torch.arange(1, H * W + 1, dtype=torch.float32).view(H, W) * wide  # 0 off the widened ink
    while True:
        spread = torch.nn.functional.max_pool2d(labels[None, None], 3, stride=1, padding=1)[0, 0] * wide
        if torch.equal(spread, labels):
            break
        labels = spread
    ink = torch.bincount(labels[mask].long(), minlength=H * W + 1)  # (H·W + 1,) ink pixels per cluster
    return mask & (ink[labels.long()] >= min_pixels)


def box_iou(a, b) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1) with exclusive ends; 0 when either is None."""
    if a is None or b is None:
        return 0.0
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0

"""Where the ink is in a word image, read off the pixels alone (no network, no training).

Our images are a flat background with a word on it, so:

* the **background** is the per-channel median of the outermost ``BORDER`` rows and columns (where words
  never reach);
* a pixel's **ink** is its colour distance to the background divided by the image's strongest contrast (a
  high quantile, ``CONTRAST_QUANTILE``, of the distances, so a few stray pixels do not set the scale) —
  ``ink_map``, the glyph reader's input and the scores' mask;
* an image whose strongest distance is under ``MIN_INK_DISTANCE`` (in [-1, 1] units) has no ink at all;
* ``drop_specks`` removes clusters of fewer than ``MIN_SPECK`` ink pixels: a blot of one latent pixel (4×4
  image pixels) the sampler leaves in a corner is not a letter;
* ``glyph_box`` is the bounding box (x0, y0, x1, y1), exclusive ends like GlyphDataset's box, of the ink once
  its specks are dropped.

The pipeline uses ``glyph_box`` to place a word where a reference image has its ink; the reader
(``reader.py``) and the scores (``scoring.py``) build on the same map, so all three agree on what ink is.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

BORDER = 2  # width in pixels of the frame whose median colour is the background
MIN_INK_DISTANCE = 0.25  # below this strongest ink-to-background distance ([-1, 1] units) there is no ink
CONTRAST_QUANTILE = 0.998  # "strongest contrast" = this quantile of the pixel distances (robust to strays)
MIN_SPECK = 20  # a cluster of fewer ink pixels is a speck, not text (a 4×4 latent blot is 16)


def ink_map(images: torch.Tensor, border: int = BORDER, quantile: float = CONTRAST_QUANTILE,
            min_distance: float = MIN_INK_DISTANCE):
    """Where the ink is, whatever its colour: (B, 3, H, W) in [-1, 1] -> (ink (B, 1, H, W) in [0, 1], contrast (B,)).

    The background is the per-channel median of the outer `border` pixels; a pixel's ink is its colour
    distance to the background divided by the image's strongest contrast (the `quantile` of the distances,
    at least `min_distance`, so a blank image stays blank instead of amplifying its noise)."""
    B, _, H, W = images.shape
    frame = torch.ones(H, W, dtype=torch.bool, device=images.device)
    frame[border:-border, border:-border] = False
    background = images[:, :, frame].median(dim=2).values  # (B, 3)
    distance = (images - background[:, :, None, None]).norm(dim=1, keepdim=True)  # (B, 1, H, W)
    contrast = distance.flatten(1).quantile(quantile, dim=1)  # (B,)
    return (distance / contrast.clamp_min(min_distance)[:, None, None, None]).clamp(0, 1), contrast


def check_rgb(image: torch.Tensor) -> torch.Tensor:
    """One image (3, H, W) in [-1, 1] as a float CPU tensor; ValueError naming ``image`` otherwise."""
    if not isinstance(image, torch.Tensor) or image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image: expected a (3, H, W) tensor in [-1, 1], got "
                         f"{tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__}")
    return image.detach().float().cpu()


def glyph_mask(image: torch.Tensor, threshold: float = 0.5) -> torch.Tensor | None:
    """(H, W) bool: pixels whose ink (``ink_map``) exceeds ``threshold``, or None when the strongest contrast is
    below MIN_INK_DISTANCE (no ink)."""
    ink, contrast = ink_map(check_rgb(image)[None])
    if contrast[0] < MIN_INK_DISTANCE:
        return None
    return ink[0, 0] > threshold


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
    wide = F.max_pool2d(mask[None, None].float(), 2 * reach + 1, 1, reach)[0, 0] > 0  # (H, W)
    labels = torch.arange(1, H * W + 1, dtype=torch.float32).view(H, W) * wide  # 0 off the widened ink
    while True:
        spread = F.max_pool2d(labels[None, None], 3, stride=1, padding=1)[0, 0] * wide
        if torch.equal(spread, labels):
            break
        labels = spread
    ink = torch.bincount(labels[mask].long(), minlength=H * W + 1)  # (H·W + 1,) ink pixels per cluster
    return mask & (ink[labels.long()] >= min_pixels)

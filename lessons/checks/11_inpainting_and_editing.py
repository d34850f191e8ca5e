"""Checks for lesson 11's exercises: the RePaint merge, the mask on the latent grid, PSNR over a region."""
from __future__ import annotations

import torch

from minigptimage.editing import latent_mask, region_psnr

from .calling import call
from .compare import comparable, compare


def _box_masks(seed: int, size: int = 16) -> torch.Tensor:
    """(3, 1, size, size) float masks, each a random rectangle (ends not on the 4-pixel grid)."""
    g = torch.Generator().manual_seed(seed)
    masks = torch.zeros(3, 1, size, size)
    for b in range(3):
        x0, y0 = (int(v) for v in torch.randint(0, size // 2, (2,), generator=g))
        x1, y1 = (int(v) for v in torch.randint(size // 2 + 1, size, (2,), generator=g))
        masks[b, 0, y0:y1, x0:x1] = 1
    return masks


def check_repaint_merge(fn) -> str | None:
    g = torch.Generator().manual_seed(13)
    x_unknown, z0, noise = (torch.randn(3, 4, 4, 4, generator=g) for _ in range(3))  # (B, C, h, w)
    mask = _box_masks(14, 4).bool()  # (B, 1, h, w), True = repaint
    alpha_bar_prev = 0.3
    known = alpha_bar_prev ** 0.5 * z0 + (1 - alpha_bar_prev) ** 0.5 * noise
    want = torch.where(mask, x_unknown, known)
    got = call(fn, x_unknown.clone(), z0.clone(), noise.clone(), mask.clone(), alpha_bar_prev)
    problem = compare(got, want, "your merged latent",
                      where=lambda i: f"for item {i[0]} at cell (row {i[2]}, column {i[3]}), "
                                      f"{'inside' if mask[i[0], 0, i[2], i[3]] else 'outside'} the mask")
    if problem and comparable(got, want):
        if torch.allclose(got, torch.where(mask, known, x_unknown)):
            return problem + " — the mask is inverted: True (1) means repaint, so take x_unknown there"
        if torch.allclose(got, torch.where(mask, x_unknown, z0)):
            return problem + " — the kept region must be noised to the step's output level, not left as z₀"
    return problem


def check_latent_mask(fn) -> str | None:
    masks = _box_masks(15, 16)  # (3, 1, 16, 16)
    want = latent_mask(masks, 4)  # (3, 1, 4, 4)
    got = call(fn, masks.clone(), 4)
    problem = compare(got, want, "your latent mask",
                      where=lambda i: f"for item {i[0]} at cell (row {i[2]}, column {i[3]})")
    if problem and comparable(got, want) and \
            bool((got.float() <= want).all()):
        return problem + " — a cell must be repainted when ANY of its pixels is; yours misses partly covered cells"
    return problem


def check_region_psnr(fn) -> str | None:
    g = torch.Generator().manual_seed(16)
    a = torch.rand(3, 3, 16, 16, generator=g) * 2 - 1
    b = (a + 0.1 * torch.randn(a.shape, generator=g)).clamp(-1, 1)
    region = _box_masks(17, 16)
    b = torch.where(region.bool(), b, b + 0.5 * torch.randn(a.shape, generator=g)).clamp(-1, 1)  # worse outside
    want = region_psnr(a, b, region)
    got = call(fn, a.clone(), b.clone(), region.clone())
    problem = compare(got, want, "your PSNR", where=lambda i: f"for image {i[0]}", atol=1e-3)
    if problem and comparable(got, want):
        if torch.allclose(got.double(), region_psnr(a, b, torch.ones_like(region)), atol=1e-3):
            return problem + " — that is the PSNR of the whole image; average only over the region's pixels"
    return problem

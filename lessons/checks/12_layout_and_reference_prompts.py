"""Checks for lesson 12's exercises: box IoU, the ink's bounding box, the box token's Fourier features."""
from __future__ import annotations

import torch
from torch import nn

from minigptimage.editing import mask_box
from minigptimage.encoder import PromptEncoder, PromptEncoderConfig
from minigptimage.scoring import box_iou

from .calling import call
from .compare import comparable, compare

BOX_PAIRS = [((0, 0, 10, 10), (5, 5, 15, 15)), ((2, 3, 30, 12), (2, 3, 30, 12)), ((0, 0, 4, 4), (4, 0, 8, 4)),
             ((10, 20, 50, 30), (0, 0, 64, 64)), ((5, 5, 9, 40), (20, 1, 30, 8)), ((3, 7, 33, 19), (12, 2, 40, 15))]


def check_box_iou(fn) -> str | None:
    for a, b in BOX_PAIRS:
        want = box_iou(a, b)
        got = call(fn, a, b)
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"return a number for boxes {a} and {b}, got {type(got).__name__}"
        if abs(got - want) > 1e-6:
            hint = ""
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = a, b
            inclusive = max(0, min(ax1, bx1) - max(ax0, bx0) + 1) * max(0, min(ay1, by1) - max(ay0, by0) + 1)
            if a == (0, 0, 4, 4) and got > 0:
                hint = " — these boxes only touch along x = 4 (exclusive ends): the overlap is empty, so IoU = 0"
            elif inclusive and abs(got - want) > 0 and got > want:
                hint = " — with exclusive ends a box is x1 − x0 pixels wide, no + 1"
            return f"for boxes {a} and {b}: your IoU is {got:.4f}, expected {want:.4f}{hint}"
    return None


def check_ink_box(fn) -> str | None:
    g = torch.Generator().manual_seed(18)
    for _ in range(4):
        mask = torch.zeros(1, 20, 24, dtype=torch.bool)
        for _ in range(3):  # three random blobs
            y, x = int(torch.randint(0, 18, (1,), generator=g)), int(torch.randint(0, 22, (1,), generator=g))
            mask[0, y:y + 3, x:x + 2] = True
        want = mask_box(mask)
        got = call(fn, mask[0].clone())
        try:
            got = tuple(int(v) for v in got)
        except (TypeError, ValueError):
            return f"return a tuple of four ints (x0, y0, x1, y1), got {type(got).__name__}"
        if got != want:
            if got == (want[0], want[1], want[2] - 1, want[3] - 1):
                return f"your box {got} should be {want}: the ends are exclusive, one past the last True pixel"
            if got == (want[1], want[0], want[3], want[2]):
                return f"your box {got} should be {want}: x is the column (second index), y the row (first)"
            return f"your box {got} should be {want} for a mask whose True pixels span columns " \
                   f"{want[0]}–{want[2] - 1} and rows {want[1]}–{want[3] - 1}"
    return None


def check_box_features(fn) -> str | None:
    cfg = PromptEncoderConfig(vocab_size=99, dim=16, depth=1, heads=2, fourier_features=5)
    encoder = PromptEncoder(cfg)
    encoder.box_mlp = nn.Identity()  # the token without its MLP: the Fourier features themselves
    g = torch.Generator().manual_seed(19)
    box = torch.randint(0, cfg.image_size + 1, (3, 4), generator=g).float()  # (B, 4) pixels
    want = encoder.box_token(box)[:, 0]  # (B, 8F)
    got = call(fn, box.clone(), cfg.image_size, cfg.fourier_features)
    problem = compare(got, want, "your box features", atol=1e-4,
                      where=lambda i: f"for box {i[0]}, feature {i[1]} ({'sin' if i[1] % 10 < 5 else 'cos'} of "
                                      f"coordinate {i[1] // 10}, frequency k = {i[1] % 5})")
    if problem and comparable(got, want):
        c = box / cfg.image_size
        angles = c[:, :, None] * 2.0 ** torch.arange(5)
        if torch.allclose(got, torch.cat([angles.sin(), angles.cos()], -1).flatten(1), atol=1e-4):
            return problem + " — the frequencies are 2π·2^k, the 2π is missing"
    return problem

"""Checks for lesson 13's exercises: the detection threshold, embedding the mark, the correlation score."""
from __future__ import annotations

import math

import torch

from minigptimage.watermark import DETECTION_THRESHOLD, FALSE_POSITIVE_RATE, embed_watermark, watermark_pattern

from .calling import call
from .compare import comparable, compare


def check_threshold(fn) -> str | None:
    for alpha in (FALSE_POSITIVE_RATE, 0.05, 1e-6):
        want = DETECTION_THRESHOLD if alpha == FALSE_POSITIVE_RATE else math.sqrt(2 * math.log(1 / alpha))
        try:
            got = float(call(fn, alpha))
        except (TypeError, ValueError):
            return f"return a number for α = {alpha:g}"
        if not math.isclose(got, want, rel_tol=1e-6):
            if math.isclose(got, want ** 2, rel_tol=1e-6):
                return f"for α = {alpha:g} you gave t² = {got:.4f}; take the square root: t = {want:.4f}"
            if math.isclose(got, 2 * math.log(1 / alpha), rel_tol=1e-6) or math.isclose(got, math.log(1 / alpha), rel_tol=1e-6):
                return f"for α = {alpha:g} you gave {got:.4f}, expected {want:.4f}: solve t²/2 = ln(1/α), then take √"
            return f"for α = {alpha:g} your threshold is {got:.4f}, expected {want:.4f} (exp(−t²/2) = α)"
    return None


def check_embed(fn) -> str | None:
    g = torch.Generator().manual_seed(20)
    image = torch.rand(3, 16, 16, generator=g) * 2 - 1
    image[:, :4] = 1.0  # a white band: the clip must act there
    pattern = watermark_pattern("check", 16, 16)
    for strength in (2.0, 5.0):
        want = embed_watermark(image, "check", strength)
        got = call(fn, image.clone(), pattern.clone(), strength)
        problem = compare(got, want, f"your marked image (strength {strength:g})",
                          where=lambda i: f"at channel {i[0]}, pixel (row {i[1]}, column {i[2]})")
        if problem:
            if comparable(got, want):
                if torch.allclose(got, image + strength * (2 / 255) * pattern, atol=1e-6):
                    return problem + " — clip the result to [-1, 1]: a white pixel cannot get whiter"
                if torch.allclose(got, (image + strength * pattern).clamp(-1, 1), atol=1e-6):
                    return problem + " — the strength is in grey levels: multiply by 2/255 to get [-1, 1] units"
            return problem
    return None


def check_z_score(fn) -> str | None:
    g = torch.Generator().manual_seed(21)
    u = torch.randn(4, 16, 16, generator=g, dtype=torch.float64) * torch.linspace(0.1, 3, 16, dtype=torch.float64)
    w = watermark_pattern("z", 16, 16).double()
    u[0] += 0.5 * w  # one image carries the mark
    want = (u * w).flatten(1).sum(1) / u.flatten(1).norm(dim=1)
    got = call(fn, u.clone(), w.clone())
    problem = compare(got, want, "your z", where=lambda i: f"for image {i[0]}")
    if problem and comparable(got, want):
        if torch.allclose(got.double(), (u * w).flatten(1).sum(1) / u.flatten(1).pow(2).sum(1), atol=1e-6):
            return problem + " — divide by √(Σ u²), the square root of the sum of squares, not by Σ u²"
        if torch.allclose(got.double(), (u * w).flatten(1).mean(1), atol=1e-6):
            return problem + " — that is a mean correlation; normalise by √(Σ u²) so z has variance 1"
    return problem

"""Checks for lesson 09's exercises: the guidance combination, the paper's w, a diversity measure."""
from __future__ import annotations

import math

import torch

from minigptimage.samplers import classifier_free_guidance

from .calling import call
from .compare import comparable, compare


def _outputs(seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(3, 4, 8, 8, generator=g), torch.randn(3, 4, 8, 8, generator=g)  # (B, C, h, w) twice


def check_guidance(fn) -> str | None:
    cond, uncond = _outputs(9)
    for scale in (0.0, 1.0, 2.5, 7.0):
        got = call(fn, cond.clone(), uncond.clone(), scale)
        problem = compare(got, classifier_free_guidance(cond, uncond, scale), f"your guided output at s = {scale:g}")
        if problem:
            if scale == 0.0 and comparable(got, cond) and torch.allclose(got, cond):
                return problem + " — at s = 0 the result should be the unconditional prediction"
            if comparable(got, cond) and \
                    torch.allclose(got, cond + scale * (uncond - cond), atol=1e-5):
                return problem + " — cond and uncond are swapped: start from out_uncond, move towards out_cond"
            return problem
    return None


def check_guidance_paper(fn) -> str | None:
    cond, uncond = _outputs(10)
    for w in (0.0, 1.0, 3.0):
        got = call(fn, cond.clone(), uncond.clone(), w)
        problem = compare(got, classifier_free_guidance(cond, uncond, 1 + w), f"your (1 + w)·ε(c) − w·ε at w = {w:g}")
        if problem:
            if comparable(got, cond) and \
                    torch.allclose(got, classifier_free_guidance(cond, uncond, w), atol=1e-5):
                return problem + " — that is our formula with s = w; the paper's w = 0 is the plain conditional model"
            return problem
    return None


def check_diversity(fn) -> str | None:
    g = torch.Generator().manual_seed(11)
    images = torch.rand(5, 3, 16, 16, generator=g) * 2 - 1  # (N, 3, H, W)
    flat = images.flatten(1).double()  # (N, D)
    want = (torch.pdist(flat) / math.sqrt(flat.shape[1])).mean()
    got = call(fn, images.clone())
    if isinstance(got, (float, int)):
        got = torch.tensor(float(got))
    problem = compare(got, want, "your diversity of 5 random images", where=lambda i: "(one number)")
    if problem and isinstance(got, torch.Tensor) and got.dim() == 0:
        d = torch.cdist(flat, flat) / math.sqrt(flat.shape[1])  # (N, N), zeros on the diagonal
        if torch.isclose(got.double(), d.mean()):
            return problem + " — you averaged over all N² pairs, the N zeros of i = j included; use pairs i < j only"
        if torch.isclose(got.double(), torch.pdist(flat).mean()):
            return problem + " — that is the Euclidean distance; divide by √(number of values) for the RMS difference"
    if got is not None and isinstance(got, torch.Tensor) and got.dim() != 0:
        return f"return one number (a 0-d tensor), not a tensor of shape {tuple(got.shape)}"
    two = call(fn, images[:2].clone())
    two = torch.tensor(float(two)) if isinstance(two, (float, int)) else two
    return compare(two, (images[0] - images[1]).pow(2).mean().sqrt(), "your diversity of two images",
                   where=lambda i: "(one number)")

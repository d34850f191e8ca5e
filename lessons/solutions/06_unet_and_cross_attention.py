"""Solutions to lesson 06's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/06_unet_and_cross_attention.py`.
"""
import math

import torch
import torch.nn.functional as F


def exercise_timestep_embedding(t, dim):
    half = dim // 2
    omega = torch.exp(-math.log(10000.0) * torch.arange(half) / half)  # (dim/2,) ωᵢ = 10000^(−i/(dim/2))
    angles = t.float()[:, None] * omega[None]                          # (B, dim/2)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)              # (B, dim)


def exercise_adagn(h, gamma, beta, groups):
    return F.group_norm(h, groups) * (1 + gamma) + beta  # normalise per group, then FiLM by the timestep


def exercise_pooled_context(context, context_mask):
    keep = context_mask[..., None].to(context.dtype)          # (B, L, 1)
    return (context * keep).sum(1) / keep.sum(1).clamp(min=1)  # (B, D): the mean of the real tokens


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_timestep_embedding(t, dim):
    emb = exercise_timestep_embedding(t, dim)
    return torch.cat([emb[:, dim // 2:], emb[:, :dim // 2]], dim=1)  # sin first


def mistake_adagn(h, gamma, beta, groups):
    return F.group_norm(h, groups) * gamma + beta  # γ instead of 1 + γ


def mistake_pooled_context(context, context_mask):
    return context.mean(1)  # padding included


ANSWERS = """
Q1. Why add the timestep to every residual block instead of feeding t once at the input?
    The same weights must denoise at t = 5 (remove a faint grain) and at t = 990 (invent a layout). FiLM lets
    every block rescale and shift its features per noise level — the section 2 figure (06_film_gamma.png) shows γ changing with t
    in every channel. An input channel carrying t would have to survive every convolution to reach the deep
    blocks; AdaGN hands it to each one directly (Dhariwal & Nichol 2021, table 1: AdaGN beats addition).

Q2. The 16×16 level has no attention. How does it learn the text colour?
    Through the pooled prompt: the mean of the context tokens goes through a linear layer into the time
    embedding, and so into the FiLM of every residual block, at every level (section 2 measures the change
    when only the colour word changes). Spatial facts (where the letters go) reach it through the skips from
    the attention levels below and through the glyph branch.

Q3. What would happen without the skip connections?
    Everything the decoder half knows would have passed through the 4×4 bottleneck: the letter strokes,
    which are one or two latent cells wide, would be lost and the output would be blobs. The skips hand
    each up level the features of its own resolution from the way down.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.06_unet_and_cross_attention")
    for name in ("timestep_embedding", "adagn", "pooled_context"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

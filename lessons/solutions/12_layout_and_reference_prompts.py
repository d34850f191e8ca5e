"""Solutions to lesson 12's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/12_layout_and_reference_prompts.py`.
"""
import math

import torch


def exercise_box_iou(a, b):
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))  # exclusive ends: widths are x1 − x0
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def exercise_ink_box(mask):
    ys, xs = torch.nonzero(mask, as_tuple=True)  # rows, columns of the True pixels
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def exercise_box_features(box, image_size, num_freqs):
    c = box.float() / image_size  # (B, 4) in [0, 1]
    freqs = 2 * math.pi * 2.0 ** torch.arange(num_freqs)  # (F,)
    angles = c[:, :, None] * freqs  # (B, 4, F)
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1)  # (B, 8F)


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_box_iou(a, b):
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)  # inclusive-end habit
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def mistake_ink_box(mask):
    ys, xs = torch.nonzero(mask, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())  # inclusive ends


def mistake_box_features(box, image_size, num_freqs):
    angles = (box.float() / image_size)[:, :, None] * 2.0 ** torch.arange(num_freqs)  # no 2π
    return torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1)


ANSWERS = """
Q1. A network turns its inputs into features with linear maps and smooth nonlinearities; fed four numbers in
    [0, 1], it sees two boxes a pixel apart as almost the same input and struggles to respond sharply to
    position (the "spectral bias" of Tancik et al.). sin/cos at frequencies 2π·2^k spread each coordinate over
    many scales: the low ones say roughly where, the high ones resolve a pixel (2^7 cycles over 64 pixels), and
    every feature is bounded, so none dominates.

Q2. If the caption named the colours, the model could take them from the text and ignore the image tokens —
    the easier path — and never learn to read style from a reference. With 'the word "X" in the style of
    the image' the colours exist only in the image, so the loss can only fall by attending to it. Section 3's
    "without it" row shows what is left when the image is missing: chance.

Q3. The canvas squeezes the word into letters about 6 pixels tall, at the bottom of the sizes the dataset
    draws (layout.MIN_LETTER_HEIGHT = 5 for capitals; most training words are larger), and on the 16×16 latent
    grid a 6-pixel row is a single cell and a half. Expect the model to place ink in the box but to draw the
    letters as blurred, merged strokes that the reader often cannot read; check it with
    `model.generate([prompt], boxes=[(4, 30, 60, 36)])` and `reader.read(...)`.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.12_layout_and_reference_prompts")
    for name in ("box_iou", "ink_box", "box_features"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

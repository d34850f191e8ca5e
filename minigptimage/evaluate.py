"""Does the image say the prompt's word? Generate from dataset captions and score what comes out.

For ``n`` captions of training-vocabulary words and ``n`` of held-out words (never seen in training), the model
generates an image per caption; the glyph reader (``reader.py``) reads it, and ``scoring.py`` names the glyphs'
colour and region. Reported per split: exact-word accuracy, character accuracy, colour accuracy, position
accuracy, and seconds per image — with the sampler, steps and guidance that produced them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .glyphs import GlyphDataset
from .reader import GlyphReader
from .scoring import char_accuracy, glyph_colour, glyph_position, word_accuracy


@dataclass
class SplitScore:
    split: str              # "train" (seen words) or "heldout" (never seen)
    n: int                  # images generated
    word_acc: float         # exact-word accuracy of the reader on the generated images
    char_acc: float         # character accuracy (see scoring.char_accuracy)
    colour_acc: float       # named glyph colour == the caption's colour
    position_acc: float     # glyph centroid's region == the caption's region
    seconds_per_image: float


def evaluation_samples(split: str, n: int, seed: int = 1234):
    """The fixed captions an evaluation uses: items of a dataset seed that training does not use."""
    return [GlyphDataset(split, length=n, seed=seed)[i] for i in range(n)]


def evaluate(model, n: int = 50, steps: int = 30, sampler: str = "ddim", guidance=None, seed: int = 0,
             batch_size: int = 25, reader: GlyphReader | None = None, splits=("train", "heldout"),
             progress: bool = False) -> list[SplitScore]:
    """Score ``model`` on ``n`` captions per split (see the module docstring)."""
    if n < 1:
        raise ValueError(f"n: expected at least 1 caption per split, got {n}")
    reader = reader or GlyphReader.pretrained()
    scores = []
    for split in splits:
        samples = evaluation_samples(split, n)
        images, start = [], time.perf_counter()
        for k in range(0, n, batch_size):
            chunk = samples[k:k + batch_size]
            images.append(model.generate([s.caption for s in chunk], steps=steps, sampler=sampler,
                                         guidance=guidance, seed=seed + k, progress=progress).cpu())
        seconds = (time.perf_counter() - start) / n
        images = torch.cat(images)                                 # (n, 3, H, W)
        read = reader.read(images)
        texts = [s.text for s in samples]
        scores.append(SplitScore(
            split, n, word_accuracy(read, texts), char_accuracy(read, texts),
            sum(glyph_colour(im) == s.color for im, s in zip(images, samples)) / n,
            sum(glyph_position(im) == s.position for im, s in zip(images, samples)) / n,
            seconds))
    return scores


def format_table(scores: list[SplitScore], steps: int, sampler: str, guidance: float) -> str:
    lines = [f"sampler {sampler}, {steps} steps, guidance {guidance:g}",
             "| words | n | exact word | characters | colour | position | s/image |",
             "|---|---|---|---|---|---|---|"]
    for s in scores:
        name = "training vocabulary" if s.split == "train" else "held-out (never seen)"
        lines.append(f"| {name} | {s.n} | {s.word_acc:.1%} | {s.char_acc:.1%} | {s.colour_acc:.1%} | "
                     f"{s.position_acc:.1%} | {s.seconds_per_image:.3f} |")
    return "\n".join(lines)

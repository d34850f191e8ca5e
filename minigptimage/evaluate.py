"""Does the image say the prompt's word? Generate from dataset captions and score what comes out.

For ``n`` captions of training-vocabulary texts and ``n`` of held-out texts (never seen in training), in the
training phrasings and naming both colours and the place, the model generates an image per caption; the
glyph reader (``reader.py``) reads it, and ``scoring.py`` names the glyphs' colour, the background's colour
and the region. Reported per split: exact-word accuracy, character accuracy, text colour, **colour binding**
(the text colour *and* the background colour both right: a swap, red on white for white on red, gets the
text colour of neither right, but a model that always draws black on white can get one colour right by
chance, never both), position accuracy and seconds per image — with the sampler, steps and guidance.
``score_images`` does the scoring for any list of dataset items; ``benchmarks/prompts.py`` uses it per
prompt family (phrasings, lengths, kinds of text).

The multimodal prompts have their own two measures:
* ``evaluate_layout``: each held-out word is asked for in a box moved to a random place (not one of the named
  regions); the score is the IoU of the generated ink's box with the asked box, and the exact-word accuracy.
* ``evaluate_reference``: "the word X in the style of the image" with a reference render of another word;
  the scores are how often the text colour, the background colour and the region agree with the reference's
  — and the same without the reference (chance, since the prompt names no colour), to show it is the image
  that carries the style.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from .glyphs import REFERENCE_CAPTION, GlyphDataset
from .reader import GlyphReader
from .scoring import (background_colour, box_iou, char_accuracy, glyph_box, glyph_colour, glyph_position,
                      word_accuracy)


@dataclass
class SplitScore:
    split: str              # "train" (seen words) or "heldout" (never seen)
    n: int                  # images generated
    word_acc: float         # exact-word accuracy of the reader on the generated images
    char_acc: float         # character accuracy (see scoring.char_accuracy)
    colour_acc: float       # named glyph colour == the caption's colour
    position_acc: float     # glyph centroid's region == the caption's region
    seconds_per_image: float
    binding_acc: float = float("nan")  # glyph colour and background colour both == the caption's


def evaluation_samples(split: str, n: int, seed: int = 1234, **dataset_options):
    """The fixed captions an evaluation uses: items of a dataset seed that training does not use, each naming
    both colours and the place (``complete``); ``dataset_options`` go to GlyphDataset (phrasing, text_kind, …)."""
    ds = GlyphDataset(split, length=n, seed=seed, **{"complete": True, **dataset_options})
    return [ds[i] for i in range(n)]


def reader_misses(reader: GlyphReader, samples) -> list[tuple[str, str]]:
    """(text, what the reader read) for each clean render in ``samples`` that the reader misreads: the reader's
    own error, the floor under every exact-word figure (a generated word it misreads may still be right)."""
    read = reader.read(torch.stack([s.image for s in samples]))  # (n, 3, H, W) -> n strings
    return [(s.text, r) for s, r in zip(samples, read) if r != s.text]


def score_images(images: torch.Tensor, samples, reader: GlyphReader, split: str, seconds: float) -> SplitScore:
    """Score generated images (n, 3, H, W) against the dataset items they were asked for."""
    n, read, texts = len(samples), reader.read(images), [s.text for s in samples]
    colour = [glyph_colour(im) == s.color for im, s in zip(images, samples)]
    background = [background_colour(im) == s.background for im, s in zip(images, samples)]
    return SplitScore(split, n, word_accuracy(read, texts), char_accuracy(read, texts), sum(colour) / n,
                      sum(glyph_position(im) == s.position for im, s in zip(images, samples)) / n, seconds,
                      sum(c and b for c, b in zip(colour, background)) / n)


def generate_in_batches(model, prompts: list[str], steps: int = 30, seed: int = 0, batch_size: int = 25,
                        boxes=None, reference=None, **options) -> torch.Tensor:
    """``model.generate`` over the prompts, ``batch_size`` at a time, batch k (its first index) seeded ``seed + k``
    — every evaluation draws its images this way, so the same captions give the same images everywhere.
    ``boxes`` (a list) and ``reference`` (n, 3, H, W) are sliced with the prompts → images (n, 3, H, W) on CPU."""
    images = []
    for k in range(0, len(prompts), batch_size):
        part = slice(k, k + batch_size)
        images.append(model.generate(prompts[part], steps=steps, seed=seed + k,
                                     boxes=None if boxes is None else boxes[part],
                                     reference=None if reference is None else reference[part], **options).cpu())
    return torch.cat(images)


def evaluate(model, n: int = 50, steps: int = 30, sampler: str = "ddim", guidance=None, seed: int = 0,
             batch_size: int = 25, reader: GlyphReader | None = None, splits=("train", "heldout"),
             progress: bool = False, eta: float = 0.0) -> list[SplitScore]:
    """Score ``model`` on ``n`` captions per split (see the module docstring), sampling with ``model.generate``'s
    ``steps``, ``sampler``, ``eta`` and ``guidance``."""
    if n < 1:
        raise ValueError(f"n: expected at least 1 caption per split, got {n}")
    reader = reader or GlyphReader.pretrained()
    scores = []
    for split in splits:
        samples = evaluation_samples(split, n)
        start = time.perf_counter()
        images = generate_in_batches(model, [s.caption for s in samples], steps, seed, batch_size,
                                     sampler=sampler, eta=eta, guidance=guidance, progress=progress)  # (n, 3, H, W)
        scores.append(score_images(images, samples, reader, split, (time.perf_counter() - start) / n))
    return scores


def format_table(scores: list[SplitScore], steps: int, sampler: str, guidance: float, eta: float = 0.0) -> str:
    lines = [f"sampler {sampler}{f' (η {eta:g})' if eta else ''}, {steps} steps, guidance {guidance:g}",
             "| texts | n | exact word | characters | text colour | colour binding | position | s/image |",
             "|---|---|---|---|---|---|---|---|"]
    for s in scores:
        name = {"train": "training vocabulary", "heldout": "held-out (never seen)"}.get(s.split, s.split)
        lines.append(f"| {name} | {s.n} | {s.word_acc:.1%} | {s.char_acc:.1%} | {s.colour_acc:.1%} | "
                     f"{s.binding_acc:.1%} | {s.position_acc:.1%} | {s.seconds_per_image:.3f} |")
    return "\n".join(lines)


def moved_boxes(samples, image_size: int, seed: int) -> list[tuple[int, int, int, int]]:
    """Each sample's ink box (its word's natural shape) moved to a uniformly random place inside the image."""
    g = torch.Generator().manual_seed(seed)
    boxes = []
    for s in samples:
        x0, y0, x1, y1 = s.box
        w, h = x1 - x0, y1 - y0
        nx, ny = (int(torch.randint(0, image_size - side + 1, (1,), generator=g)) for side in (w, h))
        boxes.append((nx, ny, nx + w, ny + h))
    return boxes


@torch.no_grad()
def evaluate_layout(model, n: int = 50, steps: int = 30, seed: int = 0, reader: GlyphReader | None = None,
                    **dataset_options) -> dict:
    """Held-out words asked for in random boxes → {"iou": mean IoU, "iou>0.5": fraction, "word_acc": exact};
    ``dataset_options`` choose the text (e.g. text_kind="upper", lengths=(2, 6); default the training mixture)."""
    reader = reader or GlyphReader.pretrained()
    samples = evaluation_samples("heldout", n, **dataset_options)
    boxes = moved_boxes(samples, model.config.image_size, seed)
    prompts = [f'the word "{s.text}" in {s.color} on {s.background}' for s in samples]
    images = generate_in_batches(model, prompts, steps, seed, boxes=boxes)  # (n, 3, H, W)
    ious = [box_iou(glyph_box(im), b) for im, b in zip(images, boxes)]
    return {"iou": sum(ious) / n, "iou>0.5": sum(i > 0.5 for i in ious) / n,
            "word_acc": word_accuracy(reader.read(images), [s.text for s in samples])}


@torch.no_grad()
def evaluate_reference(model, n: int = 50, steps: int = 30, seed: int = 0, reader: GlyphReader | None = None,
                       use_reference: bool = True) -> dict:
    """Held-out style pairs: write the first word in the style of the second's image → agreement fractions
    {"colour", "background", "position", "word_acc"} with the reference's text colour, background and region."""
    reader = reader or GlyphReader.pretrained()
    pairs = [GlyphDataset("heldout", length=n, seed=1234, pairs=True)[i] for i in range(n)]
    reference = torch.stack([ref.image for _, ref in pairs]) if use_reference else None  # (n, 3, H, W)
    images = generate_in_batches(model, [REFERENCE_CAPTION.format(text=t.text) for t, _ in pairs], steps, seed,
                                 reference=reference)
    refs = [ref for _, ref in pairs]
    return {"colour": sum(glyph_colour(im) == r.color for im, r in zip(images, refs)) / n,
            "background": sum(background_colour(im) == r.background for im, r in zip(images, refs)) / n,
            "position": sum(glyph_position(im) == r.position for im, r in zip(images, refs)) / n,
            "word_acc": word_accuracy(reader.read(images), [t.text for t, _ in pairs])}

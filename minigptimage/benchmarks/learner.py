"""The learner's-model figure: does a model trained in the workshop write held-out words in the right colours?

    python -m minigptimage.benchmarks.learner --checkpoint runs/a/ckpt.pt --checkpoint runs/b/ckpt.pt [--n 100]

The one benchmark that the README, RESULTS and lessons 07, 08 and 14 quote for the ten-minute model. Its prompts
are held-out upper-case words of 2–6 letters (never in a training caption), in the high-contrast colour pairs
the workshop trains on, in the standard form that every training task contains,

    the word "X" in FG on BG, PLACE

with the colours and place of the held-out items (``evaluate.evaluation_samples``). Each checkpoint draws the
same ``--n`` prompts (30 DDIM steps, or the steps and guidance stored in the checkpoint) and the scores are
pooled: with two checkpoints trained from two seeds, n = 200 by default. Scores: Tesseract's exact reading (when
the ``tesseract`` program is installed), our glyph reader's exact word, colour binding (text and background
colour both right) and specked images (``benchmarks.prompts.specked_share``).
"""
from __future__ import annotations

import argparse
import time

import torch

from ..captions import PLACES
from ..evaluate import evaluation_samples, generate_in_batches, score_images
from ..pipeline import TINY_DATA, MiniGPTImage
from ..reader import GlyphReader
from ..training_data import TASKS
from .ocr_legibility import tesseract_exact
from .prompts import specked_share


def standard_prompt(sample) -> str:
    """The standard form of a dataset item: 'the word "X" in FG on BG, PLACE'."""
    return f'the word "{sample.text}" in {sample.color} on {sample.background}, {PLACES[sample.position][0]}'


def learner_samples(n: int, seed: int = 1234) -> list:
    """``n`` held-out items of the workshop task (``training_data.TASKS["workshop"]``: upper-case words of 2–6
    letters, the high-contrast colour pairs), fixed for a seed."""
    return evaluation_samples("heldout", n, seed, phrasing="train", **TASKS["workshop"])


def score_model(model, reader, samples, steps: int | None = None, seed: int = 0, **options) -> dict:
    """{"images", "tesseract", "reader", "binding", "specked", "seconds"} of one model on ``samples``;
    ``options`` (sampler, guidance, …) go to ``model.generate``."""
    steps = steps or model.config.sampling_steps
    start = time.perf_counter()
    images = generate_in_batches(model, [standard_prompt(s) for s in samples], steps, seed, **options)  # (n, 3, H, W)
    seconds = (time.perf_counter() - start) / len(samples)
    score = score_images(images, samples, reader, "learner", seconds)
    return {"images": images, "tesseract": tesseract_exact(images, [s.text for s in samples]), "reader": score.word_acc, "binding": score.binding_acc,
            "specked": specked_share(images), "seconds": seconds}


def pooled(results: list[dict]) -> dict:
    """The mean of each score over equally sized runs (None where Tesseract is missing)."""
    keys = ("tesseract", "reader", "binding", "specked", "seconds")
    return {k: (None if any(r[k] is None for r in results) else sum(r[k] for r in results) / len(results))
            for k in keys}


def format_row(name: str, n: int, scores: dict) -> str:
    tess = "—" if scores["tesseract"] is None else f"{scores['tesseract']:.0%}"
    return (f"| {name} | {n} | {tess} | {scores['reader']:.0%} | {scores['binding']:.0%} | "
            f"{scores['specked']:.0%} | {scores['seconds']:.2f} |")


HEADER = ("| model | n | Tesseract exact | reader exact | both colours | specked | s/image |\n"
          "|---|---|---|---|---|---|---|")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigptimage.benchmarks.learner", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", default=None,
                        help="a model to score (repeat for several training seeds; default: the shipped "
                             "10-minute model)")
    parser.add_argument("--n", type=int, default=100, help="prompts per checkpoint (default 100)")
    parser.add_argument("--steps", type=int, default=None, help="DDIM steps (default: the model's own)")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 2000:
        parser.error("--n: expected 1 to 2000")
    paths = args.checkpoint or [str(TINY_DATA / "minigptimage_tiny_10min.pt")]
    reader = GlyphReader.pretrained()
    samples = learner_samples(args.n)
    results = []
    print(HEADER)
    with torch.inference_mode():
        for path in paths:
            results.append(score_model(MiniGPTImage.load(path), reader, samples, args.steps))
            print(format_row(path, args.n, results[-1]), flush=True)
    if len(results) > 1:
        print(format_row("pooled", args.n * len(results), pooled(results)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m minigptimage demo``: the shipped model (or a tiny one trained first) on the demo prompts.

It writes three figures into the output folder and prints the evaluate table:
    demo_grid.png        every demo prompt's image, titled with the whole prompt and what the glyph reader reads
    demo_trajectory.png  the first prompt's predicted x₀ along the DDIM steps
    demo_scored.png      the images the evaluate table scored (10 captions per split), each with its reading
It calls the library as any script would: ``train_run``, ``MiniGPTImage``, ``evaluate`` and ``plots``.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from .evaluate import evaluate, evaluation_samples, format_table, reader_misses
from .pipeline import PRETRAINED, TINY_DATA, MiniGPTImage, check_sampling_args
from .plots import image_grid, trajectory_figure
from .reader import PRETRAINED as READER, GlyphReader

DEMO_PROMPTS = TINY_DATA / "demo_prompts.txt"


def demo_prompts() -> list[str]:
    """The prompts of tiny_data/demo_prompts.txt, one a line ('#' starts a comment line)."""
    return [line.strip() for line in DEMO_PROMPTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


class RecordingReader:
    """A glyph reader that keeps every batch of images it reads and what it read, so the demo shows the images
    ``evaluate`` scored without generating them twice."""

    def __init__(self, reader: GlyphReader):
        self.reader, self.images, self.reads = reader, [], []

    def read(self, images: torch.Tensor) -> list[str]:
        reads = self.reader.read(images)
        self.images.append(images)
        self.reads += reads
        return reads


def run_demo(out: Path, checkpoint=PRETRAINED, device="cpu", precision="fp32") -> None:
    """Write the demo's figures into ``out`` with the model at ``checkpoint`` and print the evaluate table."""
    start = time.monotonic()
    out.mkdir(parents=True, exist_ok=True)
    model = MiniGPTImage.load(checkpoint).to(device)
    model.precision = precision
    reader = GlyphReader.pretrained() if READER.is_file() else None
    prompts = demo_prompts()
    images, record = model.generate(prompts, steps=30, seed=0, return_trajectory=True)
    reads = reader.read(images.cpu()) if reader else [""] * len(prompts)
    image_grid(images, out / "demo_grid.png", ncols=4,  # each whole prompt, wrapped, and what the reader reads
               titles=[p + (f"\nreader: {r or '∅'}" if reader else "") for p, r in zip(prompts, reads)])
    print(f"wrote {out / 'demo_grid.png'}")
    trajectory_figure(model, record, out / "demo_trajectory.png", title=prompts[0])
    print(f"wrote {out / 'demo_trajectory.png'}")
    if reader is None:
        print(f"(no glyph reader shipped at {READER}: skipping the evaluate table)")
    else:
        evaluation_table(model, reader, out)
    print(f"demo finished in {time.monotonic() - start:.1f} s")


def evaluation_table(model: MiniGPTImage, reader: GlyphReader, out: Path) -> None:
    """The evaluate table (n = 10 per split), every scored image shown beside its reading, and the reader's own
    misses on clean renders of held-out text: a word it misreads may still be right."""
    clean = evaluation_samples("heldout", 50)
    misses = reader_misses(reader, clean)
    recorder = RecordingReader(reader)
    scores = evaluate(model, n=10, steps=30, reader=recorder)
    captions = [s.caption for split in ("train", "heldout") for s in evaluation_samples(split, 10)]
    image_grid(torch.cat(recorder.images), out / "demo_scored.png", ncols=5,
               titles=[f"{c}\nreader: {r or '∅'}" for c, r in zip(captions, recorder.reads)])
    guidance = check_sampling_args(30, None, 0, model.config)[1]  # the model's own scale, which evaluate used
    print(format_table(scores, 30, "ddim", guidance))
    print(f"the images scored above: {out / 'demo_scored.png'}, each titled with its prompt and the reader's "
          f"reading. The reader itself misreads {len(misses)} of {len(clean)} clean held-out renders"
          + (f" (e.g. {', '.join(f'{t} as {r or chr(8709)}' for t, r in misses[:3])})" if misses else "")
          + ": look at an image before blaming the model for a word the reader got wrong.")

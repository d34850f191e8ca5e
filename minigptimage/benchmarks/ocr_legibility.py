"""Are our glyph renders legible? Ask an OCR engine that had no part in making them: Tesseract.

    python -m minigptimage.benchmarks.ocr_legibility --n 300
    python -m minigptimage.benchmarks.ocr_legibility --checkpoint tiny_data/minigptimage_tiny.pt --n 50

With ``--checkpoint`` it reads *generated* images instead: the model draws the captions ``evaluate`` uses, and
both Tesseract and our glyph reader read them — a second opinion on the exact-word figures from an OCR engine
that had no part in training or scoring the model.

For each split of ``GlyphDataset`` ("train", "heldout", "random") it renders ``n`` clean images at the
default size, prepares them for OCR and reads them with the ``tesseract`` command-line program (Smith 2007,
"An Overview of the Tesseract OCR Engine"; installed with ``apt-get install tesseract-ocr``), then prints
the exact-word accuracy and the renders per CPU-second. The target is ≥ 95 % exact.

Preprocessing, the usual recipe for Tesseract (it reads dark text on a light page at ~20–40 px capitals):
1. grey "inkiness": the RGB distance of each pixel from the background colour (the median of the border
   pixels, which the dataset keeps blank), scaled so the inkiest pixel is 1;
2. dark on light: 255·(1 − ink); 3. upsampled ``scale``× (bicubic) and padded with 16 white pixels.
Tesseract runs once for all images (a list file), in single-line mode (--psm 7), with a whitelist of letters,
digits and the space (without the space it joins two words into one), and its word dictionaries switched off, so
it must read the letters rather than guess a known word.
When ``tesseract`` is not on PATH the benchmark says so and exits 0 (a skip, not a failure).
"""
from __future__ import annotations

import argparse
import shutil
import string
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from ..glyphs import GlyphDataset


def prepare(image: torch.Tensor, scale: int = 4) -> Image.Image:
    """(3, H, W) in [-1, 1] → dark-on-light greyscale PIL image, ``scale``× larger, padded."""
    rgb = ((image.permute(1, 2, 0).numpy() + 1) * 127.5).astype(np.float32)  # (H, W, 3) in [0, 255]
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])  # (4W, 3)
    ink = np.linalg.norm(rgb - np.median(border, axis=0), axis=-1)  # (H, W) distance from the background
    grey = 255 * (1 - ink / max(float(ink.max()), 1e-6))
    im = Image.fromarray(grey.round().astype(np.uint8))
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.BICUBIC)
    return ImageOps.expand(im, border=16, fill=255)


def tesseract_exact(images: torch.Tensor, texts: list[str]) -> float | None:
    """Tesseract's exact-word rate on images (n, 3, H, W) in [-1, 1] asked to say ``texts``; None where the
    ``tesseract`` program is not installed."""
    if not shutil.which("tesseract"):
        return None
    from ..scoring import word_accuracy
    return word_accuracy(tesseract_read([prepare(im) for im in images]), texts)


def tesseract_read(images: list[Image.Image]) -> list[str]:
    """The text Tesseract reads in each image (one process for the whole list)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = []
        for k, im in enumerate(images):
            paths.append(str(Path(tmp) / f"{k:05d}.png"))
            im.save(paths[-1])
        (Path(tmp) / "list.txt").write_text("\n".join(paths) + "\n")
        out = subprocess.run(
            ["tesseract", str(Path(tmp) / "list.txt"), "-", "--psm", "7",
             "-c", "tessedit_char_whitelist=" + string.ascii_letters + string.digits + " ",
             "-c", "load_system_dawg=0", "-c", "load_freq_dawg=0"],
            capture_output=True, text=True, check=True).stdout
    pages = out.split("\f")[:len(images)]  # Tesseract ends every page with a form feed
    return [" ".join(p.split()) for p in pages]  # one space between words, as the dataset writes two words


def evaluate(n: int = 300, image_size: int = 64, seed: int = 0, scale: int = 4) -> dict:
    """{split: (accuracy, renders per second, [(truth, read) for the misses])}."""
    results = {}
    for split in ("train", "heldout", "random"):
        ds = GlyphDataset(split, length=n, seed=seed, image_size=image_size)
        start = time.process_time()  # CPU time of this process: renders per core, whatever else runs
        samples = [ds[i] for i in range(n)]
        rate = n / (time.process_time() - start)
        reads = tesseract_read([prepare(s.image, scale) for s in samples])
        misses = [(s.text, r) for s, r in zip(samples, reads) if s.text != r]
        results[split] = (1 - len(misses) / n, rate, misses)
    return results


def generated(checkpoint: str, n: int, steps: int = 30) -> dict:
    """{split: (tesseract exact, tesseract characters, reader exact, reader characters)} on generated images."""
    from ..evaluate import evaluation_samples, generate_in_batches
    from ..pipeline import MiniGPTImage
    from ..reader import GlyphReader
    from ..scoring import char_accuracy, word_accuracy
    model, reader, results = MiniGPTImage.load(checkpoint), GlyphReader.pretrained(), {}
    for split in ("train", "heldout"):
        samples = evaluation_samples(split, n)
        texts = [s.text for s in samples]
        images = generate_in_batches(model, [s.caption for s in samples], steps)  # the images evaluate scores
        tess, ours = tesseract_read([prepare(im) for im in images]), reader.read(images)
        results[split] = (word_accuracy(tess, texts), char_accuracy(tess, texts),
                          word_accuracy(ours, texts), char_accuracy(ours, texts))
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="renders per split")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", type=int, default=4, help="upsampling factor before OCR")
    parser.add_argument("--checkpoint", default=None, help="read images generated by this model instead")
    args = parser.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("skipped: the tesseract program is not installed (apt-get install tesseract-ocr)")
        return 0
    if args.checkpoint:
        print("| words | Tesseract exact | Tesseract characters | our reader exact | our reader characters |\n"
              "|---|---|---|---|---|")
        for split, (te, tc, re_, rc) in generated(args.checkpoint, args.n).items():
            print(f"| {split} | {te:.0%} | {tc:.0%} | {re_:.0%} | {rc:.0%} |")
        return 0
    torch.set_num_threads(1)
    for split, (acc, rate, misses) in evaluate(args.n, args.image_size, args.seed, args.scale).items():
        print(f"{split:8s} exact {acc:6.1%} of {args.n}   first renders per CPU-second {rate:5.0f}   "
              f"misses e.g. {misses[:5]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

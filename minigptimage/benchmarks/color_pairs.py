"""Which (text colour, background colour) pairs can be read? Every ordered pair of ``glyphs.COLORS``, measured.

    python -m minigptimage.benchmarks.color_pairs [--n 200] [--seed 0]

For each of the 56 ordered pairs of the eight colours, the same ``n`` held-out items of ``GlyphDataset`` (text,
font, size, region and jitter fixed by the seed) are rendered clean in that pair, and two readers read them:

* our glyph reader (``reader.py``, the shipped ``tiny_data/reader.pt``), which scores generated images;
* Tesseract (``tesseract`` on PATH; Smith 2007), given the render as it is — upsampled, padded with the
  background colour — so it converts colour to grey by luminance itself, as it does for any photograph.
  (``ocr_legibility.prepare``, which the other benchmarks use, stretches the colour distance to the
  background to full contrast first: every pair of different colours would read like black on white.)

A pair is **legible** when both read at least ``LEGIBLE_SHARE`` (90%) of its renders exactly. Our reader is
colour-blind by design (it reads each image's ink map, scaled by the image's own contrast), so it reads every
pair alike; Tesseract, which sees grey levels, decides. The table also gives each pair's WCAG 2 contrast ratio:
Tesseract's Otsu threshold splits clean renders a few grey levels apart, so it reads some pairs a person finds
faint (yellow on white, contrast 1.4). The legible pairs are ``layout.LEGIBLE_PAIRS``, which the dataset draws
and a prompt may ask for. Without ``tesseract`` it says so and exits 0 (a skip).
"""
from __future__ import annotations

import argparse
import shutil
import time

import torch
from PIL import Image, ImageOps

from .. import layout
from ..glyphs import COLORS, GlyphDataset, contrast_ratio, render_word
from ..reader import GlyphReader
from ..scoring import word_accuracy

LEGIBLE_SHARE = 0.9  # both readers must read at least this share of a pair's renders exactly


def pair_renders(samples, fg: str, bg: str) -> torch.Tensor:
    """(n, 3, H, W) in [-1, 1]: each dataset item redrawn in text colour ``fg`` on ``bg`` — same text, font,
    size and box (the jitter is recovered from the item's box)."""
    images = []
    for s in samples:
        x0, y0, _, _ = layout.place(layout.ink_coverage(s.text, s.font, s.size).shape, s.position, s.image.shape[-1])
        image, _ = render_word(s.text, fg, bg, s.font, s.position, s.image.shape[-1], size=s.size,
                               jitter=(s.box[0] - x0, s.box[1] - y0))
        images.append(image.float() / 127.5 - 1)
    return torch.stack(images)  # (n, 3, H, W)


def as_photo(image: torch.Tensor, scale: int = 4) -> Image.Image:
    """(3, H, W) in [-1, 1] → the RGB render, ``scale``× larger (bicubic), padded with 16 background pixels."""
    rgb = ((image.permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).numpy()  # (H, W, 3)
    im = Image.fromarray(rgb)
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.BICUBIC)
    return ImageOps.expand(im, border=16, fill=tuple(int(v) for v in rgb[0, 0]))


def measure(n: int = 200, seed: int = 0, reader: GlyphReader | None = None) -> dict:
    """{(fg, bg): (reader exact, Tesseract exact)} for every ordered pair of distinct colours."""
    from .ocr_legibility import tesseract_read
    reader = reader or GlyphReader.pretrained()
    ds = GlyphDataset("heldout", length=n, seed=seed)
    samples = [ds[i] for i in range(n)]
    texts = [s.text for s in samples]
    results = {}
    for fg in COLORS:
        for bg in COLORS:
            if fg != bg:
                images = pair_renders(samples, fg, bg)
                results[fg, bg] = (word_accuracy(reader.read(images), texts),
                                   word_accuracy(tesseract_read([as_photo(im) for im in images]), texts))
    return results


def legible(results: dict) -> list[tuple[str, str]]:
    """The pairs of ``measure``'s results that both readers read at least LEGIBLE_SHARE of, in ``COLORS`` order."""
    return [pair for pair, (ours, tess) in results.items() if min(ours, tess) >= LEGIBLE_SHARE]


def table(results: dict) -> str:
    """A markdown table, one row per pair: reader, Tesseract, contrast ratio, legible."""
    rows = ["| text on background | our reader | Tesseract | contrast ratio | legible |", "|---|---|---|---|---|"]
    for (fg, bg), (ours, tess) in results.items():
        rows.append(f"| {fg} on {bg} | {ours:.1%} | {tess:.1%} | {contrast_ratio(COLORS[fg], COLORS[bg]):.1f} | "
                    f"{'yes' if min(ours, tess) >= LEGIBLE_SHARE else 'no'} |")
    return "\n".join(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=200, help="renders per pair")
    p.add_argument("--seed", type=int, default=0, help="dataset seed of the held-out items")
    args = p.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("skipped: the tesseract program is not installed (apt-get install tesseract-ocr)")
        return 0
    start = time.perf_counter()
    results = measure(args.n, args.seed)
    print(f"n = {args.n} clean held-out renders per pair (GlyphDataset('heldout', seed={args.seed})), "
          f"{time.perf_counter() - start:.0f} s\n")
    print(table(results))
    print(f"\nlegible ({len(legible(results))}): {legible(results)}")
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    raise SystemExit(main())

"""The comparison with the predecessors: word tokens, character tokens, glyph-aware conditioning (a benchmark).

    python -m minigptimage.benchmarks.comparison [--n 50] [--train MINUTES --out runs/compare]

Three variants of the ``tiny`` preset, each trained with the same CPU budget by the project's own ``train``:

1. ``tiny-word``     word-level tokens, no glyph path (a DALL·E-era predecessor's view of a word: one id, or
                     ``<unk>`` for a word it never saw);
2. ``tiny-noglyph``  character-level tokens, no glyph path (the model must learn to spell from characters);
3. ``tiny``          character-level tokens and the glyph-aware path (canvas + glyph branch).

Without ``--train`` it scores the checkpoints shipped in ``tiny_data/`` (``VARIANT_CHECKPOINTS``); with it, it
first trains each variant for ``MINUTES`` into ``--out/<preset>`` (reusing ``--vae``) and scores those. It prints
one markdown row per variant and split: exact-word, character, colour and position accuracy, seconds per image.
"""
from __future__ import annotations

import argparse
import time

import torch

from ..evaluate import evaluate
from ..pipeline import TINY_DATA, MiniGPTImage
from ..reader import GlyphReader

VARIANTS = {"tiny-word": "word tokens, no glyphs", "tiny-noglyph": "character tokens, no glyphs",
            "tiny": "character tokens + glyph-aware"}
VARIANT_CHECKPOINTS = {"tiny-word": TINY_DATA / "variants" / "tiny-word_10min.pt",
                       "tiny-noglyph": TINY_DATA / "variants" / "tiny-noglyph_10min.pt",
                       "tiny": TINY_DATA / "variants" / "tiny_10min.pt"}  # the tiny recipe's 10 minutes
HEADER = ("| variant | words | exact word | characters | colour | position | s/image |\n"
          "|---|---|---|---|---|---|---|")


def rows(name: str, scores) -> list[str]:
    return [f"| {VARIANTS[name]} | {'seen' if s.split == 'train' else 'held-out'} | {s.word_acc:.0%} | "
            f"{s.char_acc:.0%} | {s.colour_acc:.0%} | {s.position_acc:.0%} | {s.seconds_per_image:.3f} |"
            for s in scores]


def train_variant(preset: str, minutes: float, out: str, vae: str) -> str:
    """Train ``preset`` for ``minutes`` into ``out`` as ``python -m minigptimage train --vae VAE`` does (the same
    ``launch.train_run``); return the newest checkpoint's path."""
    from ..checkpoints import checkpoint_files
    from ..launch import train_run
    start = time.monotonic()
    train_run(preset, out, minutes=minutes, vae=vae)
    print(f"{preset}: trained in {time.monotonic() - start:.0f} s", flush=True)
    return str(checkpoint_files(out)[-1])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=50, help="captions per split")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--train", type=float, default=0, help="train each variant for this many minutes first")
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--vae", default=str(TINY_DATA / "vae.pt"))
    args = p.parse_args(argv)
    paths = {name: str(path) for name, path in VARIANT_CHECKPOINTS.items()}
    if args.train:
        paths = {name: train_variant(name, args.train, f"{args.out}/{name}", args.vae) for name in VARIANTS}
    reader = GlyphReader.pretrained()
    print(f"n = {args.n} captions per split, DDIM {args.steps} steps, each model's own guidance\n\n{HEADER}")
    for name, path in paths.items():
        model = MiniGPTImage.load(path)
        print("\n".join(rows(name, evaluate(model, n=args.n, steps=args.steps, reader=reader))), flush=True)


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()

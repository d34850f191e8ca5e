"""Quality against sampling steps and guidance scale, for the README's tables (a benchmark, not a test).

    python -m minigptimage.benchmarks.quality [--checkpoint PATH] [--n 40]

For a checkpoint (the shipped model by default) it runs ``evaluate`` on ``n`` training-vocabulary and ``n``
held-out captions with DDIM at 10/20/30/50 steps and DDPM at all T steps (at the model's guidance), then with
30 DDIM steps at several guidance scales, and prints markdown tables.
"""
from __future__ import annotations

import argparse

import torch

from ..evaluate import evaluate
from ..pipeline import PRETRAINED, MiniGPTImage
from ..reader import GlyphReader


def row(label: str, scores) -> str:
    seen, held = scores
    return (f"| {label} | {seen.word_acc:.0%} | {held.word_acc:.0%} | {seen.char_acc:.0%} | {held.char_acc:.0%} | "
            f"{(seen.colour_acc + held.colour_acc) / 2:.0%} | {(seen.position_acc + held.position_acc) / 2:.0%} | "
            f"{(seen.seconds_per_image + held.seconds_per_image) / 2:.3f} |")


HEADER = ("| {} | exact word, seen | exact word, held-out | characters, seen | characters, held-out | colour | "
          "position | s/image |\n|---|---|---|---|---|---|---|---|")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(PRETRAINED))
    p.add_argument("--n", type=int, default=40)
    p.add_argument("--ddpm", action="store_true", help="also DDPM with all T steps (slow)")
    args = p.parse_args(argv)
    torch.set_num_threads(torch.get_num_threads())
    model, reader = MiniGPTImage.load(args.checkpoint), GlyphReader.pretrained()
    print(f"checkpoint {args.checkpoint}, n = {args.n} captions per split, guidance {model.config.guidance:g}\n")
    print(HEADER.format("sampler, steps"))
    for steps in (10, 20, 30, 50):
        print(row(f"DDIM {steps}", evaluate(model, n=args.n, steps=steps, reader=reader)), flush=True)
    if args.ddpm:
        T = model.config.num_steps
        print(row(f"DDPM {T}", evaluate(model, n=args.n, steps=T, sampler="ddpm", reader=reader)), flush=True)
    print("\n" + HEADER.format("guidance (DDIM 30)"))
    for guidance in (0.0, 1.0, 1.5, 2.0, 3.0, 5.0):
        print(row(f"{guidance:g}", evaluate(model, n=args.n, steps=30, guidance=guidance, reader=reader)),
              flush=True)


if __name__ == "__main__":
    main()

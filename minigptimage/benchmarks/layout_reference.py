"""Image-and-layout prompts: box placement (IoU) and reference-image style agreement (a benchmark).

    python -m minigptimage.benchmarks.layout_reference [--checkpoint PATH] [--n 50]

Prints, for held-out words (see ``evaluate.evaluate_layout`` and ``evaluate.evaluate_reference``): the mean IoU
of the generated word's ink box (scoring.glyph_box, specks dropped) with a box asked at a random place, for
upper-case words of 2–6 letters (the first data's text) and for the training mixture of text kinds; and how
often the text colour, background and region of "the word X in the style of the image" agree with the
reference image — and without it.
"""
from __future__ import annotations

import argparse

import torch

from ..evaluate import evaluate_layout, evaluate_reference
from ..pipeline import PRETRAINED, MiniGPTImage
from ..reader import GlyphReader


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(PRETRAINED))
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args(argv)
    model, reader = MiniGPTImage.load(args.checkpoint), GlyphReader.pretrained()
    print(f"checkpoint {args.checkpoint}, n = {args.n} held-out words, DDIM {args.steps}\n")
    print("| layout box at a random place | mean IoU | IoU > 0.5 | exact word |\n|---|---|---|---|")
    for name, options in (("upper-case words of 2–6 letters", dict(text_kind="upper", lengths=(2, 6))),
                          ("the training mixture of text kinds", {})):
        lay = evaluate_layout(model, n=args.n, steps=args.steps, reader=reader, **options)
        print(f"| {name} | {lay['iou']:.2f} | {lay['iou>0.5']:.0%} | {lay['word_acc']:.0%} |", flush=True)
    print()
    print("| reference image | text colour | background | region | exact word |\n|---|---|---|---|---|")
    for name, use in (("given", True), ("not given (chance)", False)):
        s = evaluate_reference(model, n=args.n, steps=args.steps, reader=reader, use_reference=use)
        print(f"| {name} | {s['colour']:.0%} | {s['background']:.0%} | {s['position']:.0%} | {s['word_acc']:.0%} |")


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    main()

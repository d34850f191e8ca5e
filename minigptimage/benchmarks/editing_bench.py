"""Editing benchmark: does inpainting keep what it must and write what it is asked; what does SDEdit keep?

    python -m minigptimage.benchmarks.editing_bench [--checkpoint PATH] [--n 50] [--steps 30]

The test images are the dataset's held-out style pairs (two renders sharing colours, font, size and place, with
different words of the same length), as in lesson 11: the first render is the input, its word's box is the
mask (1 = repaint) and the second render's caption is the prompt.

Inpainting reports the PSNR outside the mask of the final image (the pixel blend returns those pixels bit for
bit, so ∞) and of the decoded latent before that blend (what latent inpainting alone keeps: the VAE's error),
the PSNR inside the mask against the input (it must change), and how often the reader reads the new word —
with RePaint resampling U = 1 (none) and U = 3. SDEdit redraws the whole input under the new caption at
strengths 0 … 1: the PSNR to the input (how much is kept) and how often the new word is read.
"""
from __future__ import annotations

import argparse
import time

import torch

from ..editing import region_psnr
from ..glyphs import GlyphDataset, collate
from ..pipeline import PRETRAINED, MiniGPTImage
from ..reader import GlyphReader
from ..scoring import word_accuracy


def db(values: torch.Tensor) -> str:
    """Mean and minimum of the finite per-image PSNRs, and how many images were bit-exact (∞)."""
    exact, finite = int(values.isinf().sum()), values[values.isfinite()]
    if not len(finite):
        return "∞ (bit-exact)"
    return f"{finite.mean():.1f} dB (min {finite.min():.1f})" + (f", {exact} bit-exact" if exact else "")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(PRETRAINED))
    p.add_argument("--n", type=int, default=50)
    p.add_argument("--steps", type=int, default=30)
    args = p.parse_args(argv)
    model, reader = MiniGPTImage.load(args.checkpoint), GlyphReader.pretrained()
    pairs = [GlyphDataset("heldout", length=args.n, seed=11, pairs=True)[i] for i in range(args.n)]
    first, second = collate([a for a, _ in pairs]), collate([b for _, b in pairs])
    images, masks, prompts = first["image"], first["mask"], list(second["caption"])  # (n, 3, H, W), (n, 1, H, W)
    words = list(second["text"])
    print(f"checkpoint {args.checkpoint}, n = {args.n} held-out pairs, DDIM {args.steps}\n")

    print("| inpainting | PSNR outside the mask | … latent only, before the pixel blend | PSNR inside "
          "| new word read exactly | s/image |\n|---|---|---|---|---|---|")
    for resample in (1, 3):
        start = time.perf_counter()
        out, traj = model.inpaint(images, masks, prompts, steps=args.steps, seed=0, resample=resample,
                                  return_trajectory=True)
        seconds = (time.perf_counter() - start) / args.n
        with torch.no_grad():
            latent_only = model.decode(traj["x_t"][-1])
        print(f"| RePaint U = {resample} | {db(region_psnr(out, images, 1 - masks))} "
              f"| {db(region_psnr(latent_only, images, 1 - masks))} | {db(region_psnr(out, images, masks))} "
              f"| {word_accuracy(reader.read(out), words):.0%} | {seconds:.2f} |")

    print("\n| SDEdit strength | PSNR to the input | new word read exactly |\n|---|---|---|")
    for strength in (0.0, 0.25, 0.5, 0.75, 1.0):
        out = model.edit(images, prompts, strength, steps=args.steps, seed=0)
        print(f"| {strength:.2f} | {db(region_psnr(out, images, torch.ones_like(masks)))} "
              f"| {word_accuracy(reader.read(out), words):.0%} |")


if __name__ == "__main__":
    main()

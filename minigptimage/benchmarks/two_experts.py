"""Where are the colours decided, and where the letters? Two models as experts of two ranges of t.

    python -m minigptimage.benchmarks.two_experts --noisy A.pt --clean B.pt [--tau 600 ...] [--n 200]

One DDIM run per prompt in which model A (``--noisy``) predicts at every step with t > tau and model B
(``--clean``) at the others, each from its own prompt encoder, guided at model A's scale; the split of the
sampling range between expert denoisers is eDiff-I's (Balaji et al. 2022, arXiv 2211.01324, sec. 4). Both
models must share one VAE, so that their latents are the same space. tau = -1 is model A alone, tau = T model B
alone. Prints the ``benchmarks.prompts`` families (held-out text, DDIM 30): exact word, characters and colour
binding for each tau (RESULTS.md, "Retrains not shipped").
"""
from __future__ import annotations

import argparse
from types import SimpleNamespace

import torch

from ..evaluate import generate_in_batches, score_images
from ..pipeline import MiniGPTImage
from ..reader import GlyphReader
from ..samplers import sample_loop
from .prompts import FAMILIES, family_samples


def check_same_vae(noisy: MiniGPTImage, clean: MiniGPTImage) -> None:
    """ValueError unless the two models decode with the same VAE (one latent space for both experts)."""
    a, b = noisy.vae.state_dict(), clean.vae.state_dict()
    if a.keys() != b.keys() or not all(torch.equal(a[k], b[k]) for k in a):
        raise ValueError("the two models must share one VAE (train both with the same --vae)")


@torch.no_grad()
def generate_with_experts(noisy: MiniGPTImage, clean: MiniGPTImage, prompts: list[str], tau: int, steps: int = 30,
                          seed: int = 0) -> torch.Tensor:
    """Images (B, 3, H, W) as ``generate`` draws them from ``seed``, but with ``noisy`` predicting at t > tau and
    ``clean`` at t <= tau."""
    check_same_vae(noisy, clean)
    requests = {m: m.checked(prompts, steps=steps, seed=seed) for m in (noisy, clean)}
    cond = {m: m.condition(r) for m, r in requests.items()}
    uncond = {m: m.null_condition(len(prompts)) for m in (noisy, clean)}

    def denoiser(x_t, t, which):  # t (B,), all equal; ``which``: cond or uncond, an entry per expert
        expert = noisy if int(t[0]) > tau else clean
        return expert.denoise(x_t, t, which[expert])

    generator = torch.Generator().manual_seed(seed)
    x_T = torch.randn(noisy.latent_shape(len(prompts)), generator=generator)  # (B, C, h, w), as generate draws it
    request = requests[noisy]
    z_0 = sample_loop(denoiser, request.sampler, x_T, cond=cond, uncond=uncond, guidance=request.guidance,
                      generator=generator)
    return noisy.decode(z_0)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--noisy", required=True, help="model file that predicts at t > tau")
    p.add_argument("--clean", required=True, help="model file that predicts at t <= tau")
    p.add_argument("--tau", type=int, nargs="+", default=[-1, 600, 1000])
    p.add_argument("--n", type=int, default=200, help="prompts per family")
    p.add_argument("--family", nargs="+", default=list(FAMILIES))
    args = p.parse_args(argv)
    noisy, clean, reader = MiniGPTImage.load(args.noisy), MiniGPTImage.load(args.clean), GlyphReader.pretrained()
    print("| family | tau | exact word | characters | colour binding |\n|---|---|---|---|---|")
    for family in args.family:
        samples = family_samples(family, args.n)
        for tau in args.tau:
            experts = SimpleNamespace(generate=lambda prompts, steps, seed, boxes, reference, tau=tau:
                                      generate_with_experts(noisy, clean, prompts, tau, steps, seed))
            images = generate_in_batches(experts, [s.caption for s in samples])  # as every evaluation seeds
            score = score_images(images, samples, reader, family, 0.0)
            print(f"| {family} | {tau} | {score.word_acc:.0%} | {score.char_acc:.0%} | {score.binding_acc:.0%} |",
                  flush=True)


if __name__ == "__main__":
    main()

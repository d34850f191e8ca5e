"""Solutions to lesson 11's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/11_inpainting_and_editing.py`.
"""
import torch
import torch.nn.functional as F


def exercise_repaint_merge(x_unknown, z0, noise, mask, alpha_bar_prev):
    # RePaint eq. 8: the known part at the step's output level; eq. 9: the mask picks between them.
    x_known = alpha_bar_prev ** 0.5 * z0 + (1 - alpha_bar_prev) ** 0.5 * noise  # (B, C, h, w)
    return torch.where(mask, x_unknown, x_known)  # m·x_unknown + (1−m)·x_known


def exercise_latent_mask(masks, latent_side):
    # A cell is repainted when any pixel it covers is: the maximum over each f×f block, f = H / h.
    return F.max_pool2d(masks, kernel_size=masks.shape[-1] // latent_side)  # (B, 1, h, w)


def exercise_region_psnr(a, b, region):
    keep = region.expand_as(a)  # (B, 3, H, W)
    mse = ((a - b).double() * keep).pow(2).flatten(1).sum(1) / keep.flatten(1).sum(1)  # (B,)
    return 10 * torch.log10(4 / mse)


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_repaint_merge(x_unknown, z0, noise, mask, alpha_bar_prev):
    x_known = alpha_bar_prev ** 0.5 * z0 + (1 - alpha_bar_prev) ** 0.5 * noise
    return torch.where(mask, x_known, x_unknown)  # RePaint's own convention (1 = keep) used by mistake


def mistake_latent_mask(masks, latent_side):
    f = masks.shape[-1] // latent_side
    return masks[:, :, ::f, ::f]  # every f-th pixel: misses cells the mask only partly covers


def mistake_region_psnr(a, b, region):
    mse = (a - b).double().pow(2).flatten(1).mean(1)  # the whole image
    return 10 * torch.log10(4 / mse)


ANSWERS = """
Q1. Noised to t, the kept region is one DDIM step noisier than the repainted one it is stitched to: the next
    step's network sees a latent whose two parts are at different noise levels, a state it never saw in
    training. The seam shows, and at the very end the kept region is not z₀ but a slightly noisy version of
    it (the pixel blend hides that outside the mask, but the border of the repainted region is drawn to
    match a noisy neighbour). RePaint's eq. 8 samples x_known at t−1 for exactly this reason.

Q2. The VAE is lossy (lesson 07: about 31 dB on held-out renders): decode(encode(x)) ≠ x. Decoding the whole
    latent replaces every pixel by its reconstruction, so even untouched regions change slightly — the PSNR
    outside the mask printed for "decoded only". The pixel blend puts the input's own pixels back there.

Q3. SDEdit starts at t₀ ≈ strength·T from z_{t₀} = √ᾱ_{t₀}·z₀ + √(1−ᾱ_{t₀})·ε. With the cosine schedule ᾱ falls
    slowly at first (lesson 01), so at small t₀ the noisy latent still carries the input plainly, and the
    model, asked for another place, draws the new word at the top while the old one is only partly removed —
    both show. The background is one large flat area that the noisy latent still states clearly; the model
    repaints it only once ᾱ_{t₀} is small, i.e. when the run starts at the noisiest steps, where colours and
    layout are decided from the prompt (lesson 10's trajectory). That is the trade-off: the later the start,
    the more the prompt and the less the input decides.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.11_inpainting_and_editing")
    for name in ("repaint_merge", "latent_mask", "region_psnr"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

"""The editing loops: repaint a masked region (RePaint) or redraw a whole image (SDEdit), in latent space.

Neither needs any training: both only change *what the sampler starts from* and *what it keeps* at each step.
Like ``samplers.sample_loop``, the loops take the denoiser as a function, ``denoiser(x_t, t, cond)``, and a
sampler; ``MiniGPTImage.inpaint`` and ``MiniGPTImage.edit`` (pipeline.py) encode the image, build the
conditioning, run these loops and decode.

Inpainting — RePaint, Lugmayr et al. 2022, arXiv 2201.09865 (eq. 8-9, Algorithm 1), here in latent space
(as Rombach et al. 2022, arXiv 2112.10752, sec. 4.5). The region to keep is known, so at every step we know
exactly what it should look like at any noise level: a fresh sample of q(x_t | x₀). Each sampler step
t -> t_prev (DDIM: t_prev = t − T//n; DDPM: t − 1):

    eq. (8)  x_known    = √ᾱ_{t_prev}·z₀ + √(1−ᾱ_{t_prev})·ε    q_sample at the step's OUTPUT level t_prev
                                                               (after the last step: z₀ itself, no noise)
    eq. (8)  x_unknown  = the guided sampler step from x_t       (DDIM eq. 12, or DDPM's)
    eq. (9)  x_{t_prev} = m·x_unknown + (1−m)·x_known            m = the mask on the latent grid, 1 = repaint

The known part must be noised to t_prev — the level the sampler's output is at — not to t (an off-by-one
that leaves the kept region one step too noisy; the tests check every step). Resampling (RePaint sec. 4.2,
jumps of one step): with ``resample`` = U > 1, x_{t_prev} is pushed back to t with the forward transition
between the two levels, x_t = √(ᾱ_t/ᾱ_{t_prev})·x_{t_prev} + √(1−ᾱ_t/ᾱ_{t_prev})·ε, and the step is redone,
U times in all (never at the last step, as in Algorithm 1), so the repainted region can agree with the kept
one. Finally the latent is decoded and blended in pixels, out = M·decoded + (1−M)·input, so every pixel
outside the mask comes back bit for bit (the VAE alone could not reproduce it).

Masks: (B, 1, H, W), bool or float in {0, 1}, **1 = repaint** (as GlyphDataset's ``mask``). RePaint's own code
uses the opposite (its ``gt_keep_mask`` is 1 where the image is kept). Only this exact shape is accepted (no
guessing at (B, H, W) or (H, W): add the channel with ``mask[:, None]``). On the latent grid (B, 1, h, w) a
cell is repainted when any of its f×f pixels is (max-pooling, f = H/h). The new word goes in the mask's
bounding box, for the glyph canvas and the encoder's box token alike (unless the caller gives its box, or the
mask is empty or covers the whole image); the encoder's text context is the same as in ``generate``.

Editing — SDEdit, Meng et al. 2022, arXiv 2108.01073 (sec. 3, Algorithm 1): noise the image's latent part
way, z_{t₀} = √ᾱ_{t₀}·z₀ + √(1−ᾱ_{t₀})·ε with t₀ ≈ strength·T, then denoise it under the new prompt. Small
strengths keep layout and colours, large ones keep less; strength 1 is plain generation. Here t₀ is one of
the sampler's timesteps: only the last ⌈strength·n⌉ of its n timesteps are run.

Randomness: one torch.Generator seeded with ``seed`` draws ε (B, C, h, w) first — the same draw as
``MiniGPTImage.generate``'s x_T, so an all-ones mask or strength 1 reproduce ``generate`` exactly — then, in
``repaint``, at each step the sampler's own noise (DDPM, or DDIM with η > 0; none for η = 0) and then the ε of
x_known, and for each repetition the ε of the re-noising first.
Simplified: resampling jumps of one sampler step, the mask's box as the glyph's box.

On a flow model (``samplers.FlowSampler``: Euler or Heun from σ = 1 to 0, flow.py) both loops keep their shape and
change their path: ``repaint`` and ``sdedit`` hand over to ``flow_repaint`` and ``flow_sdedit``, where the known
part at the step's output level σ_{i+1} is x_known = (1 − σ_{i+1})·z₀ + σ_{i+1}·ε (the straight path), the
resampling jump back from σ_{i+1} to σ_i is x_σ = a·x_{σ_{i+1}} + √(σ² − a²·σ_{i+1}²)·ε with a = (1−σ)/(1−σ_{i+1})
(it keeps q(x_σ | z₀) exact), and SDEdit starts at σ = strength, z = (1 − strength)·z₀ + strength·ε, then runs
the steps of the sampler's grid below that σ (strength 1 is generate's grid and x_T exactly).
"""
from __future__ import annotations

import copy
import math
import numbers

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .flow import flow_interpolate, flow_renoise
from .samplers import FlowSampler, flow_sample_loop, guided_output, sample_loop


# ---------------------------------------------------------------- checks at the public boundary
def check_images(images, image_size: int) -> torch.Tensor:
    """images: a float tensor (B, 3, S, S), S = image_size, finite, in [-1, 1]."""
    if not isinstance(images, torch.Tensor) or not images.dtype.is_floating_point:
        raise ValueError(f"images: expected a float tensor (B, 3, {image_size}, {image_size}), got "
                         f"{type(images).__name__ if not isinstance(images, torch.Tensor) else images.dtype}")
    if images.dim() != 4 or images.shape[0] < 1 or tuple(images.shape[1:]) != (3, image_size, image_size):
        raise ValueError(f"images: expected shape (B, 3, {image_size}, {image_size}) (the model's image size), "
                         f"got {tuple(images.shape)}")
    if not bool(torch.isfinite(images).all()):
        raise ValueError("images: contains NaN or infinite values")
    if float(images.min()) < -1 or float(images.max()) > 1:
        raise ValueError(f"images: expected values in [-1, 1], got [{float(images.min()):.3g}, "
                         f"{float(images.max()):.3g}] (map uint8 pixels with p / 127.5 - 1)")
    return images


def check_masks(masks, images: torch.Tensor) -> torch.Tensor:
    """masks: (B, 1, H, W) matching images, bool or float with values 0 and 1 only -> float {0, 1}."""
    want = (images.shape[0], 1, *images.shape[2:])
    if not isinstance(masks, torch.Tensor):
        raise ValueError(f"masks: expected a tensor of shape {want}, got {type(masks).__name__}")
    if masks.dtype != torch.bool and not masks.dtype.is_floating_point:
        raise ValueError(f"masks: expected dtype bool or float (1 = repaint), got {masks.dtype} "
                         "(for 0/255 masks use masks > 127)")
    if tuple(masks.shape) != want:
        raise ValueError(f"masks: expected shape {want} (B, 1, H, W) matching images, got {tuple(masks.shape)}")
    masks = masks.float()
    if not bool(((masks == 0) | (masks == 1)).all()):
        raise ValueError("masks: expected values 0 and 1 only (1 = repaint); threshold a soft mask first")
    return masks


def check_strength(strength) -> float:
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0 <= strength <= 1:
        raise ValueError(f"strength: expected a number from 0 to 1, got {strength!r}")
    return float(strength)


# ---------------------------------------------------------------- helpers
def latent_mask(masks: torch.Tensor, latent_side: int) -> torch.Tensor:
    """(B, 1, H, W) pixel mask -> (B, 1, h, w): a latent cell is repainted when any pixel it covers is."""
    return F.max_pool2d(masks, kernel_size=masks.shape[-1] // latent_side)  # (B, 1, h, w)


def region_psnr(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
    """PSNR per image in dB, 10·log10(2² / MSE) for images (B, 3, H, W) in [-1, 1] (peak-to-peak 2), over the
    pixels where ``region`` (B, 1, H, W) is 1 — ``1 − mask`` for what inpainting must keep. inf when equal,
    nan for an empty region."""
    keep = region.expand_as(a)
    mse = ((a - b).double() * keep).pow(2).flatten(1).sum(1) / keep.flatten(1).sum(1)  # (B,), nan if empty
    return 10 * torch.log10(4 / mse)


def mask_box(mask: torch.Tensor):
    """The bounding box (x0, y0, x1, y1), exclusive ends, of a (1, H, W) mask that covers part of the image;
    None when it is empty or full (then the layout planner places the word, as in generate)."""
    if not bool(mask.any()) or bool(mask.all()):
        return None
    ys, xs = torch.nonzero(mask[0], as_tuple=True)
    return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)


def check_resample(resample) -> int:
    if isinstance(resample, bool) or not isinstance(resample, int) or not 1 <= resample <= 100:
        raise ValueError(f"resample: expected an integer from 1 to 100, got {resample!r}")
    return resample


# ---------------------------------------------------------------- inpainting
@torch.no_grad()
def repaint(denoiser, sampler, x_T: torch.Tensor, z0: torch.Tensor, mask: torch.Tensor, cond=None, uncond=None,
            guidance: float | None = None, generator: torch.Generator | None = None, resample: int = 1,
            progress: bool = False, return_trajectory: bool = False):
    """RePaint from x_T (B, C, h, w), keeping the latent z₀ (B, C, h, w) where ``mask`` (B, 1, h, w) is False
    (True = repaint): returns the final latent (the caller decodes it and blends the pixels), or (latent,
    trajectory) with "timesteps" (S,) and "x_t" (S+1, B, C, h, w) (x_T first, then x_{t_prev} after each step).
    ``denoiser``, ``cond``, ``uncond`` and ``guidance`` are those of ``samplers.sample_loop``. A flow sampler
    runs ``flow_repaint``."""
    if isinstance(sampler, FlowSampler):
        return flow_repaint(denoiser, sampler, x_T, z0, mask, cond, uncond, guidance, generator, resample,
                            progress, return_trajectory)
    alphas_cumprod = sampler.schedule.alphas_cumprod
    x_t, xs = x_T, [x_T]
    for t in tqdm(sampler.timesteps.tolist(), disable=not progress, desc="inpainting"):
        t_prev = t - sampler.step_ratio  # the level this step lands on (−1: the clean latent)
        for u in range(resample if t_prev >= 0 else 1):  # RePaint never resamples the last step
            if u > 0:
                # 1. resampling, back to t: x_t = √(ᾱ_t/ᾱ_{t_prev})·x_{t_prev} + √(1−ᾱ_t/ᾱ_{t_prev})·ε
                ratio = float(alphas_cumprod[t] / alphas_cumprod[t_prev])
                noise = torch.randn(z0.shape, generator=generator, device=z0.device)
                x_t = math.sqrt(ratio) * x_prev + math.sqrt(1 - ratio) * noise
            # 2. eq. (8), unknown part: one guided sampler step t -> t_prev
            out = guided_output(denoiser, x_t, t, cond, uncond, guidance)
            x_unknown = sampler.step(out, t, x_t, generator=generator)
            # 3. eq. (8), known part at the OUTPUT level: √ᾱ_{t_prev}·z₀ + √(1−ᾱ_{t_prev})·ε (z₀ after the last step)
            noise = torch.randn(z0.shape, generator=generator, device=z0.device)
            x_known = sampler.schedule.q_sample(z0, t_prev, noise=noise) if t_prev >= 0 else z0
            # 4. eq. (9): x_{t_prev} = m·x_unknown + (1−m)·x_known
            x_prev = torch.where(mask, x_unknown, x_known)
        x_t = x_prev
        xs.append(x_t)
    if not return_trajectory:
        return x_t
    return x_t, {"timesteps": sampler.timesteps.clone(), "x_t": torch.stack(xs)}


# ---------------------------------------------------------------- SDEdit
@torch.no_grad()
def sdedit(denoiser, sampler, z0: torch.Tensor, strength: float, noise: torch.Tensor, cond=None, uncond=None,
           guidance: float | None = None, generator: torch.Generator | None = None, progress: bool = False,
           return_trajectory: bool = False):
    """SDEdit of the latent z₀ (B, C, h, w) with ε = ``noise`` (B, C, h, w): the last k = ⌈strength·n⌉ of the
    sampler's n timesteps, from z₀ noised to the first of them -> the final latent (or (latent, trajectory) as
    ``sample_loop`` returns them). Strength 0 returns z₀ itself; strength 1 starts from ε itself (generate's x_T:
    q_sample at T−1 would keep √ᾱ_{T−1}·z₀, invisible but not bit-equal). A flow sampler runs ``flow_sdedit``."""
    strength = check_strength(strength)
    if isinstance(sampler, FlowSampler):
        return flow_sdedit(denoiser, sampler, z0, strength, noise, cond, uncond, guidance, progress,
                           return_trajectory)
    n = len(sampler.timesteps)
    k = math.ceil(strength * n)
    if k == 0:
        return (z0, {"timesteps": sampler.timesteps[:0], "x_t": z0[None]}) if return_trajectory else z0
    # 1. keep only the last k timesteps: t₀ = timesteps[n − k] ≈ strength·T (on a copy: the caller's is untouched)
    sampler = copy.copy(sampler)
    sampler.timesteps = sampler.timesteps[n - k:]
    t0 = int(sampler.timesteps[0])
    # 2. SDEdit: z_{t₀} = √ᾱ_{t₀}·z₀ + √(1−ᾱ_{t₀})·ε; at strength 1 pure ε
    z_t0 = noise if k == n else sampler.schedule.q_sample(z0, t0, noise=noise)
    # 3. denoise under the new prompt with the usual loop
    return sample_loop(denoiser, sampler, z_t0, cond=cond, uncond=uncond, guidance=guidance, generator=generator,
                       return_trajectory=return_trajectory, progress=progress)


# ---------------------------------------------------------------- the same loops on a flow model's path
@torch.no_grad()
def flow_repaint(denoiser, sampler: FlowSampler, x_T: torch.Tensor, z0: torch.Tensor, mask: torch.Tensor, cond=None,
                 uncond=None, guidance: float | None = None, generator: torch.Generator | None = None,
                 resample: int = 1, progress: bool = False, return_trajectory: bool = False):
    """``repaint`` on the straight path x_σ = (1 − σ)·z₀ + σ·ε: the arguments and the result of ``repaint``,
    with "timesteps" the float σ_i·T of the steps."""
    T, sigmas = sampler.num_train_timesteps, sampler.sigmas.tolist()  # (n+1,), 1 … 0

    def velocity(x: torch.Tensor, sigma: float) -> torch.Tensor:  # guided v̂(x, σ), (B, C, h, w)
        return guided_output(denoiser, x, float(sigma) * T, cond, uncond, guidance)

    x_t, xs = x_T, [x_T]
    for i in tqdm(range(len(sigmas) - 1), disable=not progress, desc="inpainting"):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        for u in range(resample if sigma_next > 0 else 1):  # never resample the last step
            if u > 0:
                # 1. resampling, back to σ: x_σ = a·x_{σ_next} + √(σ² − a²·σ_next²)·ε, a = (1 − σ)/(1 − σ_next)
                noise = torch.randn(z0.shape, generator=generator, device=z0.device)
                x_t = flow_renoise(x_prev, sigma_next, sigma, noise)
            # 2. RePaint eq. (8), unknown part: one (guided) Euler or Heun step σ -> σ_next
            x_unknown = sampler.step(velocity(x_t, sigma), i, x_t, velocity)
            # 3. eq. (8), known part at the OUTPUT level σ_next: (1 − σ_next)·z₀ + σ_next·ε (z₀ after the last step)
            if sigma_next > 0:
                noise = torch.randn(z0.shape, generator=generator, device=z0.device)
                x_known = flow_interpolate(z0, noise, sigma_next)
            else:
                x_known = z0
            # 4. eq. (9): x_{σ_next} = m·x_unknown + (1−m)·x_known
            x_prev = torch.where(mask, x_unknown, x_known)
        x_t = x_prev
        xs.append(x_t)
    if not return_trajectory:
        return x_t
    return x_t, {"timesteps": sampler.timesteps.clone(), "x_t": torch.stack(xs)}


@torch.no_grad()
def flow_sdedit(denoiser, sampler: FlowSampler, z0: torch.Tensor, strength: float, noise: torch.Tensor, cond=None,
                uncond=None, guidance: float | None = None, progress: bool = False, return_trajectory: bool = False):
    """``sdedit`` on the straight path: z₀ (B, C, h, w) moved to σ = ``strength`` along it, z = (1 − strength)·z₀
    + strength·ε, then integrated to σ = 0 through the sampler's σ grid below ``strength`` (its σ values under
    ``strength``, with ``strength`` put first). Strength 0 returns z₀; strength 1 starts from ε on the whole grid."""
    strength = check_strength(strength)
    if strength == 0:
        return (z0, {"timesteps": sampler.timesteps[:0], "x_t": z0[None]}) if return_trajectory else z0
    # 1. the grid from σ = strength down (on a copy: the caller's sampler is untouched)
    sampler = copy.copy(sampler)
    below = sampler.sigmas[sampler.sigmas < strength]                            # (k+1,), ends with 0
    sampler.sigmas = torch.cat([torch.tensor([strength], dtype=torch.float32), below])
    # 2. SDEdit on the path: z_σ = (1 − σ)·z₀ + σ·ε at σ = strength; pure ε at strength 1
    z_start = noise if strength == 1 else flow_interpolate(z0, noise, strength)
    # 3. denoise under the new prompt with the usual loop
    return flow_sample_loop(denoiser, sampler, z_start, cond=cond, uncond=uncond, guidance=guidance,
                            return_trajectory=return_trajectory, progress=progress)


# ---------------------------------------------------------------- the model's methods as functions (lesson 11)
def inpaint(model, images, masks, prompts, **options):
    """``model.inpaint(images, masks, prompts, **options)`` (pipeline.py), under the name lesson 11 uses."""
    return model.inpaint(images, masks, prompts, **options)


def edit(model, images, prompts, strength: float, **options):
    """``model.edit(images, prompts, strength, **options)`` (pipeline.py), under the name lesson 11 uses."""
    return model.edit(images, prompts, strength, **options)

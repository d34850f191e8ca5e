"""Checks for lesson 07's exercises: the reparameterisation trick, the Gaussian KL, the PSNR."""
from __future__ import annotations

import torch

from minigptimage.vae import VAE, psnr

from .calling import call
from .compare import comparable, compare


def _latents(seed: int):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(3, 4, 5, 5, generator=g)  # (B, C, h, w)
    logvar = torch.randn(3, 4, 5, 5, generator=g) * 2 - 3
    return g, mean, logvar


def check_reparameterize(fn) -> str | None:
    g, mean, logvar = _latents(1)
    noise = torch.randn(mean.shape, generator=g)
    want = VAE.reparameterize(mean, logvar, noise=noise)
    got = call(fn, mean.clone(), logvar.clone(), noise.clone())
    problem = compare(got, want, "your z", where=lambda i: f"for image {i[0]}, channel {i[1]}, cell ({i[2]}, {i[3]})")
    if problem and comparable(got, want):
        if torch.allclose(got, mean + logvar.exp() * noise, atol=1e-5):
            return problem + " — e^logvar is the variance σ²; the noise is scaled by σ = exp(logvar / 2)"
    return problem


def check_kl(fn) -> str | None:
    _, mean, logvar = _latents(2)
    want = VAE.kl(mean, logvar)
    got = call(fn, mean.clone(), logvar.clone())
    if isinstance(got, torch.Tensor) and got.dim() == 0:
        return f"your KL is one number; expected one per image, shape {tuple(want.shape)} — sum over C, h, w only"
    return compare(got, want, "your KL", where=lambda i: f"for image {i[0]}", rtol=1e-4, atol=1e-3)


def check_psnr(fn) -> str | None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    x_hat = x + torch.randn(4, 3, 8, 8, generator=g) * torch.tensor([0.01, 0.1, 0.3, 1.0])[:, None, None, None]
    want = psnr(x_hat, x)
    got = call(fn, x_hat.clone(), x.clone())
    problem = compare(got, want, "your PSNR (dB)", where=lambda i: f"for image {i[0]}", atol=1e-3)
    if problem and comparable(got, want):
        unclamped = 10 * torch.log10(4.0 / (x_hat - x).pow(2).flatten(1).mean(1))
        if torch.allclose(got, unclamped, atol=1e-3):
            return problem + " — clamp x_hat to [-1, 1] first (a decoder's output can leave the range)"
        if torch.allclose(got, 10 * torch.log10(1.0 / (x_hat.clamp(-1, 1) - x).pow(2).flatten(1).mean(1)), atol=1e-3):
            return problem + " — the peak is 2 (images span −1 to 1), so peak² = 4"
    return problem

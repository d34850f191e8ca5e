"""Training the tiny VAE (``vae.py``): its loss and the loop that made the shipped VAEs.

The loss is a reconstruction term plus a *small* KL term (Rombach et al. use a weight of about 1e-6): the KL
only keeps the latent space smooth and bounded, the detail is what matters. Our images are letters on flat
backgrounds, so the reconstruction term is a pixel loss plus L1 on image gradients (horizontal and vertical
finite differences), which rewards sharp glyph edges instead of the blur a plain pixel loss settles for.
The paper adds a perceptual (LPIPS) loss and a patch discriminator; we use neither — everything here is
trained from scratch in a few minutes.

Both shipped VAEs are made by ``train_shipped_vae`` (seed 0; 16,000 renders of training words and random
strings; 3,200 steps of 16): ``train_shipped_vae()`` writes tiny_data/vae.pt, and
``train_shipped_vae(path, VAEConfig.preset("tiny-32px"))`` the shipped model's (tiny_data/README.md has the
commands, RESULTS.md their PSNR and how much of their reconstructions the glyph reader reads).
"""
from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from .vae import PRETRAINED, VAE, VAEConfig


def image_gradients(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite differences along width and height: (B, 3, H, W−1) and (B, 3, H−1, W)."""
    return x[..., :, 1:] - x[..., :, :-1], x[..., 1:, :] - x[..., :-1, :]


def ink_mask(x: torch.Tensor, threshold: float = 0.1) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W) float, 1 on the strokes and the pixel around them: where a pixel's colour
    is more than ``threshold`` from the background's (the median of the border, which the dataset keeps blank),
    grown by one pixel (a 3×3 max filter) so the edges' anti-aliasing counts as text too."""
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)  # (B, 3, 2H+2W)
    background = border.median(dim=-1).values[..., None, None]                              # (B, 3, 1, 1)
    ink = ((x - background).abs().amax(dim=1, keepdim=True) > threshold).float()             # (B, 1, H, W)
    return F.max_pool2d(ink, 3, stride=1, padding=1)


def vae_loss(vae: VAE, x: torch.Tensor, generator=None, noise=None) -> tuple[torch.Tensor, dict]:
    """MSE(x̂, x) + edge_weight·L1(∇x̂, ∇x) + kl_weight·KL/(values per image); returns (loss, parts).
    With ``ink_weight`` = λ > 0 the MSE is a weighted mean, weight 1 + λ on the text (``ink_mask``) and 1 on the
    background: a letter covers a few percent of the pixels, so a plain mean lets the background dominate.

    MSE rather than L1 on pixels: with most pixels flat background, L1 keeps pushing every background pixel
    with a gradient of constant size, while MSE's gradient fades where the error is small and so goes to the
    letters (measured: 29.6 vs 29.4 dB, 96% vs 94% of reconstructions read, lesson 07's setting). The edge
    term keeps strokes crisp. The KL is summed over latent values and divided by the number of pixel values
    (3·H·W) so that kl_weight means the same as in Rombach et al., whose reconstruction loss is a sum.
    """
    x_hat, mean, logvar = vae(x, generator=generator, noise=noise)
    weight = 1 + vae.cfg.ink_weight * ink_mask(x) if vae.cfg.ink_weight else torch.ones_like(x[:, :1])  # (B, 1, H, W)
    mse = (weight * (x_hat - x).pow(2)).mean() / weight.mean()
    (gx_hat, gy_hat), (gx, gy) = image_gradients(x_hat), image_gradients(x)
    edge = 0.5 * ((gx_hat - gx).abs().mean() + (gy_hat - gy).abs().mean())
    kl = vae.kl(mean, logvar).mean()
    loss = mse + vae.cfg.edge_weight * edge + vae.cfg.kl_weight * kl / x[0].numel()
    return loss, {"mse": mse.item(), "edge": edge.item(), "kl": kl.item()}


def _batches(data, batch_size: int, generator: torch.Generator):
    """Endless random batches (B, 3, H, W) from an image tensor, a dataset of samples, or an iterable of batches."""
    if isinstance(data, torch.Tensor):
        while True:
            yield data[torch.randint(len(data), (batch_size,), generator=generator)]
    elif hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        while True:
            idx = torch.randint(len(data), (batch_size,), generator=generator).tolist()
            yield torch.stack([data[i].image for i in idx])
    else:
        for batch in data:
            yield batch["image"] if isinstance(batch, dict) else batch


def train_vae(vae: VAE, data, steps: int = 2000, batch_size: int = 32, lr: float = 2e-3, seed: int = 0,
              progress: bool = True, max_seconds: float | None = None) -> list[float]:
    """Adam on vae_loss with a cosine-decayed learning rate; returns the loss of every step.

    `data` is an image tensor (N, 3, H, W), a dataset whose items have `.image`, or an iterable of batches.
    Batches and the reparameterisation noise come from a generator seeded with `seed`. `max_seconds`
    stops early (wall clock). Leaves the VAE in eval mode; call fit_scale_factor afterwards.
    """
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size: expected ≥ 1, got {steps} and {batch_size}")
    generator = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(vae.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.05)
    vae.train()
    losses, start, batches = [], time.time(), _batches(data, batch_size, generator)
    bar = tqdm(range(steps), desc="vae", disable=not progress)
    for step in bar:
        loss, parts = vae_loss(vae, next(batches), generator=generator)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 20 == 0:
            bar.set_postfix(loss=f"{loss.item():.4f}", mse=f"{parts['mse']:.4f}", kl=f"{parts['kl']:.0f}")
        if max_seconds is not None and time.time() - start > max_seconds:
            break
    vae.eval()
    return losses


def train_shipped_vae(path=PRETRAINED, cfg: VAEConfig | None = None, steps: int = 3200, batch_size: int = 16,
                      lr: float = 2e-3, seed: int = 0, n_images: int = 16000, progress: bool = True,
                      encoder_of: VAE | None = None) -> VAE:
    """How tiny_data/vae.pt was made: render `n_images` training images (¾ from the "train" word list, ¼
    random letter strings; never held-out text), train, fit the scale factor on 2,000 of them, save.
    ``encoder_of``: a trained VAE with the same latent shape whose encoder is copied and frozen, so only a new
    decoder trains — the latents stay exactly the same, and so does any diffusion model trained on them."""
    from .glyphs import GlyphDataset, collate  # imported here: the VAE itself does not depend on the data

    n_random = n_images // 4
    images = torch.cat([collate([ds[i] for i in range(len(ds))])["image"] for ds in (
        GlyphDataset("train", length=n_images - n_random, seed=seed),
        GlyphDataset("random", length=n_random, seed=seed))])  # (N, 3, H, W)
    vae = VAE(cfg or VAEConfig.preset("tiny"), seed=seed)
    if vae.cfg.linear_path:
        vae.init_from_pca(images[:2000])
    if encoder_of is not None:
        frozen = [vae.encoder] + ([vae.patch_in] if vae.cfg.linear_path else [])
        vae.encoder.load_state_dict(encoder_of.encoder.state_dict())
        if vae.cfg.linear_path:
            vae.patch_in.load_state_dict(encoder_of.patch_in.state_dict())
        for module in frozen:
            module.requires_grad_(False)
    train_vae(vae, images, steps=steps, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    if encoder_of is not None:
        vae.scale_factor.copy_(encoder_of.scale_factor)  # the same latents, scaled the same
    else:
        vae.fit_scale_factor(images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:2000]])
    if path is not None:
        vae.save(path)
    return vae

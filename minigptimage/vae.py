"""A tiny VAE: the latent-to-image decoder (the third component).

Latent diffusion (Rombach et al. 2022, arXiv 2112.10752, sec. 3.1) does not denoise pixels: an autoencoder
first squeezes a 64×64 RGB image into an h×w grid of C = ``latent_channels`` numbers (a downsampling factor
f = 64/h), the diffusion model works there, and the decoder turns its output back into pixels. Two latents ship:

    16×16×8  f = 4, preset "tiny"       tiny_data/vae.pt: the 10-minute models' (minigptimage_tiny_10min.pt, variants/)
                                        and lesson 07's; 16× fewer positions than pixels
    32×32×4  f = 2, preset "tiny-32px"  inside minigptimage_tiny.pt: the shipped model's; 4× the positions of
                                        16×16, which keep long words, lower case and two words readable

(RESULTS.md, "Choosing a latent", compares them with 16×16×12.) Our autoencoder is a variational one
(Kingma & Welling 2014, arXiv 1312.6114):

    encoder   q(z | x) = N(mean(x), exp(logvar(x)))            x (B, 3, H, W) -> mean, logvar (B, C, h, w)
    sampling  z = mean + exp(logvar / 2) · ε,  ε ~ N(0, I)        the reparameterisation trick (sec. 2.4)
    decoder   x̂ = decode(z)                                       (B, C, h, w) -> (B, 3, H, W)
    KL        KL(q(z|x) ‖ N(0, I)) = ½ Σ (mean² + exp(logvar) − 1 − logvar)     (appendix B), ≥ 0, = 0 at the prior

Training (the loss, its edge and ink terms, the shipped VAEs' recipe) is in ``vae_training.py``.

Scale factor (Rombach et al., appendix G / "scale_factor" of their configs): with a tiny KL weight the latents
can have any spread (std of a few units), but the diffusion schedule assumes data of unit variance. So after
training we measure s = 1 / std(latents) on data and the diffusion model works on z·s
(``encode_latents``); ``decode_latents`` divides by s before decoding.

Architecture. The encoder folds every p×p pixel block into 3p² channels (space-to-depth), the decoder
unfolds them at the end (a sub-pixel conv, Shi et al. 2016, arXiv 1609.05158); in between, convolutions with
GroupNorm + SiLU residual blocks as in the paper's code, one stride-2 conv / transposed conv per extra level
in ``channels``. With ``linear_path`` (the presets), a linear patch autoencoder runs beside the convolutions:
    mean(x) = W_in·patches(x) + b_in + conv_encoder(x)       decode(z) = unfold(W_out·z + b_out) + conv_decoder(z)
``init_from_pca`` sets W_in, W_out to whitened PCA of the patches — the best linear autoencoder in closed
form — and the convolutions' last layers start at zero, so training starts from PCA's reconstructions
(about 25 dB for 8 channels at 16×16, see lesson 07) and the convolutions learn only what PCA misses:
sharp strokes, using each patch's neighbours. Plain gradient descent from random weights needs thousands
of steps even to match PCA.

Shapes: "tiny": x (B, 3, 64, 64) → patches (B, 48, 16, 16) → mean, logvar (B, 8, 16, 16);
"tiny-32px": x (B, 3, 64, 64) → patches (B, 12, 32, 32) → mean, logvar (B, 4, 32, 32).
Simplified compared with the paper: no attention block, no perceptual loss or discriminator, one level.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .checkpoints import TINY_DATA, load_module, save_module

FORMAT = 1  # version of the checkpoint dict written by VAE.save
PRETRAINED = TINY_DATA / "vae.pt"  # the 16×16×8 VAE


@dataclass
class VAEConfig:
    in_channels: int = 3  # image channels (RGB)
    latent_channels: int = 4  # C: channels of the latent grid
    patch: int = 2  # side of the pixel blocks folded into channels at the input (and unfolded at the output)
    channels: tuple = (48, 128)  # width per level after the patch fold; each further level halves the side
    res_blocks: int = 1  # residual blocks at the latent resolution, in the encoder and in the decoder
    groups: int = 8  # GroupNorm groups in every residual block
    kl_weight: float = 1e-6  # weight of the KL term, per latent value relative to per pixel value (see vae_loss)
    edge_weight: float = 1.0  # weight of the L1 loss on image gradients (keeps glyph edges crisp)
    linear_path: bool = False  # add a linear patch autoencoder beside the convolutions (PCA-initialisable)
    decoder_mult: int = 1  # the decoder's widths are channels × this (it runs once per image, so it can be wider)
    decoder_res_blocks: int = 0  # residual blocks at the latent resolution in the decoder (0: res_blocks)
    ink_weight: float = 0.0  # extra weight of the pixel error on and around the text's strokes (see vae_loss)
    logvar_clamp: float = 20.0  # logvar is clamped to ±this before exp, for numerical safety

    @classmethod
    def preset(cls, name: str) -> "VAEConfig":
        presets = {
            # 64×64 → 8×16×16: a PCA-initialised linear patch path plus light convolutions (218,616
            # parameters); 3,200 steps of 16 images take about 3 minutes on one CPU core
            "tiny": cls(latent_channels=8, patch=4, channels=(64,), linear_path=True),
            "small": cls(latent_channels=8, patch=4, channels=(128,), res_blocks=2, linear_path=True),
            # the latents compared in lesson 07 and RESULTS.md ("Choosing a latent"):
            "tiny-decoder": cls(latent_channels=8, patch=4, channels=(64,), linear_path=True, decoder_mult=2,
                                ink_weight=4.0),  # the same 16×16×8 latent, a 2× wider decoder, text-weighted
            "tiny-12ch": cls(latent_channels=12, patch=4, channels=(64,), linear_path=True),  # 16×16×12
            "tiny-32px": cls(latent_channels=4, patch=2, channels=(64,), linear_path=True),   # 32×32×4, shipped
        }
        if name not in presets:
            raise ValueError(f"name: expected one of {sorted(presets)}, got {name!r}")
        return presets[name]

    @property
    def downsample(self) -> int:
        """Side of the image divided by side of the latent grid (the paper's f)."""
        return self.patch * 2 ** (len(self.channels) - 1)


class ResBlock(nn.Module):
    """x + conv(SiLU(GN(conv(SiLU(GN(x)))))), with a 1×1 conv on the skip when the width changes."""

    def __init__(self, c_in: int, c_out: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class VAE(nn.Module):
    """Encoder to (mean, logvar) of q(z|x), decoder from z to pixels, and the latent scale factor."""

    def __init__(self, cfg: VAEConfig | None = None, seed: int | None = None):
        super().__init__()
        cfg = cfg or VAEConfig()
        self.cfg = cfg
        # A seed makes the initial weights reproducible without touching the caller's global RNG.
        with torch.random.fork_rng(enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self._build(cfg)
        self.register_buffer("scale_factor", torch.tensor(1.0))

    def _build(self, cfg: VAEConfig):
        c, g, p = list(cfg.channels), cfg.groups, cfg.patch
        # Encoder: space-to-depth (every p×p pixel block becomes p²·3 channels), then halve the side per level.
        enc = [nn.PixelUnshuffle(p), nn.Conv2d(p * p * cfg.in_channels, c[0], 3, padding=1)]
        for c_in, c_out in zip(c[:-1], c[1:]):
            enc += [ResBlock(c_in, c_in, g), nn.Conv2d(c_in, c_out, 3, stride=2, padding=1)]
        enc += [ResBlock(c[-1], c[-1], g) for _ in range(cfg.res_blocks)]
        enc += [nn.GroupNorm(g, c[-1]), nn.SiLU(), nn.Conv2d(c[-1], 2 * cfg.latent_channels, 3, padding=1)]
        self.encoder = nn.Sequential(*enc)
        # Decoder: the mirror image; a transposed conv (kernel 4, stride 2) doubles the side per level, and a
        # sub-pixel conv (Shi et al. 2016, arXiv 1609.05158) predicts each p×p pixel block at the end.
        d = [width * cfg.decoder_mult for width in c]
        dec = [nn.Conv2d(cfg.latent_channels, d[-1], 3, padding=1)]
        dec += [ResBlock(d[-1], d[-1], g) for _ in range(cfg.decoder_res_blocks or cfg.res_blocks)]
        for c_in, c_out in zip(d[:0:-1], d[-2::-1]):
            dec += [nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1), ResBlock(c_out, c_out, g)]
        dec += [nn.GroupNorm(g, d[0]), nn.SiLU(), nn.Conv2d(d[0], p * p * cfg.in_channels, 3, padding=1),
                nn.PixelShuffle(p)]
        self.decoder = nn.Sequential(*dec)
        if cfg.linear_path:  # see init_from_pca: the convolutions then only learn corrections to it
            assert len(c) == 1, "linear_path needs a single level (latent side = image side / patch)"
            self.patch_in = nn.Conv2d(p * p * cfg.in_channels, cfg.latent_channels, 1)
            self.patch_out = nn.Conv2d(cfg.latent_channels, p * p * cfg.in_channels, 1)
            for last in (self.encoder[-1], self.decoder[-2]):
                nn.init.zeros_(last.weight)
                nn.init.zeros_(last.bias)
            with torch.no_grad():
                self.encoder[-1].bias[cfg.latent_channels:] = -10.0  # start nearly deterministic: σ = e^-5

    # ---- the VAE proper -------------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, 3, H, W) in [-1, 1] -> mean, logvar, each (B, C, H/f, W/f)."""
        f = self.cfg.downsample
        if x.dim() != 4 or x.shape[1] != self.cfg.in_channels or x.shape[2] % f or x.shape[3] % f:
            raise ValueError(f"x: expected (B, {self.cfg.in_channels}, H, W) with H, W multiples of {f}, "
                             f"got {tuple(x.shape)}")
        mean, logvar = self.encoder(x).chunk(2, dim=1)  # (B, 2C, h, w) -> 2 × (B, C, h, w)
        if self.cfg.linear_path:
            mean = mean + self.patch_in(F.pixel_unshuffle(x, self.cfg.patch))  # (B, 3p², h, w) -> (B, C, h, w)
        return mean, logvar.clamp(-self.cfg.logvar_clamp, self.cfg.logvar_clamp)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """z (B, C, h, w) -> x̂ (B, 3, h·f, w·f), about in [-1, 1] (not clamped, so the loss sees overshoot)."""
        if z.dim() != 4 or z.shape[1] != self.cfg.latent_channels:
            raise ValueError(f"z: expected (B, {self.cfg.latent_channels}, h, w), got {tuple(z.shape)}")
        x_hat = self.decoder(z)                                          # (B, 3, H, W)
        if self.cfg.linear_path:
            x_hat = x_hat + F.pixel_shuffle(self.patch_out(z), self.cfg.patch)  # (B, 3p², h, w) -> (B, 3, H, W)
        return x_hat

    @torch.no_grad()
    def init_from_pca(self, images: torch.Tensor) -> torch.Tensor:
        """Set the linear patch path to whitened PCA of the images' p×p patches (Pearson 1901; the optimal
        linear autoencoder, Baldi & Hornik 1989): latent channel k = (patch − μ)·v_k / √λ_k, decoded back as
        μ + Σ_k z_k·√λ_k·v_k, with (λ_k, v_k) the C largest eigenpairs of the patches' covariance. Training
        starts from this closed-form optimum instead of from noise, which gradient descent reaches only after
        thousands of steps. Returns the fraction of patch variance each latent channel keeps, (C,)."""
        if not self.cfg.linear_path:
            raise ValueError("init_from_pca: this VAE has no linear path (VAEConfig.linear_path=False)")
        p, C = self.cfg.patch, self.cfg.latent_channels
        patches = F.pixel_unshuffle(images.double(), p).permute(0, 2, 3, 1).reshape(-1, 3 * p * p)  # (N, 3p²)
        mu = patches.mean(0)
        cov = (patches - mu).T @ (patches - mu) / len(patches)                                        # (3p², 3p²)
        lam, vecs = torch.linalg.eigh(cov)                                     # ascending eigenvalues
        lam, vecs = lam.flip(0)[:C].clamp_min(1e-8), vecs.flip(1)[:, :C]       # (C,), (3p², C)
        w_in = vecs / lam.sqrt()                                               # (3p², C)
        self.patch_in.weight.copy_(w_in.T[:, :, None, None])
        self.patch_in.bias.copy_(-(mu @ w_in))
        self.patch_out.weight.copy_((vecs * lam.sqrt())[:, :, None, None])
        self.patch_out.bias.copy_(mu)
        return (lam / torch.diagonal(cov).sum()).float()

    @staticmethod
    def reparameterize(mean, logvar, generator=None, noise=None) -> torch.Tensor:
        """Kingma & Welling sec. 2.4: z = mean + σ·ε with σ = exp(logvar / 2), ε ~ N(0, I) (or the given noise)."""
        if noise is None:
            noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device)
        return mean + torch.exp(0.5 * logvar) * noise

    @staticmethod
    def kl(mean, logvar) -> torch.Tensor:
        """KL(N(mean, e^logvar) ‖ N(0, I)) per sample, (B,): ½ Σ (mean² + e^logvar − 1 − logvar) (K&W app. B)."""
        return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(1)

    def forward(self, x, generator=None, noise=None):
        """x -> (x̂, mean, logvar), decoding a sample z of q(z|x)."""
        mean, logvar = self.encode(x)
        return self.decode(self.reparameterize(mean, logvar, generator, noise)), mean, logvar

    # ---- latents for the diffusion model ---------------------------------------------------------
    @torch.no_grad()
    def fit_scale_factor(self, images: torch.Tensor, batch_size: int = 256) -> float:
        """Set scale_factor = 1 / std of the latent means on `images` (B, 3, H, W), so z·s has unit variance."""
        means = torch.cat([self.encode(images[i:i + batch_size])[0] for i in range(0, len(images), batch_size)])
        self.scale_factor.fill_(1.0 / means.float().std().item())
        return self.scale_factor.item()

    def encode_latents(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3, H, W) -> scaled latents z = mean·s (B, C, h, w): what the diffusion model sees."""
        return self.encode(x)[0].float() * self.scale_factor  # float32 under autocast too: the schedule's math

    def decode_latents(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, C, h, w) -> image (B, 3, H, W): decode(z / s)."""
        return self.decode(z / self.scale_factor)

    # ---- checkpoints -----------------------------------------------------------------------------
    def save(self, path) -> None:
        """One plain dict, loadable with torch.load(path, weights_only=True) anywhere; written atomically."""
        save_module(self, path, FORMAT)

    @classmethod
    def load(cls, path) -> "VAE":
        return load_module(cls, VAEConfig, path, FORMAT, "VAE")

    @classmethod
    def pretrained(cls) -> "VAE":
        """The VAE shipped in tiny_data/vae.pt (made by `vae_training.train_shipped_vae`)."""
        return cls.load(PRETRAINED)


def psnr(x_hat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB of images in [-1, 1] (peak-to-peak 2): 10·log10(2² / MSE), in float64,
    per image of a batch (B, 3, H, W) -> (B,), or of one image (3, H, W) -> a 0-d tensor. ``x_hat`` is clamped to
    [-1, 1] first (a decoder may overshoot) and the MSE floored at 1e-10 (equal images read 106 dB, not inf)."""
    mse = (x_hat.clamp(-1, 1).double() - x.double()).pow(2).flatten(-3).mean(-1)  # (B,) or ()
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-10))

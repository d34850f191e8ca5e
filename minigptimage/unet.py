"""A compact cross-attention U-Net: the denoiser of the diffusion core, plus glyph-aware sublayers.

Given a noisy latent x_t (B, C, h, w), its timestep t and the prompt's context tokens, the network predicts
ε (or v, or x₀ — ``UNetConfig.prediction`` records which; the network is the same). The parts:

1. Timestep embedding: sinusoids of t at geometric frequencies (Vaswani et al. 2017, arXiv 1706.03762,
   sec. 3.5; used for diffusion by Ho et al. 2020, arXiv 2006.11239), then an MLP. The mean of the prompt's
   context tokens, through a linear layer, is added to it (GLIDE, Nichol et al. 2021, arXiv 2112.10741, sec.
   2.3; Imagen, Saharia et al. 2022, arXiv 2205.11487, sec. 2.2): global facts such as the colours then
   scale every residual block, at every resolution, through its FiLM — the 16×16 level has no attention.
2. Residual blocks: GroupNorm → SiLU → conv → FiLM by the timestep, f·(1 + γ(t)) + β(t) after a second
   GroupNorm ("AdaGN", Dhariwal & Nichol 2021, arXiv 2105.05233, sec. 3) → SiLU → conv, plus the skip.
3. Transformer blocks on the feature map seen as h·w tokens: self-attention, cross-attention to the
   context (with its padding mask) and an MLP, each pre-norm with a residual — the latent diffusion
   conditioning of Rombach et al. 2022, arXiv 2112.10752, sec. 3.3.
4. The U shape (Ronneberger et al. 2015, arXiv 1505.04597): stride-2 convs go down, nearest-neighbour
   upsampling + conv goes up, and each down block's output is concatenated to its mirror up block's input.
5. The output conv starts at zero, so an untrained network predicts 0 (Dhariwal & Nichol 2021).

Glyph-aware sublayers (``cfg.glyph``): the prompt's quoted word is rendered into a one-channel canvas
(B, 1, H, W) at image resolution, H = glyph_scale·h (layout.py). A small conv branch patchifies it to
latent resolution (a glyph_scale×glyph_scale conv with the same stride: every canvas pixel is kept),
then stride-2 convs bring it to every U-Net resolution. At each resolution its features are added to the
U-Net's, on the way down *and* on the way up, through 1×1 convs that start at zero — so a new branch
leaves a trained network unchanged (ControlNet's "zero convolutions", Zhang et al. 2023, arXiv 2302.05543;
glyph conditioning as in GlyphControl, Yang et al. 2023, arXiv 2305.18259, and TextDiffuser, Chen et al.
2023, arXiv 2305.10855). The last addition is at full latent resolution, just before the output conv, so
letter shapes have a short path to the prediction. ``glyph=None`` means an all-zero canvas (the
classifier-free unconditional branch).

Simplified: one attention width per level, no dropout, no extra skip after the input conv and the
downsamplers (Stable Diffusion keeps those), GELU instead of GEGLU in the MLP.
Speed (benchmarks/speed.py): the tiny preset keeps attention off the 16×16 level (256 tokens per image cost
more in softmax and memory traffic than they bring), so convolutions dominate the time; weights are stored
channels-last, which oneDNN's CPU convolutions prefer.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TransformerBlock


@dataclass
class UNetConfig:
    """The defaults are the ``tiny`` preset's, except the three fields the pipeline sets from its other parts:
    in/out_channels (its VAE's latent channels) and prediction (its config's)."""
    in_channels: int = 4              # C of the latents
    out_channels: int = 4             # C of the prediction (= in_channels for ε, v or x₀)
    context_dim: int = 128            # D of the prompt encoder's tokens
    channels: tuple = (32, 64, 96)    # feature channels per level; level i works at (h/2^i, w/2^i)
    num_res_blocks: int = 1           # residual blocks per level (each followed by attention where enabled)
    attention_levels: tuple = (1, 2)  # levels with transformer blocks (the middle block always has one)
    heads: int = 4                    # attention heads in every transformer block
    time_dim: int = 128               # width of the timestep embedding after its MLP
    groups: int = 8                   # GroupNorm groups (must divide every entry of channels)
    mlp_ratio: int = 2                # transformer MLP hidden width = mlp_ratio · channels
    glyph: bool = True                # build the glyph branch (glyph-aware sublayers)
    glyph_scale: int = 4              # canvas side / latent side
    glyph_channels: int = 32          # width of the glyph branch
    prediction: str = "epsilon"       # what the network is trained to predict: "epsilon" | "v" | "x0"

    @classmethod
    def preset(cls, name: str) -> "UNetConfig":
        presets = {
            "tiny": cls(channels=(32, 64, 96), attention_levels=(1, 2), heads=4, time_dim=128, groups=8),
            "small": cls(context_dim=256, channels=(128, 256, 256), num_res_blocks=2, attention_levels=(1, 2),
                         heads=8, time_dim=512, groups=32, mlp_ratio=4, glyph_channels=64),
        }
        if name not in presets:
            raise ValueError(f"preset must be one of {sorted(presets)}, got {name!r}")
        return presets[name]


def timestep_embedding(t, dim: int, max_period: float = 10000.0):
    """Sinusoidal embedding: [cos(t·ωᵢ), sin(t·ωᵢ)] with ωᵢ = max_period^(−i/(dim/2)). t (B,) → (B, dim)."""
    half = dim // 2
    omega = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)  # (dim/2,)
    angles = t.float()[:, None] * omega[None]  # (B, dim/2)
    return torch.cat([angles.cos(), angles.sin()], dim=-1)  # (B, dim)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv → AdaGN(t) → SiLU → conv, plus a (1×1 if needed) skip. (B, Ci, h, w) → (B, Co, h, w)."""

    def __init__(self, c_in: int, c_out: int, time_dim: int, groups: int):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(time_dim, 2 * c_out)  # → (γ, β)
        self.norm2, self.conv2 = nn.GroupNorm(groups, c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x, temb):
        feat = self.conv1(F.silu(self.norm1(x)))  # (B, Co, h, w)
        gamma, beta = self.film(F.silu(temb))[:, :, None, None].chunk(2, dim=1)  # (B, Co, 1, 1) each
        feat = self.norm2(feat) * (1 + gamma) + beta  # AdaGN
        feat = self.conv2(F.silu(feat))
        return feat + self.skip(x)


class SpatialTransformer(nn.Module):
    """A feature map seen as h·w tokens through one TransformerBlock (self-, cross-attention, MLP)."""

    def __init__(self, channels: int, heads: int, context_dim: int, mlp_ratio: int):
        super().__init__()
        self.block = TransformerBlock(channels, heads, context_dim, mlp_ratio)

    def forward(self, x, context, context_mask):
        B, C, h, w = x.shape
        tokens = x.flatten(2).transpose(1, 2)  # (B, h·w, C)
        tokens = self.block(tokens, context=context, context_mask=context_mask)
        return tokens.transpose(1, 2).reshape(B, C, h, w)  # (B, C, h, w)


def zero_conv(c_in: int, c_out: int, k: int = 1) -> nn.Conv2d:
    conv = nn.Conv2d(c_in, c_out, k, padding=k // 2)
    nn.init.zeros_(conv.weight)
    nn.init.zeros_(conv.bias)
    return conv


class GlyphBranch(nn.Module):
    """Canvas (B, 1, s·h, s·w) → one feature map per level, (B, g, h/2^i, w/2^i)."""

    def __init__(self, levels: int, scale: int, g: int):
        super().__init__()
        self.patchify = nn.Conv2d(1, g, kernel_size=scale, stride=scale)  # (B, g, h, w), sees every pixel once
        self.convs = nn.ModuleList([nn.Conv2d(g, g, 3, padding=1)]
                                   + [nn.Conv2d(g, g, 3, stride=2, padding=1) for _ in range(levels - 1)])

    def forward(self, canvas):
        g, features = F.silu(self.patchify(canvas)), []
        for conv in self.convs:
            g = F.silu(conv(g))  # level 0: (B, g, h, w); then halved at each level
            features.append(g)
        return features


class UNet(nn.Module):
    def __init__(self, cfg: UNetConfig):
        super().__init__()
        if cfg.prediction not in ("epsilon", "v", "x0"):
            raise ValueError(f"prediction must be 'epsilon', 'v' or 'x0', got {cfg.prediction!r}")
        self.cfg = cfg
        ch, n, T = cfg.channels, cfg.num_res_blocks, cfg.time_dim

        def attn(c, on):  # a transformer block where attention is on, a placeholder elsewhere
            return SpatialTransformer(c, cfg.heads, cfg.context_dim, cfg.mlp_ratio) if on else nn.Identity()

        self.time_mlp = nn.Sequential(nn.Linear(ch[0], T), nn.SiLU(), nn.Linear(T, T))
        self.pooled_context = nn.Linear(cfg.context_dim, T)  # mean prompt token → added to the time embedding
        self.conv_in = nn.Conv2d(cfg.in_channels, ch[0], 3, padding=1)
        # Down path: level i = n × (ResBlock, attention), then a stride-2 conv to the next width.
        self.down_res, self.down_attn, self.downsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i, c in enumerate(ch):
            for _ in range(n):
                self.down_res.append(ResBlock(c, c, T, cfg.groups))
                self.down_attn.append(attn(c, i in cfg.attention_levels))
            if i < len(ch) - 1:
                self.downsample.append(nn.Conv2d(c, ch[i + 1], 3, stride=2, padding=1))
        self.mid_res1, self.mid_attn = ResBlock(ch[-1], ch[-1], T, cfg.groups), attn(ch[-1], True)
        self.mid_res2 = ResBlock(ch[-1], ch[-1], T, cfg.groups)
        # Up path, mirrored: each ResBlock takes cat(features, skip from the down path), then a 2× upsample.
        self.up_res, self.up_attn, self.upsample = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(len(ch))):
            for _ in range(n):
                self.up_res.append(ResBlock(2 * ch[i], ch[i], T, cfg.groups))
                self.up_attn.append(attn(ch[i], i in cfg.attention_levels))
            if i > 0:
                self.upsample.append(nn.Conv2d(ch[i], ch[i - 1], 3, padding=1))
        self.norm_out = nn.GroupNorm(cfg.groups, ch[0])
        self.conv_out = zero_conv(ch[0], cfg.out_channels, 3)
        if cfg.glyph:
            self.glyph_branch = GlyphBranch(len(ch), cfg.glyph_scale, cfg.glyph_channels)
            self.glyph_down = nn.ModuleList(zero_conv(cfg.glyph_channels, c) for c in ch)  # level entrances
            self.glyph_up = nn.ModuleList(zero_conv(cfg.glyph_channels, c) for c in ch)  # level exits
        # Weights in channels-last (NHWC) memory format: the CPU convolutions (oneDNN) run ~8% faster with it,
        # measured in benchmarks/speed.py; the maths is unchanged and inputs may stay NCHW.
        self.to(memory_format=torch.channels_last)

    def forward(self, x, t, context, context_mask, glyph=None):
        """x (B, C, h, w), t int or (B,), context (B, L, D), context_mask (B, L) bool, glyph (B, 1, H, W) or None
        → prediction (B, out_channels, h, w)."""
        t = self.check(x, t, context, context_mask, glyph)
        cfg, n, levels = self.cfg, self.cfg.num_res_blocks, len(self.cfg.channels)
        temb = self.time_mlp(timestep_embedding(t, cfg.channels[0]).to(x.dtype))  # (B, time_dim)
        keep = context_mask[..., None].to(context.dtype)  # (B, L, 1)
        pooled = (context * keep).sum(1) / keep.sum(1).clamp(min=1)  # (B, D), mean of the real tokens
        temb = temb + self.pooled_context(pooled)
        g = [0.0] * levels
        if cfg.glyph:
            B, _, h, w = x.shape  # h, w: the latent's height and width
            if glyph is None:
                glyph = x.new_zeros(B, 1, cfg.glyph_scale * h, cfg.glyph_scale * w)
            g = self.glyph_branch(glyph.to(x.dtype))  # level i: (B, g, h/2^i, w/2^i)
        cond = (context, context_mask)

        feat, skips = self.conv_in(x), []  # (B, ch0, h, w): the feature map
        for i in range(levels):
            if cfg.glyph:
                feat = feat + self.glyph_down[i](g[i])  # glyph enters level i on the way down
            for j in range(i * n, (i + 1) * n):
                feat = self.down_res[j](feat, temb)
                if i in cfg.attention_levels:
                    feat = self.down_attn[j](feat, *cond)
                skips.append(feat)
            if i < levels - 1:
                feat = self.downsample[i](feat)  # (B, ch_{i+1}, h/2^(i+1), w/2^(i+1))

        feat = self.mid_res2(self.mid_attn(self.mid_res1(feat, temb), *cond), temb)

        for k, i in enumerate(reversed(range(levels))):
            for j in range(k * n, (k + 1) * n):
                feat = self.up_res[j](torch.cat([feat, skips.pop()], dim=1), temb)  # (B, ch_i, ., .)
                if i in cfg.attention_levels:
                    feat = self.up_attn[j](feat, *cond)
            if cfg.glyph:
                feat = feat + self.glyph_up[i](g[i])  # glyph leaves level i on the way up
            if i > 0:
                feat = self.upsample[k](F.interpolate(feat, scale_factor=2.0, mode="nearest"))  # (B, ch_{i-1}, 2×)
        return self.conv_out(F.silu(self.norm_out(feat)))  # (B, out_channels, h, w)

    def check(self, x, t, context, context_mask, glyph):
        """Validate the inputs (naming the wrong argument); return t as a (B,) long tensor, or float for a flow
        model's continuous σ·T (the sinusoidal embedding takes any real t)."""
        cfg, factor = self.cfg, 2 ** (len(self.cfg.channels) - 1)
        if x.ndim != 4 or x.shape[1] != cfg.in_channels:
            raise ValueError(f"x must be (B, {cfg.in_channels}, h, w), got {tuple(x.shape)}")
        B, _, h, w = x.shape
        if h % factor or w % factor:
            raise ValueError(f"x's h and w must be divisible by {factor} (2^(levels-1)), got {h}×{w}")
        if context.ndim != 3 or context.shape[0] != B or context.shape[2] != cfg.context_dim:
            raise ValueError(f"context must be ({B}, L, context_dim={cfg.context_dim}), got {tuple(context.shape)}")
        if context_mask.shape != context.shape[:2] or context_mask.dtype != torch.bool:
            raise ValueError(f"context_mask must be bool {tuple(context.shape[:2])}, "
                             f"got {tuple(context_mask.shape)} {context_mask.dtype}")
        if glyph is not None:
            want = (B, 1, cfg.glyph_scale * h, cfg.glyph_scale * w)
            if not cfg.glyph:
                raise ValueError("glyph given but the config has glyph=False (no glyph branch)")
            if tuple(glyph.shape) != want:
                raise ValueError(f"glyph must be {want} (glyph_scale={cfg.glyph_scale} × latent side), "
                                 f"got {tuple(glyph.shape)}")
        t = torch.as_tensor(t, device=x.device)
        if t.ndim == 0:
            t = t.expand(B)
        if t.shape != (B,):
            raise ValueError(f"t must be an int, a 0-d tensor or a ({B},) tensor, got shape {tuple(t.shape)}")
        return t if t.is_floating_point() else t.long()

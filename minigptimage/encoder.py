"""The multimodal prompt encoder: text, a reference image and a layout become one sequence of context tokens.

The U-Net never sees characters or pixels of the prompt directly: it cross-attends to the vectors this
encoder produces (Rombach et al. 2022, arXiv 2112.10752, sec. 3.3, where τ_θ is a transformer over the
prompt). Each modality is turned into tokens of width D and tagged with a learned *type* embedding:

    text    ids (B, L)            → token embedding + segment embedding (quoted or not) → (B, L, D),
                                    positions by rotation inside attention (below)
    image   (B, 3, H, W) in [-1,1] → p×p patches → linear (ViT, Dosovitskiy et al. 2020, arXiv 2010.11929)
                                    + 2-D position = row embedding + column embedding → (B, HW/p², D)
    layout  box (B, 4) pixels (x0, y0, x1, y1) → /image_size → Fourier features
                                    [sin(2π·2ᵏ·c), cos(2π·2ᵏ·c)] (Tancik et al. 2020, arXiv 2006.10739) → MLP → (B, 1, D)
            mask (B, 1, H, W)     → p×p patches → linear + 2-D position               → (B, HW/p², D)

**Positions of the text.** ``positions="learned"`` adds a learned vector per position (an absolute table; the
``-abspos`` presets and the 10-minute variants in tiny_data/variants/): a caption's colour words then sit at
positions that move with the length of the quoted text, and a word longer than any in training pushes them
where no colour word ever was. The ``tiny`` and ``small`` presets use rotary positions instead (``positions="rotary"``; RoPE, Su et al. 2021,
arXiv 2104.09864, in attention.py), which make attention depend on the distance between two tokens only,
counted so that the quoted text occupies exactly one position: every token outside the quotes advances the
count by 1, and the n tokens of the quoted span (quote marks included) by 1/n each (``text_positions``).
"in red on white" is then the same pattern of distances after "CAT" as after "KNOWLEDGE". A *segment*
embedding (BERT's, Devlin et al. 2019, arXiv 1810.04805, sec. 3) tells the encoder which tokens are the
quoted text (``segments=True``). Image and layout tokens keep their own 2-D positions (added to them) and all
sit at rotary position 0, beside ``<bos>``: a rotation by 0 leaves their own query and key as they are, but a
text token at position p meets them, as it meets ``<bos>``, at distance p.

The tokens are concatenated along the length (text, image, box, mask) and go through a small pre-norm
transformer whose self-attention ignores padded text tokens, then a final LayerNorm. The output is
``(context (B, L', D), context_mask (B, L') bool)``; the mask is True for every real token.

Classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598) needs an "empty prompt": ``null_context``
returns a few *learned* tokens, trained whenever the prompt is dropped.

Simplified: no dropout; patch positions are learned per row and per column (not a full 2-D table); the
reference image is embedded from raw pixels (a real system would use a pretrained vision encoder).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .attention import TransformerBlock


@dataclass
class PromptEncoderConfig:
    """The defaults (learned positions, no segments) are what a format-1 checkpoint without a field was trained
    with (``pipeline.upgrade_checkpoint`` fills them in); the presets are ``preset("tiny")`` and ``"small"``."""
    vocab_size: int = 99           # token ids are in [0, vocab_size); the pipeline sets it from its tokenizer:
                                   # 99 for CharTokenizer(), 99 + len(words) for CharTokenizer(words) (171 with
                                   # PROMPT_WORDS; a checkpoint keeps its own list: 163 in minigptimage_tiny.pt)
    dim: int = 128                 # D, width of every context token (the U-Net's context_dim)
    depth: int = 2                 # number of transformer blocks
    heads: int = 4                 # attention heads per block
    max_len: int = 64              # longest text (in tokens) the position table covers
    image_size: int = 64           # largest reference image / layout mask side, in pixels; boxes are divided by it
    patch_size: int = 8            # p, side of an image patch (64/8 = 8×8 = 64 image tokens)
    mlp_ratio: int = 4             # hidden width of the MLP = mlp_ratio · dim
    use_image_tokens: bool = True  # build the reference-image patch embedding
    use_layout_tokens: bool = True  # build the box token and the layout-mask patch embedding
    fourier_features: int = 8      # frequencies 2⁰ … 2^(F−1) per box coordinate
    null_tokens: int = 2           # length of the learned null prompt
    positions: str = "learned"     # text positions: "learned" (an absolute table) | "rotary" (the presets)
    segments: bool = False         # add a segment embedding: quoted text vs the rest of the prompt
    quote_id: int = -1             # the tokenizer's id of '"' (set by the pipeline from its tokenizer)

    @classmethod
    def preset(cls, name: str) -> "PromptEncoderConfig":
        presets = {
            "tiny": cls(dim=128, depth=2, heads=4, max_len=64, positions="rotary", segments=True),
            "small": cls(dim=256, depth=4, heads=8, max_len=96, positions="rotary", segments=True),
        }
        if name not in presets:
            raise ValueError(f"preset must be one of {sorted(presets)}, got {name!r}")
        return presets[name]


TEXT, IMAGE, LAYOUT = 0, 1, 2  # rows of the type-embedding table


def quoted_tokens(ids: torch.Tensor, quote_id: int) -> torch.Tensor:
    """(B, L) bool, True on the quoted span: the opening quote, what it encloses and the closing quote."""
    is_quote = ids == quote_id
    return (is_quote.cumsum(dim=1) % 2 == 1) | is_quote


def text_positions(quoted: torch.Tensor) -> torch.Tensor:
    """(B, L) bool → (B, L) float positions where the quoted span counts as one: a token outside the quotes
    advances the count by 1, each of the n quoted tokens by 1/n. Token j's position is the sum of the steps
    of the tokens before it, so '<bos> the word "CAT" in red' and '<bos> the word "KNOWLEDGE" in red' put
    "in" and "red" at the same positions: 7 and 9 with the models' tokenizer, CharTokenizer(PROMPT_WORDS),
    where "the", "word", "in" and "red" are one token each and so is every space between them."""
    n = quoted.sum(dim=1, keepdim=True).clamp(min=1)  # (B, 1) tokens in the quoted span
    step = torch.where(quoted, 1.0 / n, torch.ones_like(n, dtype=torch.float32))  # (B, L)
    return step.cumsum(dim=1) - step  # (B, L)


class PromptEncoder(nn.Module):
    def __init__(self, cfg: PromptEncoderConfig):
        super().__init__()
        self.cfg = cfg
        D, p, grid = cfg.dim, cfg.patch_size, cfg.image_size // cfg.patch_size
        if cfg.positions not in ("learned", "rotary"):
            raise ValueError(f"positions must be 'learned' or 'rotary', got {cfg.positions!r}")
        self.token_embed = nn.Embedding(cfg.vocab_size, D)
        if cfg.positions == "learned":
            self.pos_embed = nn.Parameter(torch.randn(cfg.max_len, D) * 0.02)
        if cfg.segments:
            self.segment_embed = nn.Embedding(2, D)  # 0: the prompt's words, 1: the quoted text
        self.type_embed = nn.Embedding(3, D)
        if cfg.use_image_tokens or cfg.use_layout_tokens:
            self.row_embed = nn.Parameter(torch.randn(grid, D) * 0.02)  # 2-D position = row + column
            self.col_embed = nn.Parameter(torch.randn(grid, D) * 0.02)
        if cfg.use_image_tokens:
            self.image_patch = nn.Linear(3 * p * p, D)
        if cfg.use_layout_tokens:
            self.box_mlp = nn.Sequential(nn.Linear(4 * 2 * cfg.fourier_features, D), nn.SiLU(), nn.Linear(D, D))
            self.mask_patch = nn.Linear(p * p, D)
        self.blocks = nn.ModuleList(TransformerBlock(D, cfg.heads, mlp_ratio=cfg.mlp_ratio) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(D)
        self.null = nn.Parameter(torch.randn(cfg.null_tokens, D) * 0.02)

    # ---- one tokenizer per modality ------------------------------------------------------------
    def patch_tokens(self, pixels, linear, name):
        """(B, c, H, W) → non-overlapping p×p patches → linear + row/column position → (B, HW/p², D)."""
        cfg, p = self.cfg, self.cfg.patch_size
        B, c, H, W = pixels.shape
        if H % p or W % p or H > cfg.image_size or W > cfg.image_size:
            raise ValueError(f"{name} sides must be multiples of patch_size={p} and at most "
                             f"image_size={cfg.image_size}, got {H}×{W}")
        patches = F.unfold(pixels, kernel_size=p, stride=p).transpose(1, 2)  # (B, HW/p², c·p·p)
        pos = self.row_embed[: H // p, None, :] + self.col_embed[None, : W // p, :]  # (H/p, W/p, D)
        return linear(patches) + pos.flatten(0, 1)  # (B, HW/p², D)

    def box_token(self, box):
        """Box (B, 4) in pixels → Fourier features of the normalised corners → MLP → (B, 1, D)."""
        c = box.float() / self.cfg.image_size  # (B, 4) in [0, 1]
        freqs = 2 * math.pi * 2.0 ** torch.arange(self.cfg.fourier_features, device=box.device)  # (F,)
        angles = c[:, :, None] * freqs  # (B, 4, F)
        features = torch.cat([angles.sin(), angles.cos()], dim=-1).flatten(1)  # (B, 8F)
        return self.box_mlp(features)[:, None, :]  # (B, 1, D)

    # ---- the encoder -----------------------------------------------------------------------------
    def forward(self, ids, mask, image=None, box=None, layout_mask=None, image_present=None):
        """ids (B, L) long, mask (B, L) bool → (context (B, L', D), context_mask (B, L') bool).
        ``image_present`` (B,) bool marks the rows that really have a reference image (training mixes rows
        with and without one in a batch); the image tokens of the other rows are masked out."""
        self.check(ids, mask, image, box, layout_mask)
        cfg = self.cfg
        B, L = ids.shape
        text = self.token_embed(ids) + self.type_embed.weight[TEXT]  # (B, L, D)
        quoted = quoted_tokens(ids, cfg.quote_id) & mask  # (B, L) bool, padding never quoted
        if cfg.positions == "learned":
            text = text + self.pos_embed[:L]
        if cfg.segments:
            text = text + self.segment_embed(quoted.long())
        tokens, masks = [text], [mask]
        if image is not None:
            tokens.append(self.patch_tokens(image, self.image_patch, "image") + self.type_embed.weight[IMAGE])
        if box is not None:
            tokens.append(self.box_token(box) + self.type_embed.weight[LAYOUT])
        if layout_mask is not None:
            tokens.append(self.patch_tokens(layout_mask.float(), self.mask_patch, "layout_mask")
                          + self.type_embed.weight[LAYOUT])
        for extra in tokens[1:]:  # image and layout tokens are real (image tokens unless image_present says no)
            masks.append(torch.ones(B, extra.shape[1], dtype=torch.bool, device=ids.device))
        if image is not None and image_present is not None:
            if image_present.shape != (B,) or image_present.dtype != torch.bool:
                raise ValueError(f"image_present must be a ({B},) bool tensor, got {tuple(image_present.shape)} "
                                 f"{image_present.dtype}")
            masks[1] = masks[1] & image_present.to(ids.device)[:, None]
        x, context_mask = torch.cat(tokens, dim=1), torch.cat(masks, dim=1)  # (B, L', D), (B, L')
        positions = None
        if cfg.positions == "rotary":  # text tokens at text_positions; image and layout tokens at 0, as <bos>
            positions = F.pad(text_positions(quoted), (0, x.shape[1] - L))  # (B, L')
        for block in self.blocks:
            x = block(x, mask=context_mask, positions=positions)
        return self.norm(x), context_mask

    def null_context(self, batch_size: int, length: int | None = None):
        """The learned empty prompt → (context (B, n, D), mask (B, n) all True). With ``length`` ≥ n it is
        padded with masked zeros to (B, length, D), ready to be concatenated with a conditional batch."""
        n = self.cfg.null_tokens
        context = self.null[None].expand(batch_size, n, self.cfg.dim)  # (B, n, D)
        mask = torch.ones(batch_size, n, dtype=torch.bool, device=self.null.device)
        if length is not None:
            if length < n:
                raise ValueError(f"length must be at least null_tokens={n}, got {length}")
            context = F.pad(context, (0, 0, 0, length - n))  # (B, length, D)
            mask = F.pad(mask, (0, length - n), value=False)
        return context, mask

    def check(self, ids, mask, image, box, layout_mask):
        """Validate the inputs, naming the argument that is wrong."""
        cfg = self.cfg
        if ids.ndim != 2 or ids.dtype != torch.long:
            raise ValueError(f"ids must be a (B, L) LongTensor, got {tuple(ids.shape)} {ids.dtype}")
        if mask.shape != ids.shape or mask.dtype != torch.bool:
            raise ValueError(f"mask must be a bool tensor of the ids' shape {tuple(ids.shape)}, "
                             f"got {tuple(mask.shape)} {mask.dtype}")
        if cfg.positions == "learned" and ids.shape[1] > cfg.max_len:
            raise ValueError(f"ids length must be at most max_len={cfg.max_len}, got {ids.shape[1]}")
        if ids.numel() and (ids.min() < 0 or ids.max() >= cfg.vocab_size):
            raise ValueError(f"ids must be in [0, vocab_size={cfg.vocab_size}), got [{ids.min()}, {ids.max()}]")
        B = ids.shape[0]
        if image is not None:
            if not cfg.use_image_tokens:
                raise ValueError("image given but the config has use_image_tokens=False")
            if image.ndim != 4 or image.shape[:2] != (B, 3):
                raise ValueError(f"image must be ({B}, 3, H, W), got {tuple(image.shape)}")
        if (box is not None or layout_mask is not None) and not cfg.use_layout_tokens:
            raise ValueError("box/layout_mask given but the config has use_layout_tokens=False")
        if box is not None and box.shape != (B, 4):
            raise ValueError(f"box must be ({B}, 4) pixels (x0, y0, x1, y1), got {tuple(box.shape)}")
        if layout_mask is not None and (layout_mask.ndim != 4 or layout_mask.shape[:2] != (B, 1)):
            raise ValueError(f"layout_mask must be ({B}, 1, H, W), got {tuple(layout_mask.shape)}")

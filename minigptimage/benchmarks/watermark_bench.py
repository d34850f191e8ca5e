"""Watermark benchmark: how invisible (PSNR) and how reliable (false and true positive rates) the mark is.

    python -m minigptimage.benchmarks.watermark_bench --n 500 [--strength 2.0] [--seed 0]

For each family of test images, every image i gets its own random key k_i and is scored
    unmarked, after a PNG round trip           → false-positive rate (FPR) at DETECTION_THRESHOLD
    marked, float (before quantisation)        → true-positive rate (TPR) "clean"
    marked, PNG round trip (8-bit)             → TPR "png"
    marked, + Gaussian noise σ = 2/255, 8-bit  → TPR "noise"   (σ = 2 grey levels on the 0–255 scale)
    marked, JPEG quality 90 (Pillow, 4:2:0)    → TPR "jpeg90"
Families: "glyph" = ``GlyphDataset`` (the project's text images — the hard case: large flat areas, often
saturated white or black, and sharp edges) when it can be imported; "shapes" = flat colours with rectangles,
ellipses and a word drawn by Pillow (saturating backgrounds on purpose); "smooth" = smooth random colour fields.
The H0 column gives the mean ± std of unmarked scores: the theory (watermark.py) says ≈ 0 ± 1.
"""
from __future__ import annotations

import argparse
import io
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from minigptimage.vae import psnr
from minigptimage.watermark import DEFAULT_STRENGTH, DETECTION_THRESHOLD, embed_watermark, watermark_score

FONT = os.path.join(__import__("matplotlib").get_data_path(), "fonts", "ttf", "DejaVuSans-Bold.ttf")
WORDS = ("CAT", "SUN", "HELLO", "MAP", "TREE", "STOP", "OPEN", "RED", "FOX", "ART", "GO", "ZEBRA")


def _to_tensor(pil: Image.Image) -> torch.Tensor:
    """PIL RGB → (3, H, W) float in [-1, 1]."""
    return torch.from_numpy(np.array(pil.convert("RGB"), dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1


def _to_pil(image: torch.Tensor) -> Image.Image:
    """(3, H, W) in [-1, 1] → PIL RGB, rounded to 8 bits."""
    return Image.fromarray(((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy())


def shapes_image(rng: np.random.Generator, size: int = 64) -> torch.Tensor:
    """Flat background (40%: pure white or black), a rectangle or ellipse, and a word. (3, H, W)."""
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    if rng.random() < 0.4:
        background = (255, 255, 255) if rng.random() < 0.7 else (0, 0, 0)
    pil = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(pil)
    x0, y0 = (int(v) for v in rng.integers(0, size - 8, 2))
    x1, y1 = x0 + int(rng.integers(8, size)), y0 + int(rng.integers(8, size))
    shape = draw.rectangle if rng.random() < 0.5 else draw.ellipse
    shape([x0, y0, x1, y1], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    ink = tuple(255 - v for v in background)
    font = ImageFont.truetype(FONT, int(rng.integers(10, 24)))
    xy = (int(rng.integers(0, size // 2)), int(rng.integers(0, size // 2)))
    draw.text(xy, WORDS[int(rng.integers(len(WORDS)))], fill=ink, font=font)
    return _to_tensor(pil)


def smooth_image(generator: torch.Generator, size: int = 64) -> torch.Tensor:
    """A smooth random colour field: bicubic upsampling of a 2×2 to 8×8 Gaussian grid, squashed by tanh."""
    k = int(2 ** torch.randint(1, 4, (), generator=generator))
    grid = torch.randn(1, 3, k, k, generator=generator)  # (1, 3, k, k)
    return torch.tanh(F.interpolate(grid, size=(size, size), mode="bicubic", align_corners=False))[0]  # (3, H, W)


def benchmark_images(n: int, seed: int = 0, size: int = 64) -> dict[str, torch.Tensor]:
    """The test families, each (n, 3, size, size) in [-1, 1]; "glyph" only when GlyphDataset imports."""
    rng, generator = np.random.default_rng(seed), torch.Generator().manual_seed(seed)
    families = {}
    try:
        from minigptimage.glyphs import GlyphDataset
        dataset = GlyphDataset(split="train", length=n, seed=seed, image_size=size)
        families["glyph"] = torch.stack([dataset[i].image for i in range(n)])
    except ImportError:
        pass
    families["shapes"] = torch.stack([shapes_image(rng, size) for _ in range(n)])
    families["smooth"] = torch.stack([smooth_image(generator, size) for _ in range(n)])
    return families


def png_round_trip(images: torch.Tensor) -> torch.Tensor:
    """Encode each image as PNG in memory and decode it: exactly the 8-bit quantisation. (B, 3, H, W)."""
    out = []
    for image in images:
        buffer = io.BytesIO()
        _to_pil(image).save(buffer, format="PNG")
        out.append(_to_tensor(Image.open(buffer)))
    return torch.stack(out)


def jpeg_round_trip(images: torch.Tensor, quality: int = 90) -> torch.Tensor:
    """Encode each image as JPEG (Pillow defaults: 4:2:0 chroma subsampling) and decode it. (B, 3, H, W)."""
    out = []
    for image in images:
        buffer = io.BytesIO()
        _to_pil(image).save(buffer, format="JPEG", quality=quality)
        out.append(_to_tensor(Image.open(buffer)))
    return torch.stack(out)


def add_noise(images: torch.Tensor, sigma_levels: float, generator: torch.Generator) -> torch.Tensor:
    """Gaussian noise of σ grey levels (σ/255 on the 0–1 scale = 2σ/255 in [-1, 1] units), then 8 bits."""
    noise = torch.randn(images.shape, generator=generator) * sigma_levels * 2 / 255
    return png_round_trip((images + noise).clamp(-1, 1))


def _scores(images: torch.Tensor, keys: list[bytes]) -> torch.Tensor:
    return torch.stack([watermark_score(image, key) for image, key in zip(images, keys)])  # (B,)


def evaluate(images: torch.Tensor, strength: float = DEFAULT_STRENGTH, seed: int = 0) -> dict:
    """All the figures of one family: PSNR, H0 statistics, FPR and the TPRs (fractions in [0, 1])."""
    keys = [f"bench-{seed}-{i}".encode() for i in range(len(images))]  # one key per image
    marked = torch.stack([embed_watermark(image, key, strength) for image, key in zip(images, keys)])
    clean, quantised = png_round_trip(images), png_round_trip(marked)
    quality = psnr(quantised, clean)  # (B,) dB
    h0 = _scores(clean, keys)
    attacked = {"clean": marked, "png": quantised,
                "noise": add_noise(marked, 2.0, torch.Generator().manual_seed(seed + 1)),
                "jpeg90": jpeg_round_trip(marked, 90)}
    h1 = {name: _scores(x, keys) for name, x in attacked.items()}
    row = {"n": len(images), "psnr_mean": quality.mean().item(), "psnr_min": quality.min().item(),
           "h0_mean": h0.mean().item(), "h0_std": h0.std().item(), "h0_max": h0.max().item(),
           "fpr": (h0 > DETECTION_THRESHOLD).float().mean().item()}
    for name, z in h1.items():
        row[f"tpr_{name}"] = (z > DETECTION_THRESHOLD).float().mean().item()
        row[f"min_z_{name}"] = z.min().item()
    return row


def format_table(rows: dict[str, dict], threshold: float = DETECTION_THRESHOLD) -> str:
    """A plain-text table, one line per family."""
    head = (f"{'family':8} {'n':>5} {'PSNR dB mean/min':>17} {'H0 z mean±std':>14} {'FPR':>6}"
            f" {'TPR clean':>9} {'png':>6} {'noise':>6} {'jpeg90':>6} {'min z jpeg90':>12}")
    lines = [f"threshold z > {threshold:.3f} (Hoeffding bound: FPR ≤ 1%)", head, "-" * len(head)]
    for name, r in rows.items():
        lines.append(f"{name:8} {r['n']:5d} {r['psnr_mean']:8.2f} / {r['psnr_min']:5.2f}"
                     f" {r['h0_mean']:+6.2f} ± {r['h0_std']:4.2f} {r['fpr']:6.3f} {r['tpr_clean']:9.3f}"
                     f" {r['tpr_png']:6.3f} {r['tpr_noise']:6.3f} {r['tpr_jpeg90']:6.3f} {r['min_z_jpeg90']:12.2f}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=500, help="images per family (default 500)")
    parser.add_argument("--strength", type=float, default=DEFAULT_STRENGTH, help="mark RMS in grey levels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error("--n: expected at least 2 images")
    torch.set_num_threads(1)
    families = benchmark_images(args.n, args.seed)
    rows = {name: evaluate(images, args.strength, args.seed) for name, images in families.items()}
    print(f"watermark strength {args.strength} grey levels, {args.n} images per family, seed {args.seed}")
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

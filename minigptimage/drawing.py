"""Drawing one text image: the eight colours, a pair's contrast, and ``render_word``.

``render_word`` draws a text in a DejaVu font (``layout.ink_coverage``) onto a flat background, sized and placed
by the rules that ``layout.plan_box`` follows at generation time, and returns the image and the tight box of its
ink. ``contrast_ratio`` is a pair's WCAG 2 contrast ratio, (L₁ + 0.05)/(L₂ + 0.05) of relative luminances
(https://www.w3.org/TR/WCAG20/#contrast-ratiodef), which ``benchmarks/color_pairs.py`` prints beside how well
each pair reads. ``glyphs.GlyphDataset`` draws every training image with ``render_word``.
"""
from __future__ import annotations

import numpy as np
import torch

from . import layout
from .layout import FONTS

COLORS = {
    "red": (220, 30, 30), "green": (20, 150, 50), "blue": (30, 70, 220), "black": (0, 0, 0),
    "white": (255, 255, 255), "yellow": (250, 215, 30), "orange": (245, 130, 20), "purple": (130, 40, 170),
}


def contrast_ratio(rgb1, rgb2) -> float:
    """WCAG 2 contrast ratio (L_light + 0.05) / (L_dark + 0.05), L = relative luminance of sRGB."""
    def luminance(rgb):
        c = np.asarray(rgb, dtype=np.float64) / 255
        c = np.where(c <= 0.03928, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)  # undo the sRGB curve
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((luminance(rgb1), luminance(rgb2)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def _check_color(name: str, value: str) -> tuple[int, int, int]:
    if value not in COLORS:
        raise ValueError(f"{name} must be one of {sorted(COLORS)}, got {value!r}")
    return COLORS[value]


def render_word(text: str, color: str = "black", background: str = "white", font: str = "sans",
                position="center", image_size: int = 64, size: int | None = None, jitter=(0, 0)):
    """Draw ``text`` → (image (3, H, W) uint8 tensor, box). ``position`` is a region name (the word gets the
    region's size rule, or ``size`` when given, moved by ``jitter`` (dx, dy)) or a box (x0, y0, x1, y1) that
    the word's ink is fitted into at the largest size that fits."""
    text = layout.check_text(text)
    fg, bg = np.array(_check_color("color", color)), np.array(_check_color("background", background))
    if font not in FONTS:
        raise ValueError(f"font must be one of {sorted(FONTS)}, got {font!r}")
    if isinstance(position, str):
        size = size or layout.word_size(text, position, image_size, font)
        if not size:
            raise ValueError(f"image_size {image_size} is too small to draw {text!r} legibly at {position!r}")
        cov = layout.ink_coverage(text, font, size)
        x0, y0, x1, y1 = box = layout.place(cov.shape, position, image_size, *jitter)
        if x0 < 0 or y0 < 0 or x1 > image_size or y1 > image_size:
            raise ValueError(f"size {size} makes {text!r} larger than the {image_size}-pixel image")
    else:
        x0, y0, x1, y1 = layout.check_box(position, image_size)
        size = layout.fit_font_size(text, font, x1 - x0, y1 - y0)
        if layout.letter_height(font, size) < layout.MIN_LETTER_HEIGHT:
            raise ValueError(f"position box {position} is too small to draw {text!r} legibly")
        cov = layout.ink_coverage(text, font, size)
        h, w = cov.shape
        x0, y0 = x0 + (x1 - x0 - w) // 2, y0 + (y1 - y0 - h) // 2  # centred inside the given box
        x1, y1 = x0 + w, y0 + h
        box = (x0, y0, x1, y1)
    image = np.empty((image_size, image_size, 3), dtype=np.float32)
    image[:] = bg
    alpha = cov[..., None].astype(np.float32) / 255  # (h, w, 1) coverage
    image[y0:y1, x0:x1] = bg + alpha * (fg - bg)  # "over" compositing: (1−α)·bg + α·fg
    image = torch.from_numpy(np.rint(image).astype(np.uint8)).permute(2, 0, 1)  # (3, H, W)
    return image, box

"""Layout: where a quoted word goes, and the glyph canvas that shows the U-Net what to draw there.

This is the first half of the glyph-aware path (TextDiffuser, arXiv:2305.10855, §3.1 "layout generation";
GlyphControl, arXiv:2305.18259, "glyph image"; GlyphDraw, arXiv:2303.17870). Those papers plan one box per
keyword (TextDiffuser with a layout transformer) and render the keyword in a plain font into a canvas the
diffusion model is conditioned on. Here the planner is a handful of rules shared with the dataset:

1. ``parse_prompt``: the word in quotes, the named region ("top left", "center", …), colour words, read from
   the prompt as ``tokenizer.normalize_prompt`` writes it (any case, stray spaces, single quotes); a colour
   pair outside ``LEGIBLE_PAIRS`` is refused with a legible one to ask for instead.
2. ``plan_box``: an explicit box always wins; else the word gets the largest font size at which its ink fits
   the region with a margin (``fit_font_size``), measured in the neutral font, and is centred in the region.
   ``GlyphDataset`` places its words by the very same rule, so planned and true boxes agree.
3. ``render_canvas``: the word in the neutral font (DejaVu Sans Bold), its tight ink box resized to fill the
   box, anti-aliased → a (1, H, W) canvas in [0, 1] whose ink lies inside the box. Training canvases are
   drawn in the training image's own font (so the canvas says exactly which pixels are ink and the model
   learns to colour them, as TextDiffuser's character masks do); generated words follow the canvas's font.

Text is rasterised ``SUPERSAMPLE`` = 4 times larger and box-filtered down (anti-aliasing). Boxes are
``(x0, y0, x1, y1)`` pixel ints with exclusive ends, as in slicing: ``canvas[:, y0:y1, x0:x1]``.
Simplified: one word per prompt, rule-based placement instead of a learned layout model.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import matplotlib
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from .captions import SIGN_NOUNS, TEXT_NOUNS
from .tokenizer import normalize_prompt

FONT_DIR = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
FONTS = {"sans": "DejaVuSans-Bold.ttf", "serif": "DejaVuSerif-Bold.ttf", "mono": "DejaVuSansMono-Bold.ttf"}
CANVAS_FONT = "sans"  # the neutral font of the glyph canvas and of the box planner
SUPERSAMPLE = 4  # rasterise this many times larger, then box-filter down
DRAWABLE = "".join(chr(c) for c in range(32, 127) if chr(c) != '"')  # printable ASCII except the quote
# Named regions as fractions (x0, y0, x1, y1) of the image: three rows, each whole or split in halves.
REGIONS = {
    "top left": (0.0, 0.0, 0.5, 1 / 3), "top": (0.0, 0.0, 1.0, 1 / 3), "top right": (0.5, 0.0, 1.0, 1 / 3),
    "left": (0.0, 1 / 3, 0.5, 2 / 3), "center": (0.0, 1 / 3, 1.0, 2 / 3), "right": (0.5, 1 / 3, 1.0, 2 / 3),
    "bottom left": (0.0, 2 / 3, 0.5, 1.0), "bottom": (0.0, 2 / 3, 1.0, 1.0),
    "bottom right": (0.5, 2 / 3, 1.0, 1.0),
}
ROW_OF = {name: name.split()[0] if name.split()[0] in ("top", "bottom") else "center" for name in REGIONS}
COLOR_WORDS = ("red", "green", "blue", "black", "white", "yellow", "orange", "purple")  # glyphs.COLORS
# (text, background) pairs that can be read: both our reader and Tesseract read at least 90% of 200 clean
# renders (benchmarks/color_pairs.py; RESULTS.md has the table). Tesseract reads under 90% of red on blue, blue
# on red, green on blue, blue on green, green on purple and purple on green, and no pair has the same colour
# twice: the 50 other pairs. The dataset draws exactly these (glyphs.COLOR_PAIRS); a prompt asking for another
# is refused.
LEGIBLE_PAIRS = (
    ("red", "green"), ("red", "black"), ("red", "white"), ("red", "yellow"), ("red", "orange"), ("red", "purple"),
    ("green", "red"), ("green", "black"), ("green", "white"), ("green", "yellow"), ("green", "orange"),
    ("blue", "black"), ("blue", "white"), ("blue", "yellow"), ("blue", "orange"), ("blue", "purple"),
    ("black", "red"), ("black", "green"), ("black", "blue"), ("black", "white"), ("black", "yellow"),
    ("black", "orange"), ("black", "purple"), ("white", "red"), ("white", "green"), ("white", "blue"),
    ("white", "black"), ("white", "yellow"), ("white", "orange"), ("white", "purple"), ("yellow", "red"),
    ("yellow", "green"), ("yellow", "blue"), ("yellow", "black"), ("yellow", "white"), ("yellow", "orange"),
    ("yellow", "purple"), ("orange", "red"), ("orange", "green"), ("orange", "blue"), ("orange", "black"),
    ("orange", "white"), ("orange", "yellow"), ("orange", "purple"), ("purple", "red"), ("purple", "blue"),
    ("purple", "black"), ("purple", "white"), ("purple", "yellow"), ("purple", "orange"),
)


def margin(image_size: int) -> int:
    """Blank pixels kept between a word's ink and its region's edge: 2 at 64 × 64."""
    return max(1, image_size // 32)


MIN_LETTER_HEIGHT = 5  # pixels: capitals smaller than this are not drawn anywhere
MAX_TEXT = 10  # characters, spaces included: the longest text the data (and so a model) has


def min_letter_height(image_size: int) -> int:
    """Smallest capital height (pixels) for a half-row region: a word that would be smaller there uses a whole
    row instead (a whole row takes any word down to MIN_LETTER_HEIGHT)."""
    return max(7, image_size // 9)


def region_rect(region: str, image_size: int) -> tuple[int, int, int, int]:
    """A named region's rectangle in pixels (x0, y0, x1, y1), exclusive ends."""
    if region not in REGIONS:
        raise ValueError(f"region must be one of {sorted(REGIONS)}, got {region!r}")
    return tuple(round(f * image_size) for f in REGIONS[region])


def check_text(text: str, name: str = "text") -> str:
    """The text with surrounding spaces stripped; ValueError for empty text or characters we cannot draw."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"{name} must be a non-empty string, got {text!r}")
    for k, ch in enumerate(text):
        if ch not in DRAWABLE:
            raise ValueError(f"{name} has character {ch!r} at position {k} that the fonts cannot draw "
                             "(printable ASCII except '\"')")
    return text.strip()


@lru_cache(maxsize=None)
def _font(font: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_DIR / FONTS[font]), size)


@lru_cache(maxsize=None)
def _tallest_capital(font: str) -> float:
    """Ink height of the tallest capital (J and Q descend) per unit of font size."""
    x0, y0, x1, y1 = _font(font, 400).getbbox("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    return (y1 - y0) / 400


@lru_cache(maxsize=1 << 16)
def _width(text: str, font: str) -> float:
    """Ink width of the text per unit of font size."""
    x0, _, x1, _ = _font(font, 400).getbbox(text)
    return max(x1 - x0, 1) / 400


@lru_cache(maxsize=4096)
def ink_hires(text: str, font: str, px: int) -> Image.Image:
    """The text's ink ("L" image, 255 = ink) at font size ``px`` (already supersampled), cropped to its ink."""
    f = _font(font, px)
    x0, y0, x1, y1 = f.getbbox(text)
    im = Image.new("L", (x1 - x0 + 2, y1 - y0 + 2))
    ImageDraw.Draw(im).text((1 - x0, 1 - y0), text, font=f, fill=255)
    return im.crop(im.getbbox())


@lru_cache(maxsize=1 << 17)
def ink_coverage(text: str, font: str, size: int) -> np.ndarray:
    """Anti-aliased coverage (h, w) uint8 of the text at pixel font size ``size``, cropped to its ink box.

    Every row and column holds some ink (coverage > 0), so the ink box is exactly (0, 0, w, h)."""
    s = SUPERSAMPLE
    hi = ink_hires(text, font, size * s)
    w, h = -(-hi.width // s) * s, -(-hi.height // s) * s  # pad up to a multiple of SUPERSAMPLE
    lo = hi.crop((0, 0, w, h)).reduce(s)  # box filter: mean of s × s samples
    cov = np.asarray(lo.crop(lo.getbbox()))  # (h, w)
    cov.flags.writeable = False
    return cov


def fit_font_size(text: str, font: str, width: int, height: int) -> int:
    """The largest pixel font size at which the text's ink fits ``width`` × ``height`` pixels.

    The height limit uses the tallest capital, so all short words in one region share a size."""
    size = max(1, int(min(width / _width(text, font), height / _tallest_capital(font))))
    while size > 1 and any(n > lim for n, lim in zip(ink_coverage(text, font, size).shape, (height, width))):
        size -= 1  # hinting and rounding can add a pixel
    return size


def letter_height(font: str, size: int) -> int:
    """Capital height (pixels) of ``font`` at pixel size ``size``: the height of "H"."""
    return ink_coverage("H", font, size).shape[0]


def word_size(text: str, region: str, image_size: int, font: str = CANVAS_FONT) -> int:
    """The font size the dataset and the planner give ``text`` in ``region`` (0 when it is not legible there)."""
    x0, y0, x1, y1 = region_rect(region, image_size)
    m = margin(image_size)
    need = MIN_LETTER_HEIGHT if ROW_OF[region] == region else min_letter_height(image_size)
    return _legible_size(text, font, x1 - x0 - 2 * m, y1 - y0 - 2 * m, need)


@lru_cache(maxsize=1 << 18)
def _legible_size(text: str, font: str, width: int, height: int, need: int) -> int:
    """``fit_font_size``, or 0 when its capitals would be lower than ``need`` pixels (cached per rectangle
    shape, so regions of one shape share the work)."""
    size = fit_font_size(text, font, width, height)
    return size if letter_height(font, size) >= need else 0


def place(shape: tuple[int, int], region: str, image_size: int, dx: int = 0, dy: int = 0) -> tuple:
    """Box (x0, y0, x1, y1) of an ink patch of ``shape`` (h, w) centred in ``region``, moved by (dx, dy)
    and clamped so it stays inside the region."""
    rx0, ry0, rx1, ry1 = region_rect(region, image_size)
    h, w = shape
    x0 = min(max(rx0 + (rx1 - rx0 - w) // 2 + dx, rx0), rx1 - w)
    y0 = min(max(ry0 + (ry1 - ry0 - h) // 2 + dy, ry0), ry1 - h)
    return (x0, y0, x0 + w, y0 + h)


@dataclass
class PromptLayout:
    text: str  # the quoted word, as written
    region: str | None  # a key of REGIONS when the prompt names a place, else None
    colors: list[str] = field(default_factory=list)  # colour words outside the quotes, in order
    text_color: str | None = None  # after "in", before a noun of the text (captions.TEXT_NOUNS), X of "X on Y"
    background: str | None = None  # colour after "on", or before a noun of the sign (captions.SIGN_NOUNS)


_REGION_RE = re.compile(r"\b(?:(top|upper|bottom|lower)[ -](left|right)|(top|upper|bottom|lower|left|right|"
                        r"center|centre|centered|middle))\b")
_SYNONYM = {"upper": "top", "lower": "bottom", "centre": "center", "centered": "center", "middle": "center"}
_COLOR = "(" + "|".join(COLOR_WORDS) + ")"
# The grammar's colour rules (captions.py): "in red", "red letters", "red on white", "text colour: red" name
# the text colour; "on white", "over white", "a white plaque", "background: white" the background. Each
# pattern's first colour group that matched is the colour.
_FG_RE = re.compile(rf"\bin {_COLOR}\b|\b{_COLOR} (?:{'|'.join(TEXT_NOUNS)})\b|\b{_COLOR} on (?:a |an )?{_COLOR}\b"
                    rf"|\btext colou?r: {_COLOR}\b")
_BG_RE = re.compile(rf"\b(?:on|over) (?:a |an )?{_COLOR}\b|\b{_COLOR} (?:{'|'.join(SIGN_NOUNS)})\b"
                    rf"|\bbackground(?: colou?r)?: {_COLOR}\b")


def check_pair(fg: str | None, bg: str | None) -> None:
    """ValueError naming the pair and a legible one to ask for, when text colour ``fg`` on background ``bg``
    (both named) is not in LEGIBLE_PAIRS: the same text colour on black or white, or black or white text on
    the same background ("red on blue" → "red on black" or "black on blue")."""
    if fg is None or bg is None or (fg, bg) in LEGIBLE_PAIRS:
        return
    same_text = next(f"{fg} on {b}" for b in ("black", "white") if (fg, b) in LEGIBLE_PAIRS)
    same_background = next(f"{f} on {bg}" for f in ("black", "white") if (f, bg) in LEGIBLE_PAIRS)
    raise ValueError(f"{fg} text on a {bg} background is too hard to read; ask for {same_text} or "
                     f"{same_background} instead")


def parse_prompt(prompt: str) -> PromptLayout:
    """Read the quoted word, the region and the colour words of a prompt (see PromptLayout), after
    ``normalize_prompt``; ValueError for a prompt without exactly one quoted text, or an illegible pair."""
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a string, got {type(prompt).__name__}")
    prompt = normalize_prompt(prompt)
    if prompt.count('"') % 2:
        raise ValueError(f"prompt has unbalanced double quotes: {prompt!r}")
    parts = prompt.split('"')  # even indices outside the quotes, odd inside
    if len(parts) < 3:
        raise ValueError(f'the prompt must put the text to draw in double quotes, like "CAT" (or in single quotes, '
                         f'\'CAT\'; a model of this project draws text, not objects): {prompt!r}')
    if len(parts) > 3:
        raise ValueError(f"prompt must quote exactly one word, got {len(parts) // 2}: {prompt!r}")
    text = check_text(parts[1], "the quoted word")
    rest = parts[0] + " _ " + parts[2]  # outside the quotes (lower case: normalize_prompt)
    region = None
    if m := _REGION_RE.search(rest):
        words = [_SYNONYM.get(w, w) for w in m.groups() if w]
        region = " ".join(words)
    colors = re.findall(r"\b" + _COLOR + r"\b", rest)
    fg, bg = (next(filter(None, m.groups())) if (m := r.search(rest)) else None for r in (_FG_RE, _BG_RE))
    check_pair(fg, bg)
    return PromptLayout(text, region, colors, fg, bg)


def check_box(box, image_size: int) -> tuple[int, int, int, int]:
    """``box`` as four ints inside the image with positive area, else ValueError naming ``box``."""
    try:
        x0, y0, x1, y1 = (int(v) for v in box)
    except (TypeError, ValueError):
        raise ValueError(f"box must be four ints (x0, y0, x1, y1), got {box!r}") from None
    if not (0 <= x0 < x1 <= image_size and 0 <= y0 < y1 <= image_size):
        raise ValueError(f"box must satisfy 0 <= x0 < x1 <= {image_size} and 0 <= y0 < y1 <= {image_size}, "
                         f"got {box!r}")
    return (x0, y0, x1, y1)


def plan_box(prompt_or_word: str | PromptLayout, image_size: int = 64, region: str | None = None, box=None) -> tuple:
    """Where the word goes: ``box`` if given; else the dataset's rule in ``region`` (or the prompt's region,
    or "center"). A word too long for a half-row region uses its whole row, pushed to that side.

    ``prompt_or_word`` is a prompt when it has a double quote or more than two words (a prompt without its
    quoted text is refused as one), a prompt already parsed (a PromptLayout), or else the text itself, one
    word or two ("GO HOME"), as in the data."""
    if box is not None:
        return check_box(box, image_size)
    if isinstance(prompt_or_word, PromptLayout):
        text, region = prompt_or_word.text, region or prompt_or_word.region
    elif '"' in prompt_or_word or len(prompt_or_word.split()) > 2:  # a prompt (a bare text is one or two words)
        parsed = parse_prompt(prompt_or_word)
        text, region = parsed.text, region or parsed.region
    else:
        text = check_text(prompt_or_word, "prompt_or_word")
    region = region or "center"
    region_rect(region, image_size)  # validates the name
    size = word_size(text, region, image_size)
    if size:
        return place(ink_coverage(text, CANVAS_FONT, size).shape, region, image_size)
    row = ROW_OF[region]
    size = word_size(text, row, image_size)
    if not size:
        raise ValueError(f"the text {text!r} ({len(text)} characters) cannot fit legibly in a "
                         f"{image_size}x{image_size} image: its capitals would be under {MIN_LETTER_HEIGHT} px "
                         f"tall even across a whole row; use fewer or narrower characters")
    x0, y0, x1, y1 = place(ink_coverage(text, CANVAS_FONT, size).shape, row, image_size)
    m, w = margin(image_size), x1 - x0
    if region.endswith("left"):
        x0 = m
    elif region.endswith("right"):
        x0 = image_size - m - w
    return (x0, y0, x0 + w, y1)


def render_canvas(text: str, box, image_size: int = 64, font: str = CANVAS_FONT, size: int | None = None) -> torch.Tensor:
    """(1, H, W) float32 in [0, 1]: ``text`` in ``font`` (the neutral font unless told), its ink box stretched
    to fill ``box``. The dataset draws each training canvas in its image's own font, so the canvas shows the
    exact letter shapes; at generation time the canvas (and so the letters) is in the neutral font. ``size``:
    the font size whose ink box is ``box`` when the caller knows it (the dataset does), saving the search."""
    text = check_text(text)
    if font not in FONTS:
        raise ValueError(f"font must be one of {sorted(FONTS)}, got {font!r}")
    x0, y0, x1, y1 = check_box(box, image_size)
    canvas = np.zeros((image_size, image_size), dtype=np.float32)
    if size is not None and ink_coverage(text, font, size).shape == (y1 - y0, x1 - x0):
        canvas[y0:y1, x0:x1] = ink_coverage(text, font, size).astype(np.float32) / 255
        return torch.from_numpy(canvas)[None]  # (1, H, W)
    size = fit_font_size(text, font, x1 - x0, y1 - y0)
    while all(n <= lim for n, lim in zip(ink_coverage(text, font, size + 1).shape, (y1 - y0, x1 - x0))):
        size += 1  # the largest size whose ink fits (fit_font_size leaves room for the tallest capital)
    cov = ink_coverage(text, font, size)
    if cov.shape != (y1 - y0, x1 - x0):  # the box is not the ink box of a font size: stretch the ink to it
        px = max(8, round(SUPERSAMPLE * (y1 - y0) / _tallest_capital(font)))  # ~SUPERSAMPLE × the box
        cov = ink_hires(text, font, px).resize((x1 - x0, y1 - y0), Image.Resampling.BOX)
    canvas[y0:y1, x0:x1] = np.asarray(cov, dtype=np.float32) / 255
    return torch.from_numpy(canvas)[None]  # (1, H, W)


def canvas_for_prompts(prompts: list[str], image_size: int = 64, boxes=None) -> torch.Tensor:
    """Glyph canvases (B, 1, H, W) for a batch of prompts; ``boxes[i]`` (when given, and not None) wins."""
    boxes = boxes if boxes is not None else [None] * len(prompts)
    if len(boxes) != len(prompts):
        raise ValueError(f"boxes must have one entry per prompt ({len(prompts)}), got {len(boxes)}")
    canvases = [render_canvas(parse_prompt(p).text, plan_box(p, image_size, box=b), image_size)
                for p, b in zip(prompts, boxes)]
    return torch.stack(canvases)  # (B, 1, H, W)

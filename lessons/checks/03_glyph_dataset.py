"""Checks for lesson 03's exercises: the WCAG contrast ratio, the box of a mask, a caption the parser reads."""
from __future__ import annotations

import torch

from minigptimage import layout
from minigptimage.glyphs import COLORS, GlyphDataset, contrast_ratio

from .calling import call


def check_contrast_ratio(fn) -> str | None:
    pairs = [("white", "black"), ("black", "white"), ("yellow", "blue"), ("red", "green"), ("orange", "purple")]
    for a, b in pairs + [((128, 128, 128), (10, 10, 10))]:
        rgb1, rgb2 = (COLORS[a], COLORS[b]) if isinstance(a, str) else (a, b)
        want = contrast_ratio(rgb1, rgb2)
        got = call(fn, tuple(rgb1), tuple(rgb2))
        try:
            got = float(got)
        except (TypeError, ValueError):
            return f"your function should return a number, got {type(got).__name__}"
        if abs(got - want) > 1e-3 * want:
            hint = ""
            if abs(got - 1 / want) < 1e-3:
                hint = " — put the lighter colour's luminance on top, so the ratio is ≥ 1"
            return f"for {a} and {b}: you gave {got:.4g}, expected {want:.4g}{hint}"
    return None


def check_box_from_mask(fn) -> str | None:
    ds = GlyphDataset("train", 6, seed=11)
    for i in range(6):
        item = ds[i]
        got = call(fn, item.mask.clone())
        try:
            got = tuple(int(v) for v in got)
        except (TypeError, ValueError):
            return f"your function should return four ints (x0, y0, x1, y1), got {got!r}"
        if len(got) != 4:
            return f"your function should return four numbers (x0, y0, x1, y1), got {len(got)}"
        if got != tuple(item.box):
            want = tuple(item.box)
            if got == (want[1], want[0], want[3], want[2]):
                return f"for item {i}: x and y are swapped — x is the column (the last index of the mask)"
            if got == (want[0], want[1], want[2] - 1, want[3] - 1):
                return f"for item {i}: you gave {got}, expected {want} — the ends are exclusive: last index + 1"
            return f"for item {i}: you gave {got}, expected {want}"
    return None


def check_caption(fn) -> str | None:
    cases = [("CAT", "red", "white", "top left"), ("hello world", "yellow", "blue", "bottom"),
             ("R2D2", "white", "black", "center"), ("Kiwi", "black", "orange", "right")]
    for text, fg, bg, region in cases:
        caption = call(fn, text, fg, bg, region)
        if not isinstance(caption, str):
            return f"your function should return a string, got {type(caption).__name__}"
        try:
            parsed = layout.parse_prompt(caption)
        except ValueError as error:
            return f"for {text!r}: the parser rejected your caption {caption!r}: {error}"
        for fact, got, want in (("the quoted text", parsed.text, text), ("the text colour", parsed.text_color, fg),
                                ("the background colour", parsed.background, bg), ("the place", parsed.region, region)):
            if got != want:
                return (f"in {caption!r} the parser read {fact} as {got!r}, expected {want!r} — see how "
                        f"layout.parse_prompt recognises it (e.g. 'in {fg}', 'on {bg}', "
                        f"'at the {region}' or 'in the {region}')")
    return None

"""Solutions to lesson 03's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/03_glyph_dataset.py`.
"""


def exercise_contrast_ratio(rgb1, rgb2):
    def luminance(rgb):
        linear = [v / 255 / 12.92 if v / 255 <= 0.03928 else ((v / 255 + 0.055) / 1.055) ** 2.4 for v in rgb]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    light, dark = sorted((luminance(rgb1), luminance(rgb2)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def exercise_box_from_mask(mask):
    rows, cols = mask[0].nonzero(as_tuple=True)  # (n,), (n,) indices of the ones
    return int(cols.min()), int(rows.min()), int(cols.max()) + 1, int(rows.max()) + 1  # exclusive ends


def exercise_caption(text, color, background, region):
    place = "in the center" if region == "center" else f"at the {region}" if " " in region or region in (
        "top", "bottom") else f"on the {region}"
    return f'a poster that says "{text}" in {color} on {background}, {place}'


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_contrast_ratio(rgb1, rgb2):
    return 1 / exercise_contrast_ratio(rgb1, rgb2)  # dark over light


def mistake_box_from_mask(mask):
    rows, cols = mask[0].nonzero(as_tuple=True)
    return int(cols.min()), int(rows.min()), int(cols.max()), int(rows.max())  # inclusive ends


def mistake_caption(text, color, background, region):
    return f'"{text}", {color} and {background}, {region}'  # the parser cannot tell which colour is which


ANSWERS = """
Q1. A held-out word is the test of spelling: can the model draw letters in an order it never saw as a
    whole? If the word appeared anywhere in training — even as the second word of "hello world" — the model
    could have memorised its image, and the held-out score would measure memory, not spelling. That is why
    the two-word kind draws both words from the same split.

Q2. In training the canvas must say exactly which pixels are ink, so the model learns "colour these pixels"
    — a mapping it can learn in minutes (TextDiffuser's character masks work the same way). At generation time
    nobody gives a font; the planner draws the neutral font, and the model, having learned to follow the
    canvas, draws the text in that font's shapes.

Q3. The planner knows only the caption: the region (or "center" when the caption leaves the place out, one
    time in ten), and it sizes and centres the text in the neutral font. The true box comes from the image's
    own font (serif and mono have other widths and heights), a ±1 pixel jitter, and, for a text too wide for a
    half-row region, the fallback to the whole row.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.03_glyph_dataset")
    for name in ("contrast_ratio", "box_from_mask", "caption"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

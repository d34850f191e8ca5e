"""Solutions to lesson 15's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/15_prompts_paraphrases_and_positions.py`.
"""
import torch


def exercise_quoted_span(ids, quote_id):
    is_quote = ids == quote_id                            # (B, L) the quote marks
    inside = is_quote.cumsum(dim=1) % 2 == 1              # after an odd number of quotes: the opening one and the text
    return inside | is_quote                              # (B, L) ... and the closing quote


def exercise_rotary(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)  # (D/2,) θ_i = base^(−2i/D)
    angle = positions.to(x.dtype)[:, None, :, None] * theta     # (B, 1, T, D/2) m·θ_i
    cos, sin = angle.cos(), angle.sin()
    even, odd = x[..., 0::2], x[..., 1::2]                       # (B, H, T, D/2) each
    rotated = torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1)  # (B, H, T, D/2, 2)
    return rotated.flatten(-2)                                   # (B, H, T, D), pairs back in place


def exercise_binding(image, color, background):
    from minigptimage.scoring import background_colour, glyph_colour  # (the lesson imports them at its top)

    drawn = glyph_colour(image), background_colour(image)  # what the pixels show: (text, background)
    if drawn == (color, background):
        return "bound"
    return "swapped" if drawn == (background, color) else "wrong"


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_quoted_span(ids, quote_id):
    return (ids == quote_id).cumsum(dim=1) % 2 == 1  # forgets the closing quote


def mistake_rotary(x, positions, base=10000.0):
    d = x.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=x.dtype) / d)
    angle = positions.to(x.dtype)[:, None, :, None] * theta
    a, b = x[..., : d // 2], x[..., d // 2:]  # pairs channel i with i + D/2: also relative, another layout
    return torch.cat([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], dim=-1)


def mistake_binding(image, color, background):
    from minigptimage.scoring import glyph_colour

    drawn = glyph_colour(image)  # only the text colour: a wrong background goes unnoticed
    return "bound" if drawn == color else "swapped" if drawn == background else "wrong"


ANSWERS = """
Q1. Its "training phrasings" were the new grammar's training forms, not the four templates it was trained on:
    to the first-data model every row of the table was a paraphrase. Binding "red" to the letters and "white" to
    the background was learned from four sentences where the colour words always sat at the same few positions
    (shifted by one per letter of a 2–6 letter word), so the encoder could tell them apart by position instead of
    by the words around them ("in red", "on white"). Put the colours elsewhere — another phrasing, a longer word —
    and the cue is gone; the exact-word score held up better because the glyph canvas, not the encoder, carries
    the letters.

Q2. The n quoted tokens share one unit of position: neighbouring letters are 1/n apart, so in pair i their
    rotations differ by θ_i/n. The fast-turning pairs (θ_0 = 1 radian per position) still tell the letters'
    order apart; the slow pairs see the span as one point, which is what keeps "in red" at the same distance
    whatever the word's length. The encoder loses little it needs: the segment embedding says which tokens are
    the text, the letters' order is in the fast pairs, and the glyph canvas draws the spelling for the U-Net.
    The price: inside the span a long word's letters are closer together than a short word's.

Q3. A model that always draws black on white gets the text colour right whenever black was asked for, and the
    background right whenever white was asked for — about one prompt in eight each — but both only for the one
    pair (black, white) of the 22 allowed pairs, so binding near 1/22 ≈ 5%. A swap (white on red for red on
    white) gets neither colour right, so text colour alone would count it as wrong for the wrong reason, and an
    image with the right text colour on a wrong background as right. Binding asks the question of the failure:
    did each colour word go to its own part of the image? Counting swaps separately tells a mix-up from noise.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.15_prompts_paraphrases_and_positions")
    for name in ("quoted_span", "rotary", "binding"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

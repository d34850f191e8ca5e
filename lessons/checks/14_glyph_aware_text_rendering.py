"""Checks for lesson 14's exercises: the word model's pieces, a caption the planner reads, character accuracy."""
from __future__ import annotations

from minigptimage.layout import parse_prompt
from minigptimage.scoring import char_accuracy
from minigptimage.tokenizer import split_words

from .calling import call

TEXTS = ['the word "the" in red on white, at the top', 'A title reading "Go 4" in blue letters on a yellow '
         'background.', 'red text "RED" on black', '"x-ray" near the bottom', 'a sign that says "on top"']


def check_word_pieces(fn) -> str | None:
    for text in TEXTS:
        want = split_words(text)
        got = call(fn, text)
        if not isinstance(got, (list, tuple)) or not all(isinstance(t, str) for t in got):
            return f"return a list of strings for {text!r}, got {type(got).__name__}"
        got = list(got)
        if got != want:
            k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            expected = want[k] if k < len(want) else "(the end)"
            yours = got[k] if k < len(got) else "(the end)"
            hint = ""
            if isinstance(yours, str) and yours.lower() == expected and yours != expected:
                hint = " — outside the quotes, lower-case every word"
            elif isinstance(yours, str) and yours == expected.lower() and yours != expected:
                hint = " — inside the double quotes keep the case: it is what must be drawn"
            return (f"for {text!r}: piece {k} should be {expected!r}, yours is {yours!r} "
                    f"(expected {len(want)} pieces, you gave {len(got)}){hint}")
    return None


CASES = [("HELLO", "red", "white", "top left"), ("sun 42", "blue", "yellow", "center"),
         ("Tree", "white", "black", "bottom"), ("OK", "purple", "white", "right")]


def check_caption(fn) -> str | None:
    for text, fg, bg, region in CASES:
        caption = call(fn, text, fg, bg, region)
        if not isinstance(caption, str):
            return f"return a string for {text!r}, got {type(caption).__name__}"
        try:
            parsed = parse_prompt(caption)
        except ValueError as err:
            return f"the planner cannot read {caption!r}: {err}"
        for what, got, want in (("the quoted text", parsed.text, text), ("the text colour", parsed.text_color, fg),
                                ("the background", parsed.background, bg), ("the place", parsed.region, region)):
            if got != want:
                return f"in {caption!r} the planner reads {what} as {got!r}, not {want!r}"
    return None


PAIRS = [("CAT", "CAT"), ("CT", "CAT"), ("CART", "CAT"), ("DOG", "CAT"), ("", "SUN"), ("", ""), ("ACT", "CAT"),
         ("HELLO", "HELO"), ("KITTEN", "SITTING")]


def check_char_accuracy(fn) -> str | None:
    for read, target in PAIRS:
        want = char_accuracy([read], [target]) if (read or target) else 1.0
        try:
            got = float(call(fn, read, target))
        except (TypeError, ValueError):
            return f"return a number for ({read!r}, {target!r})"
        if abs(got - want) > 1e-9:
            note = ""
            if (read, target) == ("CT", "CAT") and abs(got - 1 / 3) < 1e-9:
                note = " — comparing position by position counts every letter after a missing one as wrong; " \
                       "the edit distance lets one deletion fix it"
            return f"for read {read!r} and target {target!r}: yours is {got:.4f}, expected {want:.4f}{note}"
    return None

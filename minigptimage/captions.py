"""The caption grammar: the many ways a person asks for a word image, split into a training family and a
held-out family of phrasings that training never sees.

A caption names the text to draw (always in double quotes), usually its colour, usually the background's
colour, and usually a place. People say this in many orders and words, so a caption is a *form* — a
sentence frame with its wording fixed — filled with the text, the colours and a place phrase:

    form     '{subject} in {fg} letters on a {bg} background{where}'  with subject = 'a sign that says "{text}"'
    caption  'a sign that says "HELLO" in red letters on a white background, at the top'

Frames (``FRAMES``): the subject first then the text colour then the background, or the background first;
a colour adjective before the noun ('red letters spelling "SALE"'); the background as the scene
('a white sign with the word …'); a list ('black background, white text: "NIGHT"'); the place first.
Either colour may be left out — the model then picks one, as the data did (the image still has some colour:
a caption without a text colour was drawn in a random one) — and the place may be left out (then the word
goes wherever the data put it; ``layout.plan_box`` uses the center). Place phrases have synonyms
(``PLACES``: "at the top", "near the top", "in the upper part", "in the top left corner", …) and punctuation
varies (", at the top" or " at the top", a final full stop, a capital first letter).

**The held-out family.** ``forms("heldout")`` are the forms whose hash (sha256 of the form string, first
byte mod 4 == 0, the rule the word lists use) puts them aside: about one form in four, each built from
pieces that training sees, but in a combination it never sees. ``forms("train")`` are the rest. So a score on
held-out phrasings measures whether the model understood the pieces, not whether it memorised sentences.
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache
import numpy as np

T = '"{text}"'
SUBJECTS = ("the word " + T, "the text " + T, "the letters " + T, T, "a sign that says " + T,
            "a label that reads " + T, "a poster with the title " + T, "a title reading " + T)
FG_AFTER = (" in {fg}", " in {fg} letters", " written in {fg}")  # the text colour after the subject
BG_AFTER = (" on {bg}", " on a {bg} background", " against a {bg} background")  # the background after it
FG_NOUNS = ("text " + T, "letters spelling " + T, "word " + T)  # '{fg} text "X"': a colour adjective first
SCENES = ("image", "sign", "poster", "background")  # 'a white sign with the word "X" …'
FRAMES = {  # name -> function () -> its forms, some with a colour left out (no {fg} or no {bg}/{a_bg} slot)
    "subject, text colour, background": lambda: [s + f + b for s in SUBJECTS for f in ("",) + FG_AFTER
                                                 for b in ("",) + BG_AFTER],
    "subject, background, text colour": lambda: [s + b + f for s in SUBJECTS for f in FG_AFTER for b in BG_AFTER],
    "colour adjective first": lambda: [a + n + b for a in ("{fg} ", "") for n in FG_NOUNS for b in ("",) + BG_AFTER
                                       if a or b],
    "scene first": lambda: ["{a_bg} " + c + " with " + s + f for c in SCENES for s in SUBJECTS[:3]
                            for f in ("",) + FG_AFTER],
    "list": lambda: ["{bg} background, {fg} text: " + T, "{fg} text, {bg} background: " + T,
                     "{bg} background, text: " + T, "{fg} text: " + T],
}
PLACES = {  # region of layout.REGIONS -> ways to say it (layout.parse_prompt reads every one)
    "center": ("in the center", "in the middle", "in the centre", "centered"),
    "top": ("at the top", "near the top", "in the upper part"),
    "bottom": ("at the bottom", "near the bottom", "in the lower part"),
    "left": ("on the left", "to the left"), "right": ("on the right", "to the right"),
    **{f"{v} {h}": (f"at the {v} {h}", f"in the {v} {h} corner", f"in the {u} {h} corner")
       for v, u in (("top", "upper"), ("bottom", "lower")) for h in ("left", "right")},
}


@lru_cache(maxsize=None)
def all_forms() -> tuple[str, ...]:
    """Every form of the grammar, each ending in the '{where}' slot, sorted (duplicates removed)."""
    forms = {f + "{where}" for frame in FRAMES.values() for f in frame()}
    forms |= {"{where_first}, " + s + f + b for s in SUBJECTS[:2] for f in FG_AFTER[:2] for b in BG_AFTER[:2]}
    return tuple(sorted(forms))


def is_heldout(form: str) -> bool:
    """The held-out rule, as for words: sha256 of the string, first byte mod 4 == 0 (about one in four)."""
    return hashlib.sha256(form.encode()).digest()[0] % 4 == 0


@lru_cache(maxsize=None)
def forms(split: str, complete: bool = False) -> tuple[str, ...]:
    """The forms of a family: ``split`` "train" or "heldout"; ``complete=True`` keeps only those that name
    both colours (the benchmark asks for both, to score colour binding)."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', got {split!r}")
    chosen = [f for f in all_forms() if is_heldout(f) == (split == "heldout")]
    return tuple(f for f in chosen if not complete or all(names_colour(f)))


def fill(form: str, text: str, fg: str, bg: str, region: str | None, place: int = 0, comma: bool = True,
         stop: bool = False, capital: bool = False) -> str:
    """A caption from ``form``: the text, the colour names, ``PLACES[region][place]`` (no place when
    ``region`` is None; a place-first form needs one), ", " or " " before the place, an optional final full
    stop and capital first letter."""
    if region is None and "{where_first}" in form:  # it would read as another form's caption without a place
        raise ValueError(f"region: a place-first form needs a place, got None for {form!r}")
    where = PLACES[region][place % len(PLACES[region])] if region else ""
    a_bg = ("an " if bg[0] in "aeiou" else "a ") + bg
    caption = form.format(text=text, fg=fg, bg=bg, a_bg=a_bg, where_first=where,
                          where=((", " if comma else " ") + where) if where else "")
    caption += "." if stop else ""
    return caption[0].upper() + caption[1:] if capital and caption[0] != '"' else caption


def random_caption(rng: np.random.Generator, split: str, text: str, fg: str, bg: str, region: str,
                   complete: bool = False) -> str:
    """A caption of family ``split`` for a drawn image; one draw of ``rng`` per choice, so it is reproducible.
    The place is left out one time in ten (never with ``complete``)."""
    family = forms(split, complete)
    form = family[int(rng.integers(len(family)))]
    keep_place = (complete or rng.random() >= 0.1) or "{where_first}" in form  # place-first forms need it
    return fill(form, text, fg, bg, region if keep_place else None, place=int(rng.integers(4)),
                comma=bool(rng.random() < 0.7), stop=bool(rng.random() < 0.2), capital=bool(rng.random() < 0.3))


def names_colour(caption_form: str) -> tuple[bool, bool]:
    """Whether a form names the (text colour, background colour)."""
    return "{fg}" in caption_form, "{bg}" in caption_form or "{a_bg}" in caption_form


def grammar_words() -> tuple[str, ...]:
    """The lower-case words the grammar uses outside the quotes (the tokenizer's whole-word vocabulary)."""
    text = " ".join(all_forms()) + " " + " ".join(p for ps in PLACES.values() for p in ps)
    return tuple(sorted(set(re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", text)))))


if __name__ == "__main__":
    print(len(all_forms()), "forms:", len(forms("train")), "training,", len(forms("heldout")), "held out")

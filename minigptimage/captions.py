"""The caption grammar: the many ways a person asks for a word image, split into a training family, a
held-out family of phrasings that training never sees, and a held-out family of *words* that training never
uses anywhere.

A caption names the text to draw (always in double quotes), usually its colour, usually the background's
colour, and usually a place. People say this in many orders and words, so a caption is a *form* — a
sentence frame with its wording fixed — filled with the text, the colours and a place phrase:

    form     '{subject} in {fg} letters on a {bg} background{where}'  with subject = 'a sign that says "{text}"'
    caption  'a sign that says "HELLO" in red letters on a white background, at the top'

Frames (``FRAMES``): the subject first then the text colour then the background, or the background first;
a colour adjective before the noun ('red letters spelling "SALE"'); the background as the scene
('a white sign with the word …'); a list ('black background, white text: "NIGHT"'); the colours after a
colon or a dash ('"SOAP": red on white'); the place first.
Either colour may be left out — the model then picks one, as the data did (the image still has some colour:
a caption without a text colour was drawn in a random one) — and the place may be left out (then the word
goes wherever the data put it; ``layout.plan_box`` uses the center). Place phrases have synonyms
(``PLACES``: "at the top", "near the top", "in the upper part", "in the top left corner", …) and punctuation
varies (", at the top" or " at the top", a final full stop, a capital first letter).

**Words beyond the frames.** ``TEMPLATES`` are frames with word slots — a noun for the sign ({sign}: badge,
tag, plaque, stamp), a noun for its text ({writing}: writing, headline, caption, characters), a verb of
request ({verb}: print, show, put, render) and a filler ({filler}: bold, tiny, huge, nice) — filled from
``WORDS["train"]``. They attach colours in new ways, each with one reading: **a colour before a noun of the
sign is the background, a colour before a noun of the text is the text colour** ('a blue plaque with red
writing: "SOAP"' is red text on blue), and after a colon or a dash "X on Y" is text X on background Y
('render "SOAP" - red on white'; a hyphen, as the tokenizer is ASCII). ``layout.parse_prompt`` reads colours
by exactly these rules, with the noun lists ``TEXT_NOUNS`` and ``SIGN_NOUNS`` (held-out nouns included).

**The held-out phrasings.** ``forms("heldout")`` are the forms whose hash (sha256 of the form string, first
byte mod 4 == 0: the word lists' hash, but mod 4 rather than their mod 20) puts them aside: about one form in
four, each built from pieces that training sees, but in a combination it never sees. ``forms("train")`` are
the rest. So a score on held-out phrasings measures whether the model understood the pieces, not whether it
memorised sentences.

**The held-out vocabulary.** ``forms("heldout-vocab")`` are the ``TEMPLATES`` filled from ``WORDS["heldout"]``
(placard, lettering, paint, lovely, …): words that no training caption contains (the tokenizer spells them by
characters), in sentence frames training knows. A score there measures whether colours bind through the
sentence's structure — which word stands before "on", which colour stands before the unknown noun after
"with" — rather than through words the model has learned.

**Made-up words** (``random_caption(made_up=p)``, ``TrainConfig.made_up_words``): a training template caption
may, with probability p, fill every slot with a made-up string of lower-case letters instead ('a blue quv with
red dapo: "SOAP"'). Like the held-out words, these are spelled by characters, so the model meets an unknown noun
in a known frame while it trains and has to bind the colours through the sentence's structure. The strings
avoid every word of the grammar and of the held-out vocabulary (``made_up_word``), so the held-out vocabulary
still appears in no training caption.

**Captions composed from parts** (``composed_captions.py``): the text, its colour, the background and the place
in any order, joined by connectives, some of them held out (the family "heldout-connectives").

**Shares.** A training caption is composed from parts with probability ``COMPOSED_SHARE`` = 0.4. Else (and
always for the held-out phrasings) it comes from a template with probability ``NEW_WORDS_SHARE`` = 0.3 (the
template uniform, then its words uniform), else from the other forms (uniform). The templates' word
products outnumber the frames' forms, so drawing all forms uniformly would make the new words two captions in
three and starve the frames that the README's tables rest on (the standard 'the word "X" in red on white, at
the top' among them).
"""
from __future__ import annotations

import hashlib
import re
from functools import lru_cache

import numpy as np

from .composed_captions import CONNECTIVES, TEXT_PHRASES, composed_caption
from .tokenizer import PROMPT_WORDS

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
    "colours after a colon or dash": lambda: [T + ": {fg} on {bg}", T + " - {fg} on {bg}"],
}
PLACES = {  # region of layout.REGIONS -> ways to say it (layout.parse_prompt reads every one)
    "center": ("in the center", "in the middle", "in the centre", "centered"),
    "top": ("at the top", "near the top", "in the upper part"),
    "bottom": ("at the bottom", "near the bottom", "in the lower part"),
    "left": ("on the left", "to the left"), "right": ("on the right", "to the right"),
    **{f"{v} {h}": (f"at the {v} {h}", f"in the {v} {h} corner", f"in the {u} {h} corner")
       for v, u in (("top", "upper"), ("bottom", "lower")) for h in ("left", "right")},
}
PLACE_PHRASES = tuple(p for phrases in PLACES.values() for p in phrases)  # every way to say any place


TEMPLATES = (  # frames with word slots ({sign}, {writing}, {verb}, {filler}), each ending in the place
    '{a_bg} {sign} with {fg} {writing}: ' + T,  # colour of the sign = background, of its writing = text colour
    'a {filler} {bg} {sign} with the {fg} {writing} ' + T,
    '{verb} ' + T + ' - {fg} on {bg}',  # after a dash: text colour on background colour
    '{verb} ' + T + ': {fg} on {bg}',  # after a colon
    '{verb} ' + T + ' in {fg} on {a_bg} {sign}',
    '{verb} the {writing} ' + T + ' in {fg} on {bg}',
    'the {fg} {writing} ' + T + ' on {a_bg} {sign}',
    '{filler} {fg} {writing} ' + T + ' on {a_bg} {sign}',
    '{a_bg} {sign} that says ' + T + ' in {filler} {fg} {writing}',
    '{verb} ' + T + ' in {fg}',  # no background colour
    '{verb} {a_bg} {sign} with the {writing} ' + T,  # no text colour
    '{verb} {filler} {fg} {writing} ' + T,
)
WORDS = {  # slot -> words: "train" in the training captions, "heldout" in no training caption at all
    "train": dict(sign=("badge", "tag", "plaque", "stamp"), writing=("writing", "headline", "caption", "characters"),
                  verb=("print", "show", "put", "render"), filler=("bold", "tiny", "huge", "nice")),
    "heldout": dict(sign=("placard", "banner", "marquee", "ribbon", "sticker", "pennant"),
                    writing=("lettering", "inscription", "wording", "slogan", "motto", "script"),
                    verb=("paint", "stencil", "engrave", "carve", "display", "emboss"),
                    filler=("lovely", "simple", "chunky", "neat", "fancy", "plain")),  # 'a {filler}': consonants
}
TEXT_NOUNS = ("text", "letters", "word") + WORDS["train"]["writing"] + WORDS["heldout"]["writing"] + (
    "numbers", "digits", "font")  # the last three only as people type them ('in big yellow numbers')
SIGN_NOUNS = SCENES + WORDS["train"]["sign"] + WORDS["heldout"]["sign"]  # a colour before one is the background
NEW_WORDS_SHARE = 0.3  # of training captions from TEMPLATES (see "Shares" in the module docstring)
MADE_UP_LENGTHS = (3, 6)  # letters of a made-up slot word: no longer than each slot's longest held-out
                          # word, so a caption stays within glyphs.MAX_CAPTION_CHARS
FAMILIES = ("train", "heldout", "heldout-vocab", "heldout-connectives")
COMPOSED_SHARE = 0.4  # of training captions composed from parts (see "Captions composed from parts")

@lru_cache(maxsize=None)
def template_forms(vocabulary: str) -> dict[str, tuple[str, ...]]:
    """Template -> its forms: every choice of ``WORDS[vocabulary]`` words for its slots, each ending in '{where}'."""
    words = WORDS[vocabulary]
    out = {}
    for template in TEMPLATES:
        filled = [template + "{where}"]
        for slot, choices in words.items():
            if "{" + slot + "}" in template:
                filled = [f.replace("{" + slot + "}", w) for f in filled for w in choices]
        out[template] = tuple(filled)
    return out


@lru_cache(maxsize=None)
def frame_forms() -> tuple[str, ...]:
    """The forms of ``FRAMES`` and the place-first forms (no word slots), sorted."""
    forms = {f + "{where}" for frame in FRAMES.values() for f in frame()}
    forms |= {"{where_first}, " + s + f + b for s in SUBJECTS[:2] for f in FG_AFTER[:2] for b in BG_AFTER[:2]}
    return tuple(sorted(forms))


@lru_cache(maxsize=None)
def all_forms() -> tuple[str, ...]:
    """Every form of the training vocabulary (frames and filled templates), sorted: the training and the
    held-out phrasing families together."""
    return tuple(sorted(set(frame_forms()) | {f for fs in template_forms("train").values() for f in fs}))


def is_heldout_text(text: str) -> bool:
    """The word lists' held-out rule applied to any string: sha256 of its upper-case form, first byte mod
    20 == 0 (``glyphs`` splits words, numbers and codes by it; made-up words keep to its training side).
    Numbers and codes of three or more characters follow it; shorter ones are shared by both splits."""
    return hashlib.sha256(text.upper().encode()).digest()[0] % 20 == 0


def is_heldout(form: str) -> bool:
    """The held-out rule for phrasings: sha256 of the form string, first byte mod 4 == 0 (about one in four)."""
    return hashlib.sha256(form.encode()).digest()[0] % 4 == 0


def _check_family(split: str) -> None:
    if split not in FAMILIES:
        raise ValueError(f"split must be one of {', '.join(map(repr, FAMILIES))}, got {split!r}")


@lru_cache(maxsize=None)
def forms(split: str, complete: bool = False) -> tuple[str, ...]:
    """The forms of a family: ``split`` "train", "heldout" (phrasings) or "heldout-vocab" (the templates with
    held-out words); none for "heldout-connectives", whose captions are all composed. ``complete=True`` keeps
    only those that name both colours (the benchmark asks for both, to score colour binding)."""
    _check_family(split)
    if split == "heldout-connectives":
        return ()  # its captions are composed from parts (composed_caption), not filled in from forms
    if split == "heldout-vocab":
        chosen = [f for fs in template_forms("heldout").values() for f in fs]
    else:
        chosen = [f for f in all_forms() if is_heldout(f) == (split == "heldout")]
    return tuple(f for f in chosen if not complete or all(names_colour(f)))


@lru_cache(maxsize=None)
def _pools(split: str, complete: bool) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """(the family's frame forms, its template forms grouped by template, empty groups dropped)."""
    family = set(forms(split, complete))
    vocabulary = "heldout" if split == "heldout-vocab" else "train"
    groups = tuple(g for g in (tuple(f for f in fs if f in family) for fs in template_forms(vocabulary).values())
                   if g)
    return tuple(f for f in frame_forms() if f in family), groups


@lru_cache(maxsize=None)
def _known_words() -> frozenset[str]:
    """Every lower-case word a caption of any family may use outside its quotes, the colour names and the
    tokenizer's whole words (made-up words avoid them all)."""
    return frozenset(grammar_words("train") + grammar_words("heldout-vocab") + grammar_words("heldout-connectives")
                     + PROMPT_WORDS)


def made_up_word(rng: np.random.Generator, consonant_first: bool = False) -> str:
    """A string of MADE_UP_LENGTHS lower-case letters that no caption family uses as a word and that is on
    the training side of the held-out text rule (so no held-out word, such as "fig", appears in a training
    caption even outside the quotes); with ``consonant_first`` it can follow 'a' ('a {filler} red plaque')."""
    while True:
        n = int(rng.integers(MADE_UP_LENGTHS[0], MADE_UP_LENGTHS[1] + 1))
        word = "".join(chr(ord("a") + int(k)) for k in rng.integers(26, size=n))
        if (word not in _known_words() and not is_heldout_text(word)
                and not (consonant_first and word[0] in "aeiou")):
            return word


def _made_up_form(rng: np.random.Generator, group: tuple[str, ...]) -> str:
    """The template of ``group`` (its forms differ only in slot words) with every slot filled by a made-up word."""
    template = next(t for t in TEMPLATES if group[0] in template_forms("train")[t])
    for slot in WORDS["train"]:
        if "{" + slot + "}" in template:
            template = template.replace("{" + slot + "}", made_up_word(rng, consonant_first=slot == "filler"))
    return template + "{where}"


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
                   complete: bool = False, made_up: float = 0.0) -> str:
    """A caption of family ``split`` for a drawn image; one draw of ``rng`` per choice, so it is reproducible.
    A composed caption (``composed_caption``) with probability COMPOSED_SHARE for "train" and always for
    "heldout-connectives"; else a template with probability NEW_WORDS_SHARE (always for "heldout-vocab"), else a
    frame form; a "train" template's slots are made-up words with probability ``made_up`` (see "Made-up
    words"). The place is left out one time in ten (never with ``complete``)."""
    _check_family(split)
    if made_up and split != "train":
        raise ValueError(f"made_up: only training captions take made-up words, got {made_up} for {split!r}")
    if split == "heldout-connectives" or (split == "train" and rng.random() < COMPOSED_SHARE):
        keep_place = complete or rng.random() >= 0.1
        return composed_caption(rng, "heldout" if split != "train" else "train", text, fg, bg,
                                PLACES[region] if keep_place else None)
    frames, templates = _pools(split, complete)
    if not frames or rng.random() < NEW_WORDS_SHARE:
        group = templates[int(rng.integers(len(templates)))]
        form = group[int(rng.integers(len(group)))]
        if made_up and rng.random() < made_up:
            form = _made_up_form(rng, group)
    else:
        form = frames[int(rng.integers(len(frames)))]
    keep_place = (complete or rng.random() >= 0.1) or "{where_first}" in form  # place-first forms need it
    return fill(form, text, fg, bg, region if keep_place else None, place=int(rng.integers(4)),
                comma=bool(rng.random() < 0.7), stop=bool(rng.random() < 0.2), capital=bool(rng.random() < 0.3))


def names_colour(caption_form: str) -> tuple[bool, bool]:
    """Whether a form names the (text colour, background colour)."""
    return "{fg}" in caption_form, "{bg}" in caption_form or "{a_bg}" in caption_form


def grammar_words(split: str = "train") -> tuple[str, ...]:
    """The lower-case words a family's captions use outside the quotes ("heldout" uses those of "train" less
    the composed captions' connectives).
    ``tokenizer.PROMPT_WORDS`` keeps every training one whole (a checkpoint keeps the list it was trained with);
    the held-out vocabulary's words are spelled by characters."""
    phrases = list(forms(split)) + list(PLACE_PHRASES)
    if split in ("train", "heldout-connectives"):
        connectives = CONNECTIVES["train" if split == "train" else "heldout"]
        phrases += list(TEXT_PHRASES) + [p for options in connectives.values() for p in options]
    return tuple(sorted(set(re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", " ".join(phrases))))))


if __name__ == "__main__":
    print(len(all_forms()), "forms:", len(forms("train")), "training,", len(forms("heldout")), "held out;",
          len(forms("heldout-vocab")), "with held-out words")

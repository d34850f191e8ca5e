"""Captions composed from parts, in any order, joined by connectives; some connectives are held out.

People put the parts of a request in any order and join them as they like: 'white on red: "STOP"', 'green text on white that says "LEAF"', 'Background: yellow.
Text: "SUN" (text colour: red)'. A composed caption takes the four parts — the text, its colour, the
background and the place — in a random order (all 24 orders equally likely; the place is left out one time
in ten), gives each a phrase that names its own colour ('in red', 'red letters', 'over a white background',
'background: white'), and joins them with a connective: a comma, colon, dash, full stop, a space before a
linking word ('with', 'over', 'using', 'that says'), or parentheses. So the order of the parts carries no
shortcut to the colours: only the words next to each colour do. ``CONNECTIVES["train"]`` are the training
connectives; ``CONNECTIVES["heldout"]`` ('done in', 'featuring', 'upon', 'atop', 'bearing', '; ', ' | ', …)
appear in no training caption (made-up words avoid them too) and make the family "heldout-connectives": every
order is trained, only these connectives are unseen.

The place phrases come from the grammar (``captions.PLACES``), which composes this share of the training
captions (``captions.COMPOSED_SHARE``) here.
"""
from __future__ import annotations

import numpy as np

# Captions composed from parts: the text, its colour, the background and the place, in any order. Each part's
# phrase names its colour so that layout.parse_prompt reads it wherever it stands: a colour after "in" or
# before a noun of the text is the text colour; after "on" or "over", before "background" or after
# "background:" the background. "{a_bg}" is "a white" or "an orange".
CONNECTIVES = {  # "train": in training captions; "heldout": in no training caption (family "heldout-connectives")
    "train": dict(
        fg=("in {fg}", "in {fg} letters", "written in {fg}", "with {fg} letters", "using {fg} letters",
            "{fg} text", "{fg} letters", "text colour: {fg}"),
        bg=("on {bg}", "on {a_bg} background", "over {a_bg} background", "with {a_bg} background",
            "against {a_bg} background", "{bg} background", "background: {bg}"),
        lead=("that says ", "that reads ", "that spells ", "saying ", "reading "),  # before a text not first
        opener=("write ", "draw ", "an image of ", "please draw "),  # before a text that comes first
        join=(", ", ": ", " - ", ". ", " ({})", " "),  # " ({})" puts the part in parentheses
    ),
    "heldout": dict(
        fg=("done in {fg}", "featuring {fg} letters", "printed in {fg}"),
        bg=("upon {a_bg} background", "atop {a_bg} background", "set against {a_bg} background"),
        lead=("which says ", "bearing ", "stating "),
        opener=("create ", "produce "),
        join=("; ", " | ", " / "),
    ),
}
TEXT_PHRASES = ('"{text}"', 'the word "{text}"', 'the text "{text}"', 'the letters "{text}"', 'text: "{text}"')
PARTS = ("text", "fg", "bg", "place")
# a part may follow the one before it after a bare space only when it begins with one of these words
LINKING_WORDS = {"in", "on", "over", "with", "using", "written", "against", "that", "saying", "reading", "at",
                 "near", "to", "centered", "done", "featuring", "printed", "upon", "atop", "set", "which",
                 "bearing", "stating"}


def _pick(rng: np.random.Generator, choices):
    return choices[int(rng.integers(len(choices)))]


def part_phrases(rng: np.random.Generator, connectives: dict, order) -> list[str]:
    """One phrase per part of ``order``, slots unfilled; half the time a text that is not first has a lead
    ("that says") and one that is first an opener ("write"), unless the phrase is a label ('text: "X"')."""
    phrases = []
    for k, part in enumerate(order):
        if part == "text":
            lead = _pick(rng, connectives["lead"] if k else connectives["opener"])
            phrase = _pick(rng, TEXT_PHRASES)
            phrases.append((lead if rng.random() < 0.5 and ":" not in phrase else "") + phrase)
        else:
            phrases.append("{place}" if part == "place" else _pick(rng, connectives[part]))
    return phrases


def join_parts(rng: np.random.Generator, connectives: dict, phrases: list[str], place: str) -> str:
    """The phrases joined in order, each after a join of ``connectives``: a bare space only before a phrase
    that begins with a linking word such as "in", "over" or "that", a colon never before a label."""
    out = phrases[0]
    for phrase in phrases[1:]:
        first_word = (place if phrase == "{place}" else phrase).split()[0]
        joins = [j for j in connectives["join"]
                 if (j != " " or first_word in LINKING_WORDS) and not (j == ": " and ":" in phrase)]
        join = _pick(rng, joins)
        out += join.format(phrase) if "{}" in join else join + phrase
    return out


def composed_caption(rng: np.random.Generator, family: str, text: str, fg: str, bg: str,
                     places: tuple[str, ...] | None) -> str:
    """A caption composed from parts (the text, its colour, the background and, unless ``places`` is None, the
    place, said as one of ``places``: ``captions.PLACES[region]``) in a random order, with the connectives of
    ``family`` ("train" or "heldout"); a capital first letter three times in ten and a final full stop two in
    ten, as ``captions.fill`` writes them."""
    connectives = CONNECTIVES[family]
    order = [PARTS[k] for k in rng.permutation(4) if places is not None or PARTS[k] != "place"]
    place = _pick(rng, places) if places is not None else ""
    caption = join_parts(rng, connectives, part_phrases(rng, connectives, order), place)
    a_bg = ("an " if bg[0] in "aeiou" else "a ") + bg
    caption = caption.format(text=text, fg=fg, bg=bg, a_bg=a_bg, place=place)
    caption += "." if rng.random() < 0.2 else ""
    return caption[0].upper() + caption[1:] if rng.random() < 0.3 and caption[0] != '"' else caption


def longest_composed(family: str, text: str, places: tuple[str, ...], tokens=len) -> str:
    """A caption at least as long as any ``composed_caption`` of ``family`` for ``text`` with the longest
    colour names and any of ``places``, by the measure ``tokens`` (characters, or a tokenizer's token count):
    the longest phrase of each part, every part in parentheses (the longest join), a full stop. Lengths add up
    part by part, as every join holds a non-letter."""
    c = CONNECTIVES[family]
    fill_in = dict(text=text, fg="yellow", bg="orange", a_bg="an orange")

    def longest(options):
        return max(options, key=lambda o: tokens(o.format(**fill_in)))
    text_part = longest([lead + t for lead in ("",) + c["lead"] + c["opener"] for t in TEXT_PHRASES])
    place = longest(places)
    parts = [f" ({p})" for p in (text_part, longest(c["fg"]), longest(c["bg"]), place)]
    return ("".join(parts) + ".").format(**fill_in)

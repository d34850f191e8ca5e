"""Captions composed from parts: every order is drawn, every caption parses back to its parts, the held-out
connectives are their own, and the longest caption fits the model's prompt length."""
import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from minigptimage import captions, layout
from minigptimage.composed_captions import CONNECTIVES, composed_caption, longest_composed
from minigptimage.glyphs import COLOR_PAIRS, MAX_CAPTION_CHARS, REGIONS
from minigptimage.pipeline import PipelineConfig
from minigptimage.tokenizer import PROMPT_WORDS, CharTokenizer


def outside_words(caption):
    """The lower-case words of a caption outside its quotes."""
    return set(re.findall(r"[a-z]+", "".join(caption.split('"')[::2]).lower()))


HELDOUT_CONNECTIVE_WORDS = set(captions.grammar_words("heldout-connectives")) - set(captions.grammar_words("train"))
HELDOUT_JOINS = {j.strip() for j in CONNECTIVES["heldout"]["join"]}


def has_heldout_connective(caption):
    outside = "".join(caption.split('"')[::2])
    return bool(outside_words(caption) & HELDOUT_CONNECTIVE_WORDS or any(j in outside for j in HELDOUT_JOINS))


def test_the_heldout_connectives_are_named_and_their_own():
    """Every held-out connective phrase brings a word (or a join) that no training connective has."""
    train_words = set(captions.grammar_words("train"))
    heldout = CONNECTIVES["heldout"]
    for part in ("fg", "bg", "lead", "opener"):
        for phrase in heldout[part]:
            assert set(re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", phrase))) - train_words, phrase
    assert HELDOUT_JOINS and not HELDOUT_JOINS & {j.strip() for j in CONNECTIVES["train"]["join"]}
    assert not HELDOUT_CONNECTIVE_WORDS & set(PROMPT_WORDS)  # spelled by characters, as unknown words are
    assert HELDOUT_CONNECTIVE_WORDS <= captions._known_words()  # so no made-up word is one of them


@given(st.integers(0, 2**32 - 1), st.sampled_from(sorted(CONNECTIVES)),
       st.text(st.sampled_from(layout.DRAWABLE), min_size=1, max_size=10).filter(lambda t: t.strip() == t),
       st.sampled_from(COLOR_PAIRS), st.sampled_from([None, *REGIONS]))
def test_every_composed_caption_parses_back_to_its_text_colours_and_place(seed, family, text, colours, region):
    rng = np.random.default_rng(seed)
    for _ in range(50):
        caption = composed_caption(rng, family, text, *colours, captions.PLACES.get(region))
        parsed = layout.parse_prompt(caption)
        assert (parsed.text, parsed.text_color, parsed.background, parsed.region) == (text, *colours, region), caption
        assert has_heldout_connective(caption) == (family == "heldout"), caption
        assert "{" not in "".join(caption.split('"')[::2]), caption
        assert len(caption) <= len(longest_composed(family, "W" * len(text), captions.PLACE_PHRASES))


def part_order(caption):
    """The order of the parts of a composed caption for text "X", red on white, place "left"."""
    outside = "".join(caption.lower().split('"X"'))
    spots = {"text": caption.index('"X"'), "fg": outside.index("red"), "bg": outside.index("white"),
             "place": outside.index("left")}
    return tuple(sorted(spots, key=spots.get))


def test_training_composes_every_order_of_the_parts():
    rng = np.random.default_rng(0)
    left = captions.PLACES["left"]
    orders = {part_order(composed_caption(rng, "train", "X", "red", "white", left)) for _ in range(1500)}
    assert len(orders) == 24  # 4! orders, each drawn with probability 1/24


def test_the_longest_composed_caption_fits_the_models_prompt_length():
    """Upper bounds by ``longest_composed``: characters within MAX_CAPTION_CHARS; tokens (a capital first letter
    spells a whole word, so every phrase is measured capitalised too) within PipelineConfig.max_prompt_len."""
    tokenizer, limit = CharTokenizer(PROMPT_WORDS), PipelineConfig().max_prompt_len

    def tokens(phrase):
        return max(len(tokenizer.token_ids(p)) for p in (phrase, phrase[:1].upper() + phrase[1:]))
    for family in CONNECTIVES:
        assert len(longest_composed(family, "W" * 10, captions.PLACE_PHRASES)) <= MAX_CAPTION_CHARS
        longest = longest_composed(family, "W" * 10, captions.PLACE_PHRASES, tokens)
        assert sum(tokens(p) for p in longest.split(" (")) + 2 <= limit, longest

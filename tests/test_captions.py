"""The caption grammar: enough phrasings, a held-out family disjoint from training, captions from one family."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigptimage import captions, layout
from minigptimage.glyphs import COLOR_PAIRS, REGIONS


def test_families_split_the_forms():
    train, heldout = set(captions.forms("train")), set(captions.forms("heldout"))
    assert len(captions.all_forms()) >= 40 and len(heldout) >= 20
    assert not train & heldout and train | heldout == set(captions.all_forms())
    assert all(captions.is_heldout(f) for f in heldout) and not any(captions.is_heldout(f) for f in train)
    complete = captions.forms("heldout", complete=True)
    assert complete and all(captions.names_colour(f) == (True, True) for f in complete)


def wordings(form, text, fg, bg, region):
    """Every caption ``fill`` can make from one form (all places, punctuation and capitals; no place only where
    the form allows it, as random_caption does: a place-first form always has one)."""
    regions = (region,) if "{where_first}" in form else (region, None)
    return {captions.fill(form, text, fg, bg, r, place=p, comma=c, stop=s, capital=k)
            for r in regions for p in range(4) for c in (True, False) for s in (True, False)
            for k in (True, False)}


@given(st.integers(0, 2**32 - 1), st.sampled_from(["train", "heldout"]), st.sampled_from(COLOR_PAIRS),
       st.sampled_from(list(REGIONS)))
def test_a_random_caption_comes_from_its_family_and_parses(seed, split, colours, region):
    fg, bg = colours
    caption = captions.random_caption(np.random.default_rng(seed), split, "Hi 2", fg, bg, region)
    family = [f for f in captions.forms(split) if caption in wordings(f, "Hi 2", fg, bg, region)]
    other = "heldout" if split == "train" else "train"
    assert family and not [f for f in captions.forms(other) if caption in wordings(f, "Hi 2", fg, bg, region)]
    parsed = layout.parse_prompt(caption)
    named_fg, named_bg = captions.names_colour(family[0])
    assert parsed.text == "Hi 2" and parsed.region in (region, None)
    assert parsed.text_color == (fg if named_fg else None) and parsed.background == (bg if named_bg else None)


def test_a_place_first_form_needs_a_place():
    form = next(f for f in captions.all_forms() if f.startswith("{where_first}"))
    assert captions.fill(form, "HI", "red", "white", "top").startswith("at the top, ")
    with pytest.raises(ValueError, match="place-first"):
        captions.fill(form, "HI", "red", "white", None)


@pytest.mark.parametrize("caption, fg, bg", [
    ('a sign that says "HELLO" in red letters on a white background', "red", "white"),
    ('black background, white text: "NIGHT"', "white", "black"),
    ('red letters spelling "SALE" on a yellow background', "red", "yellow"),
])
def test_the_issue_prompts_are_in_the_grammar(caption, fg, bg):
    text = caption.split('"')[1]
    assert any(caption in wordings(f, text, fg, bg, "center") for f in captions.all_forms())

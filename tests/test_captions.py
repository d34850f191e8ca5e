"""The caption grammar: enough phrasings, held-out families disjoint from training (phrasings and words),
captions from one family, and every caption parses back to its text, colours and place."""
import itertools
import re
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigptimage import captions, layout
from minigptimage.glyphs import COLOR_PAIRS, MAX_CAPTION_CHARS, REFERENCE_CAPTION, REGIONS, GlyphDataset
from minigptimage.pipeline import PipelineConfig
from minigptimage.tokenizer import PROMPT_WORDS, CharTokenizer
from test_composed_captions import has_heldout_connective

HELDOUT_WORDS = {w for words in captions.WORDS["heldout"].values() for w in words}
EVERY_FORM = sorted({f for family in captions.FAMILIES for f in captions.forms(family)})


def outside_words(caption):
    """The lower-case words of a caption outside its quotes."""
    return set(re.findall(r"[a-z]+", "".join(caption.split('"')[::2]).lower()))


def test_families_split_the_forms():
    train, heldout = set(captions.forms("train")), set(captions.forms("heldout"))
    assert len(captions.all_forms()) >= 40 and len(heldout) >= 20
    assert not train & heldout and train | heldout == set(captions.all_forms())
    assert all(captions.is_heldout(f) for f in heldout) and not any(captions.is_heldout(f) for f in train)
    complete = captions.forms("heldout", complete=True)
    assert complete and all(captions.names_colour(f) == (True, True) for f in complete)
    vocab = set(captions.forms("heldout-vocab"))
    assert vocab and not vocab & set(captions.all_forms())
    assert captions.forms("heldout-vocab", complete=True)


def test_the_heldout_vocabulary_is_used_by_no_training_caption_and_spelled_by_characters():
    train_slots, heldout_slots = captions.WORDS["train"], captions.WORDS["heldout"]
    assert train_slots.keys() == heldout_slots.keys() and all(len(w) >= 6 for w in heldout_slots.values())
    used = set(captions.grammar_words("train")) | set(captions.grammar_words("heldout"))
    used |= outside_words(REFERENCE_CAPTION)
    assert not HELDOUT_WORDS & used and not HELDOUT_WORDS & set(PROMPT_WORDS)
    assert HELDOUT_WORDS <= set(captions.grammar_words("heldout-vocab"))
    assert set(captions.grammar_words("train")) <= set(PROMPT_WORDS)  # every training word is one token
    # 'a {filler}' is written with "a": every filler starts with a consonant
    assert all(w[0] not in "aeiou" for slot in captions.WORDS.values() for w in slot["filler"])


@given(st.integers(0, 2**32 - 1), st.sampled_from(["train", "heldout"]), st.booleans())
def test_training_captions_never_carry_a_heldout_word(seed, split, complete):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        fg, bg = COLOR_PAIRS[int(rng.integers(len(COLOR_PAIRS)))]
        caption = captions.random_caption(rng, split, "paint it", fg, bg, "top", complete)
        assert not outside_words(caption) & HELDOUT_WORDS, caption


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_every_heldout_vocabulary_caption_carries_a_heldout_word(seed, complete):
    rng = np.random.default_rng(seed)
    for _ in range(200):
        caption = captions.random_caption(rng, "heldout-vocab", "HI", "red", "white", "left", complete)
        assert outside_words(caption) & HELDOUT_WORDS, caption


@given(st.integers(0, 200))
def test_dataset_captions_of_the_training_family_carry_no_heldout_word(index):
    for split in ("train", "random"):
        assert not outside_words(GlyphDataset(split, 201, seed=3).caption(index)) & HELDOUT_WORDS


def masked(form, words):
    """``form`` with every lower-case word of ``words`` replaced by '_' (slot words out, the frame kept)."""
    return re.sub(r"\{\w+\}|[a-z]+", lambda m: "_" if m.group() in words else m.group(), form)


@given(st.integers(0, 2**32 - 1))
def test_a_made_up_form_is_its_template_with_every_slot_word_made_up(seed):
    rng = np.random.default_rng(seed)
    slot_words = {w for words in captions.WORDS["train"].values() for w in words}
    for group in captions._pools("train", False)[1]:
        made_up = captions._made_up_form(rng, group)
        new = set(re.findall(r"[a-z]+", re.sub(r"\{\w+\}", " ", made_up))) - captions._known_words()
        assert masked(made_up, new) == masked(group[0], slot_words), made_up  # the same frame, new slot words
        assert captions.names_colour(made_up) == captions.names_colour(group[0])
        lo, hi = captions.MADE_UP_LENGTHS
        assert new and all(lo <= len(w) <= hi for w in new) and not new & HELDOUT_WORDS
        assert re.search(r"\ba (?:[aeiou])", made_up.replace("{a_bg}", "")) is None  # 'a {filler}': a consonant


@given(st.integers(0, 2**32 - 1))
def test_made_up_words_come_in_the_asked_share_of_template_captions_and_never_a_heldout_word(seed):
    rng = np.random.default_rng(seed)
    known = captions._known_words() | outside_words(REFERENCE_CAPTION)
    with_new = 0
    for _ in range(400):
        caption = captions.random_caption(rng, "train", "SOAP", "red", "white", "top", made_up=0.5)
        with_new += bool(outside_words(caption) - known)
        assert not outside_words(caption) & HELDOUT_WORDS and "{" not in caption, caption
    share = (1 - captions.COMPOSED_SHARE) * captions.NEW_WORDS_SHARE * 0.5  # templates, half of them made up
    assert abs(with_new / 400 - share) < 0.08, with_new
    assert all(not outside_words(captions.random_caption(rng, "train", "SOAP", "red", "white", "top")) - known
               for _ in range(200))  # made_up=0 (the default): only known words


class ScriptedRng:
    """Answers ``made_up_word``'s draws (a length, then that many letters) with the given words, in order."""

    def __init__(self, words):
        self.draws = [d for w in words for d in (len(w), [ord(c) - ord("a") for c in w])]

    def integers(self, *args, size=None):
        return self.draws.pop(0)


def test_a_made_up_word_is_never_known_never_held_out_and_a_filler_starts_with_a_consonant():
    three = ("".join(t) for t in itertools.product("bcdfghjklmnpqrstvwxz", "aeiou", "bcdfgklmnprst"))
    held_out = next(w for w in three if captions.is_heldout_text(w) and w not in captions._known_words())
    fresh = next(w for w in ("zubo", "kavi", "demo", "tupi") if not captions.is_heldout_text(w)
                 and w not in captions._known_words())
    assert captions.made_up_word(ScriptedRng(["red", "badge", held_out, fresh])) == fresh
    assert captions.made_up_word(ScriptedRng(["ovu", fresh]), consonant_first=True) == fresh
    assert captions.made_up_word(ScriptedRng(["ovu"])) == "ovu"  # a vowel first is fine where no 'a' precedes


def test_dataset_captions_carry_made_up_words_only_when_asked():
    known = captions._known_words() | outside_words(REFERENCE_CAPTION)
    made_up = GlyphDataset("train", 120, seed=5, made_up=1.0)
    plain = GlyphDataset("train", 120, seed=5)
    assert sum(bool(outside_words(made_up.caption(i)) - known) for i in range(120)) >= 10  # ~0.18 of 120
    assert not any(outside_words(plain.caption(i)) - known for i in range(120))


def test_made_up_words_are_for_training_captions_only():
    for family in ("heldout", "heldout-vocab"):
        with pytest.raises(ValueError, match="made_up"):
            captions.random_caption(np.random.default_rng(0), family, "HI", "red", "white", "top", made_up=0.5)
        with pytest.raises(ValueError, match="made_up"):
            GlyphDataset("train", 10, phrasing=family, made_up=0.5)
    assert GlyphDataset("train", 10, made_up=0.5).made_up == 0.5


def test_the_longest_made_up_caption_fits_the_models_prompt_length():
    """Every slot made up at the longest length still fits, as the held-out vocabulary's words do."""
    limit = PipelineConfig().max_prompt_len
    longest_word = "q" * captions.MADE_UP_LENGTHS[1]
    for template in captions.TEMPLATES:
        form = re.sub(r"\{(sign|writing|verb|filler)\}", longest_word, template) + "{where}"
        caption = captions.fill(form, "W" * 10, "yellow", "orange", "bottom right", place=2, stop=True)
        assert len(caption) <= MAX_CAPTION_CHARS
        assert len(CharTokenizer(PROMPT_WORDS).token_ids(caption)) + 2 <= limit


def test_new_forms_are_a_moderate_share_of_training_captions():
    rng = np.random.default_rng(0)
    templated = {f for fs in captions.template_forms("train").values() for f in fs}
    frames, templates = captions._pools("train", False)
    assert not set(frames) & templated and {f for g in templates for f in g} <= templated
    n, hits = 4000, 0
    for _ in range(n):  # a caption from a template names one of the template-only nouns, verbs or fillers
        caption = captions.random_caption(rng, "train", "HI", "red", "white", "top")
        hits += bool(outside_words(caption) & {w for ws in captions.WORDS["train"].values() for w in ws})
    assert abs(hits / n - (1 - captions.COMPOSED_SHARE) * captions.NEW_WORDS_SHARE) < 0.03  # binomial sd: 0.007


def wordings(form, text, fg, bg, region):
    """Every caption ``fill`` can make from one form (all places, punctuation and capitals; no place only where
    the form allows it, as random_caption does: a place-first form always has one)."""
    regions = (region,) if "{where_first}" in form else (region, None)
    return {captions.fill(form, text, fg, bg, r, place=p, comma=c, stop=s, capital=k)
            for r in regions for p in range(4) for c in (True, False) for s in (True, False)
            for k in (True, False)}


@lru_cache(maxsize=None)
def forms_by_caption(family, text, fg, bg, region):
    """caption -> the forms of ``family`` that can make it."""
    out = {}
    for f in captions.forms(family):
        for caption in wordings(f, text, fg, bg, region):
            out.setdefault(caption, set()).add(f)
    return out


@given(st.integers(0, 2**32 - 1), st.sampled_from(captions.FAMILIES))
def test_a_random_caption_comes_from_its_family_and_parses(seed, split):
    """One colour pair and place (the draws of the form do not depend on them; every colour pair and place
    parses back in the tests below), so the table of every family's captions is built once. A caption of no
    form is composed from parts: of the training or the held-out connectives family, naming both colours."""
    fg, bg, region = "white", "purple", "top left"
    caption = captions.random_caption(np.random.default_rng(seed), split, "Hi 2", fg, bg, region)
    family = forms_by_caption(split, "Hi 2", fg, bg, region).get(caption)
    others = [f for f in captions.FAMILIES if f != split]
    assert not any(caption in forms_by_caption(o, "Hi 2", fg, bg, region) for o in others)
    parsed = layout.parse_prompt(caption)
    assert parsed.text == "Hi 2" and parsed.region in (region, None)
    if family is None:
        assert split in ("train", "heldout-connectives") and has_heldout_connective(caption) == (split != "train")
        assert (parsed.text_color, parsed.background) == (fg, bg), caption
        return
    named_fg, named_bg = captions.names_colour(next(iter(family)))
    assert parsed.text_color == (fg if named_fg else None) and parsed.background == (bg if named_bg else None)


# ------------------------------------------------------------- captions composed from parts, in any order
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_no_training_caption_carries_a_heldout_connective(seed, complete):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        fg, bg = COLOR_PAIRS[int(rng.integers(len(COLOR_PAIRS)))]
        caption = captions.random_caption(rng, "train", "A/B; C|D", fg, bg, "top", complete, made_up=1.0)
        assert not has_heldout_connective(caption), caption


def test_composed_captions_are_a_share_of_training_and_all_of_the_heldout_connectives():
    rng, n = np.random.default_rng(1), 2000
    forms = forms_by_caption("train", "Hi 2", "white", "purple", "top left")
    composed = sum(captions.random_caption(rng, "train", "Hi 2", "white", "purple", "top left") not in forms
                   for _ in range(n))
    assert abs(composed / n - captions.COMPOSED_SHARE) < 0.04  # binomial sd at n = 2000: 0.011
    assert all(has_heldout_connective(captions.random_caption(rng, "heldout-connectives", "HI", "red", "white",
                                                              "top")) for _ in range(100))


def test_the_standard_form_stays_in_the_training_mixture():
    """'the word "X" in FG on BG, PLACE' (what the learner's-model benchmark asks) is a training form."""
    form = 'the word "{text}" in {fg} on {bg}{where}'
    assert form in captions.forms("train") and form in captions._pools("train", False)[0]


def check_parses_back(form, text, fg, bg, region, **punctuation):
    caption = captions.fill(form, text, fg, bg, region, **punctuation)
    parsed = layout.parse_prompt(caption)
    named_fg, named_bg = captions.names_colour(form)
    assert (parsed.text, parsed.region, parsed.text_color, parsed.background) == \
        (text, region, fg if named_fg else None, bg if named_bg else None), caption


def test_every_form_parses_back_to_its_text_colours_and_place():
    """All forms of all three families, each colour pair and region in turn."""
    for k, form in enumerate(EVERY_FORM):
        fg, bg = COLOR_PAIRS[k % len(COLOR_PAIRS)]
        region = list(REGIONS)[k % len(REGIONS)]
        check_parses_back(form, "Ab 9", fg, bg, region, place=k % 4, comma=k % 3 > 0, stop=k % 5 == 0,
                          capital=k % 2 == 0)
        if "{where_first}" not in form:
            check_parses_back(form, "Ab 9", fg, bg, None)


texts = st.text(st.sampled_from(layout.DRAWABLE), min_size=1, max_size=10).filter(lambda t: t.strip() == t)


@given(st.sampled_from(EVERY_FORM), texts, st.sampled_from(COLOR_PAIRS), st.sampled_from([None, *REGIONS]),
       st.integers(0, 3), st.booleans(), st.booleans(), st.booleans())
def test_fill_then_parse_gives_back_text_colours_and_place(form, text, colours, region, place, comma, stop,
                                                           capital):
    if region is None and "{where_first}" in form:
        region = "top"  # such a form always has a place (fill refuses None)
    check_parses_back(form, text, *colours, region, place=place, comma=comma, stop=stop, capital=capital)


def test_the_longest_caption_fits_the_models_prompt_length():
    """Tokens (with <bos> and <eos>) of the longest fill of every form, for the shipped models' hybrid
    tokenizer and the older 32-word one of tiny_data/variants, within PipelineConfig.max_prompt_len."""
    limit = PipelineConfig().max_prompt_len
    for tokenizer in (CharTokenizer(PROMPT_WORDS), CharTokenizer(PROMPT_WORDS[:32])):
        longest = max(len(tokenizer.token_ids(captions.fill(f, "W" * 10, "yellow", "orange", "bottom right",
                                                            place=p, stop=True, capital=True)))
                      for f in EVERY_FORM for p in range(4))
        assert longest + 2 <= limit
    assert max(len(captions.fill(f, "W" * 10, "yellow", "orange", "bottom right", place=p, stop=True))
               for f in EVERY_FORM for p in range(4)) <= MAX_CAPTION_CHARS


def test_a_place_first_form_needs_a_place():
    form = next(f for f in captions.all_forms() if f.startswith("{where_first}"))
    assert captions.fill(form, "HI", "red", "white", "top").startswith("at the top, ")
    with pytest.raises(ValueError, match="place-first"):
        captions.fill(form, "HI", "red", "white", None)


def test_an_unknown_family_is_refused():
    with pytest.raises(ValueError, match="heldout-vocab"):
        captions.forms("vocab")
    with pytest.raises(ValueError, match="phrasing"):
        GlyphDataset("train", 4, phrasing="held-out")


@pytest.mark.parametrize("caption, fg, bg, family", [
    ('a sign that says "HELLO" in red letters on a white background', "red", "white", "train"),
    ('black background, white text: "NIGHT"', "white", "black", "train"),
    ('red letters spelling "SALE" on a yellow background', "red", "yellow", "train"),
    ('"SOAP": red on white', "red", "white", "train"),  # the forms with the colours after a colon or a dash,
    ('render "SOAP" - red on white', "red", "white", "train"),
    ('a blue plaque with white writing: "SOAP"', "white", "blue", "train"),  # a sign's colour is the background
    ('paint "SOAP" - red on white', "red", "white", "heldout-vocab"),
    ('a blue placard with yellow lettering: "SOAP"', "yellow", "blue", "heldout-vocab"),
])
def test_the_issue_prompts_are_in_the_grammar(caption, fg, bg, family):
    text = caption.split('"')[1]
    pool = captions.forms("heldout-vocab") if family == "heldout-vocab" else captions.all_forms()
    assert any(caption in wordings(f, text, fg, bg, "center") for f in pool)
    parsed = layout.parse_prompt(caption)
    assert (parsed.text, parsed.text_color, parsed.background) == (text, fg, bg)


def test_the_heldout_rule_is_the_documented_hash():
    """One form in four, by the first byte of its sha256 (captions.is_heldout's docstring)."""
    import hashlib
    forms = captions.all_forms()
    for form in forms:
        assert captions.is_heldout(form) == (hashlib.sha256(form.encode()).digest()[0] % 4 == 0)
    share = sum(map(captions.is_heldout, forms)) / len(forms)
    assert 0.18 < share < 0.32


def test_the_article_before_a_background_colour():
    form = next(f for f in captions.all_forms() if "{a_bg}" in f and "{fg}" in f)
    assert "an orange" in captions.fill(form, "CAT", "black", "orange", None)
    assert "a white" in captions.fill(form, "CAT", "black", "white", None)

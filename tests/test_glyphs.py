"""GlyphDataset: determinism, disjoint word lists, boxes/masks that match the ink, captions, pairs, errors."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage import captions, layout
from minigptimage.glyphs import (COLOR_PAIRS, COLORS, MAX_CAPTION_CHARS, MAX_TEXT, REGIONS,
                                 TEXT_KINDS, GlyphDataset, collate, contrast_ratio, is_heldout_text, load_words)

splits = st.sampled_from(["train", "heldout", "random"])
indices = st.integers(0, 199)


def ink(sample) -> torch.Tensor:
    """(H, W) distance of each pixel from the background colour, as a fraction of the text-background one."""
    bg = torch.tensor(COLORS[sample.background], dtype=torch.float32)[:, None, None] / 127.5 - 1
    fg = torch.tensor(COLORS[sample.color], dtype=torch.float32)[:, None, None] / 127.5 - 1
    return (sample.image - bg).norm(dim=0) / (fg - bg).norm()


def bbox(where: torch.Tensor):
    ys, xs = torch.nonzero(where, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@given(splits, st.integers(0, 2**31 - 1), indices)
def test_items_are_a_function_of_split_seed_and_index(split, seed, index):
    a, b = GlyphDataset(split, 200, seed)[index], GlyphDataset(split, 200, seed)[index]
    assert torch.equal(a.image, b.image) and torch.equal(a.glyph, b.glyph)
    assert (a.caption, a.text, a.box, a.font, a.position) == (b.caption, b.text, b.box, b.font, b.position)


def test_seeds_and_splits_give_different_items():
    def texts(split, seed):
        return [GlyphDataset(split, 30, seed)[i].text for i in range(30)]
    assert texts("train", 0) != texts("train", 1)
    assert not set(texts("train", 0)) & set(texts("heldout", 0))


def test_word_lists_are_disjoint_uppercase_and_the_dataset_uses_them():
    train, heldout = set(load_words("train")), set(load_words("heldout"))
    assert len(train) > 3000 and len(heldout) > 200 and not train & heldout
    assert all(re.fullmatch("[A-Z]{2,10}", w) for w in train | heldout)
    assert {len(w) for w in heldout} == set(range(2, 11))  # every length has held-out words
    assert {GlyphDataset("train", 100, text_kind="upper")[i].text for i in range(100)} <= train
    assert {GlyphDataset("heldout", 100, text_kind="upper")[i].text for i in range(100)} <= heldout
    assert all(re.fullmatch("[A-Z]{2,10}", GlyphDataset("random", 50, text_kind="upper")[i].text) for i in range(50))


@pytest.mark.parametrize("split", ["train", "heldout"])
def test_every_text_kind_keeps_to_its_split(split):
    """Words come from the split's list (in any case, one or two of them); numbers and codes of 3+
    characters fall on the split's side of the hash rule; every text has 1–10 characters and fits."""
    words = set(load_words(split))
    ds = GlyphDataset(split, 120, seed=2)
    texts = [ds[i].text for i in range(120)]
    assert all(1 <= len(t) <= MAX_TEXT for t in texts)
    assert any(t.islower() for t in texts) and any(t.isdigit() for t in texts) and any(" " in t for t in texts)
    for t in texts:
        if t.replace(" ", "").isalpha() and len(t) > 1:  # (a 1-character code may be a letter)
            assert all(w.upper() in words for w in t.split()), t
        elif len(t) >= 3:
            assert is_heldout_text(t) == (split == "heldout"), t
    for kind in TEXT_KINDS:
        one = GlyphDataset(split, 10, seed=3, text_kind=kind, lengths=(7, 10))
        assert all(7 <= len(one[i].text) <= 10 or kind == "two words" for i in range(10)), kind


@given(splits, indices)
def test_box_and_mask_match_the_ink(split, index):
    s = GlyphDataset(split, 200, seed=3)[index]
    x0, y0, x1, y1 = s.box
    assert s.image.shape == (3, 64, 64) and s.image.dtype == torch.float32
    assert -1 <= s.image.min() and s.image.max() <= 1
    box_mask = torch.zeros(1, 64, 64)
    box_mask[:, y0:y1, x0:x1] = 1
    assert torch.equal(s.mask, box_mask)
    any_ink = ink(s) > 0.02  # anything visibly off the background
    assert bbox(any_ink)[0] >= x0 and bbox(any_ink)[1] >= y0 and bbox(any_ink)[2] <= x1 and bbox(any_ink)[3] <= y1
    strong = bbox(ink(s) > 0.5)  # the box is tight: solid ink reaches within 2 px of every side
    assert all(abs(a - b) <= 2 for a, b in zip(strong, s.box))
    assert x0 >= 0 and y0 >= 0 and x1 <= 64 and y1 <= 64
    rx0, ry0, rx1, ry1 = layout.region_rect(s.position, 64)
    assert rx0 <= x0 and ry0 <= y0 and x1 <= rx1 and y1 <= ry1  # inside its named region


@given(splits, indices)
def test_glyph_canvas_is_the_word_in_the_same_box(split, index):
    s = GlyphDataset(split, 200, seed=4)[index]
    assert s.glyph.shape == (1, 64, 64) and 0 <= s.glyph.min() and s.glyph.max() <= 1
    assert torch.equal(s.glyph, layout.render_canvas(s.text, s.box, font=s.font))
    assert (s.glyph * (1 - s.mask)).sum() == 0  # no ink outside the box
    assert bbox(s.glyph[0] > 0) == s.box  # and it fills the box
    # the canvas is the image's own coverage: image = background + canvas · (colour − background)
    fg, bg = (torch.tensor(COLORS[c]).float()[:, None, None] / 127.5 - 1 for c in (s.color, s.background))
    assert torch.allclose(bg + s.glyph * (fg - bg), s.image, atol=1 / 127.5)


@given(splits, indices, st.sampled_from(["train", "heldout"]), st.booleans())
def test_caption_names_word_colours_and_place(split, index, phrasing, complete):
    """What a caption names is true of its image (a colour or the place may be left out, unless complete)."""
    ds = GlyphDataset(split, 200, seed=5, phrasing=phrasing, complete=complete)
    s = ds[index]
    assert ds.caption(index) == s.caption and len(s.caption) <= MAX_CAPTION_CHARS
    parsed = layout.parse_prompt(s.caption)
    assert parsed.text == s.text
    assert parsed.text_color in (None, s.color) and parsed.background in (None, s.background)
    assert parsed.region in (None, s.position)
    if complete:
        assert (parsed.region, parsed.text_color, parsed.background) == (s.position, s.color, s.background)


@given(splits, indices)
def test_pairs_share_style_and_differ_in_word(split, index):
    a, b = GlyphDataset(split, 200, seed=6).pair(index)
    assert a.text != b.text and (len(a.text) == len(b.text) or " " in a.text)
    for k in ("color", "background", "font", "position", "size"):
        assert getattr(a, k) == getattr(b, k), k
    assert f'"{b.text}"' in b.caption
    pa, pb = GlyphDataset(split, 200, seed=6, pairs=True)[index]
    assert torch.equal(pa.image, a.image) and torch.equal(pb.image, b.image)


def test_collate_and_cached_batches_match_direct_rendering():
    ds = GlyphDataset("train", 12, seed=7)
    direct = collate([ds[i] for i in range(12)])
    assert direct["image"].shape == (12, 3, 64, 64) and direct["mask"].shape == (12, 1, 64, 64)
    assert direct["box"].shape == (12, 4) and direct["box"].dtype == torch.long and len(direct["caption"]) == 12
    cached = GlyphDataset("train", 12, seed=7, cache=True).batch([3, 0, 11])
    assert torch.equal(cached["image"], direct["image"][[3, 0, 11]])  # images are exact in uint8
    assert torch.allclose(cached["glyph"], direct["glyph"][[3, 0, 11]], atol=0.5 / 255)
    assert torch.equal(cached["box"], direct["box"][[3, 0, 11]]) and cached["text"][1] == direct["text"][0]
    assert torch.equal(cached["mask"], direct["mask"][[3, 0, 11]])  # masks rebuilt from the cached boxes
    pairs = collate([GlyphDataset("train", 4, pairs=True)[i] for i in range(4)])
    assert len(pairs) == 2 and pairs[1]["image"].shape == (4, 3, 64, 64)


def test_palette_pairs_have_contrast():
    assert contrast_ratio((0, 0, 0), (255, 255, 255)) == pytest.approx(21.0)  # WCAG's extreme
    assert contrast_ratio(COLORS["red"], COLORS["red"]) == pytest.approx(1.0)
    assert len(COLOR_PAIRS) >= 12 and {fg for fg, _ in COLOR_PAIRS} == set(COLORS)
    # the dataset draws the legible pairs (measured by benchmarks/color_pairs.py, RESULTS.md): every pair of
    # contrast 3.5 or more, and the pairs people asked for that are fainter (red on yellow 3.5, orange on white
    # 2.6, white on orange 2.6, green on orange 1.5); never red on blue, which Tesseract reads 8% of
    assert COLOR_PAIRS == list(layout.LEGIBLE_PAIRS) and len(set(COLOR_PAIRS)) == 50
    assert all((f, b) in COLOR_PAIRS for f in COLORS for b in COLORS if contrast_ratio(COLORS[f], COLORS[b]) >= 3.5)
    asked = {("red", "yellow"), ("orange", "white"), ("white", "orange"), ("green", "orange")}
    assert asked <= set(COLOR_PAIRS) and ("red", "blue") not in COLOR_PAIRS
    assert all(f != b and f in COLORS and b in COLORS for f, b in COLOR_PAIRS)


def test_a_dataset_draws_only_the_pairs_it_is_given():
    ds = GlyphDataset("train", 20, seed=2, color_pairs=[("red", "yellow"), ("yellow", "red")])
    assert {(ds[i].color, ds[i].background) for i in range(20)} == {("red", "yellow"), ("yellow", "red")}
    assert {(s.color, s.background) for s in (GlyphDataset("train", 200, seed=2)[i] for i in range(200))} <= set(
        COLOR_PAIRS)
    with pytest.raises(ValueError, match="color_pairs"):
        GlyphDataset("train", 4, color_pairs=[("red", "blue")])
    assert tuple(COLORS) == layout.COLOR_WORDS and len(captions.all_forms()) >= 40


@pytest.mark.parametrize("kwargs, name", [
    (dict(split="test"), "split"), (dict(length=0), "length"), (dict(image_size=40), "image_size"),
    (dict(pairs=True, cache=True), "cache"), (dict(seed=-1), "seed")])
def test_bad_dataset_arguments_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        GlyphDataset(**kwargs)


def test_all_regions_are_used_and_long_words_stay_legible():
    ds = GlyphDataset("train", 400, seed=8)
    samples = [ds[i] for i in range(400)]
    assert {s.position for s in samples} == set(REGIONS)
    for s in samples:  # half-row regions only for words that stay tall there; rows take any word
        half = layout.ROW_OF[s.position] != s.position
        need = layout.min_letter_height(64) if half else layout.MIN_LETTER_HEIGHT
        assert layout.letter_height(s.font, s.size) >= need
    assert np.median([layout.letter_height(s.font, s.size) for s in samples]) >= 10
    assert np.mean([s.mask.mean().item() for s in samples]) > 0.05  # words are not specks


def test_is_heldout_text_is_the_word_lists_rule_for_any_string():
    """tiny_data/WORDS.md splits the words by sha256(word)[0] % 20 == 0: the rule holds every held-out word and
    no training word, ignores case, and puts about one string in twenty aside (42 of the 1,000 numbers 000–999)."""
    assert all(map(is_heldout_text, load_words("heldout"))) and not any(map(is_heldout_text, load_words("train")))
    assert is_heldout_text("go") and is_heldout_text("Go") and not is_heldout_text("CAT")
    assert sum(is_heldout_text(f"{i:03d}") for i in range(1000)) == 42


def words_of(text: str) -> list[str]:
    return text.split() if text.replace(" ", "").isalpha() else [text]


@given(st.integers(0, 10**6), st.sampled_from(list(TEXT_KINDS)), st.sampled_from([(1, 2), (1, 10), (3, 10)]))
def test_the_random_split_never_draws_held_out_text(index, kind, lengths):
    """The VAE and the reader train on the "random" split: at every length (1 and 2 characters included) and of
    every kind, neither its text nor either of its two words is on the held-out side of the rule."""
    text = GlyphDataset("random", 10**6 + 1, seed=index % 7, text_kind=kind, lengths=lengths)[index].text
    assert not any(is_heldout_text(w) for w in words_of(text)), text


def test_the_random_split_draws_no_held_out_short_strings():
    """Held-out strings of 1–2 characters exist (the words GO, AM, MA; 5 of the numbers 0–99): among 60 random-split
    texts of each short kind, none is one of them, while the train split draws some of them (they are shared)."""
    assert {w for w in ("GO", "AM", "MA") if is_heldout_text(w)} == {"GO", "AM", "MA"}
    assert sum(is_heldout_text(str(i)) for i in range(100)) == 5
    for kind in ("digits", "code", "upper"):
        ds = GlyphDataset("random", 60, seed=1, text_kind=kind, lengths=(1, 2))
        texts = [ds[i].text for i in range(60)]
        assert all(len(t) <= 2 for t in texts) and not any(map(is_heldout_text, texts)), kind


def test_train_and_heldout_share_only_strings_of_one_or_two_characters():
    """Numbers of 1–2 digits are drawn from all 100 by both splits (so each split draws some of the other side's
    hash); from 3 digits on, each split keeps to its side of the rule."""
    short = {split: [GlyphDataset(split, 80, seed=2, text_kind="digits", lengths=(2, 2))[i].text for i in range(80)]
             for split in ("train", "heldout")}
    assert all(len(t) == 2 for texts in short.values() for t in texts)
    assert set(short["train"]) & set(short["heldout"])
    assert not all(map(is_heldout_text, short["heldout"]))  # held-out 2-digit numbers are mostly training-side
    for split in ("train", "heldout"):
        ds = GlyphDataset(split, 30, seed=2, text_kind="digits", lengths=(3, 3))
        assert all(is_heldout_text(ds[i].text) == (split == "heldout") for i in range(30)), split


def test_words_are_centred_in_their_region_with_one_pixel_of_jitter_either_way():
    ds = GlyphDataset("train", 150, seed=9)
    shifts = set()
    for s in (ds[i] for i in range(150)):
        centred = layout.place(layout.ink_coverage(s.text, s.font, s.size).shape, s.position, 64)
        dx, dy = s.box[0] - centred[0], s.box[1] - centred[1]
        assert abs(dx) <= 1 and abs(dy) <= 1 and s.box[2] - s.box[0] == centred[2] - centred[0]
        shifts |= {dx, dy}
    assert shifts == {-1, 0, 1}


def test_one_caption_in_ten_leaves_out_the_place():
    """captions.random_caption drops the place one time in ten (never with complete=True)."""
    ds = GlyphDataset("train", 400, seed=10)
    named = [layout.parse_prompt(ds.caption(i)).region is not None for i in range(400)]
    assert 0.8 <= sum(named) / 400 <= 0.97
    complete = GlyphDataset("train", 100, seed=10, complete=True)
    assert all(layout.parse_prompt(complete.caption(i)).region for i in range(100))


def test_box_masks_are_one_exactly_inside_the_exclusive_box():
    from minigptimage.glyphs import box_masks
    masks = box_masks(torch.tensor([[1, 2, 4, 3], [0, 0, 6, 6]]), 6)
    assert masks.shape == (2, 1, 6, 6) and masks[1].all()
    assert torch.nonzero(masks[0, 0]).tolist() == [[2, 1], [2, 2], [2, 3]]  # row 2, columns 1–3


def test_texts_of_exactly_max_text_characters_are_drawn():
    """The data's longest texts have MAX_TEXT (10) characters, spaces included, in every kind."""
    for kind in ("upper", "two words", "digits"):
        ds = GlyphDataset("train", 20, seed=4, text_kind=kind, lengths=(MAX_TEXT - 1, MAX_TEXT))
        lengths = {len(ds[i].text) for i in range(20)}
        assert max(lengths) == MAX_TEXT, (kind, lengths)

"""Scoring: edit distance against a brute-force reference, accuracies on hand-made cases, and the pixel
measures (colour, position, box) and the shipped reader on real clean renders of GlyphDataset."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.glyphs import COLOR_PAIRS, GlyphDataset, render_word
from minigptimage.reader import GlyphReader
from minigptimage.scoring import (MIN_SPECK, background_colour, box_iou, char_accuracy, drop_specks, edit_distance,
                                  glyph_box, glyph_colour, glyph_position, word_accuracy)

words = st.text(alphabet="ABC", max_size=5)


def naive_edit_distance(a: str, b: str) -> int:
    """The recursive definition, straight from the textbook (exponential, fine for ≤ 5 letters)."""
    if not a or not b:
        return len(a) + len(b)
    return min(naive_edit_distance(a[1:], b) + 1, naive_edit_distance(a, b[1:]) + 1,
               naive_edit_distance(a[1:], b[1:]) + (a[0] != b[0]))


@given(words, words)
def test_edit_distance_matches_the_recursive_definition(a, b):
    assert edit_distance(a, b) == naive_edit_distance(a, b) == edit_distance(b, a)


@given(st.lists(st.tuples(words, words.filter(bool)), min_size=1, max_size=6))
def test_accuracies_are_fractions_and_agree_on_exact_reads(pairs):
    read, targets = map(list, zip(*pairs))
    w, c = word_accuracy(read, targets), char_accuracy(read, targets)
    assert 0 <= w <= c <= 1  # an exact read scores 1 in both
    assert word_accuracy(targets, targets) == char_accuracy(targets, targets) == 1


def test_accuracies_on_known_cases():
    assert edit_distance("KITTEN", "SITTING") == 3
    assert word_accuracy(["CAT", "DOG"], ["CAT", "DIG"]) == 0.5
    assert char_accuracy(["CAT", "DOG", ""], ["CAT", "DIG", "HAT"]) == pytest.approx((1 + 2 / 3 + 0) / 3)
    with pytest.raises(ValueError, match="read, targets"):
        word_accuracy(["A"], [])


def test_box_iou_reference():
    assert box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1
    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 4, 4), (4, 4, 8, 8)) == 0 and box_iou(None, (0, 0, 1, 1)) == 0


@pytest.fixture(scope="module")
def renders():
    ds = GlyphDataset("heldout", length=200, seed=123)
    return [ds[i] for i in range(200)]


def test_colour_position_and_box_on_real_renders(renders):
    n = len(renders)
    assert sum(glyph_colour(s.image) == s.color for s in renders) / n >= 0.99
    assert sum(glyph_position(s.image) == s.position for s in renders) / n >= 0.95
    assert sum(box_iou(glyph_box(s.image), s.box) >= 0.8 for s in renders) / n >= 0.95
    assert all(background_colour(s.image) == s.background for s in renders)


@pytest.mark.parametrize("color, background", COLOR_PAIRS[::3])
def test_colour_of_single_renders(color, background):
    image, box = render_word("HELLO", color, background, position="center")
    image = image.float() / 127.5 - 1
    assert glyph_colour(image) == color and box_iou(glyph_box(image), box) >= 0.8


def test_a_stray_blot_does_not_stretch_the_box():
    image, _ = render_word("HELLO", "black", "white", position="bottom")
    image = image.float() / 127.5 - 1  # (3, 64, 64)
    blotted = image.clone()
    blotted[:, 4:8, 56:60] = -1.0  # one latent pixel's 4×4 blot of the text colour, far from the word
    assert glyph_box(blotted) == glyph_box(image)
    assert glyph_box(blotted)[1] > 20  # the word is at the bottom, the blot at the top


@given(st.integers(0, 30), st.integers(0, 30), st.integers(1, 20), st.integers(1, 20))
def test_drop_specks_keeps_large_ink_and_drops_small_lone_ink(x, y, w, h):
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[y:y + h, x:x + w] = True  # one lone rectangle
    kept = drop_specks(mask)
    assert not (kept & ~mask).any()  # never adds ink
    assert torch.equal(kept, mask) if w * h >= MIN_SPECK else not kept.any()
    mask[62, 62] = True  # a lone speck beside it changes nothing about the rectangle
    with_speck = drop_specks(mask)
    assert torch.equal(with_speck[:60, :60], kept[:60, :60]) and not with_speck[62, 62]


def test_blank_image_has_no_glyphs():
    blank = torch.full((3, 64, 64), 0.3)
    assert glyph_colour(blank) is None and glyph_position(blank) is None and glyph_box(blank) is None
    with pytest.raises(ValueError, match="image"):
        glyph_colour(torch.zeros(64, 64))


def test_shipped_reader_reads_real_heldout_renders(renders):
    reader = GlyphReader.pretrained()
    images = torch.stack([s.image for s in renders[:64]])
    assert word_accuracy(reader.read(images), [s.text for s in renders[:64]]) >= 0.9  # 96.2% measured on 500

"""Scoring: edit distance against a brute-force reference, accuracies on hand-made cases, and the pixel
measures (colour, position, box) and the shipped reader on real clean renders of GlyphDataset."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.glyphs import COLOR_PAIRS, GlyphDataset, render_word
from minigptimage.reader import GlyphReader
from minigptimage.scoring import (MIN_SPECK, background_colour, box_iou, char_accuracy, drop_specks, edit_distance,
                                  glyph_box, glyph_colour, glyph_mask, glyph_position, has_speck, speck_mask,
                                  word_accuracy)

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
    assert word_accuracy(reader.read(images), [s.text for s in renders[:64]]) >= 0.9  # 98.0% measured on 500 of the mixture (reader.py)


def flat(colour: str, size: int = 64) -> torch.Tensor:
    """A (3, H, W) image of one colour of glyphs.COLORS, in [-1, 1]."""
    from minigptimage.glyphs import COLORS
    return (torch.tensor(COLORS[colour], dtype=torch.float32) / 127.5 - 1)[:, None, None].expand(3, size, size).clone()


def paint(image: torch.Tensor, colour: str, x0: int, y0: int, x1: int, y1: int, alpha: float = 1.0) -> torch.Tensor:
    """``colour`` blended with weight ``alpha`` over image[:, y0:y1, x0:x1] (in place; returns the image)."""
    image[:, y0:y1, x0:x1] = alpha * flat(colour, image.shape[-1])[:, y0:y1, x0:x1] + (1 - alpha) * image[:, y0:y1, x0:x1]
    return image


def test_char_accuracy_divides_by_the_longer_of_the_two_texts():
    """One extra letter in the read costs 1/4 of "CATS"; one letter read from four costs 3/4; a read far longer
    than its target scores ≥ 0 (the longer length is the denominator), and reads and targets may swap."""
    assert char_accuracy(["CATS"], ["CAT"]) == pytest.approx(0.75) == char_accuracy(["CAT"], ["CATS"])
    assert char_accuracy(["A"], ["ABCD"]) == pytest.approx(0.25)
    assert char_accuracy(["ABCDEFGH"], ["A"]) == pytest.approx(1 / 8)
    assert char_accuracy(["HELLO", "WORLD"], ["HELLO", "WORD"]) == pytest.approx((1 + 0.8) / 2)
    assert word_accuracy(["CAT", "cat", "CAT "], ["CAT", "CAT", "CAT"]) == pytest.approx(1 / 3)  # exact, case too


def test_box_iou_of_nested_and_touching_boxes():
    assert box_iou((0, 0, 10, 10), (2, 2, 6, 6)) == pytest.approx(16 / 100)
    assert box_iou((2, 2, 6, 6), (0, 0, 10, 10)) == pytest.approx(16 / 100)
    assert box_iou((0, 0, 10, 10), (0, 10, 10, 20)) == 0  # exclusive ends: sharing an edge is no overlap
    assert box_iou((0, 0, 4, 4), (3, 3, 7, 7)) == pytest.approx(1 / 31)


@given(st.integers(2, 40), st.integers(2, 50), st.integers(4, 20), st.integers(5, 12),
       st.sampled_from(["red", "black", "blue", "yellow"]))
def test_glyph_box_and_colour_of_a_painted_rectangle(x0, y0, w, h, colour):
    """Solid ink of a known colour in a known rectangle on a white field: the box is the rectangle exactly
    (exclusive ends) and the colours are named right."""
    x1, y1 = min(x0 + w, 62), min(y0 + h, 62)
    image = paint(flat("white"), colour, x0, y0, x1, y1)
    assert glyph_box(image) == (x0, y0, x1, y1)
    assert glyph_colour(image) == colour and background_colour(image) == "white"


def test_text_colour_is_read_from_the_core_not_the_anti_aliased_edge():
    """Black strokes (30 pixels) with a wide 60 % grey fringe (60 pixels) on white: the fringe is ink at the default
    threshold 0.5 — its median would be named purple — but the core (threshold 0.75) is black."""
    image = paint(flat("white"), "black", 20, 30, 50, 31)
    paint(image, "black", 20, 31, 50, 33, alpha=0.6)
    assert glyph_mask(image).sum() == 90 and glyph_mask(image, 0.75).sum() == 30
    assert glyph_colour(image) == "black"


def test_the_background_is_the_frame_even_when_the_text_covers_most_of_the_image():
    image = paint(flat("white"), "red", 2, 2, 62, 62)  # red over 88% of the pixels, a white 2-pixel frame
    assert background_colour(image) == "white" and glyph_colour(image) == "red"
    assert glyph_box(image) == (2, 2, 62, 62)
    on_black = paint(flat("black"), "yellow", 10, 10, 30, 20)
    assert background_colour(on_black) == "black" and glyph_colour(on_black) == "yellow"


@pytest.mark.parametrize("region", ["top left", "top", "top right", "left", "center", "right", "bottom left",
                                    "bottom", "bottom right"])
def test_glyph_position_names_the_region_at_whose_centre_the_ink_sits(region):
    from minigptimage.layout import region_rect
    x0, y0, x1, y1 = region_rect(region, 64)
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    image = paint(flat("white"), "blue", cx - 3, cy - 2, cx + 3, cy + 2)
    assert glyph_position(image) == region


def test_drop_specks_keeps_exactly_min_speck_pixels_and_chains_ink_up_to_four_pixels_apart():
    """A lone cluster of MIN_SPECK (20) pixels stays and one of 19 goes; two clusters of 12 pixels (each a speck
    alone, 24 together) count as one when 4 blank columns (2·reach) separate them, and as two specks at 5."""
    mask = torch.zeros(32, 32, dtype=torch.bool)
    keep, drop = mask.clone(), mask.clone()
    keep[4:8, 4:9] = True  # 4 × 5 = 20
    drop[4:8, 4:9] = True
    drop[7, 8] = False  # 19
    assert torch.equal(drop_specks(keep), keep) and not drop_specks(drop).any()
    for gap, chained in ((4, True), (5, False)):
        pair = mask.clone()
        pair[10:13, 2:6] = True  # 3 × 4 = 12
        pair[10:13, 6 + gap:10 + gap] = True
        assert torch.equal(drop_specks(pair), pair if chained else mask), gap
    corner = mask.clone()
    corner[0:4, 0:5] = True  # a cluster touching the edge counts its pixels like any other
    assert torch.equal(drop_specks(corner), corner)


# ------------------------------------------------------------- specks away from the text (has_speck, speck_mask)
def plant(image, box, size=3, colour=None):
    """A copy of a render with a ``size``×``size`` blot of ink (the text's colour, or ``colour``) in the image
    corner farthest from the text's box, and the blot's (y, x) corner; the blot is far from the text (checked)."""
    x0, y0, x1, y1 = box
    H, W = image.shape[1:]
    y, x = max(((3, 3), (3, W - 3 - size), (H - 3 - size, 3), (H - 3 - size, W - 3 - size)),
               key=lambda c: max(x0 - c[1] - size, c[1] - x1, y0 - c[0] - size, c[0] - y1))
    assert max(x0 - x - size, x - x1, y0 - y - size, y - y1) >= 5  # more than 4 px from the box: not chained
    ink = image[:, y0:y1, x0:x1].reshape(3, -1)
    ink = ink[:, (ink - image[:, :1, :1].reshape(3, 1)).norm(dim=0).argmax()] if colour is None else colour
    specked = image.clone()
    specked[:, y:y + size, x:x + size] = ink[:, None, None]
    return specked, (y, x)


@given(st.sampled_from(["train", "heldout"]), st.integers(0, 99),
       st.sampled_from([None, "digits", "code", "two words", "lower"]))
def test_clean_renders_carry_no_speck_and_a_planted_one_is_found(split, index, kind):
    s = GlyphDataset(split, 100, seed=21, text_kind=kind)[index]
    assert not has_speck(s.image) and not has_speck(s.image, box=s.box)
    specked, (y, x) = plant(s.image, s.box)
    assert has_speck(specked) and has_speck(specked, box=s.box)
    found = speck_mask(specked)
    assert found[y:y + 3, x:x + 3].all() and found.sum() == 9  # exactly the planted blot
    assert glyph_box(specked) == glyph_box(s.image)  # the measure drops nothing from the image or its box


def test_what_is_not_a_speck():
    """On a drawn image: black ink on white, a 10×6 'word' at rows 30–35, columns 20–29."""
    image = torch.ones(3, 64, 64)
    image[:, 30:36, 20:30] = -1
    assert not has_speck(image) and glyph_box(image) == (20, 30, 30, 36)
    near = image.clone()
    near[:, 39:41, 20:22] = -1  # 4 px below the word: it chains to the text's box, as drop_specks chains ink
    assert not has_speck(near)
    far = image.clone()
    far[:, 41:43, 20:22] = -1  # 6 px below: a speck
    assert has_speck(far) and speck_mask(far).sum() == 4
    assert not has_speck(far, box=(20, 30, 30, 42))  # inside a given text box: part of the text
    big = image.clone()
    big[:, 50:55, 50:54] = -1  # MIN_SPECK (20) pixels: ink, not a speck
    assert 5 * 4 == MIN_SPECK and not has_speck(big)
    assert not has_speck(torch.zeros(3, 64, 64)) and speck_mask(torch.zeros(3, 64, 64)) is None  # no ink at all
    only = torch.ones(3, 64, 64)  # ink, but no cluster large enough to be text: all of it is specks (9 pixels,
    only[:, 30:33, 30:33] = -1  # over the 0.2% of the image that ink_map's contrast quantile ignores as strays)
    assert has_speck(only)

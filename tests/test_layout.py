"""layout: prompt parsing, box planning (explicit box wins, agrees with the dataset), the glyph canvas."""
import re

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.glyphs import GlyphDataset
from minigptimage.layout import (REGIONS, ROW_OF, canvas_for_prompts, ink_coverage, parse_prompt, plan_box,
                                 region_rect, render_canvas, word_size)


def iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_parse_prompt_reads_word_region_and_colours():
    p = parse_prompt('a yellow image with the word "Left" written in blue at the upper right')
    assert (p.text, p.region, p.colors, p.text_color, p.background) == ("Left", "top right",
                                                                        ["yellow", "blue"], "blue", "yellow")
    p = parse_prompt('red text "GO" on a white background, in the middle')
    assert (p.region, p.text_color, p.background) == ("center", "red", "white")
    p = parse_prompt('a sign that says "RED"')  # words inside the quotes are not placement or colour words
    assert (p.text, p.region, p.colors, p.text_color) == ("RED", None, [], None)


@pytest.mark.parametrize("prompt, match", [
    ("a cat on a mat", "double quotes"), ('the word "" in red', "non-empty"), ('the word "   "', "non-empty"),
    ('the word "CAT in red', "unbalanced"), ('"A" and "B"', "exactly one"), ('the word "CAFÉ"', "cannot draw")])
def test_parse_prompt_rejects_bad_prompts(prompt, match):
    with pytest.raises(ValueError, match=match):
        parse_prompt(prompt)


@given(st.integers(0, 63), st.integers(0, 63), st.integers(1, 64), st.integers(1, 64))
def test_an_explicit_box_always_wins_and_is_validated(x0, y0, w, h):
    box = (x0, y0, x0 + w, y0 + h)
    if box[2] <= 64 and box[3] <= 64:
        assert plan_box('the word "CAT", top left', 64, box=box) == box
    else:
        with pytest.raises(ValueError, match="box"):
            plan_box('the word "CAT"', 64, box=box)


@pytest.mark.parametrize("box", [(10, 10, 10, 20), (30, 10, 20, 20), (-1, 0, 10, 10), (0, 0, 65, 10), "ab"])
def test_degenerate_boxes_raise(box):
    with pytest.raises(ValueError, match="box"):
        plan_box("CAT", 64, box=box)


@given(st.sampled_from(sorted(REGIONS)), st.sampled_from(["GO", "CAT", "MOTHER", "QUIZ", "WWWWW"]))
def test_planned_boxes_lie_in_their_region_or_row(region, word):
    x0, y0, x1, y1 = plan_box(word, 64, region=region)
    rx0, ry0, rx1, ry1 = region_rect(region, 64)
    assert ry0 <= y0 < y1 <= ry1 and 0 <= x0 < x1 <= 64
    size = word_size(word, region, 64) or word_size(word, ROW_OF[region], 64)  # the dataset's size rule
    assert (y1 - y0, x1 - x0) == ink_coverage(word, "sans", size).shape  # the neutral font's ink box
    if len(word) <= 3:  # short words fit even half-row regions
        assert rx0 <= x0 and x1 <= rx1


def test_region_defaults_to_center_and_prompt_region_is_used():
    assert plan_box("CAT", 64) == plan_box('the word "CAT"', 64) == plan_box("CAT", 64, region="center")
    assert plan_box('the word "CAT" at the bottom left', 64) == plan_box("CAT", 64, region="bottom left")
    left, right = plan_box("MOTHER", 64, region="top left"), plan_box("MOTHER", 64, region="top right")
    assert left[0] < right[0] and left[3] <= 22  # too long for a corner: whole top row, pushed to the side


def test_words_that_cannot_fit_raise():
    with pytest.raises(ValueError, match="cannot fit"):
        plan_box("ABCDEFGHIJKLMNOPQRST", 64)
    with pytest.raises(ValueError, match="region"):
        plan_box("CAT", 64, region="north")
    with pytest.raises(ValueError, match="double quotes"):
        plan_box("a cat on a mat", 64)  # several words and no quotes: a prompt without a quoted word


def test_planned_box_agrees_with_the_dataset():
    ds = GlyphDataset("train", 200, seed=11)
    ious = [iou(plan_box(s.caption, 64), s.box) for s in (ds[i] for i in range(200))]
    assert np.mean(ious) >= 0.7, np.mean(ious)


@given(st.integers(0, 50), st.integers(0, 50), st.integers(4, 64), st.integers(3, 40),
       st.sampled_from(["A", "HI", "CAT", "MOTHER", "Hello, world"]))
def test_canvas_ink_lies_inside_and_fills_the_box(x0, y0, w, h, text):
    box = (x0, y0, min(64, x0 + w), min(64, y0 + h))
    canvas = render_canvas(text, box, 64)
    assert canvas.shape == (1, 64, 64) and canvas.dtype == torch.float32
    assert 0 <= canvas.min() and canvas.max() <= 1
    inside = torch.zeros_like(canvas, dtype=torch.bool)
    inside[:, box[1]:box[3], box[0]:box[2]] = True
    assert canvas[~inside].sum() == 0
    ys, xs = torch.nonzero(canvas[0] > 0, as_tuple=True)
    assert (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1) == box


def test_canvas_for_prompts_batches_plan_and_render():
    prompts = ['the word "CAT" at the top', '"MOTHER" in red on white, at the bottom']
    canvases = canvas_for_prompts(prompts, 64)
    assert canvases.shape == (2, 1, 64, 64)
    assert torch.equal(canvases[1], render_canvas("MOTHER", plan_box(prompts[1], 64)))
    boxed = canvas_for_prompts(prompts, 64, boxes=[(0, 0, 64, 64), None])
    assert torch.equal(boxed[0], render_canvas("CAT", (0, 0, 64, 64))) and torch.equal(boxed[1], canvases[1])
    with pytest.raises(ValueError, match="boxes"):
        canvas_for_prompts(prompts, 64, boxes=[None])


@pytest.mark.parametrize("prompt, expected", [
    # (text, region, text colour, background) — each prompt exercises one rule of parse_prompt
    ('the word "CAT" in red on white', ("CAT", None, "red", "white")),
    ('"Hi 2" on an orange background, in the lower left corner', ("Hi 2", "bottom left", None, "orange")),
    ('purple letters spelling "SALE" on a yellow sign, centred', ("SALE", None, "purple", "yellow")),
    ('a green poster with the word "GO" written in black, in the centre', ("GO", "center", "black", "green")),
    ('blue text: "ok" at the bottom right', ("ok", "bottom right", "blue", None)),
    ('the text "TOP" centered', ("TOP", "center", None, None)),
    ('a white image with the word "x" in blue on the left', ("x", "left", "blue", "white")),
    ('"A" near the top, upper-left', ("A", "top", None, None)),  # the first place named wins
    ('"A" in the upper-right corner', ("A", "top right", None, None)),
    ('"IN RED" to the right', ("IN RED", "right", None, None)),  # words inside the quotes are the text only
    ('red word "STOP" on white', ("STOP", None, "red", "white")),
    ('a blue plaque with white writing: "SOAP"', ("SOAP", None, "white", "blue")),  # sign noun: background
    ('render "SOAP" - yellow on black, at the top', ("SOAP", "top", "yellow", "black")),  # after a dash: X on Y
])
def test_parse_prompt_reads_text_place_and_both_colours(prompt, expected):
    p = parse_prompt(prompt)
    assert (p.text, p.region, p.text_color, p.background) == expected


def test_colour_words_are_listed_in_order_and_only_outside_the_quotes():
    assert parse_prompt('"RED" in white on black').colors == ["white", "black"]
    assert parse_prompt('a black sign with "BLUE" in yellow').colors == ["black", "yellow"]


def test_region_rectangles_are_thirds_rounded_to_the_nearest_pixel():
    """Rows end at round(H/3) and round(2H/3): 21.33 → 21 and 42.67 → 43 at 64 px; 32 and 64 at 96 px."""
    assert region_rect("top left", 64) == (0, 0, 32, 21) and region_rect("center", 64) == (0, 21, 64, 43)
    assert region_rect("bottom right", 64) == (32, 43, 64, 64) and region_rect("right", 96) == (48, 32, 96, 64)
    for size in (64, 96):  # the three rows tile the image, and each row is its two halves
        assert [region_rect(r, size)[1::2] for r in ("top", "center", "bottom")] == [
            (0, round(size / 3)), (round(size / 3), round(2 * size / 3)), (round(2 * size / 3), size)]
        for row in ("top", "center", "bottom"):
            half = "left" if row == "center" else f"{row} left"
            assert region_rect(half, size)[2] == size // 2 == region_rect(half.replace("left", "right"), size)[0]


def test_place_centres_in_the_region_and_clamps_the_move():
    """A (10, 20) patch in the top left region (0, 0, 32, 21): x0 = (32 − 20) // 2 = 6, y0 = (21 − 10) // 2 = 5."""
    from minigptimage.layout import place
    assert place((10, 20), "top left", 64) == (6, 5, 26, 15)
    assert place((10, 20), "top left", 64, dx=1, dy=-1) == (7, 4, 27, 14)
    assert place((10, 20), "top left", 64, dx=100, dy=-100) == (12, 0, 32, 10)  # clamped to the region's edges
    assert place((10, 20), "bottom right", 64, dx=-100, dy=100) == (32, 54, 52, 64)


def test_margin_and_letter_height_limits_are_the_documented_ones():
    from minigptimage.layout import MIN_LETTER_HEIGHT, margin, min_letter_height
    assert margin(64) == 2 and margin(16) == 1 and margin(128) == 4  # image_size // 32, at least 1
    assert MIN_LETTER_HEIGHT == 5 and min_letter_height(64) == 7 and min_letter_height(96) == 10  # max(7, H // 9)
    assert min_letter_height(48) == 7 == min_letter_height(44)  # the floor of 7 px holds for small images too


@given(st.sampled_from(sorted(REGIONS)),
       st.sampled_from(["W" * n for n in range(1, 12)] + ["CAT", "il", "MOTHER", "Hello", "R2D2", "two words"]))
def test_word_size_is_the_largest_fit_inside_the_margin_if_legible(region, text):
    """The rule behind the dataset and the planner, from its parts: the largest font size whose ink fits the region
    less a 2-pixel margin on every side (at 64 px), kept only when its capitals are at least 5 px tall in a
    whole row, 7 px in a half row."""
    from minigptimage.layout import fit_font_size, letter_height
    x0, y0, x1, y1 = region_rect(region, 64)
    size = fit_font_size(text, "sans", x1 - x0 - 4, y1 - y0 - 4)
    need = 5 if ROW_OF[region] == region else 7
    assert word_size(text, region, 64) == (size if letter_height("sans", size) >= need else 0)
    h, w = ink_coverage(text, "sans", size).shape
    assert h <= y1 - y0 - 4 and w <= x1 - x0 - 4


def test_the_smallest_legible_text_is_drawn_and_a_smaller_one_refused():
    """Nine W's across the center row (60 × 18 px inside the margin) have 5-px capitals: planned. Ten would
    have 4-px capitals: refused, naming the 5-px limit. Three W's in a corner would have 6-px capitals, under
    the 7 px a half row needs: they take the whole top row, pushed to the left margin."""
    from minigptimage.layout import letter_height
    assert letter_height("sans", word_size("W" * 9, "center", 64)) == 5 and plan_box("W" * 9, 64)
    assert not word_size("W" * 10, "center", 64)
    with pytest.raises(ValueError, match="under 5 px"):
        plan_box("W" * 10, 64)
    assert word_size("WW", "top left", 64) and not word_size("WWW", "top left", 64)
    box = plan_box("WWW", 64, region="top left")
    assert box[0] == 2 and box[2] > 32  # the whole row, from the left margin


def test_a_word_too_long_for_a_corner_is_pushed_to_the_margin_of_its_row():
    left, right = plan_box("MOTHER", 64, region="top left"), plan_box("MOTHER", 64, region="top right")
    assert left[0] == 2 and right[2] == 64 - 2  # margin(64) = 2 from the image's side
    assert left[1::2] == right[1::2] and left[2] - left[0] == right[2] - right[0]
    bottom = plan_box("MOTHER", 64, region="bottom left")
    assert 43 <= bottom[1] and bottom[3] <= 64 and bottom[0] == 2  # in the bottom row


def test_max_text_is_the_longest_text_the_data_has_and_prompts_beyond_it_are_refused():
    from minigptimage.glyphs import load_words
    from minigptimage.layout import MAX_TEXT
    from minigptimage.pipeline import check_prompts
    assert MAX_TEXT == 10 == max(len(w) for w in load_words("train") + load_words("heldout"))
    ds = GlyphDataset("train", 6, seed=0, text_kind="upper", lengths=(MAX_TEXT, MAX_TEXT))
    assert all(len(ds[i].text) == MAX_TEXT for i in range(6))
    with pytest.raises(ValueError, match="lengths"):
        GlyphDataset("train", 6, lengths=(1, MAX_TEXT + 1))
    assert check_prompts(['the word "ABCDE FGHI" in red']) == ['the word "ABCDE FGHI" in red']  # 10 with the space
    assert check_prompts(['render \u201cOPEN\u201d \u2014 red on white']) == ['render "OPEN" - red on white']
    with pytest.raises(ValueError, match=r"prompts\[1\]: the text 'ABCDEFGHIJK' has 11 characters"):
        check_prompts(['"CAT"', 'the word "ABCDEFGHIJK"'])


# ------------------------------------------------------------- prompts as people type them; legible pairs only
from minigptimage.layout import COLOR_WORDS, LEGIBLE_PAIRS, check_pair  # noqa: E402


def request(prompt):
    p = parse_prompt(prompt)
    return p.text, p.region, p.text_color, p.background


def retyped(prompt, cases, spaces, ending):
    """``prompt`` with its words outside the quotes re-cased, its spaces doubled here and there, an ending."""
    parts = prompt.split('"')
    for k in range(0, len(parts), 2):
        words = parts[k].split(" ")
        parts[k] = "".join((w.upper() if c == 1 else w.title() if c == 2 else w) + " " * s
                           for w, c, s in zip(words, cases * len(words), spaces * len(words)))[:-1]
    return " " * spaces[0] + '"'.join(parts) + ending


@given(st.sampled_from(['the word "Hi 2" in red on white, at the top left', 'a blue sign with the word "x" in white',
                        'in yellow on purple: "GO home" centered', 'render "A" - black on orange']),
       st.lists(st.integers(0, 2), min_size=1, max_size=5), st.lists(st.integers(1, 3), min_size=1, max_size=5),
       st.sampled_from(["", ".", "!!", " !!", "  ", "?"]))
def test_case_and_spacing_variants_parse_to_the_same_request(prompt, cases, spaces, ending):
    assert request(retyped(prompt, cases, spaces, ending)) == request(prompt)


@given(st.text(st.sampled_from("ABCxyz09 -!,."), min_size=1, max_size=10).filter(lambda t: t.strip() == t),
       st.sampled_from(['the word {q}{t}{q} in white on black', '{q}{t}{q}: red on white',
                        "don't miss it: {q}{t}{q} in black on yellow"]))
def test_single_and_double_quotes_give_the_same_text(text, form):
    double, single = form.format(q='"', t=text), form.format(q="'", t=text)
    assert request(single) == request(double) and request(double)[0] == text


@pytest.mark.parametrize("prompt, expected", [  # typed by people, outside the caption grammar
    ('white on red: "STOP"', ("STOP", None, "white", "red")),
    ('in blue on yellow, write "CODE"', ("CODE", None, "blue", "yellow")),
    ('Please draw "RAIN" using white letters over a blue background', ("RAIN", None, "white", "blue")),
    ('an image of the word "RAIN" in white, blue background', ("RAIN", None, "white", "blue")),
    ('green text on white that says "LEAF"', ("LEAF", None, "green", "white")),
    ('big purple letters that read "JOY" on white', ("JOY", None, "purple", "white")),
    ('write the number "42" in big yellow numbers on purple', ("42", None, "yellow", "purple")),
    ('black banner, orange lettering: "TAXI"', ("TAXI", None, "orange", "black")),
    ('The word "BOX" in RED on WHITE', ("BOX", None, "red", "white")),
    ('The Word "SKY" In White On Blue.', ("SKY", None, "white", "blue")),
    ("the word 'MOON' in white on black", ("MOON", None, "white", "black")),
    ('Background: yellow. Text: "SUN" (text colour: red), top left!!', ("SUN", "top left", "red", "yellow")),
])
def test_prompts_as_people_type_them(prompt, expected):
    assert request(prompt) == expected


def test_every_legible_pair_parses_and_every_other_is_refused_naming_it_with_a_legible_one():
    for fg in COLOR_WORDS:
        for bg in COLOR_WORDS:
            prompt = f'the word "SUN" in {fg} on {bg}'
            if (fg, bg) in LEGIBLE_PAIRS:
                assert request(prompt)[2:] == (fg, bg)
                continue
            with pytest.raises(ValueError, match=f"^{fg} text on an? {bg} background") as err:
                parse_prompt(prompt)
            suggested = re.findall(r"(\w+) on (\w+)", str(err.value).split("ask for")[1])
            assert len(suggested) == 2 and all(pair in LEGIBLE_PAIRS for pair in suggested)
            assert suggested[0][0] == fg and suggested[1][1] == bg  # keeps the text colour, or the background
    check_pair("yellow", None)  # one colour named: nothing to refuse
    check_pair(None, "white")


def test_an_illegible_pair_is_one_line_from_check_prompts():
    from minigptimage.pipeline import check_prompts
    with pytest.raises(ValueError) as err:
        check_prompts(['"OK"', 'the word "SUN" in Red on BLUE!!'])
    assert str(err.value) == ("prompts[1]: red text on a blue background is too hard to read; ask for "
                              "red on black or black on blue instead")

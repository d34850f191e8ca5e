"""layout: prompt parsing, box planning (explicit box wins, agrees with the dataset), the glyph canvas."""
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

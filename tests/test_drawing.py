"""Drawing one text image: the ink stays in a given box, bad arguments are named, and the WCAG contrast ratio
matches its formula on known colours."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.drawing import contrast_ratio, render_word


def bbox(where: torch.Tensor):
    ys, xs = torch.nonzero(where, as_tuple=True)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


@given(st.integers(0, 40), st.integers(0, 40), st.integers(26, 60), st.integers(12, 24))
def test_render_word_into_a_box_keeps_the_ink_inside(x0, y0, w, h):
    box = (x0, y0, min(64, x0 + w), min(64, y0 + h))
    image, ink_box = render_word("CAT", "white", "black", "serif", box)
    assert image.dtype == torch.uint8 and image.shape == (3, 64, 64)
    assert box[0] <= ink_box[0] and box[1] <= ink_box[1] and ink_box[2] <= box[2] and ink_box[3] <= box[3]
    lit = image.amax(0) > 0
    assert bbox(lit) == ink_box


@pytest.mark.parametrize("args, kwargs, name", [
    (("CAT",), dict(color="teal"), "color"), (("CAT",), dict(background="navy"), "background"),
    (("CAT",), dict(font="comic"), "font"), (("CAFÉ",), {}, "text"), (("",), {}, "text"),
    (("CAT",), dict(position="north"), "region"), (("CAT",), dict(position=(5, 5, 70, 20)), "box"),
    (("ABCDEFGHIJKLMNOP",), dict(position="top left"), "image_size"),
    (("CAT",), dict(position=(0, 0, 9, 4)), "position"), (("CAT",), dict(size=60), "size")])
def test_bad_render_arguments_name_the_argument(args, kwargs, name):
    with pytest.raises(ValueError, match=name):
        render_word(*args, **kwargs)


def test_contrast_ratio_on_known_colours():
    """WCAG 2 relative luminance L = 0.2126 R + 0.7152 G + 0.0722 B (linear): pure red against white is
    1.05 / 0.2626 ≈ 3.998, pure green against black 0.7652 / 0.05 ≈ 15.30, pure blue against black 0.1222 / 0.05."""
    assert contrast_ratio((255, 0, 0), (255, 255, 255)) == pytest.approx(1.05 / 0.2626)
    assert contrast_ratio((0, 0, 0), (0, 255, 0)) == pytest.approx(0.7652 / 0.05)
    assert contrast_ratio((0, 0, 255), (0, 0, 0)) == pytest.approx(0.1222 / 0.05)
    grey = ((128 / 255 + 0.055) / 1.055) ** 2.4  # the sRGB curve of 128 (above 0.03928·255)
    assert contrast_ratio((128,) * 3, (0, 0, 0)) == pytest.approx((grey + 0.05) / 0.05)
    assert contrast_ratio((5,) * 3, (0, 0, 0)) == pytest.approx((5 / 255 / 12.92 + 0.05) / 0.05)  # linear part

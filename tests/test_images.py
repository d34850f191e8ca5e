"""Reading user images and masks: exact round trips of the accepted formats, and a ValueError naming the file
for every hostile one (wrong size, 32-bit, truncated, random bytes, text, missing, a folder)."""
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from minigptimage.images import MASK_THRESHOLD, load_image, load_mask

S = 64


def save(tmp_path, array, name="x.png"):
    path = tmp_path / name
    Image.fromarray(array).save(path)
    return path


@given(st.integers(0, 2**32 - 1))
def test_rgb_png_round_trips_exactly(tmp_path_factory, seed):
    rgb = np.random.default_rng(seed).integers(0, 256, (S, S, 3), dtype=np.uint8)
    x = load_image(save(tmp_path_factory.mktemp("rgb"), rgb), S)
    assert x.shape == (1, 3, S, S) and x.dtype == torch.float32
    assert torch.equal(x, torch.from_numpy(rgb).permute(2, 0, 1)[None].float() / 127.5 - 1)


def test_grey_becomes_three_equal_channels(tmp_path):
    grey = np.random.default_rng(0).integers(0, 256, (S, S), dtype=np.uint8)
    x = load_image(save(tmp_path, grey), S)
    expected = torch.from_numpy(grey).float() / 127.5 - 1
    for c in range(3):
        assert torch.equal(x[0, c], expected)


def test_rgba_is_composited_over_white(tmp_path):
    rgba = np.zeros((S, S, 4), dtype=np.uint8)
    rgba[..., 0] = 255  # red …
    rgba[:, : S // 2, 3] = 255  # … opaque on the left half, transparent on the right
    x = load_image(save(tmp_path, rgba), S)
    assert torch.equal(x[0, :, :, : S // 2], torch.tensor([1.0, -1.0, -1.0])[:, None, None].expand(3, S, S // 2))
    assert torch.equal(x[0, :, :, S // 2:], torch.ones(3, S, S // 2))  # white where transparent
    half = rgba.copy()
    half[..., 3] = 128  # (1 − α)·white + α·red, α = 128/255
    g = (1 - 128 / 255) * 2 - 1
    torch.testing.assert_close(load_image(save(tmp_path, half, "half.png"), S)[0, :, 0, 0],
                               torch.tensor([1.0, g, g]))


def test_16_bit_grey_is_scaled_not_clipped(tmp_path):
    grey16 = np.full((S, S), 65535, dtype=np.uint16)
    grey16[0, 0], grey16[0, 1] = 0, 32768
    x = load_image(save(tmp_path, grey16), S)
    with Image.open(tmp_path / "x.png") as im:
        assert im.mode.startswith("I;16")
    assert x[0, :, 5, 5].tolist() == [1.0, 1.0, 1.0] and x[0, 0, 0, 0] == -1
    torch.testing.assert_close(x[0, 0, 0, 1], torch.tensor(32768 / 65535 * 2 - 1))


def hostile_files(tmp_path):
    good = np.zeros((S, S, 3), dtype=np.uint8)
    save(tmp_path, good, "good.png")
    png = (tmp_path / "good.png").read_bytes()
    files = {
        "wrong size": save(tmp_path, np.zeros((32, 48, 3), dtype=np.uint8), "small.png"),
        "truncated": tmp_path / "cut.png",
        "random bytes": tmp_path / "noise.png",
        "text": tmp_path / "notes.txt",
        "32-bit": tmp_path / "float.tiff",
        "missing": tmp_path / "nothing.png",
        "a folder": tmp_path / "folder.png",
    }
    files["truncated"].write_bytes(png[: len(png) // 2])
    files["random bytes"].write_bytes(np.random.default_rng(1).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    files["text"].write_text("this is not an image\n")
    Image.fromarray(np.zeros((S, S), dtype=np.float32)).save(files["32-bit"])
    files["a folder"].mkdir()
    return files


KINDS = ["wrong size", "truncated", "random bytes", "text", "32-bit", "missing", "a folder"]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("loader", [load_image, load_mask])
def test_hostile_files_raise_a_value_error_naming_the_file(tmp_path, kind, loader):
    path = hostile_files(tmp_path)[kind]
    with pytest.raises(ValueError) as info:
        loader(path, S)
    assert str(path) in str(info.value)


def test_wrong_size_message_gives_both_sizes(tmp_path):
    with pytest.raises(ValueError, match="48x32 pixels, expected 64x64"):
        load_image(hostile_files(tmp_path)["wrong size"], S)


@given(st.integers(0, 2**32 - 1))
def test_mask_is_the_luminance_thresholded_at_128(tmp_path_factory, seed):
    grey = np.random.default_rng(seed).integers(0, 256, (S, S), dtype=np.uint8)
    m = load_mask(save(tmp_path_factory.mktemp("mask"), grey), S)
    assert m.shape == (1, 1, S, S) and m.dtype == torch.float32
    assert torch.equal(m[0, 0], torch.from_numpy(grey >= MASK_THRESHOLD).float())


def test_rgb_mask_white_is_repaint_black_is_keep(tmp_path):
    rgb = np.zeros((S, S, 3), dtype=np.uint8)
    rgb[10:20, 5:40] = 255
    m = load_mask(save(tmp_path, rgb), S)
    expected = torch.zeros(1, 1, S, S)
    expected[..., 10:20, 5:40] = 1
    assert torch.equal(m, expected)

"""Tests of the keyed spread-spectrum watermark: the statistic's null distribution, detection, invisibility,
robustness to PNG / noise / JPEG, and input validation."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.benchmarks.watermark_bench import add_noise, jpeg_round_trip, png_round_trip, shapes_image, smooth_image
from minigptimage.vae import psnr
from minigptimage.watermark import (DEFAULT_STRENGTH, DETECTION_THRESHOLD, FALSE_POSITIVE_RATE, binomial_blur,
                                    detect_watermark, embed_watermark, watermark_pattern, watermark_score)

keys = st.one_of(st.binary(min_size=1, max_size=32), st.text(min_size=1, max_size=16))


@st.composite
def images(draw):
    """A realistic test image (3, 64, 64): flat colours + shape + word, or a smooth random field."""
    seed = draw(st.integers(0, 2**31 - 1))
    if draw(st.booleans()):
        return shapes_image(np.random.default_rng(seed))
    return smooth_image(torch.Generator().manual_seed(seed))


def test_threshold_is_the_hoeffding_bound():
    # Hoeffding: P(z ≥ t) ≤ exp(−t²/2) for a ±1-weighted sum, so exp(−t²/2) = α at the threshold.
    assert math.isclose(math.exp(-DETECTION_THRESHOLD**2 / 2), FALSE_POSITIVE_RATE)


@given(keys)
def test_pattern_is_a_deterministic_balanced_sign_pattern(key):
    w = watermark_pattern(key, 64, 64)
    assert w.shape == (64, 64) and set(w.unique().tolist()) <= {-1.0, 1.0}
    assert torch.equal(w, watermark_pattern(key, 64, 64))
    assert abs(w.mean().item()) < 5 / 64  # ±1 fair coins: mean has std 1/64, so 5 std
    if isinstance(key, str):
        assert torch.equal(w, watermark_pattern(key.encode("utf-8"), 64, 64))


def test_different_keys_give_nearly_orthogonal_patterns():
    a, b = watermark_pattern(b"alice", 64, 64), watermark_pattern(b"bob", 64, 64)
    assert abs((a * b).mean().item()) < 5 / 64


def test_binomial_blur_matches_a_naive_loop():
    x = torch.randn(2, 7, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    k = [1, 4, 6, 4, 1]
    padded = np.pad(x.numpy(), ((0, 0), (2, 2), (2, 2)), mode="reflect")
    naive = np.zeros_like(x.numpy())
    for i in range(7):
        for j in range(9):
            for a in range(5):
                for b in range(5):
                    naive[:, i, j] += k[a] * k[b] / 256 * padded[:, i + a, j + b]
    assert np.allclose(binomial_blur(x, 5).numpy(), naive)


def test_score_is_standard_normal_under_the_null():
    # Given the image, z over random keys has mean 0 and variance 1 exactly (see watermark.py).
    image = shapes_image(np.random.default_rng(0))
    z = torch.stack([watermark_score(image, f"null-{i}") for i in range(200)])
    assert abs(z.mean().item()) < 0.3 and abs(z.std().item() - 1) < 0.15  # about 4 and 3 standard errors
    assert (z > DETECTION_THRESHOLD).float().mean().item() <= FALSE_POSITIVE_RATE


@given(images(), keys)
def test_detects_own_mark_and_not_unmarked_or_other_key(image, key):
    marked = embed_watermark(image, key)
    assert detect_watermark(marked, key)[1]
    assert not detect_watermark(image, key)[1]
    other_key = key + ("x" if isinstance(key, str) else b"x")
    assert not detect_watermark(marked, other_key)[1]


@given(st.integers(0, 2**31 - 1), st.sampled_from([(3, 64, 64), (2, 3, 16, 24), (3, 8, 8)]), keys)
def test_psnr_is_at_least_40db_for_any_image(seed, shape, key):
    # Every pixel moves by at most s grey levels, so PSNR ≥ 20·log10(255 / s) = 42.1 dB for s = 2.
    image = torch.rand(shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    marked = embed_watermark(image, key)
    assert marked.shape == image.shape and marked.abs().max() <= 1
    assert psnr(marked, image).min() >= 20 * math.log10(255 / DEFAULT_STRENGTH) - 1e-6 >= 40  # every image


def test_mark_survives_png_noise_and_jpeg90():
    rng, generator = np.random.default_rng(1), torch.Generator().manual_seed(1)
    batch = torch.stack([shapes_image(rng) for _ in range(12)])
    marked = embed_watermark(batch, "robust")
    for attacked in (png_round_trip(marked), add_noise(marked, 2.0, generator), jpeg_round_trip(marked, 90)):
        score, detected = detect_watermark(attacked, "robust")
        assert detected.all(), score


def test_batch_scores_equal_single_scores():
    batch = torch.stack([smooth_image(torch.Generator().manual_seed(i)) for i in range(3)])
    scores, detected = detect_watermark(embed_watermark(batch, b"k"), b"k")
    for i in range(3):
        single = detect_watermark(embed_watermark(batch[i], b"k"), b"k")
        assert math.isclose(single[0], scores[i].item(), rel_tol=1e-5) and single[1] == bool(detected[i])


def test_constant_image_scores_zero_and_saturated_image_keeps_half_the_mark():
    white = torch.ones(3, 64, 64)
    assert watermark_score(white, "k").item() == 0.0
    marked = embed_watermark(white, "k")
    assert ((marked < 1).float().mean() - 0.5).abs() < 0.05  # only the −1 half of the pattern has headroom
    assert detect_watermark(png_round_trip(marked[None])[0], "k")[1]


@pytest.mark.parametrize("bad, name", [
    (torch.zeros(64, 64), "image"), (torch.zeros(4, 64, 64), "image"), (torch.zeros(3, 4, 4), "image"),
    (torch.full((3, 64, 64), float("nan")), "image"), (torch.full((3, 64, 64), 2.0), "image"),
    (np.zeros((3, 64, 64)), "image"),
])
def test_bad_images_raise_value_error_naming_the_argument(bad, name):
    with pytest.raises(ValueError, match=name):
        embed_watermark(bad, "k")
    with pytest.raises(ValueError, match=name):
        detect_watermark(bad, "k")


@pytest.mark.parametrize("kwargs, name", [({"key": b""}, "key"), ({"key": 3}, "key"), ({"key": None}, "key"),
                                          ({"key": "k", "strength": -1.0}, "strength"),
                                          ({"key": "k", "strength": float("nan")}, "strength")])
def test_bad_keys_and_strengths_raise_value_error(kwargs, name):
    with pytest.raises(ValueError, match=name):
        embed_watermark(torch.zeros(3, 16, 16), **kwargs)

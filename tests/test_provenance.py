"""Tests of the provenance manifest: PNG round trip, tamper detection (pixels, fields, key), unsigned and
stripped manifests, atomic writes, and clear errors for bad inputs and broken files."""
import hashlib
import json

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import minigptimage
from minigptimage.benchmarks.watermark_bench import shapes_image, smooth_image
from minigptimage.provenance import (CALLER_FIELDS, PNG_TEXT_KEY, canonical_json, file_sha256,
                                     from_uint8, read_png, save_png_with_provenance, to_uint8, verify_png, write_png)

FIELDS = {"prompt": 'the word "CAT" in red on white', "seed": 7, "sampler": "ddim", "steps": 30,
          "guidance": 3.0, "checkpoint_sha256": hashlib.sha256(b"weights").hexdigest()}
field_values = st.fixed_dictionaries({
    "prompt": st.text(max_size=40), "seed": st.integers(0, 2**63 - 1), "sampler": st.sampled_from(["ddim", "ddpm"]),
    "steps": st.integers(1, 1000), "guidance": st.one_of(st.none(), st.floats(0, 20)),
    "checkpoint_sha256": st.text("0123456789abcdef", min_size=64, max_size=64)})


def image(seed=0):
    """A realistic (3, 64, 64) test image: flat colours + shape + word for even seeds, smooth field for odd."""
    return shapes_image(np.random.default_rng(seed)) if seed % 2 == 0 else smooth_image(torch.Generator().manual_seed(seed))


def rewrite(path, pixels=None, manifest=None, drop_manifest=False):
    """Rewrite a PNG the way an editor would: new pixels and/or an edited manifest chunk (valid CRCs)."""
    old_pixels, old_manifest = read_png(path)
    pixels = old_pixels if pixels is None else pixels
    manifest = old_manifest if manifest is None else manifest
    write_png(pixels, path, None if drop_manifest else {PNG_TEXT_KEY: json.dumps(manifest)})


@given(st.integers(0, 1000), field_values, st.binary(min_size=1, max_size=16))
def test_round_trip_keeps_fields_and_pixels_and_verifies(tmp_path_factory, seed, fields, key):
    path = tmp_path_factory.mktemp("rt") / "out.png"
    written = save_png_with_provenance(image(seed), path, fields, key=key)
    pixels, manifest = read_png(path)
    assert manifest == written and {k: manifest[k] for k in CALLER_FIELDS} == fields
    assert manifest["software_version"] == minigptimage.__version__
    assert manifest["pixel_sha256"] == hashlib.sha256(pixels.tobytes()).hexdigest()
    assert (manifest["height"], manifest["width"]) == pixels.shape[:2] == (64, 64)
    report = verify_png(path, key=key)
    assert report.ok and report.manifest_valid and report.watermark_detected, report.summary()


def test_uint8_conversion_is_exact_on_the_8_bit_grid():
    pixels = np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    assert np.array_equal(to_uint8(from_uint8(pixels)), pixels)


@given(st.integers(0, 63), st.integers(0, 63), st.integers(0, 2), st.integers(1, 255))
def test_changing_one_pixel_breaks_the_pixel_hash(tmp_path_factory, y, x, c, delta):
    path = tmp_path_factory.mktemp("px") / "out.png"
    save_png_with_provenance(image(2), path, FIELDS)
    pixels, _ = read_png(path)
    pixels = pixels.copy()
    pixels[y, x, c] = (int(pixels[y, x, c]) + delta) % 256
    rewrite(path, pixels=pixels)
    report = verify_png(path)
    assert report.manifest_found and report.signature_valid and not report.pixels_match and not report.ok
    assert "pixel" in report.summary()


@pytest.mark.parametrize("name, value", [("prompt", 'the word "DOG" in red on white'), ("seed", 8),
                                         ("guidance", 3.5), ("created_utc", "2000-01-01T00:00:00+00:00")])
def test_changing_one_field_breaks_the_hmac(tmp_path, name, value):
    path = tmp_path / "out.png"
    manifest = save_png_with_provenance(image(0), path, FIELDS)
    rewrite(path, manifest={**manifest, name: value})
    report = verify_png(path)
    assert report.pixels_match and report.signed and not report.signature_valid and not report.ok
    assert "HMAC" in report.summary()


def test_wrong_key_fails_both_seal_and_mark(tmp_path):
    path = tmp_path / "out.png"
    save_png_with_provenance(image(1), path, FIELDS, key="secret")
    assert verify_png(path, key="secret").ok
    report = verify_png(path, key="not the secret")
    assert report.pixels_match and not report.signature_valid and not report.watermark_detected and not report.ok
    assert not verify_png(path).ok  # the default key is not the secret either


def test_unsigned_manifest_is_flagged(tmp_path):
    path = tmp_path / "out.png"
    save_png_with_provenance(image(0), path, FIELDS, sign=False)
    report = verify_png(path)
    assert not report.signed and report.pixels_match and report.watermark_detected and not report.ok
    assert "unsigned" in report.summary()
    assert verify_png(path, key=None).ok  # integrity only: the pixel hash matches


def test_sealed_manifest_without_mark_is_ok_and_says_so(tmp_path):
    path = tmp_path / "out.png"
    save_png_with_provenance(image(0), path, FIELDS, watermark=False)
    report = verify_png(path)
    assert report.ok and not report.watermark_detected and read_png(path)[1]["watermark"] is None


def test_stripped_manifest_fails_but_mark_remains(tmp_path):
    path = tmp_path / "out.png"
    save_png_with_provenance(image(0), path, FIELDS)
    rewrite(path, drop_manifest=True)
    report = verify_png(path)
    assert not report.manifest_found and report.watermark_detected and not report.ok
    assert "missing" in report.summary()


def test_corrupt_manifest_json_is_reported_not_raised(tmp_path):
    path = tmp_path / "out.png"
    save_png_with_provenance(image(0), path, FIELDS)
    write_png(read_png(path)[0], path, {PNG_TEXT_KEY: "{not json"})
    report = verify_png(path)
    assert not report.ok and "not valid JSON" in report.summary()


@given(st.dictionaries(st.text(max_size=5), st.integers(), max_size=6))
def test_canonical_json_ignores_key_order_and_the_hmac(d):
    shuffled = dict(reversed(list(d.items())))
    assert canonical_json(d) == canonical_json({**shuffled, "hmac_sha256": "anything"})


def test_atomic_write_leaves_no_temporary_files_and_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "out.png"
    save_png_with_provenance(image(0), path, FIELDS)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    before = path.read_bytes()
    with pytest.raises(TypeError):  # Pillow cannot write float64 pixels: fails inside the write
        write_png(np.zeros((64, 64, 3)), path)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"] and path.read_bytes() == before


def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "ckpt.pt"
    path.write_bytes(b"x" * 3_000_000)
    assert file_sha256(path) == hashlib.sha256(b"x" * 3_000_000).hexdigest()


@pytest.mark.parametrize("kwargs, name", [
    ({"image": torch.zeros(1, 3, 64, 64)}, "image"), ({"image": torch.zeros(1, 64, 64)}, "image"),
    ({"image": torch.full((3, 64, 64), float("nan"))}, "image"),
    ({"path": "out.jpg"}, "path"), ({"path": "no_such_folder/out.png"}, "path"),
    ({"manifest_fields": ["prompt"]}, "manifest_fields"), ({"manifest_fields": {"seed": float("nan")}}, "manifest_fields"),
    ({"manifest_fields": {"seed": object()}}, "manifest_fields"), ({"manifest_fields": {"pixel_sha256": "0"}}, "manifest_fields"),
    ({"key": None}, "key"), ({"key": ""}, "key"),
])
def test_bad_inputs_raise_value_error_naming_the_argument(tmp_path, monkeypatch, kwargs, name):
    monkeypatch.chdir(tmp_path)
    args = {"image": image(0), "path": tmp_path / "out.png", "manifest_fields": FIELDS, **kwargs}
    with pytest.raises(ValueError, match=name):
        save_png_with_provenance(**args)
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_non_png_truncated_and_missing_files_give_clear_errors(tmp_path):
    good = tmp_path / "good.png"
    save_png_with_provenance(image(0), good, FIELDS)
    text, truncated = tmp_path / "notes.png", tmp_path / "cut.png"
    text.write_text("hello")
    truncated.write_bytes(good.read_bytes()[:300])
    for path, message in [(text, "not a PNG"), (truncated, "truncated or corrupt"), (tmp_path / "nope.png", "no such")]:
        with pytest.raises(ValueError, match=message) as info:
            verify_png(path)
        assert path.name in str(info.value)


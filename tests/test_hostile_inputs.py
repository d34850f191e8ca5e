"""Hostile inputs through the command line, in-process via ``main(argv)``: whatever the user gives, the answer
is exit 0 with the file written, or exit 2 with one line on stderr that names the input, no traceback, and no
output file. Prompts are fuzzed with hypothesis; images, masks, numbers and checkpoints are listed."""
import os
import pickle

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from minigptimage.__main__ import main
from minigptimage.pipeline import FORMAT_VERSION, MiniGPTImage, atomic_save

PROMPT = '"CAT" in red letters on white, in the center'


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_failure(code, err, out_file, named=None):
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1 and "Traceback" not in err
    if named is not None:
        assert named in err, err
    assert not os.path.exists(out_file)


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.text(max_size=60), st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=80),
                 st.sampled_from(["", " ", "\t\n", "x" * 10_000, 'the word "CAT', 'the word ""', '"\x00"',
                                  'the word "ÇA" in red', '"CAT" \u202e in red', '""""'])))
def test_any_prompt_gives_an_image_or_one_clean_line(micro_run, tmp_path_factory, capsys, prompt):
    out = tmp_path_factory.mktemp("p") / "out.png"
    code, _, err = run_cli(["sample", prompt, "--checkpoint", micro_run[1], "--steps", 1, "--out", out], capsys)
    if code == 0:
        assert out.is_file()
    else:
        assert_clean_failure(code, err, out)


@pytest.mark.parametrize("option, value, named", [
    ("--steps", "0", "steps"), ("--steps", "-5", "steps"), ("--steps", str(10**12), "steps"),
    ("--steps", "many", "--steps"), ("--guidance", "nan", "guidance"), ("--guidance", "inf", "guidance"),
    ("--seed", "-1", "seed"), ("--seed", str(2**70), "seed"), ("--eta", "nan", "eta"),
    ("--sampler", "euler", "--sampler"), ("--device", "cuda:7", "--device"), ("--device", "banana", "--device"),
])
def test_bad_numbers_and_options(micro_run, tmp_path, capsys, option, value, named):
    out = tmp_path / "out.png"
    code, _, err = run_cli(["sample", PROMPT, "--checkpoint", micro_run[1], "--out", out, option, value], capsys)
    assert_clean_failure(code, err, out, named)


def write_image(path, kind):
    rgb = np.full((64, 64, 3), 200, np.uint8)
    if kind == "wrong size":
        Image.fromarray(np.zeros((48, 64, 3), np.uint8)).save(path)
    elif kind == "truncated":
        Image.fromarray(rgb).save(path)
        path.write_bytes(path.read_bytes()[:60])
    elif kind == "not an image":
        path.write_text("hello, I am a text file")
    elif kind == "random bytes":
        path.write_bytes(os.urandom(300))
    elif kind == "empty file":
        path.write_bytes(b"")
    elif kind == "grayscale":
        Image.fromarray(rgb[..., 0]).save(path)
    elif kind == "rgba":
        Image.fromarray(np.dstack([rgb, np.full((64, 64), 128, np.uint8)])).save(path)
    elif kind == "16-bit":
        Image.fromarray(np.full((64, 64), 40000, np.uint16)).save(path)
    else:
        Image.fromarray(rgb).save(path)
    return path


@pytest.mark.parametrize("kind", ["wrong size", "truncated", "not an image", "random bytes", "empty file"])
def test_bad_images_are_named(micro_run, tmp_path, capsys, kind):
    image, out = write_image(tmp_path / "in.png", kind), tmp_path / "out.png"
    code, _, err = run_cli(["edit", "--image", image, PROMPT, "--checkpoint", micro_run[1], "--steps", 1,
                            "--out", out], capsys)
    assert_clean_failure(code, err, out, "in.png")


@pytest.mark.parametrize("kind", ["grayscale", "rgba", "16-bit"])
def test_other_pixel_formats_are_converted(micro_run, tmp_path, capsys, kind):
    image, out = write_image(tmp_path / "in.png", kind), tmp_path / "out.png"
    code, _, err = run_cli(["edit", "--image", image, PROMPT, "--checkpoint", micro_run[1], "--steps", 1,
                            "--strength", 0.3, "--out", out], capsys)
    assert code == 0, err
    assert out.is_file()


@pytest.mark.parametrize("mask_kind, ok", [("wrong size", False), ("not an image", False), ("zeros", True),
                                            ("ones", True), ("grey levels", True)])
def test_masks(micro_run, tmp_path, capsys, mask_kind, ok):
    image, out, mask = write_image(tmp_path / "in.png", "rgb"), tmp_path / "out.png", tmp_path / "mask.png"
    if mask_kind in ("wrong size", "not an image"):
        write_image(mask, mask_kind)
    else:
        value = {"zeros": 0, "ones": 255}.get(mask_kind)
        pixels = np.full((64, 64), value, np.uint8) if value is not None else \
            np.tile(np.arange(64, dtype=np.uint8) * 4, (64, 1))
        Image.fromarray(pixels).save(mask)
    code, _, err = run_cli(["edit", "--image", image, "--mask", mask, PROMPT, "--checkpoint", micro_run[1],
                            "--steps", 1, "--out", out, "--no-watermark"], capsys)
    if ok:
        assert code == 0, err
        if mask_kind == "zeros":  # nothing to repaint: the input comes back
            assert (np.asarray(Image.open(out)) == 200).all()
    else:
        assert_clean_failure(code, err, out, "mask.png")


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


@pytest.mark.parametrize("kind, named", [("other config", "do not fit"), ("other format", "format"),
                                         ("random bytes", "corrupt"), ("pickle that runs code", "unsafe"),
                                         ("not a checkpoint", "not a minigptimage checkpoint")])
def test_bad_checkpoints(micro_run, tmp_path, capsys, monkeypatch, kind, named):
    monkeypatch.chdir(tmp_path)
    ckpt, out = tmp_path / "bad.pt", tmp_path / "out.png"
    good = MiniGPTImage.load(micro_run[1]).checkpoint_dict()
    if kind == "other config":
        good["config"]["unet"]["channels"] = [8, 16]
        atomic_save(good, ckpt)
    elif kind == "other format":
        atomic_save(dict(good, format=FORMAT_VERSION + 1), ckpt)
    elif kind == "random bytes":
        ckpt.write_bytes(os.urandom(4096))
    elif kind == "not a checkpoint":
        torch.save({"hello": torch.zeros(2)}, ckpt)
    else:
        ckpt.write_bytes(pickle.dumps({"weights": RunsCode()}))
    code, _, err = run_cli(["sample", PROMPT, "--checkpoint", ckpt, "--out", out], capsys)
    assert_clean_failure(code, err, out, named)
    assert not (tmp_path / "PWNED").exists()

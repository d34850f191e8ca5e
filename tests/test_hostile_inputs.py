"""Hostile inputs through the command line, in-process via ``main(argv)``: whatever the user gives, the answer
is exit 0 with the file written, or exit 2 with one line on stderr that names the input, no traceback, and no
output file. Prompts are fuzzed with hypothesis; images, masks, numbers and checkpoints are listed. ``verify``
answers a forged or malformed manifest with a FAILED report (exit 1) printed safely, never a crash."""
import json
import os
import pickle
import re
import stat
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image, ImageFile, PngImagePlugin

from minigptimage.__main__ import main
from minigptimage.benchmarks.watermark_bench import shapes_image
from minigptimage.pipeline import FORMAT_VERSION, MiniGPTImage, atomic_save
from minigptimage.provenance import PNG_TEXT_KEY, read_png, save_png_with_provenance

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
    ("--sampler", "euler", "sampler: 'euler' does not sample a model trained with objective 'ddpm'"), ("--device", "cuda:7", "--device"), ("--device", "banana", "--device"),
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



# ---------------------------------------------------------------- verify: a forged manifest is FAILED, never a crash
FIELDS = {"prompt": '"CAT"', "seed": 0, "sampler": "ddim", "steps": 2, "guidance": 2.0, "checkpoint_sha256": "0" * 64}


def sealed_png(path, key=None):
    """A marked PNG sealed with ``key`` (None: the public demo key), made without a model."""
    extra = {} if key is None else {"key": key}
    save_png_with_provenance(shapes_image(np.random.default_rng(0)), path, FIELDS, **extra)
    return path


def forged(src, dst, text, compress=False):
    """``src``'s pixels with ``text`` as the manifest chunk."""
    info = PngImagePlugin.PngInfo()
    info.add_itxt(PNG_TEXT_KEY, text, zip=compress)
    with Image.open(src) as im:
        im.save(dst, pnginfo=info)
    return dst


def nested(depth):
    return [nested(depth - 1)] if depth else 0


FORGERIES = {  # name -> the manifest text, from the sealed one
    "non-ASCII hmac": lambda m: json.dumps(dict(m, hmac_sha256="é" * 64)),
    "non-ASCII pixel hash": lambda m: json.dumps(dict(m, pixel_sha256="ü" * 64)),
    "hmac a number": lambda m: json.dumps(dict(m, hmac_sha256=12345)),
    "pixel hash a list": lambda m: json.dumps(dict(m, pixel_sha256=[1, 2])),
    "a nan field": lambda m: json.dumps(dict(m, seed=float("nan"))),
    "a lone surrogate": lambda m: json.dumps(dict(m, prompt="\ud800")),
    "an integer of 5000 digits": lambda m: json.dumps(m)[:-1] + ', "seed": 1' + "0" * 5000 + "}",
    "[ x 50,000 then ] x 50,000": lambda m: "[" * 50_000 + "]" * 50_000,
    "nested 20 deep in a field": lambda m: json.dumps(dict(m, prompt=nested(20))),
    "a list, not an object": lambda m: "[1, 2]",
    "escape codes": lambda m: json.dumps(dict(m, format="\x1b]0;owned\x07", created_utc="\x1b[2J", prompt="\x1b[31m",
                                             software_version="\u202eevil", hmac_sha256="\x9b6n")),
    "a forged 'unreadable' field": lambda m: json.dumps(dict(m, unreadable="\x1b[2J")),
    "a 900 kB field": lambda m: json.dumps(dict(m, prompt="A" * 900_000)),
}


@pytest.mark.parametrize("name", list(FORGERIES) + ["a 2 MB field, over Pillow's text limit"])
def test_verify_fails_a_forged_manifest_safely_and_never_crashes(tmp_path, capsys, name):
    good = sealed_png(tmp_path / "good.png")
    manifest = read_png(good)[1]
    if name in FORGERIES:
        bad = forged(good, tmp_path / "bad.png", FORGERIES[name](manifest))
    else:
        bad = forged(good, tmp_path / "bad.png", json.dumps(dict(manifest, prompt="A" * 2_000_000)), compress=True)
    code, out, err = run_cli(["verify", bad], capsys)
    assert code == 1 and err == "", err
    assert out.startswith(f"{bad}: FAILED\n") and "problem:" in out
    assert all(c.isprintable() for line in out.splitlines() for c in line)  # no escape, bell or CSI reaches the tty
    assert max(len(line) for line in out.splitlines()) < 400  # long fields are cut
    if name == "nested 20 deep in a field":
        assert "nests deeper" in out


def test_verify_ok_says_when_the_key_is_the_public_demo_key(tmp_path, capsys):
    code, out, _ = run_cli(["verify", sealed_png(tmp_path / "demo.png")], capsys)
    assert code == 0 and "public demo key" in out.splitlines()[0] and "not forgery" in out.splitlines()[0]
    code, out, _ = run_cli(["verify", sealed_png(tmp_path / "own.png", key="a secret"), "--key", "a secret"], capsys)
    assert code == 0 and out.splitlines()[0].endswith(": OK")


def test_verify_refuses_a_huge_image_from_its_header_before_decoding(tmp_path, capsys, monkeypatch):
    big = tmp_path / "big.png"
    Image.new("RGB", (2048, 1024)).save(big)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("the pixels were decoded"))
    code, _, err = run_cli(["verify", big], capsys)
    assert code == 2 and "2048x1024" in err and err.count("\n") == 1 and "bug" not in err


def test_edit_refuses_a_huge_image_from_its_header_before_decoding(micro_run, tmp_path, capsys, monkeypatch):
    big, out = tmp_path / "big.png", tmp_path / "out.png"
    Image.new("RGB", (3000, 3000)).save(big)
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: pytest.fail("the pixels were decoded"))
    code, _, err = run_cli(["edit", "--image", big, PROMPT, "--checkpoint", micro_run[1], "--out", out], capsys)
    assert_clean_failure(code, err, out, "3000x3000")


# ---------------------------------------------------------------- every number checked, and bounded by memory
@pytest.fixture
def no_work(monkeypatch):
    """Training, evaluation and sampling fail the test if they start: a refusal must come first."""
    import minigptimage.evaluate as evaluate
    import minigptimage.launch as launch
    for module, name in ((launch, "train_run"), (evaluate, "evaluate")):
        monkeypatch.setattr(module, name, lambda *a, **k: pytest.fail("the work started"))
    for name in ("generate", "edit", "inpaint"):
        monkeypatch.setattr(MiniGPTImage, name, lambda *a, **k: pytest.fail("the work started"))


@pytest.mark.parametrize("argv, named", [
    (["evaluate", "--n", 10**9], "--n"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--batch-size", 10**6], "--batch-size"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--latent-cache", 10**9], "--latent-cache"),
])
def test_flags_that_size_memory_are_bounded_and_say_what_they_would_need(micro_run, tmp_path, capsys, no_work,
                                                                         argv, named):
    argv = [str(a).replace("{tmp}", str(tmp_path)) for a in argv]
    code, _, err = run_cli(argv + (["--checkpoint", micro_run[1]] if argv[0] == "evaluate" else []), capsys)
    assert_clean_failure(code, err, tmp_path / "r", named)
    assert re.search(r"about [\d,]+ [TG]B of memory", err), err


NUMERIC_FLAGS = [("train", flag) for flag in ("--minutes", "--steps", "--save-every", "--keep", "--vae-steps",
                                              "--batch-size", "--lr", "--warmup-steps", "--latent-cache",
                                              "--timestep-shift", "--made-up-words", "--seed")] + \
    [("edit", "--strength"), ("evaluate", "--n"), ("bench", "--repeats")]


@pytest.mark.parametrize("value", ["nan", "1e999", "9" * 5000, "ten"])
@pytest.mark.parametrize("command, flag", NUMERIC_FLAGS)
def test_every_numeric_flag_refuses_what_is_not_a_finite_number(micro_run, tmp_path, capsys, no_work, command, flag,
                                                                 value):
    argv = {"train": ["train", "--preset", "micro", "--out", tmp_path / "r"],
            "edit": ["edit", PROMPT, "--image", tmp_path / "in.png", "--out", tmp_path / "out.png"],
            "evaluate": ["evaluate"], "bench": ["bench"]}[command]
    code, _, err = run_cli(argv + [flag, value], capsys)
    assert_clean_failure(code, err, tmp_path / "r", flag)


def test_an_empty_key_is_refused_before_sampling(micro_run, tmp_path, capsys, no_work):
    out = tmp_path / "out.png"
    code, _, err = run_cli(["sample", PROMPT, "--checkpoint", micro_run[1], "--out", out, "--key", ""], capsys)
    assert_clean_failure(code, err, out, "--key")


@pytest.mark.parametrize("command", ["train", "demo"])
def test_an_out_folder_that_is_a_file_is_refused_before_any_work(tmp_path, capsys, monkeypatch, no_work, command):
    import minigptimage.demo as demo
    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: pytest.fail("the work started"))
    (tmp_path / "F").write_text("a file")
    code, _, err = run_cli([command, "--out", tmp_path / "F"] + (["--preset", "micro"] if command == "train" else []),
                           capsys)
    assert code == 2 and "--out" in err and "is a file" in err and err.count("\n") == 1
    assert (tmp_path / "F").read_text() == "a file"


# ---------------------------------------------------------------- files written whole, with normal permissions
def test_figures_are_written_atomically(tmp_path, monkeypatch):
    import matplotlib.figure
    from minigptimage import plots
    path = tmp_path / "loss.png"
    plots.loss_curve([1.0, 0.5], path)
    before = path.read_bytes()

    def half_then_fail(self, f, **kwargs):
        f.write(b"half a figure")
        raise OSError("disk full")

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", half_then_fail)
    with pytest.raises(OSError, match="disk full"):
        plots.loss_curve([1.0, 0.2], path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["loss.png"]


@pytest.mark.parametrize("umask", [0o022, 0o027])
def test_outputs_get_the_mode_open_would_give_not_0600(tmp_path, umask):
    from minigptimage import plots
    old = os.umask(umask)
    try:
        sealed_png(tmp_path / "a.png")
        plots.loss_curve([1.0, 0.5], tmp_path / "loss.png")
    finally:
        os.umask(old)
    for name in ("a.png", "loss.png"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask, name


def test_requirements_ask_for_a_torch_whose_weights_only_load_holds():
    """Below 2.6, torch.load(weights_only=True) can be made to run code (CVE-2025-32434)."""
    requirements = (Path(__file__).resolve().parent.parent / "requirements.txt").read_text()
    floor = re.search(r"^torch>=([\d.]+)", requirements, re.M).group(1)
    assert tuple(int(v) for v in floor.split(".")) >= (2, 6)

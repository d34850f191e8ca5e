"""The command line, in-process through ``main(argv)`` (plus a few real subprocess runs): every command exits
0 and writes its files; anything wrong in what the user gave is one line on stderr, exit code 2, no output."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from minigptimage.__main__ import main

PROMPT = 'the word "CAT" in red on white, in the center'
ROOT = Path(__file__).resolve().parent.parent


def run(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_writes_a_verified_png_and_a_trajectory(micro_run, tmp_path, capsys):
    png, traj = tmp_path / "cat.png", tmp_path / "traj.png"
    code, out, err = run(["sample", PROMPT, "--checkpoint", micro_run[1], "--steps", 3, "--out", png,
                          "--trajectory", traj], capsys)
    assert code == 0, err
    assert png.is_file() and traj.is_file()
    assert run(["verify", png], capsys)[0] == 0
    assert run(["verify", png, "--key", "another key"], capsys)[0] == 1


def test_a_tampered_image_fails_verify(micro_run, tmp_path, capsys):
    from PIL import Image
    png = tmp_path / "cat.png"
    assert run(["sample", PROMPT, "--checkpoint", micro_run[1], "--steps", 2, "--out", png], capsys)[0] == 0
    with Image.open(png) as im:
        info, pixels = im.info, im.copy()
    pixels.putpixel((3, 3), (0, 255, 0))
    from PIL.PngImagePlugin import PngInfo
    meta = PngInfo()
    for k, v in info.items():
        if isinstance(v, str):
            meta.add_itxt(k, v)
    pixels.save(png, pnginfo=meta)
    code, out, _ = run(["verify", png], capsys)
    assert code == 1 and "FAILED" in out


def test_sample_with_a_box_and_a_reference_image(micro_run, tmp_path, capsys):
    from PIL import Image
    from minigptimage.glyphs import render_word
    ref = tmp_path / "ref.png"
    image, _ = render_word("SUN", "yellow", "blue", position="top")
    Image.fromarray(image.permute(1, 2, 0).numpy()).save(ref)
    for extra in (["--box", "4,40,60,56"], ["--reference", ref]):
        png = tmp_path / "styled.png"
        code, _, err = run(["sample", 'the word "MOON" in the style of the image', "--checkpoint", micro_run[1],
                            "--steps", 2, "--out", png] + extra, capsys)
        assert code == 0, err
        assert png.is_file()
        png.unlink()


def test_sample_from_a_training_folder(micro_run, tmp_path, capsys):
    png = tmp_path / "x.png"
    code, _, err = run(["sample", PROMPT, "--checkpoint", micro_run[1].parent, "--steps", 2, "--out", png,
                        "--no-watermark"], capsys)
    assert code == 0, err
    assert png.is_file()


def test_train_then_resume_to_the_same_total(tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "--preset", "micro", "--out", out, "--steps", 2, "--batch-size", 2, "--vae-steps", 1]
    code, stdout, err = run(args + ["--resume"], capsys)
    assert code == 0, err
    assert "starting fresh" in stdout and (out / "ckpt_0000002.pt").is_file() and (out / "loss.png").is_file()
    first = torch.load(out / "ckpt_0000002.pt", weights_only=True)["train_state"]
    code, stdout, err = run(args[:6] + [3] + args[7:] + ["--resume"], capsys)
    assert code == 0, err
    assert f"resuming from {out / 'ckpt_0000002.pt'} at step 2" in stdout and "starting fresh" not in stdout
    resumed = torch.load(out / "ckpt_0000003.pt", weights_only=True)["train_state"]
    assert resumed["step"] == 3 and resumed["losses"][:2] == first["losses"]  # the same run, one step on
    assert "training the VAE" not in stdout  # the VAE phase was not redone


@pytest.mark.parametrize("argv, named", [
    (["sample", "", "--out", "{tmp}/a.png"], "empty"),
    (["sample", 'the word "ÉTÉ"', "--out", "{tmp}/a.png"], "prompt"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--steps", "0"], "steps"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--guidance", "nan"], "guidance"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--seed", "-3"], "seed"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--box", "1,2,3"], "--box"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--box", "0,0,90,10"], "box"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--box", "10,10,10,20"], "box"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--reference", "{tmp}/noise.pt"], "noise.pt"),
    (["sample", PROMPT, "--out", "{tmp}/a.jpg"], "--out"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--checkpoint", "{tmp}/missing.pt"], "no such file"),
    (["sample", PROMPT, "--out", "{tmp}/a.png", "--checkpoint", "{tmp}/noise.pt"], "corrupt"),
    (["train", "--preset", "enormous", "--out", "{tmp}/r", "--steps", "1"], "preset"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--steps", "-4"], "--steps"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--steps", "1", "--lr", "nan"], "--lr"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--steps", "1", "--warmup-steps", "-1"], "--warmup-steps"),
    (["verify", "{tmp}/noise.pt"], "not a PNG"),
    (["fly"], "invalid choice"),
])
def test_bad_input_is_one_line_and_exit_code_2(micro_run, tmp_path, capsys, argv, named):
    (tmp_path / "noise.pt").write_bytes(os.urandom(500))
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    if argv[0] == "sample" and "--checkpoint" not in argv:
        argv += ["--checkpoint", str(micro_run[1])]
    code, out, err = run(argv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and named in err and "Traceback" not in err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "r").exists()


def test_real_subprocess_help_and_a_bad_prompt(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    helped = subprocess.run([sys.executable, "-m", "minigptimage", "--help"], capture_output=True, text=True,
                            env=env, cwd=tmp_path)
    assert helped.returncode == 0
    for command in ("demo", "train", "sample", "edit", "evaluate", "verify", "bench"):
        assert command in helped.stdout
    bad = subprocess.run([sys.executable, "-m", "minigptimage", "sample", "   ", "--out", "x.png"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "empty" in bad.stderr
    assert not (tmp_path / "x.png").exists()


def test_edit_inpaints_with_a_mask_and_sdedits_without(micro_run, tmp_path, capsys):
    from PIL import Image
    import numpy as np
    src, mask, out = tmp_path / "in.png", tmp_path / "mask.png", tmp_path / "out.png"
    Image.fromarray(np.full((64, 64, 3), 255, np.uint8)).save(src)
    m = np.zeros((64, 64), np.uint8)
    m[20:40, 10:54] = 255
    Image.fromarray(m).save(mask)
    common = ["--checkpoint", micro_run[1], "--steps", 2, "--out", out, "--no-watermark"]
    code, _, err = run(["edit", "--image", src, "--mask", mask, '"DOG" in black on white', *common], capsys)
    assert code == 0, err
    kept = np.asarray(Image.open(out))[~(m > 0)]
    assert (kept == 255).all()  # outside the mask the input comes back exactly
    code, _, err = run(["edit", "--image", src, "--strength", 0.5, '"DOG" in black on white', *common], capsys)
    assert code == 0, err
    out.unlink()
    for bad, named in ((["--strength", "1.5"], "--strength"), (["--image", tmp_path / "none.png"], "none.png")):
        argv = ["edit", "--image", src, '"DOG" in black on white', *common, *bad]
        code, _, err = run(argv, capsys)
        assert code == 2 and named in err and not out.exists()

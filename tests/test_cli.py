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
    png, traj = tmp_path / "cat.png", tmp_path / "traj.svg"
    code, out, err = run(["sample", PROMPT, "--checkpoint", micro_run[1], "--steps", 3, "--out", png,
                          "--trajectory", traj], capsys)
    assert code == 0, err
    assert png.is_file() and traj.read_text().lstrip().startswith("<?xml")  # the figure in the format asked
    assert f"wrote {png}" in out and f"wrote {traj}" in out and "None" not in out
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
    assert first["train_config"]["timestep_shift"] == 1.0  # the preset's: t uniform


def test_train_timestep_shift_and_made_up_words_reach_the_config(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(["train", "--preset", "micro", "--out", out, "--steps", 1, "--batch-size", 2,
                        "--vae-steps", 1, "--timestep-shift", 3, "--made-up-words", 0.5],
                       capsys)
    assert code == 0, err
    saved = torch.load(out / "ckpt_0000001.pt", weights_only=True)["train_state"]["train_config"]
    assert saved["timestep_shift"] == 3.0 and "timestep_shift_anneal" not in saved  # a knob that lost: deleted
    assert saved["made_up_words"] == 0.5


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
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--steps", "1", "--timestep-shift", "0"], "--timestep-shift"),
    (["train", "--preset", "micro", "--out", "{tmp}/r", "--steps", "1", "--made-up-words", "2"], "--made-up-words"),
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


# ---------------------------------------------------------------- every flag does what it says, or is refused
@pytest.fixture(scope="module")
def t10_checkpoint(tmp_path_factory):
    """An untrained micro model with a T = 10 schedule, saved: DDPM (all T steps) stays cheap."""
    from fixtures_model import untrained_micro
    return untrained_micro(num_steps=10).save(tmp_path_factory.mktemp("t10") / "t10.pt")


def manifest(png):
    from minigptimage.provenance import read_png
    return read_png(png)[1]


def pixels(png):
    from PIL import Image
    import numpy as np
    return np.asarray(Image.open(png))


def test_ddpm_walks_all_T_steps_and_says_so_and_refuses_other_steps_or_an_eta(t10_checkpoint, tmp_path, capsys):
    png = tmp_path / "ddpm.png"
    common = ["sample", PROMPT, "--checkpoint", t10_checkpoint, "--sampler", "ddpm", "--out", png]
    code, _, err = run(common, capsys)
    assert code == 0, err
    assert {k: manifest(png)[k] for k in ("sampler", "steps", "eta")} == {"sampler": "ddpm", "steps": 10, "eta": 0}
    png.unlink()
    for extra, named in ((["--steps", 30], "steps"), (["--eta", 0.5], "eta")):
        code, _, err = run(common + extra, capsys)
        assert code == 2 and named in err and err.count("\n") == 1 and not png.exists()
    code, _, err = run(common + ["--steps", 10], capsys)  # T itself is what it walks anyway
    assert code == 0, err


def test_edit_honours_sampler_and_eta_and_records_them(t10_checkpoint, tmp_path, capsys):
    from PIL import Image
    import numpy as np
    src = tmp_path / "in.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(src)
    base = ["edit", "--image", src, '"DOG" in black on white', "--checkpoint", t10_checkpoint, "--strength", 1.0,
            "--no-watermark"]
    runs = {"ddim": ["--steps", 4], "ddim eta": ["--steps", 4, "--eta", 0.8], "ddpm": ["--sampler", "ddpm"]}
    for name, extra in runs.items():
        code, _, err = run(base + extra + ["--out", tmp_path / f"{name}.png"], capsys)
        assert code == 0, err
    fields = {name: manifest(tmp_path / f"{name}.png") for name in runs}
    assert [(f["sampler"], f["steps"], f["eta"]) for f in fields.values()] == [("ddim", 4, 0), ("ddim", 4, 0.8),
                                                                               ("ddpm", 10, 0)]
    assert fields["ddim"]["edit"] == "sdedit" and fields["ddim"]["strength"] == 1.0
    images = {name: pixels(tmp_path / f"{name}.png") for name in runs}
    assert not (images["ddim"] == images["ddim eta"]).all() and not (images["ddim"] == images["ddpm"]).all()
    # strength 1 is generate: the same image as sample with the same sampler, eta and seed
    code, _, err = run(["sample", '"DOG" in black on white', "--checkpoint", t10_checkpoint, "--steps", 4,
                        "--eta", 0.8, "--no-watermark", "--out", tmp_path / "sampled.png"], capsys)
    assert code == 0, err
    assert (pixels(tmp_path / "sampled.png") == images["ddim eta"]).all()


def test_flags_that_would_be_ignored_are_refused(t10_checkpoint, tmp_path, capsys):
    from PIL import Image
    import numpy as np
    src, mask, out = tmp_path / "in.png", tmp_path / "mask.png", tmp_path / "out.png"
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(src)
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(mask)
    edit = ["edit", "--image", src, '"DOG"', "--checkpoint", t10_checkpoint, "--steps", 2, "--out", out]
    for argv, named in ((edit + ["--mask", mask, "--strength", 0.5], "--strength"),
                        (edit + ["--key", "k", "--no-watermark", "--no-manifest"], "--key"),
                        (["train", "--preset", "micro", "--out", tmp_path / "r", "--vae-steps", 0], "--vae-steps"),
                        (["train", "--preset", "micro", "--out", tmp_path / "r", "--latent-cache", -1], "--latent-cache"),
                        (["evaluate", "--checkpoint", t10_checkpoint, "--n", 0], "--n")):
        code, _, err = run(argv, capsys)
        assert code == 2 and named in err and err.count("\n") == 1, (argv, err)
        assert not out.exists() and not (tmp_path / "r").exists()
    code, _, err = run(edit + ["--mask", mask, "--no-watermark"], capsys)  # --mask without --strength: inpaint
    assert code == 0, err
    assert manifest(out)["edit"] == "inpaint" and "strength" not in manifest(out)


def test_evaluate_honours_eta_and_prints_the_steps_it_ran(t10_checkpoint, capsys, monkeypatch):
    import minigptimage.evaluate as evaluate_module
    seen = []
    real = evaluate_module.evaluate

    def recorded(model, **options):
        seen.append(options)
        return real(model, **options)

    monkeypatch.setattr(evaluate_module, "evaluate", recorded)
    code, out, err = run(["evaluate", "--checkpoint", t10_checkpoint, "--n", 1, "--steps", 2, "--eta", 0.5], capsys)
    assert code == 0, err
    assert seen[-1]["eta"] == 0.5 and seen[-1]["steps"] == 2 and "sampler ddim (η 0.5), 2 steps" in out
    code, out, err = run(["evaluate", "--checkpoint", t10_checkpoint, "--n", 1, "--sampler", "ddpm"], capsys)
    assert code == 0, err
    assert seen[-1]["steps"] == 10 and "sampler ddpm, 10 steps" in out


@pytest.mark.parametrize("error", [ValueError("a check the library got wrong"), TypeError("a wrong call"),
                                   IndexError("list index out of range")])
def test_a_bug_is_one_line_saying_so_and_exit_code_1(t10_checkpoint, tmp_path, capsys, monkeypatch, error):
    """Only the user's input exits 2; an exception once it is checked is a bug of minigptimage (exit 1), and the
    line says how to report it."""
    from minigptimage.pipeline import MiniGPTImage

    def broken(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(MiniGPTImage, "generate", broken)
    png = tmp_path / "a.png"
    code, _, err = run(["sample", PROMPT, "--checkpoint", t10_checkpoint, "--steps", 2, "--out", png], capsys)
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "bug" in err and "report it with the command you ran" in err and str(error) in err
    assert not png.exists()
    code, _, err = run(["sample", "", "--checkpoint", t10_checkpoint, "--out", png], capsys)
    assert code == 2 and "bug" not in err  # the user's mistake is still the user's


def test_a_training_that_cannot_go_on_is_an_error_not_a_bug(tmp_path, capsys, monkeypatch):
    import minigptimage.launch as launch
    import minigptimage.train as train

    def diverged(*args, **kwargs):
        raise train.TrainingError("loss became nan at step 3")

    monkeypatch.setattr(launch, "train_run", diverged)
    code, _, err = run(["train", "--preset", "micro", "--out", tmp_path / "r", "--steps", 3], capsys)
    assert code == 1 and "loss became nan" in err and "bug" not in err and err.count("\n") == 1


# ---------------------------------------------------------------- outputs checked before any work
@pytest.mark.parametrize("command, extra, named", [
    ("sample", ["--out", "{tmp}/F/x.png"], "--out"),  # F is a file
    ("sample", ["--out", "{tmp}/D.png"], "--out: '{tmp}/D.png' is a folder"),
    ("sample", ["--out", "{tmp}/missing/x.png"], "--out"),
    ("sample", ["--out", "{tmp}/s.png", "--trajectory", "{tmp}/s.png"], "--trajectory"),
    ("sample", ["--out", "{tmp}/s.png", "--trajectory", "{tmp}/./s.png"], "--trajectory"),
    ("sample", ["--out", "{tmp}/s.png", "--trajectory", "{tmp}/t.xyz"], "--trajectory"),
    ("sample", ["--out", "{tmp}/s.png", "--trajectory", "{tmp}/D.png"], "--trajectory: '{tmp}/D.png' is a folder"),
    ("edit", ["--out", "{tmp}/D.png"], "--out: '{tmp}/D.png' is a folder"),
    ("edit", ["--out", "{tmp}/F/x.png"], "--out"),
])
def test_outputs_are_checked_before_any_work(t10_checkpoint, tmp_path, capsys, monkeypatch, command, extra, named):
    from PIL import Image
    import numpy as np
    from minigptimage.pipeline import MiniGPTImage
    for name in ("generate", "edit", "inpaint"):
        monkeypatch.setattr(MiniGPTImage, name, lambda *a, **k: pytest.fail("sampled before checking the outputs"))
    (tmp_path / "F").write_text("a file")
    (tmp_path / "D.png").mkdir()
    Image.fromarray(np.full((64, 64, 3), 200, np.uint8)).save(tmp_path / "in.png")
    image = ["--image", tmp_path / "in.png"] if command == "edit" else []
    extra = [a.replace("{tmp}", str(tmp_path)) for a in extra]
    code, out, err = run([command, PROMPT, "--checkpoint", t10_checkpoint, "--steps", 2, *image, *extra], capsys)
    assert code == 2 and err.count("\n") == 1 and "bug" not in err, err
    assert named.replace("{tmp}", str(tmp_path)) in err, err
    assert "wrote" not in out and not any((tmp_path / "D.png").iterdir())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["D.png", "F", "in.png"]


# ---------------------------------------------------------------- a run is never lost
def test_train_refuses_a_folder_with_checkpoints_unless_resume_or_overwrite(tmp_path, capsys, monkeypatch):
    import minigptimage.launch as launch
    import minigptimage.train as train
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "ckpt_0000003.pt").write_bytes(b"an earlier run")
    base = ["train", "--preset", "micro", "--out", folder, "--steps", 2]
    code, _, err = run(base, capsys)
    assert code == 2 and "--resume" in err and "--overwrite" in err and err.count("\n") == 1, err
    code, _, err = run(base + ["--resume", "--overwrite"], capsys)
    assert code == 2 and "--overwrite" in err and err.count("\n") == 1, err
    assert [p.name for p in folder.iterdir()] == ["ckpt_0000003.pt"]
    assert (folder / "ckpt_0000003.pt").read_bytes() == b"an earlier run"
    seen = {}

    def setup_only(preset, out_dir, **setup):
        seen.update(setup)
        raise train.TrainingError("stopped before training")

    monkeypatch.setattr(launch, "make_trainer", setup_only)
    assert run(base + ["--overwrite"], capsys)[0] == 1 and seen["overwrite"] is True and seen["resume"] is False


def test_resume_with_other_settings_is_refused_naming_each(micro_run, tmp_path, capsys):
    import shutil
    folder = tmp_path / "r"
    folder.mkdir()
    shutil.copy(micro_run[1], folder / micro_run[1].name)
    code, _, err = run(["train", "--preset", "micro", "--out", folder, "--steps", 5, "--resume", "--seed", 5,
                        "--batch-size", 2], capsys)
    assert code == 2 and err.count("\n") == 1 and "seed" in err and "batch" in err, err
    assert [p.name for p in folder.iterdir()] == [micro_run[1].name]

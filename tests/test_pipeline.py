"""MiniGPTImage: determinism, save/load, guidance, checkpoint safety and clear errors."""
import os
import pickle
import subprocess
import sys

import pytest
import torch

from fixtures_model import untrained_micro
from minigptimage.pipeline import CheckpointError, MiniGPTImage, PipelineConfig, PRESETS, atomic_save

PROMPTS = ['the word "CAT" in red on white, in the center', '"DOG" in blue letters on yellow, at the top']


@pytest.fixture(scope="module")
def model(micro_run):
    return MiniGPTImage.load(micro_run[1])


def test_generate_shape_range_and_determinism(model):
    a = model.generate(PROMPTS, steps=4, seed=3)
    b = model.generate(PROMPTS, steps=4, seed=3)
    c = model.generate(PROMPTS, steps=4, seed=4)
    assert a.shape == (2, 3, 64, 64) and a.min() >= -1 and a.max() <= 1
    assert torch.equal(a, b)
    assert not torch.equal(a, c)


def test_typed_dashes_and_quotes_draw_what_their_ascii_forms_draw(model):
    typed = model.generate(['render \u201cOPEN\u201d \u2014 red on\u00a0white'], steps=3, seed=0)
    assert torch.equal(typed, model.generate(['render "OPEN" - red on white'], steps=3, seed=0))


def test_save_load_round_trip_gives_identical_images(model, tmp_path):
    path = model.save(tmp_path / "m.pt")
    again = MiniGPTImage.load(path)
    assert torch.equal(model.generate(PROMPTS[:1], steps=3, seed=1), again.generate(PROMPTS[:1], steps=3, seed=1))


def test_ddpm_walks_all_T_steps_and_refuses_fewer():
    """DDPM walks every step of the model's schedule: T = 10 here (the same network as T = 1000: 20 U-Net calls
    instead of 2,000), so ``steps`` must be T, and η (DDIM's) must be 0."""
    model = untrained_micro(num_steps=10)
    images, traj = model.generate(PROMPTS[:1], steps=10, sampler="ddpm", seed=0, return_trajectory=True)
    assert images.shape == (1, 3, 64, 64) and torch.isfinite(images).all()
    assert traj["timesteps"].tolist() == list(range(9, -1, -1)) and traj["x0_pred"].shape[0] == 10
    assert not torch.equal(images, model.generate(PROMPTS[:1], steps=10, sampler="ddpm", seed=1))  # it draws noise
    with pytest.raises(ValueError, match="^steps: DDPM walks all 10 steps"):
        model.generate(PROMPTS[:1], steps=5, sampler="ddpm")
    with pytest.raises(ValueError, match="^eta: DDPM has no η"):
        model.generate(PROMPTS[:1], steps=10, sampler="ddpm", eta=0.5)


def test_guidance_one_is_the_conditional_model(model, monkeypatch):
    reference = model.generate(PROMPTS[:1], steps=3, guidance=1.0, seed=2)
    garbage = lambda b: {"context": torch.full((b, 3, model.config.encoder.dim), 9.0),  # noqa: E731
                         "context_mask": torch.ones(b, 3, dtype=torch.bool)}
    monkeypatch.setattr(model, "null_condition", garbage)
    assert torch.equal(model.generate(PROMPTS[:1], steps=3, guidance=1.0, seed=2), reference)
    assert not torch.equal(model.generate(PROMPTS[:1], steps=3, guidance=3.0, seed=2), reference)


def test_checkpoint_loads_with_bare_torch_load_in_a_clean_process(micro_run):
    code = ("import sys, torch; c = torch.load(sys.argv[1], weights_only=True); "
            "assert 'minigptimage' not in sys.modules; print(c['format'], sorted(c['weights']))")
    run = subprocess.run([sys.executable, "-c", code, str(micro_run[1])], capture_output=True, text=True,
                         cwd="/", env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert run.returncode == 0, run.stderr
    assert "['encoder', 'unet', 'vae']" in run.stdout


@pytest.mark.parametrize("name", PRESETS)
def test_every_preset_builds_with_matching_channels(name):
    cfg = PipelineConfig.preset(name)
    assert cfg.unet.in_channels == cfg.vae.latent_channels and cfg.unet.context_dim == cfg.encoder.dim
    assert cfg.unet.glyph == cfg.glyph == (not name.endswith(("-noglyph", "-word")))
    assert PipelineConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("latent", ["tiny", "tiny-12ch", "tiny-32px"])
def test_on_another_latent_the_u_net_keeps_its_levels_where_they_were_and_predicts_the_latents_shape(latent):
    from minigptimage.unet import UNet
    from minigptimage.vae import VAEConfig
    micro, vae = PipelineConfig.preset("micro"), VAEConfig.preset(latent)
    unet_cfg = micro.with_vae(vae).unet
    extra = len(unet_cfg.channels) - len(micro.unet.channels)  # one narrow level per factor 2 of a finer grid
    assert 2 ** extra == micro.vae.downsample // vae.downsample
    assert unet_cfg.channels[extra:] == micro.unet.channels and max(unet_cfg.channels[:extra], default=0) < 16
    assert unet_cfg.attention_levels == tuple(i + extra for i in micro.unet.attention_levels)
    side = 64 // vae.downsample
    x = torch.randn(2, vae.latent_channels, side, side)
    context, mask = torch.randn(2, 5, micro.encoder.dim), torch.ones(2, 5, dtype=torch.bool)
    out = UNet(unet_cfg)(x, torch.tensor([0, 999]), context, mask, torch.zeros(2, 1, 64, 64))
    assert out.shape == x.shape


def test_a_latent_that_is_not_the_presets_grid_refined_by_two_is_refused():
    from minigptimage.vae import VAEConfig
    with pytest.raises(ValueError, match="vae: a latent grid of image/3"):
        PipelineConfig.preset("micro").with_vae(VAEConfig(latent_channels=4, patch=3, channels=(16,)))


def test_unknown_preset_is_named():
    with pytest.raises(ValueError, match="preset"):
        PipelineConfig.preset("huge")


@pytest.mark.parametrize("prompt, message", [("", "empty"), ("   ", "empty"), ('the word "CAFÉ"', "prompt"),
                                              ("x" * 500, "prompt")])
def test_bad_prompts_get_clear_errors(model, prompt, message):
    with pytest.raises(ValueError, match=message):
        model.generate([prompt], steps=2)


@pytest.mark.parametrize("kwargs, name", [({"steps": 0}, "steps"), ({"steps": 10**6}, "steps"),
                                          ({"guidance": float("nan")}, "guidance"), ({"seed": -1}, "seed"),
                                          ({"sampler": "euler"}, "sampler")])
def test_bad_numbers_get_clear_errors(model, kwargs, name):
    with pytest.raises(ValueError, match=name):
        model.generate(PROMPTS[:1], **{"steps": 2, **kwargs})


def test_checkpoint_errors_are_named(model, tmp_path):
    good = model.checkpoint_dict()
    other_format = dict(good, format=99)
    atomic_save(other_format, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="format 99"):
        MiniGPTImage.load(tmp_path / "v99.pt")
    other_config = dict(good, config=PipelineConfig.preset("tiny").to_dict())
    atomic_save(other_config, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="do not fit"):
        MiniGPTImage.load(tmp_path / "other.pt")
    (tmp_path / "noise.pt").write_bytes(os.urandom(1000))
    with pytest.raises(CheckpointError, match="corrupt"):
        MiniGPTImage.load(tmp_path / "noise.pt")
    with pytest.raises(CheckpointError, match="no such file"):
        MiniGPTImage.load(tmp_path / "missing.pt")
    raw = (tmp_path / "v99.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        MiniGPTImage.load(tmp_path / "cut.pt")


def test_a_format_1_checkpoint_loads_with_the_values_it_was_trained_with(model, tmp_path):
    """Format 1 lacked the objective and, in its older files, later fields: the upgrade step fills them with
    the defaults that those files were trained with, and the images are the same."""
    old = model.checkpoint_dict()
    old["format"] = 1
    del old["config"]["objective"], old["config"]["encoder"]["quote_id"], old["config"]["vae"]["logvar_clamp"]
    default = PipelineConfig()
    assert (model.config.encoder.quote_id, model.config.vae.logvar_clamp) == (default.encoder.quote_id,
                                                                             default.vae.logvar_clamp)
    atomic_save(old, tmp_path / "v1.pt")
    loaded = MiniGPTImage.load(tmp_path / "v1.pt")
    assert loaded.config == model.config and loaded.config.objective == "ddpm"
    assert torch.equal(loaded.generate(PROMPTS[:1], steps=2, seed=0), model.generate(PROMPTS[:1], steps=2, seed=0))


@pytest.mark.parametrize("where", ["unet", "encoder", "vae", None])
def test_an_unknown_or_missing_config_field_is_refused_by_name(model, tmp_path, where):
    ckpt = model.checkpoint_dict()
    (ckpt["config"][where] if where else ckpt["config"])["zz"] = 1
    atomic_save(ckpt, tmp_path / "zz.pt")
    name = f"config.{where}" if where else "config"
    with pytest.raises(CheckpointError, match=f"{name}: unknown field zz"):
        MiniGPTImage.load(tmp_path / "zz.pt")
    ckpt = model.checkpoint_dict()
    del ckpt["config"]["guidance"]
    atomic_save(ckpt, tmp_path / "missing.pt")
    with pytest.raises(CheckpointError, match="config: missing field guidance"):
        MiniGPTImage.load(tmp_path / "missing.pt")


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_a_malicious_pickle_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.pt", "wb") as f:
        pickle.dump({"format": 1, "payload": RunsCode()}, f)
    with pytest.raises(CheckpointError, match="unsafe"):
        MiniGPTImage.load("evil.pt")
    assert not os.path.exists("PWNED_BY_PICKLE")


@pytest.mark.parametrize("reference, message", [
    (torch.zeros(1, 3, 32, 32), "reference"), (torch.zeros(1, 1, 64, 64), "reference"),
    (torch.full((1, 3, 64, 64), 2.0), r"\[-1, 1\]"), ("image.png", "reference")])
def test_bad_reference_images_are_named(model, reference, message):
    with pytest.raises(ValueError, match=message):
        model.generate(PROMPTS[:1], steps=2, reference=reference)


@pytest.mark.parametrize("boxes", [[(0, 0, 80, 10)], [(10, 10, 10, 20)], [(5, 5, 4, 9)], [(1, 2, 3)],
                                   [(0, 0, 10, 10), (0, 0, 10, 10)]])
def test_bad_boxes_are_named(model, boxes):
    with pytest.raises(ValueError, match="box"):
        model.generate(PROMPTS[:1], steps=2, boxes=boxes)


def test_the_box_and_the_reference_reach_the_encoder_and_the_canvas(model):
    from minigptimage.glyphs import GlyphDataset
    from minigptimage.scoring import glyph_box
    target, ref = GlyphDataset("heldout", length=3, seed=5, pairs=True)[0]
    prompt = f'the word "{target.text}" in the style of the image'
    plain = model.condition([prompt])
    with_box = model.condition([prompt], boxes=[(4, 40, 60, 56)])
    with_ref = model.condition([prompt], reference=ref.image[None])
    assert with_ref["context"].shape[1] == plain["context"].shape[1] + 64  # 8×8 image patch tokens
    assert not torch.allclose(with_box["context"], plain["context"])  # the box token differs
    canvas_box = tuple(v.item() for v in torch.nonzero(with_box["glyph"][0, 0]).aminmax(dim=0)[0].flip(0))
    assert canvas_box == (4, 40)  # ink starts at the asked box's corner (x0, y0)
    rx0, ry0, rx1, ry1 = glyph_box(ref.image)  # without a box, the word goes where the reference's ink is
    ink = torch.nonzero(with_ref["glyph"][0, 0])
    assert ink[:, 0].min() >= ry0 and ink[:, 0].max() < ry1 and ink[:, 1].min() >= rx0 and ink[:, 1].max() < rx1


@pytest.fixture(scope="module")
def untrained():
    return untrained_micro()


def test_generate_is_the_documented_loop(untrained):
    """generate = x_T from the seed's generator, DDIM with "trailing" spacing (T = 1000, n = 4: 999, 749, 499,
    249), the model's own prediction type and recommended guidance, then the VAE decoder, clamped."""
    from minigptimage.samplers import DDIMSampler, sample_loop
    model = untrained
    images, traj = model.generate(PROMPTS, steps=4, seed=5, return_trajectory=True)
    assert model.config.num_steps == 1000 and traj["timesteps"].tolist() == [999, 749, 499, 249]
    g = torch.Generator().manual_seed(5)
    x_T = torch.randn(model.latent_shape(2), generator=g)
    sampler = DDIMSampler(model.schedule, 4, eta=0.0, spacing="trailing", prediction=model.config.prediction)
    with torch.no_grad():
        z0 = sample_loop(model.denoise, sampler, x_T, cond=model.condition(PROMPTS), uncond=model.null_condition(2),
                         guidance=model.config.guidance, generator=g)
        expected = model.vae.decode_latents(z0).clamp(-1, 1)
    torch.testing.assert_close(images, expected, rtol=0, atol=1e-6)
    made = model.make_sampler("ddim", 7, eta=0.5)
    assert (made.spacing, made.eta, made.prediction) == ("trailing", 0.5, model.config.prediction)
    assert model.make_sampler("ddpm", 1000, eta=0.0).prediction == model.config.prediction


def test_a_request_is_checked_parsed_and_planned_once(untrained, monkeypatch):
    """generate parses, tokenizes and places each prompt once and builds one sampler; a checked Request runs as
    generate of the same arguments, and refuses a second set of them."""
    from collections import Counter

    from minigptimage import layout
    model, counts = untrained, Counter()
    for owner, name in ((layout, "parse_prompt"), (layout, "plan_box"), (model, "make_sampler"),
                        (model.tokenizer, "encode")):
        def counted(*args, _real=getattr(owner, name), _name=name, **kwargs):
            counts[_name] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(owner, name, counted)
    images = model.generate(PROMPTS, steps=2, seed=3)
    assert counts == {"parse_prompt": 2, "plan_box": 2, "make_sampler": 1, "encode": 1}
    request = model.check_request(PROMPTS, steps=2, seed=3)
    assert request.sampling() == dict(steps=2, sampler="ddim", eta=0.0, guidance=model.config.guidance, seed=3)
    counts.clear()
    assert torch.equal(model.generate(request), images) and not counts  # nothing checked again
    with pytest.raises(ValueError, match="^seed: given with a checked Request"):
        model.generate(request, seed=4)


def test_a_prompt_without_quoted_text_gets_an_error_that_names_it():
    from minigptimage.pipeline import MiniGPTImage
    model = MiniGPTImage.from_preset("micro")
    with pytest.raises(ValueError, match=r'^prompts\[1\]: the prompt must put the text to draw in double quotes'):
        model.generate(['the word "CAT" in red on white', "a red apple"], steps=1)


def test_text_too_long_or_too_wide_gets_an_error_that_names_the_prompt_and_the_limit():
    from minigptimage.pipeline import MiniGPTImage
    model = MiniGPTImage.from_preset("micro")
    with pytest.raises(ValueError, match=r"^prompts\[0\]: the text 'ABCDEFGHIJK' has 11 characters; a model draws at most 10"):
        model.generate(['the word "ABCDEFGHIJK" in red on white'], steps=1)
    with pytest.raises(ValueError, match=r"^prompts\[1\]: the text 'WWWWWWWWWW' .* under 5 px tall"):
        model.generate(['the word "CAT"', 'the word "WWWWWWWWWW" at the top left'], steps=1)
    with pytest.raises(ValueError, match=r"^boxes\[0\]: box must satisfy"):  # the user's box is named as theirs
        model.generate(['the word "CAT"'], steps=1, boxes=[(0, 0, 99, 10)])


def test_plan_box_takes_a_two_word_text_as_the_text():
    """A bare text of one or two words is placed as the text ("GO HOME" was read as a prompt without quotes);
    three or more words without quotes are a prompt that forgot them."""
    from minigptimage import layout
    assert layout.plan_box("GO HOME", 64) == layout.plan_box('the word "GO HOME"', 64)
    assert layout.plan_box("GO HOME", 64, region="top") == layout.plan_box('"GO HOME" at the top', 64)
    with pytest.raises(ValueError, match="double quotes"):
        layout.plan_box("a cat on a mat", 64)

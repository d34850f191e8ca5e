"""Training: the schedules, learning on a fixed batch, exact resume, kept checkpoints, bad losses."""
import math
import types

import pytest
import torch
from hypothesis import given, strategies as st

from minigptimage.checkpoints import TINY_DATA, CheckpointError
from minigptimage.glyphs import GlyphDataset
from minigptimage import launch, train as train_module
from minigptimage.pipeline import MiniGPTImage
from minigptimage.checkpoints import checkpoint_files as checkpoints, newest_good_checkpoint
from minigptimage.objective import diffusion_loss, draw_randomness
from minigptimage.train import TrainConfig, Trainer, TrainingError, lr_at
from minigptimage.training_data import data_batch, training_items
from minigptimage import training_data
from minigptimage.training_data import cache_size

QUIET = dict(log=lambda m: None)


def micro_trainer(out, **cfg):
    torch.manual_seed(0)  # parameter init only; training draws from the trainer's own generator
    model = MiniGPTImage.from_preset("micro")
    return Trainer(model, TrainConfig(**{"batch_size": 4, "vae_steps": 1, "vae_batch_size": 2, **cfg}), out,
                   **QUIET)


def draw_arguments(trainer, monkeypatch, steps: int) -> list[tuple]:
    """The arguments ``objective.draw_randomness`` gets at each of ``steps`` steps of a run of 4 (the loss stubbed)."""
    seen = []
    real = train_module.draw_randomness
    monkeypatch.setattr(train_module, "draw_randomness", lambda *a: (seen.append(a), real(*a))[1])
    trainer.objective = lambda batch, draws: torch.zeros((), requires_grad=True)
    trainer.vae_done = True
    for _ in range(steps):
        trainer.train_step(total_steps=4)
    return seen


@pytest.mark.parametrize("shift, density, share", [(1.0, (), 0.0), (5.0, (), 0.0), (1.0, (0.5, 1.0), 0.0),
                                                   (3.0, (0.0, 1.0), 0.5)])
def test_the_trainer_draws_t_from_its_configs_density(tmp_path, monkeypatch, shift, density, share):
    """``TrainConfig.timestep_shift``, ``logit_normal`` and ``shifted_share`` reach every step's draw: () uniform
    or shifted (None), (m, s) logit-normal, with a share of the rows shifted."""
    trainer = micro_trainer(tmp_path, timestep_shift=shift, logit_normal=density, shifted_share=share)
    assert [a[5:8] for a in draw_arguments(trainer, monkeypatch, 2)] == [(shift, density or None, share)] * 2


def test_past_shifted_until_the_trainer_draws_t_logit_normal_alone(tmp_path, monkeypatch):
    """``TrainConfig.shifted_until`` = ½ of a run of 4: steps 0 and 1 shift half the rows, steps 2 and 3 none."""
    trainer = micro_trainer(tmp_path, timestep_shift=3.0, logit_normal=(0.0, 1.0), shifted_share=0.5,
                            shifted_until=0.5)
    assert [a[7] for a in draw_arguments(trainer, monkeypatch, 4)] == [0.5, 0.5, 0.0, 0.0]


@given(st.integers(0, 2000), st.integers(60, 3000))
def test_lr_warms_up_then_decays_between_its_bounds(step, total):
    cfg = TrainConfig()
    lr = lr_at(step, total, cfg)
    assert 0 < lr <= cfg.lr + 1e-12
    if step < cfg.warmup_steps:
        assert lr == pytest.approx(cfg.lr * (step + 1) / cfg.warmup_steps)
    else:
        assert lr >= cfg.lr * cfg.final_lr_fraction - 1e-12
        assert lr_at(step + 1, total, cfg) <= lr + 1e-12  # never rises after the warm-up
    if step >= total:
        assert lr == pytest.approx(cfg.lr * cfg.final_lr_fraction)


def test_data_stream_is_indexed_by_step_and_rank():
    model = MiniGPTImage.from_preset("micro")
    ds = Trainer(model, TrainConfig(), "/nonexistent", **QUIET).dataset
    a, b = data_batch(ds, 5, 2), data_batch(ds, 5, 2)
    assert a["caption"] == b["caption"] and torch.equal(a["image"], b["image"])
    r0, r1 = data_batch(ds, 5, 2, rank=0, world=2), data_batch(ds, 5, 2, rank=1, world=2)
    assert set(r0["caption"]).isdisjoint(r1["caption"])


def test_made_up_words_reach_the_training_stream():
    model = MiniGPTImage.from_preset("micro")
    assert Trainer(model, TrainConfig(made_up_words=0.5), "/nonexistent", **QUIET).dataset.made_up == 0.5
    assert Trainer(model, TrainConfig(), "/nonexistent", **QUIET).dataset.made_up == 0.0


def test_resume_refuses_a_run_with_other_settings_and_names_each_one(tmp_path):
    """Every setting that shapes the run (the data stream, its randomness, the optimiser) must be the
    checkpoint's; the precision may change."""
    micro_trainer(tmp_path, made_up_words=0.5).save(total_steps=1)  # a step-0 checkpoint: no data is read
    path, ckpt = newest_good_checkpoint(tmp_path, **QUIET)
    with pytest.raises(CheckpointError, match=r"made_up_words 0\.5 -> 0\.0"):
        micro_trainer(tmp_path).restore(ckpt)
    with pytest.raises(CheckpointError, match=r"batch_size 4 -> 2; seed 0 -> 5"):
        micro_trainer(tmp_path, made_up_words=0.5, seed=5, batch_size=2).restore(ckpt)
    micro_trainer(tmp_path, made_up_words=0.5, precision="bf16").restore(ckpt)  # the same run resumes
    ckpt["format"] = 1  # a format-1 checkpoint without the option had none
    del ckpt["train_state"]["train_config"]["made_up_words"]
    micro_trainer(tmp_path).restore(ckpt)
    ckpt["train_state"]["train_config"]["min_snr_gamma"] = 0.0  # a removed setting, at its neutral value
    micro_trainer(tmp_path).restore(ckpt)
    ckpt["train_state"]["train_config"]["min_snr_gamma"] = 5.0  # removed, and used: the run cannot go on here
    with pytest.raises(CheckpointError, match=r"changes settings .*\(min_snr_gamma 5\.0 -> 0\.0\)"):
        micro_trainer(tmp_path).restore(ckpt)
    del ckpt["train_state"]["train_config"]["min_snr_gamma"]
    del ckpt["train_state"]["train_config"]["shifted_share"]  # a run from before the setting had none
    micro_trainer(tmp_path).restore(ckpt)
    with pytest.raises(CheckpointError, match=r"shifted_share 0\.0 -> 0\.5"):
        micro_trainer(tmp_path, shifted_share=0.5).restore(ckpt)
    del ckpt["train_state"]["train_config"]["shifted_until"]  # nor shifted_until: shifted to the end (1.0)
    micro_trainer(tmp_path).restore(ckpt)
    with pytest.raises(CheckpointError, match=r"shifted_until 1\.0 -> 0\.8"):
        micro_trainer(tmp_path, shifted_until=0.8).restore(ckpt)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(tmp_path):
    trainer = micro_trainer(tmp_path, lr=3e-3, warmup_steps=1, cond_dropout=0.0)
    trainer.train_vae_phase()
    batch = data_batch(trainer.dataset, 0, 4)
    model, gen = trainer.model, torch.Generator()

    def loss_now():
        gen.manual_seed(7)
        draws = draw_randomness(4, model.latent_shape(1)[1:], model.schedule.num_steps, 0.0, gen)
        return diffusion_loss(model, batch, draws)

    first = loss_now().item()
    opt = torch.optim.AdamW(list(model.encoder.parameters()) + list(model.unet.parameters()), lr=3e-3)
    for _ in range(40):
        loss = loss_now()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss_now().item() < 0.5 * first


def test_resume_gives_bit_identical_weights(tmp_path):
    straight = micro_trainer(tmp_path / "a")
    straight.run(total_steps=4)
    broken = micro_trainer(tmp_path / "b")
    broken.run(total_steps=4, save_every=2)
    path, ckpt = newest_good_checkpoint(tmp_path / "b", **QUIET)
    (tmp_path / "b" / "ckpt_0000004.pt").unlink()  # as if killed right after the step-2 checkpoint
    path, ckpt = newest_good_checkpoint(tmp_path / "b", **QUIET)
    assert path.name == "ckpt_0000002.pt"
    assert len(ckpt["train_state"]["generators"]) == 1  # one per rank
    resumed = micro_trainer(tmp_path / "b")
    resumed.restore(ckpt)
    assert resumed.step == 2
    resumed.run(total_steps=4)
    for name in ("encoder", "unet", "vae"):
        a, b = getattr(straight.model, name).state_dict(), getattr(resumed.model, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    for name in ("encoder", "unet"):  # and the EMA weights that sampling uses
        a, b = straight.ema[name].state_dict(), resumed.ema[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), f"EMA {name}"
    assert straight.losses == resumed.losses


def test_keeps_the_newest_k_and_skips_a_corrupt_one(tmp_path):
    trainer = micro_trainer(tmp_path)
    trainer.keep = 2
    trainer.run(total_steps=3, save_every=1)
    assert [p.name for p in checkpoints(tmp_path)] == ["ckpt_0000002.pt", "ckpt_0000003.pt"]
    newest = tmp_path / "ckpt_0000003.pt"
    newest.write_bytes(newest.read_bytes()[:1000])
    said = []
    path, _ = newest_good_checkpoint(tmp_path, log=said.append)
    assert path.name == "ckpt_0000002.pt" and "ckpt_0000003.pt" in said[0]


def test_a_timed_run_that_slows_down_shrinks_its_total_and_keeps_its_budget(tmp_path, monkeypatch):
    """A fake clock: 10 ms a step for the first 10 steps, then 30 ms. Estimating once, from the first 10 steps,
    would plan 600 steps (17.8 s of a 6 s budget); re-estimating ends the run inside the budget."""
    trainer = micro_trainer(tmp_path, warmup_steps=20, batch_size=2)
    trainer.run(total_steps=0)  # the VAE phase first, so the budget below is diffusion only
    clock = lambda: 0.01 * min(trainer.step, 10) + 0.03 * max(trainer.step - 10, 0)  # noqa: E731
    monkeypatch.setattr(train_module, "time", types.SimpleNamespace(monotonic=clock))
    path = trainer.run(minutes=6 / 60)
    total = torch.load(path, weights_only=True)["train_state"]["total_steps"]
    assert trainer.step == total < 300 and 5.5 <= clock() <= 6.0, (trainer.step, clock())


def test_a_non_finite_loss_stops_and_keeps_the_last_checkpoint(tmp_path):
    trainer = micro_trainer(tmp_path)
    trainer.run(total_steps=1)
    with torch.no_grad():
        next(trainer.model.unet.parameters()).fill_(math.nan)
    with pytest.raises(TrainingError, match="step 1"):
        trainer.run(total_steps=2)
    assert [p.name for p in checkpoints(tmp_path)] == ["ckpt_0000001.pt"]


def test_the_latent_cache_holds_what_the_vae_would_encode_on_the_fly(tmp_path):
    trainer = micro_trainer(tmp_path, latent_cache=6)
    trainer.train_vae_phase()
    trainer.start_diffusion_phase()
    cached = trainer.cache.batch(1, 4)                      # items 4, 5, 0, 1 (wraps around the cache)
    fresh = training_items(trainer.dataset, (4, 5, 0, 1), trainer.cfg.reference_every)
    with torch.no_grad():
        z = trainer.model.vae.encode_latents(fresh["image"])
    assert cached["caption"] == fresh["caption"]
    assert torch.allclose(cached["latent"], z, atol=1e-6)
    assert (cached["glyph"] - fresh["glyph"]).abs().max() <= 0.5 / 255 + 1e-6
    assert torch.equal(cached["box"], fresh["box"]) and torch.equal(cached["has_reference"], fresh["has_reference"])
    assert (cached["reference"] - fresh["reference"]).abs().max() <= 0.5 / 127.5 + 1e-6
    trainer.run(total_steps=2)                              # and training runs from it
    assert len(trainer.losses) == 2


def test_every_kth_training_item_is_a_style_pair_whose_caption_names_only_the_word():
    ds = GlyphDataset("train", length=50, seed=3)
    batch = training_items(ds, range(10), reference_every=5)
    assert batch["has_reference"].tolist() == [i % 5 == 0 for i in range(10)]
    for i in range(10):
        if i % 5:
            assert batch["caption"][i] == ds.caption(i) and not batch["reference"][i].any()
            continue
        target, ref = ds.pair(i)
        assert batch["caption"][i] == f'the word "{target.text}" in the style of the image'
        assert torch.equal(batch["image"][i], target.image) and torch.equal(batch["reference"][i], ref.image)
        assert batch["box"][i].tolist() == list(target.box)
    assert not training_items(ds, range(10))["has_reference"].any()  # reference_every=0: plain items


def test_ema_follows_its_recurrence(tmp_path):
    """EMA: θ̄_s = d_s·θ̄_{s−1} + (1 − d_s)·θ_s after step s, d_s = min(ema_decay, (1+s)/(10+s)), θ̄_0 = θ_0."""
    trainer = micro_trainer(tmp_path, ema_decay=0.2, cond_dropout=0.0, lr=1e-2, warmup_steps=1)
    trainer.vae_done = True  # an untrained VAE is enough to move the weights
    trainer.start_diffusion_phase()
    names = ("encoder", "unet")
    ema = [p.detach().clone() for n in names for p in getattr(trainer.model, n).parameters()]
    for _ in range(3):
        trainer.train_step(total_steps=10)
        s = trainer.step
        d = min(0.2, (1 + s) / (10 + s))  # 0.18 at s = 1, then the ceiling 0.2
        raw = [p.detach() for n in names for p in getattr(trainer.model, n).parameters()]
        ema = [d * e + (1 - d) * p for e, p in zip(ema, raw)]
    got = [p for n in names for p in trainer.ema[n].parameters()]
    assert len(got) == len(ema)
    assert max(float((a - b).abs().max()) for a, b in zip(got, ema)) < 1e-6
    assert any(not torch.allclose(a, b) for a, b in zip(got, raw))  # and it is not the raw weights


def test_a_checkpoint_holds_the_ema_weights_for_sampling_and_the_raw_ones_to_resume(tmp_path):
    trainer = micro_trainer(tmp_path, lr=1e-2, warmup_steps=1)
    trainer.vae_done = True  # an untrained VAE is enough to move the weights
    path = trainer.run(total_steps=3)
    ckpt = torch.load(path, weights_only=True)
    loaded = MiniGPTImage.load(path)
    differs = 0
    for name in ("encoder", "unet"):
        ema, raw = trainer.ema[name].state_dict(), getattr(trainer.model, name).state_dict()
        for k in ema:
            assert torch.equal(ckpt["weights"][name][k], ema[k]), (name, k)
            assert torch.equal(getattr(loaded, name).state_dict()[k], ema[k]), (name, k)
            assert torch.equal(ckpt["train_state"]["raw"][name][k], raw[k]), (name, k)
            differs += not torch.equal(ema[k], raw[k])
    assert differs > 0, "after training the EMA weights should differ from the raw ones"


def crash_mid_save(monkeypatch):
    """torch.save that writes a few bytes of its file, then dies (as a full disk or a kill would)."""
    def broken(obj, f, *args, **kwargs):
        (f.write if hasattr(f, "write") else open(f, "wb").write)(b"PK\x03\x04 half a checkpoint")
        raise OSError("simulated crash in the middle of torch.save")
    monkeypatch.setattr(torch, "save", broken)


@pytest.mark.parametrize("writer", ["trainer", "model", "vae"])
def test_a_crash_in_the_middle_of_a_save_keeps_the_old_file_whole(writer, tmp_path, monkeypatch):
    from minigptimage.vae import VAE
    trainer = micro_trainer(tmp_path)
    save = {"trainer": lambda: trainer.save(total_steps=5),
            "model": lambda: trainer.model.save(tmp_path / "ckpt_0000000.pt"),
            "vae": lambda: VAE.save(trainer.model.vae, tmp_path / "ckpt_0000000.pt")}[writer]
    save()
    path = tmp_path / "ckpt_0000000.pt"
    before = path.read_bytes()
    trainer.step = 0  # the same file again
    crash_mid_save(monkeypatch)
    with pytest.raises(OSError, match="simulated crash"):
        save()
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_0000000.pt"]  # no partial file beside it
    torch.load(path, weights_only=True)


def test_a_process_killed_in_the_middle_of_a_save_leaves_the_old_checkpoint_to_resume_from(tmp_path):
    """A real SIGKILL half-way through torch.save: no cleanup runs, so a hidden temporary file may stay, but the
    checkpoint keeps its old bytes and is still the newest good one."""
    import subprocess
    import sys
    from pathlib import Path
    target = tmp_path / "ckpt_0000002.pt"
    torch.save({"train_state": {"step": 2}}, target)
    before = target.read_bytes()
    code = ("import os, signal, sys, torch\n"
            "from minigptimage.checkpoints import atomic_save\n"
            "def dies(obj, f, *a, **k):\n"
            "    f.write(b'half'); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
            "torch.save = dies\n"
            "atomic_save({'train_state': {'step': 3}}, sys.argv[1])\n")
    run = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                         cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == -9, run.stderr
    assert target.read_bytes() == before
    path, ckpt = newest_good_checkpoint(tmp_path, **QUIET)
    assert path == target and ckpt["train_state"]["step"] == 2


def test_a_short_run_renders_only_the_cache_it_reads_and_a_vae_phase_no_longer_than_itself(tmp_path, monkeypatch):
    assert cache_size(20000, 40, 32) == 1280                      # 40 steps of 32 = 1,280 items: 5 chunks of 256
    assert cache_size(20000, 41, 32) == 1536                      # rounded up to whole chunks
    assert cache_size(20000, 40, 32, world=2) == 2560             # every rank's items
    assert cache_size(20000, 10**6, 32) == 20000 and cache_size(20000, None, 32) == 20000  # long or timed
    assert cache_size(0, 40, 32) == 0                             # no cache asked: none
    monkeypatch.setattr(training_data, "CHUNK", 4)                # (a small chunk and PCA sample keep this fast)
    monkeypatch.setattr(training_data, "PCA_ITEMS", 16)
    said = []
    trainer = micro_trainer(tmp_path, latent_cache=20000, vae_steps=50, batch_size=2)
    trainer.log = said.append
    trainer.run(total_steps=3)                                     # reads 6 items: 2 chunks of 4
    assert len(trainer.cache) == 8 and "training the VAE for 3 steps" in said


def test_a_run_on_another_latent_builds_its_u_net_for_it_and_resumes_without_naming_it(tmp_path):
    import dataclasses
    from minigptimage.pipeline import PipelineConfig
    from minigptimage.vae import VAE
    micro = PipelineConfig.preset("micro")
    vae = VAE(dataclasses.replace(micro.vae, latent_channels=12), seed=0)
    trainer = launch.train_run("micro", tmp_path, steps=2, vae=vae, batch_size=2, latent_cache=0, **QUIET)
    unet = trainer.model.config.unet
    assert (unet.in_channels, unet.out_channels, unet.glyph_scale) == (12, 12, vae.cfg.downsample)
    assert trainer.model.config == micro.with_vae(vae.cfg) and micro.with_vae(micro.vae) == micro
    resumed = launch.train_run("micro", tmp_path, steps=3, resume=True, batch_size=2, latent_cache=0, **QUIET)
    assert resumed.step == 3 and resumed.model.config.vae.latent_channels == 12
    images = resumed.ema_model().generate(["the word \"HI\""], steps=2, seed=0)
    assert images.shape == (1, 3, 64, 64)


# The run of ``test_a_refactor_changes_no_number``: a config written out here, so that a preset's change does not
# move it. The objective's move to objective.py reproduced the losses and sample of commit 1488436 bit for bit;
# the numbers below were recorded after the caption change of issue 36 (which changes the data) and with the fused
# AdamW (within 1e-6 of the per-tensor loop), and again when the annealed shift was deleted for the tiny preset's
# density, half logit-normal and half shifted (the same losses and sample at commit 89bfbcd, with t drawn that
# way). Float tolerance covers another CPU's kernels.
RECORDED_LOSSES = [
    0.946376, 0.980605, 0.915055, 0.931581, 0.947131, 0.915833, 0.933586, 0.837012, 0.927960, 0.921466,
    1.053316, 0.905984, 0.805203, 0.851531, 0.948734, 0.992146, 0.810064, 0.865203, 0.926752, 0.816029,
    0.879318, 0.871813, 0.879562, 0.847503, 0.917409, 0.881984, 0.896428, 0.948679, 0.818375, 0.782940
]
RECORDED_SAMPLE_SUM = -170.40934260643553


def written_out_config():
    from minigptimage.encoder import PromptEncoderConfig
    from minigptimage.pipeline import PipelineConfig
    from minigptimage.unet import UNetConfig
    from minigptimage.vae import VAEConfig
    return PipelineConfig(
        image_size=64, num_steps=1000, schedule="cosine", prediction="v", tokenizer="char", max_prompt_len=96,
        glyph=True, guidance=2.0,
        encoder=PromptEncoderConfig(vocab_size=99, dim=32, depth=1, heads=2, max_len=96, image_size=64,
                                    patch_size=8, mlp_ratio=4, use_image_tokens=True, use_layout_tokens=True,
                                    fourier_features=8, null_tokens=2, positions="rotary", segments=True,
                                    quote_id=-1),
        unet=UNetConfig(in_channels=8, out_channels=8, context_dim=32, channels=(16, 32), num_res_blocks=1,
                        attention_levels=(1, 2), heads=2, time_dim=32, groups=8, mlp_ratio=2, glyph=True,
                        glyph_scale=4, glyph_channels=8, prediction="v"),
        vae=VAEConfig(in_channels=3, latent_channels=8, patch=4, channels=(8,), res_blocks=1, groups=4))


def test_a_refactor_changes_no_number(tmp_path):
    """30 fixed-seed steps (VAE phase, latent cache, t half logit-normal and half shifted, style pairs) and a
    3-step sample give the recorded losses and image."""
    torch.manual_seed(0)
    model = MiniGPTImage(written_out_config())
    cfg = TrainConfig(batch_size=4, lr=2e-3, warmup_steps=5, vae_steps=2, vae_batch_size=2, latent_cache=64,
                      timestep_shift=3.0, logit_normal=(0.0, 1.0), shifted_share=0.5, reference_every=5, seed=0)
    trainer = Trainer(model, cfg, tmp_path, **QUIET)
    trainer.run(total_steps=30)
    assert trainer.losses == pytest.approx(RECORDED_LOSSES, rel=1e-4, abs=1e-5)
    image = trainer.ema_model().generate(['the word "HI" in red on white'], steps=3, seed=0)
    assert image.double().sum().item() == pytest.approx(RECORDED_SAMPLE_SUM, rel=1e-3)


def test_a_training_folder_with_checkpoints_is_refused_unless_resumed_or_overwritten(tmp_path):
    first = launch.train_run("micro", tmp_path, steps=1, batch_size=2, latent_cache=0, vae_steps=1, **QUIET)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(CheckpointError, match="already holds checkpoints.*--resume.*--overwrite"):
        launch.make_trainer("micro", tmp_path, batch_size=2, **QUIET)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing deleted
    again = launch.make_trainer("micro", tmp_path, overwrite=True, batch_size=2, latent_cache=0,
                                      vae_steps=1, **QUIET)
    assert again.step == 0 and not checkpoints(tmp_path) and first.step == 1


@given(st.integers(100, 5000), st.floats(0.05, 0.5))
def test_the_wsd_rate_is_constant_then_reaches_zero_at_the_planned_last_step(total, fraction):
    cfg = TrainConfig(lr_schedule="wsd", decay_fraction=fraction, warmup_steps=10)
    assert lr_at(total, total, cfg) == 0.0 and lr_at(total + 5, total, cfg) == 0.0
    assert lr_at(total - 1, total, cfg) > 0
    stable_end = int(total * (1 - fraction))
    assert all(lr_at(s, total, cfg) == cfg.lr for s in (10, stable_end // 2 + 5, stable_end))
    rates = [lr_at(s, total, cfg) for s in range(10, total + 1)]
    assert all(b <= a for a, b in zip(rates, rates[1:]))  # never rises after the warm-up


def test_a_frozen_encoder_is_the_given_one_and_stays_it(tmp_path):
    """freeze_encoder: the U-Net trains on a given trained prompt encoder, which neither the optimiser nor the
    EMA moves, and which the checkpoint carries (so a resume and sampling use it)."""
    source = MiniGPTImage.from_preset("micro", seed=7)
    trainer = launch.make_trainer("micro", tmp_path, encoder=source, freeze_encoder=True, batch_size=2,
                                        vae_steps=1, latent_cache=0, reference_every=0, **QUIET)
    assert {id(p) for p in trainer.optimizer.param_groups[0]["params"]} == {id(p) for p in trainer.model.unet.parameters()}
    unet_before = [p.detach().clone() for p in trainer.model.unet.parameters()]
    path = trainer.run(total_steps=2)
    for module in (trainer.model.encoder, trainer.ema["encoder"], MiniGPTImage.load(path).encoder):
        assert all(torch.equal(a, b) for a, b in zip(module.state_dict().values(),
                                                     source.encoder.state_dict().values()))
    assert any(not torch.equal(a, b) for a, b in zip(unet_before, trainer.model.unet.parameters()))
    with pytest.raises(ValueError, match="encoder: a frozen prompt encoder must be a trained one"):
        launch.make_trainer("micro", tmp_path / "b", freeze_encoder=True, **QUIET)
    with pytest.raises(CheckpointError, match="encoder: its prompt encoder is not the micro preset's"):
        launch.make_trainer("micro", tmp_path / "b", encoder=MiniGPTImage.from_preset("micro-abspos"),
                                  freeze_encoder=True, **QUIET)


def test_the_workshop_preset_trains_the_workshop_task_on_the_shipped_sources(tmp_path):
    cfg = TrainConfig.preset("tiny-workshop")
    assert (cfg.task, cfg.freeze_encoder, cfg.reference_every) == ("workshop", True, 0)
    texts = [c.split('"')[1] for c in data_batch(training_data.training_dataset(0, 64, task="workshop"), 0, 16)["caption"]]
    assert all(t.isalpha() and t.isupper() and 2 <= len(t) <= 6 for t in texts), texts
    trainer = launch.make_trainer("tiny-workshop", tmp_path, **QUIET)
    shipped = MiniGPTImage.load(TINY_DATA / "minigptimage_tiny_10min.pt")  # every workshop model's encoder
    assert trainer.vae_done and all(torch.equal(a, b) for a, b in zip(trainer.model.encoder.state_dict().values(),
                                                                       shipped.encoder.state_dict().values()))
    assert trainer.model.tokenizer.vocab == shipped.tokenizer.vocab


def test_a_second_run_into_a_folder_in_use_is_refused_and_a_dead_runs_lock_is_taken_over(tmp_path):
    from minigptimage.checkpoints import run_lock
    with run_lock(tmp_path):
        with pytest.raises(CheckpointError, match="another training run .* is writing into"):
            launch.train_run("micro", tmp_path, steps=1, batch_size=2, latent_cache=0, **QUIET)
    assert not (tmp_path / ".train.lock").exists()  # released
    (tmp_path / ".train.lock").write_text("999999999")  # a process id that does not exist
    (tmp_path / ".ckpt_0000001.pt.abc123.tmp").write_bytes(b"half")  # a killed run's temporary file
    trainer = launch.train_run("micro", tmp_path, steps=1, batch_size=2, latent_cache=0, vae_steps=1, **QUIET)
    assert trainer.step == 1 and sorted(p.name for p in tmp_path.iterdir()) == ["ckpt_0000001.pt"]


def test_a_signal_stops_the_run_between_two_steps_and_the_resume_is_exact(tmp_path, monkeypatch):
    """SIGTERM arrives inside step 2 (after its optimiser step): the run finishes that step, saves step 2 and
    stops; resumed to the same total, it ends with the uninterrupted run's weights."""
    import os
    import signal
    straight = micro_trainer(tmp_path / "a")
    straight.run(total_steps=4)
    broken = micro_trainer(tmp_path / "b")
    step = broken.train_step

    def step_with_a_signal(total, draws=None):
        loss = step(total, draws)
        if broken.step == 2:
            os.kill(os.getpid(), signal.SIGTERM)
        return loss
    broken.train_step = step_with_a_signal
    with pytest.raises(KeyboardInterrupt):
        broken.run(total_steps=4)
    path, ckpt = newest_good_checkpoint(tmp_path / "b", **QUIET)
    assert path.name == "ckpt_0000002.pt" and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    resumed = micro_trainer(tmp_path / "b")
    resumed.restore(ckpt)
    resumed.run(total_steps=4)
    for name in ("encoder", "unet"):
        a, b = straight.ema[name].state_dict(), resumed.ema[name].state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name


def test_checkpoints_come_every_few_minutes_and_an_interrupted_vae_phase_says_nothing_was_saved(tmp_path,
                                                                                                monkeypatch):
    trainer = micro_trainer(tmp_path, batch_size=2)
    trainer.train_vae_phase()
    clock = lambda: 100.0 * trainer.step  # noqa: E731  (a fake clock: 100 s a step)
    monkeypatch.setattr(train_module, "time", types.SimpleNamespace(monotonic=clock))
    trainer.run(total_steps=5, save_minutes=2.5)  # a save once more than 150 s have passed since the last
    assert [p.name for p in checkpoints(tmp_path)] == ["ckpt_0000002.pt", "ckpt_0000004.pt", "ckpt_0000005.pt"]
    said = []
    fresh = micro_trainer(tmp_path / "vae", vae_steps=1)
    fresh.log = said.append
    monkeypatch.setattr(train_module, "fit_vae", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt))
    with pytest.raises(KeyboardInterrupt):
        fresh.run(total_steps=2)
    assert "nothing was saved" in said[-1] and not checkpoints(tmp_path / "vae")


def test_a_timed_run_resumes_to_the_total_it_had_planned(tmp_path):
    first = micro_trainer(tmp_path, batch_size=2)
    first.run(total_steps=2)
    first.save(total_steps=5)  # as a --minutes run that had planned 5 steps and was stopped at step 2
    resumed = micro_trainer(tmp_path, batch_size=2)
    resumed.restore(newest_good_checkpoint(tmp_path, **QUIET)[1])
    resumed.run(minutes=1e-6)  # a budget already spent: the plan, not the clock, decides
    assert resumed.step == 5

"""Training: the objective's pieces, learning on a fixed batch, exact resume, kept checkpoints, bad losses."""
import math
import types

import pytest
import torch
from hypothesis import given, strategies as st

from minigptimage.glyphs import GlyphDataset
from minigptimage import train as train_module
from minigptimage.pipeline import MiniGPTImage
from minigptimage.train import (TrainConfig, Trainer, TrainingError, checkpoints, data_batch, diffusion_loss,
                                drop_condition, loss_weight, lr_at, newest_good_checkpoint, training_items)

QUIET = dict(log=lambda m: None)


def micro_trainer(out, **cfg):
    torch.manual_seed(0)  # parameter init only; training draws from the trainer's own generator
    model = MiniGPTImage.from_preset("micro")
    return Trainer(model, TrainConfig(**{"batch_size": 4, "vae_steps": 1, "vae_batch_size": 2, **cfg}), out,
                   **QUIET)


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


@given(st.floats(1e-4, 1e4))
def test_min_snr_weights_match_the_paper(snr):
    s, g = torch.tensor([snr], dtype=torch.float64), 5.0
    assert loss_weight(s, "epsilon", g).item() == pytest.approx(min(snr, g) / snr)
    assert loss_weight(s, "v", g).item() == pytest.approx(min(snr, g) / (snr + 1))
    assert loss_weight(s, "x0", g).item() == pytest.approx(min(snr, g))
    assert loss_weight(s, "v", 0).item() == 1


def test_drop_condition_swaps_exactly_the_dropped_rows():
    B, L, D = 3, 6, 4
    cond = {"context": torch.randn(B, L, D), "context_mask": torch.ones(B, L, dtype=torch.bool),
            "glyph": torch.rand(B, 1, 8, 8)}
    null = {"context": torch.randn(B, 2, D), "context_mask": torch.ones(B, 2, dtype=torch.bool)}
    out = drop_condition(cond, null, torch.tensor([False, True, False]))
    assert torch.equal(out["context"][0], cond["context"][0]) and torch.equal(out["glyph"][2], cond["glyph"][2])
    assert torch.equal(out["context"][1, :2], null["context"][1]) and out["context_mask"][1].sum() == 2
    assert out["glyph"][1].abs().sum() == 0


def test_data_stream_is_indexed_by_step_and_rank():
    model = MiniGPTImage.from_preset("micro")
    ds = Trainer(model, TrainConfig(), "/nonexistent", **QUIET).dataset
    a, b = data_batch(ds, 5, 2), data_batch(ds, 5, 2)
    assert a["caption"] == b["caption"] and torch.equal(a["image"], b["image"])
    r0, r1 = data_batch(ds, 5, 2, rank=0, world=2), data_batch(ds, 5, 2, rank=1, world=2)
    assert set(r0["caption"]).isdisjoint(r1["caption"])


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(tmp_path):
    trainer = micro_trainer(tmp_path, lr=3e-3, warmup_steps=1, cond_dropout=0.0)
    trainer.train_vae_phase()
    batch = data_batch(trainer.dataset, 0, 4)
    model, gen = trainer.model, torch.Generator()

    def loss_now():
        gen.manual_seed(7)
        return diffusion_loss(model, batch, trainer.cfg, gen)

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
    resumed = micro_trainer(tmp_path / "b")
    resumed.restore(ckpt)
    assert resumed.step == 2
    resumed.run(total_steps=4)
    for name in ("encoder", "unet", "vae"):
        a, b = getattr(straight.model, name).state_dict(), getattr(resumed.model, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
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

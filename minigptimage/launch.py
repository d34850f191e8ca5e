"""Setting up a training run, as ``python -m minigptimage train`` does it: a preset's recipe and the files it starts
from (a trained VAE, a trained prompt encoder to freeze), the training folder's checks (another run's
checkpoints, a resume, a lock against a second run), then ``train.Trainer.run``. The command line, lesson 08,
the GPU check and the benchmarks start their runs here.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import time

import torch.distributed as dist

from .checkpoints import CheckpointError, checkpoint_files, newest_good_checkpoint, read_checkpoint, run_lock
from .distributed import setup_distributed
from .pipeline import OBJECTIVES, TINY_DATA, MiniGPTImage, PipelineConfig, upgrade_checkpoint
from .train import TrainConfig, Trainer
from .training_data import word_tokenizer
from .vae import VAE


def load_vae(path) -> VAE:
    """A trained VAE from a VAE file (``tiny_data/vae.pt``) or from a minigptimage checkpoint."""
    ckpt = read_checkpoint(path)
    if isinstance(ckpt, dict) and ckpt.get("kind") == "minigptimage":
        return MiniGPTImage.from_checkpoint_dict(ckpt, str(path)).vae
    return VAE.load(path)


# What the tiny workshop recipe starts from, unless told otherwise: the shipped VAE and a trained prompt encoder
# (frozen), so that ten minutes go to the U-Net. The encoder (and tokenizer) is the one inside the shipped
# 10-minute model: every workshop model carries the same one, frozen, so a run with its seed repeats that model.
WORKSHOP_SOURCES = {"tiny-workshop": {"vae": TINY_DATA / "vae.pt", "encoder": TINY_DATA / "minigptimage_tiny_10min.pt"}}


def make_trainer(preset: str, out_dir, vae=None, encoder=None, resume: bool = False, overwrite: bool = False,
                 device: str = "cpu", precision: str = "fp32", keep: int = 3, log=print, **overrides) -> Trainer:
    """A ``Trainer`` for ``preset``, set up as ``python -m minigptimage train`` does it: joins the process group
    under torchrun (logging on rank 0 only), applies ``overrides`` to ``TrainConfig.preset(preset)`` (None
    keeps the preset's value), then resumes from the newest good checkpoint in ``out_dir`` (``resume``; fresh,
    saying so, when there is none) or else takes the trained VAE ``vae`` — a file or a ``VAE`` (no VAE phase).
    A folder that already holds checkpoints is refused unless ``resume`` or ``overwrite`` (which deletes them)."""
    vae, encoder = (WORKSHOP_SOURCES.get(preset, {}).get(k) if v is None else v
                    for k, v in (("vae", vae), ("encoder", encoder)))
    if encoder is not None and overrides.get("freeze_encoder") is None:
        overrides["freeze_encoder"] = True  # a given trained encoder is frozen
    cfg = dataclasses.replace(TrainConfig.preset(preset), precision=precision,
                              **{k: v for k, v in overrides.items() if v is not None})
    existing = checkpoint_files(out_dir)
    if cfg.freeze_encoder and encoder is None and not resume:
        raise ValueError("encoder: a frozen prompt encoder must be a trained one; name a model file (--encoder)")
    if cfg.objective not in OBJECTIVES:
        raise ValueError(f"objective: expected one of {', '.join(OBJECTIVES)}, got {cfg.objective!r}")
    if existing and not (resume or overwrite):
        raise CheckpointError(f"out: {out_dir} already holds checkpoints ({existing[-1].name}); pass --resume to "
                              "continue that run, --overwrite to replace it, or choose another folder")
    rank, world, device = setup_distributed(str(device))
    say = log if rank == 0 else (lambda *a: None)
    if overwrite and not resume and rank == 0:
        for path in existing:
            path.unlink(missing_ok=True)
    tokenizer = word_tokenizer() if PipelineConfig.preset(preset).tokenizer == "word" else None
    found = newest_good_checkpoint(out_dir, log=say) if resume else None
    if encoder is not None and found is None:  # a trained prompt encoder and its tokenizer, from a model or file
        encoder = encoder if isinstance(encoder, MiniGPTImage) else MiniGPTImage.load(encoder)
        if encoder.config.encoder != PipelineConfig.preset(preset).encoder:
            raise CheckpointError(f"encoder: its prompt encoder is not the {preset} preset's")
        tokenizer = encoder.tokenizer
    if resume and found is None:
        say(f"no checkpoint to resume in {out_dir}; starting fresh")
    if found is not None:  # the checkpoint's latent (restore checks the rest of its config against the preset)
        vae, latent = None, PipelineConfig.from_dict(upgrade_checkpoint(found[1])["config"]).vae
    else:
        vae = None if vae is None else vae if isinstance(vae, VAE) else load_vae(vae)
        latent = None if vae is None else vae.cfg  # the U-Net is built for the given VAE's latent
    model = MiniGPTImage.from_preset(preset, tokenizer=tokenizer, seed=cfg.seed, vae=latent).to(device)
    model.config = dataclasses.replace(model.config, objective=cfg.objective)  # how it samples, once trained
    trainer = Trainer(model, cfg, out_dir, preset=preset, keep=keep, log=say, rank=rank, world=world)
    if found is not None:
        trainer.restore(found[1])
        say(f"resuming from {found[0]} at step {trainer.step}")
    else:
        if vae is not None:
            model.vae.load_state_dict(vae.state_dict())
            trainer.vae_done = True
        if encoder is not None:
            model.encoder.load_state_dict(encoder.encoder.state_dict())
            trainer.ema["encoder"].load_state_dict(encoder.encoder.state_dict())
    return trainer


def train_run(preset: str, out_dir, steps: int | None = None, minutes: float | None = None, save_every: int = 0,
              on_save=None, **setup) -> Trainer:
    """Train ``preset`` into ``out_dir`` to ``steps`` in all, or for ``minutes`` (10 when neither is given);
    ``setup`` goes to ``make_trainer`` (vae, resume, overwrite, device, precision, keep, log, TrainConfig
    fields). Leaves the process group, if torchrun made one. Returns the trainer (``.step``, ``.losses``, …)."""
    first = int(os.environ.get("RANK", 0)) == 0  # under torchrun, rank 0 holds the folder's lock
    with run_lock(out_dir) if first else contextlib.nullcontext():
        trainer = make_trainer(preset, out_dir, **setup)
        minutes = 10.0 if steps is None and minutes is None else minutes
        start = time.monotonic()
        path = trainer.run(total_steps=steps, minutes=minutes, save_every=save_every, on_save=on_save)
    trainer.log(f"trained to step {trainer.step} in {time.monotonic() - start:.0f} s; checkpoint {path}")
    if trainer.world > 1:
        dist.destroy_process_group()
    return trainer

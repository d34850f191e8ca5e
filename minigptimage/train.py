"""Training: the VAE first, then the prompt encoder and U-Net on the VAE's latents, with checkpoints that resume.

One diffusion step (``Trainer.train_step``): draw t, ε and the dropout flags (``objective.draw_randomness``),
compute the loss (``objective.diffusion_loss``; ``draw_flow_randomness`` and ``flow_loss`` for flow), take an
AdamW step (Loshchilov & Hutter 2019) with gradient clipping at the rate of ``lr_at``, and update the moving
average (EMA) of the weights, which sampling uses. Everything random comes from one ``torch.Generator`` whose
state is saved, and batch s is a fixed slice of the data stream (``training_data``), so a resumed run continues
exactly as an uninterrupted one. Top to bottom: the config, the rate, the ``Trainer`` (``launch.py``: flags).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checkpoints import CheckpointError, atomic_save, check_same_run, checkpoint_files
from .devices import autocast, grad_scaler, resolve_precision
from .distributed import LossModule, agree, data_parallel, gather_states
from .objective import diffusion_loss, draw_flow_randomness, draw_randomness, flow_loss, shifted_share_at
from .pipeline import MiniGPTImage, upgrade_checkpoint
from .training_data import LatentCache, cache_size, data_batch, fit_vae, training_dataset


@dataclass
class TrainConfig:
    batch_size: int = 64          # images per diffusion step
    lr: float = 1e-3              # peak AdamW learning rate
    weight_decay: float = 0.01    # AdamW decoupled weight decay
    warmup_steps: int = 50        # linear warm-up from 0 to lr
    final_lr_fraction: float = 0.1  # cosine decay ends at lr·final_lr_fraction
    grad_clip: float = 1.0        # max global gradient norm
    lr_schedule: str = "cosine"   # "cosine": to lr·final_lr_fraction; "wsd": constant, then linear to 0
    decay_fraction: float = 0.2   # "wsd": the share of the run that decays
    adam_beta2: float = 0.999     # AdamW's β₂
    ema_decay: float = 0.999      # ceiling of the EMA decay (it warms up as (1+s)/(10+s)); 0: no EMA
    cond_dropout: float = 0.1     # probability of training a row unconditionally (for guidance)
    objective: str = "ddpm"       # "ddpm" (objective.diffusion_loss) | "flow" (objective.flow_loss; t continuous)
    timestep_shift: float = 1.0   # α of SD3's timestep shift (objective.shifted_timesteps); 1: t uniform
    logit_normal: tuple = ()      # (m, s): t drawn logit-normal (objective.logit_normal_fractions); (): the shift
    shifted_share: float = 0.0    # with logit_normal: the share of rows whose t the shift α draws instead
    shifted_until: float = 1.0    # ...for this share of the run; then logit-normal alone (objective.shifted_share_at)
    seed: int = 0                 # seeds the data order, t, ε and dropout
    vae_steps: int = 300          # VAE steps before diffusion (0 with a given VAE; at most a run's total)
    vae_batch_size: int = 32      # images per VAE step
    vae_lr: float = 1e-3          # VAE learning rate
    latent_cache: int = 0         # >0: render and encode this many items once (training_data.LatentCache)
    made_up_words: float = 0.0    # share of template captions with made-up slot words (captions.py)
    task: str = "mixture"         # what the run trains on: training_data.TASKS
    freeze_encoder: bool = False  # train the U-Net only, on a given trained prompt encoder (make_trainer)
    reference_every: int = 5      # every k-th item is a style pair for the reference image; 0: none
    precision: str = "fp32"       # "fp32" | "bf16" | "fp16" autocast | "auto" (devices.py); weights stay fp32
    render_workers: int = 0       # processes that render the latent cache; 0: one per core on a GPU, else one

    @classmethod
    def preset(cls, name: str) -> "TrainConfig":
        base, _, variant = name.partition("-")
        if variant == "workshop":  # the learner's ten minutes: RESULTS.md, "The learner's model"
            return dataclasses.replace(cls.preset(base), task="workshop", freeze_encoder=True, reference_every=0,
                                       lr_schedule="wsd", adam_beta2=0.99, ema_decay=0.995, logit_normal=(0.0, 1.0),
                                       timestep_shift=1.0, shifted_share=0.0, shifted_until=1.0)
        if base == "small":
            return cls(batch_size=128, lr=3e-4, warmup_steps=500, vae_steps=5000, latent_cache=20000)
        if base == "tiny":  # batch 32 at 2e-3 (RESULTS.md, "A 10-minute recipe"); t from both ends, then the middle
            return cls(batch_size=32, lr=2e-3, warmup_steps=100, latent_cache=20000, logit_normal=(0.0, 1.0),
                       timestep_shift=3.0, shifted_share=0.5, shifted_until=0.8)
        return cls()


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss); the last good checkpoint is kept."""


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr·final_lr_fraction at ``total`` ("cosine"), or constant
    until the last ``decay_fraction`` of the run and linear to 0 at ``total`` ("wsd", warm-up–stable–decay)."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "wsd":
        decay = max(1.0, cfg.decay_fraction * total)
        return cfg.lr * min(1.0, max(0.0, (total - step) / decay))
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    low = cfg.lr * cfg.final_lr_fraction
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


class Trainer:
    """Trains one ``MiniGPTImage`` into ``out_dir``, writing ``ckpt_XXXXXXX.pt`` files that resume exactly."""

    def __init__(self, model: MiniGPTImage, cfg: TrainConfig, out_dir, preset: str = "custom",
                 keep: int = 3, log=print, rank: int = 0, world: int = 1):
        self.model, self.cfg, self.out_dir, self.preset = model, cfg, Path(out_dir), preset
        self.keep, self.log, self.rank, self.world = keep, log, rank, world
        self.ema = {name: copy.deepcopy(getattr(model, name)).requires_grad_(False)
                    for name in ("encoder", "unet")}
        trained = ("unet",) if cfg.freeze_encoder else ("encoder", "unet")
        model.encoder.requires_grad_(not cfg.freeze_encoder)
        params = [p for n in trained for p in getattr(model, n).parameters()]
        fused = model.device.type in ("cpu", "cuda")  # one kernel for all tensors: 6× the loop's speed on a CPU
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                           betas=(0.9, cfg.adam_beta2), fused=fused)
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
        self.dataset = training_dataset(cfg.seed, model.config.image_size, cfg.made_up_words, cfg.task)  # by step
        self.step, self.vae_done, self.losses, self.planned_total = 0, False, [], None
        if cfg.objective != model.config.objective:
            raise ValueError(f"objective: the run trains {cfg.objective!r}, the model is built for "
                             f"{model.config.objective!r} (PipelineConfig.objective)")
        loss = flow_loss if cfg.objective == "flow" else diffusion_loss
        self.objective = LossModule(loss, model)  # wrapped in DDP once the VAE is trained
        self.cache = None  # a LatentCache, built after the VAE phase when cfg.latent_cache > 0
        self.precision = resolve_precision(cfg.precision, model.device)
        self.scaler = grad_scaler(model.device, self.precision)  # loss scaling for fp16, else a pass-through

    # ------------------------------------------------------------- checkpoints
    def ema_checkpoint(self) -> dict:
        """The model's checkpoint dict with the EMA weights, on the CPU: what sampling uses."""
        ckpt = self.model.checkpoint_dict()
        ckpt["weights"].update({n: {k: v.detach().cpu() for k, v in m.state_dict().items()}
                                for n, m in self.ema.items()})
        return ckpt

    def ema_model(self) -> MiniGPTImage:
        return MiniGPTImage.from_checkpoint_dict(self.ema_checkpoint()).to(self.model.device)

    def state(self, total_steps: int) -> dict:
        ckpt = self.ema_checkpoint()  # sampling weights are the EMA ones, training's are "raw"
        ckpt["train_state"] = {
            "step": self.step, "total_steps": total_steps, "preset": self.preset,
            "vae_done": self.vae_done, "train_config": dataclasses.asdict(self.cfg),
            "raw": {n: {k: v.detach().cpu() for k, v in getattr(self.model, n).state_dict().items()}
                    for n in ("encoder", "unet")},
            "optimizer": self.optimizer.state_dict(), "generator": self.generator.get_state(),
            "losses": list(self.losses), "scaler": self.scaler.state_dict(),  # {} unless fp16
        }
        return ckpt

    def save(self, total_steps: int, gather: bool = True) -> Path | None:
        """Rank 0 writes the checkpoint. Every rank must call this, since they hand over their generator states
        — except with ``gather=False`` (an interrupted run, whose other ranks may be gone): rank 0's only."""
        generators = gather_states(self.generator.get_state(), self.world) if gather else None  # rank order
        if self.rank != 0:
            return None
        ckpt = self.state(total_steps)
        ckpt["train_state"]["generators"] = generators or [ckpt["train_state"]["generator"]]
        path = atomic_save(ckpt, self.out_dir / f"ckpt_{self.step:07d}.pt")
        for old in checkpoint_files(self.out_dir)[:-self.keep]:
            old.unlink(missing_ok=True)
        return path

    def restore(self, ckpt: dict) -> None:
        """Continue from a checkpoint of this run: the same model config and every setting that shapes the run
        (``checkpoints.check_same_run``), else a CheckpointError naming each difference."""
        ckpt = upgrade_checkpoint(ckpt)
        ts = ckpt["train_state"]
        check_same_run({"objective": ckpt["config"]["objective"], **ts["train_config"]}, dataclasses.asdict(self.cfg))
        if MiniGPTImage.from_checkpoint_dict(ckpt).config != self.model.config:
            raise CheckpointError("checkpoint: it was trained with another config than this run's preset")
        for n in ("encoder", "unet"):
            getattr(self.model, n).load_state_dict(ts["raw"][n])
            self.ema[n].load_state_dict(ckpt["weights"][n])
        self.model.vae.load_state_dict(ckpt["weights"]["vae"])
        self.optimizer.load_state_dict(ts["optimizer"])
        self.generator.set_state(ts["generators"][self.rank if self.rank < len(ts["generators"]) else 0])
        self.step, self.vae_done, self.losses = ts["step"], ts["vae_done"], list(ts["losses"])
        self.planned_total = ts["total_steps"] if 0 < ts["total_steps"] < 10**9 else None  # a timed run's plan
        if ts["scaler"] and self.scaler.is_enabled():
            self.scaler.load_state_dict(ts["scaler"])

    # ------------------------------------------------------------- the phases
    def train_vae_phase(self, total_steps: int | None = None) -> None:
        """``training_data.fit_vae`` for ``cfg.vae_steps`` (at most ``total_steps``: a short run's own), once."""
        if not self.vae_done:
            steps = self.cfg.vae_steps if total_steps is None else min(self.cfg.vae_steps, total_steps)
            fit_vae(self.model.vae, self.dataset, steps, self.cfg.vae_batch_size, self.cfg.vae_lr, self.cfg.seed,
                    progress=self.rank == 0, log=self.log)
            self.vae_done = True

    def start_diffusion_phase(self, total_steps: int | None = None) -> None:
        """Freeze the VAE, encode the latent cache if asked (only the items a run of ``total_steps`` reads,
        when it is known), and wrap the objective in DDP (which also broadcasts rank 0's weights)."""
        self.model.vae.requires_grad_(False)
        size = cache_size(self.cfg.latent_cache, total_steps, self.cfg.batch_size, self.world)
        if size > 0 and self.cache is None:
            cores = max(1, min(16, os.cpu_count() or 1) // self.world)
            workers = self.cfg.render_workers or (cores if self.model.device.type == "cuda" else 1)
            self.cache = LatentCache(self.model, self.dataset, size, progress=self.rank == 0,
                                     reference_every=self.cfg.reference_every, workers=workers)
        self.objective = data_parallel(self.objective, self.world)

    # ------------------------------------------------------------- one step
    def batch(self, step: int) -> dict:
        """This process's batch of ``step``: from the latent cache, or rendered (training_data.py)."""
        if self.cache is not None:
            return self.cache.batch(step, self.cfg.batch_size, self.rank, self.world)
        return data_batch(self.dataset, step, self.cfg.batch_size, self.rank, self.world, self.cfg.reference_every)

    def update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for n, ema in self.ema.items():
                if n == "encoder" and self.cfg.freeze_encoder:
                    continue  # θ_ema ← θ_ema + (1 − decay)·(θ − θ_ema), all tensors in one call
                torch._foreach_lerp_(list(ema.parameters()), list(getattr(self.model, n).parameters()), 1 - decay)

    def draw(self, total_steps: int) -> dict:
        """This step's t, ε and dropout flags from the run's generator (t continuous for the flow objective)."""
        cfg, shape = self.cfg, self.model.latent_shape(1)[1:]  # the shifted share: past shifted_until, none
        shared = (cfg.cond_dropout, self.generator, cfg.timestep_shift, cfg.logit_normal or None,
                  shifted_share_at(self.step, total_steps, cfg.shifted_share, cfg.shifted_until))
        if cfg.objective == "flow":
            return draw_flow_randomness(cfg.batch_size, shape, *shared)
        return draw_randomness(cfg.batch_size, shape, self.model.schedule.num_steps, *shared)

    def train_step(self, total_steps: int, draws: dict | None = None) -> float:
        """One optimiser step on this process's batch; ``draws`` (t, noise, dropout) overrides the generator."""
        cfg, model = self.cfg, self.model
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, total_steps, cfg)
        batch, draws = self.batch(self.step), self.draw(total_steps) if draws is None else draws
        with autocast(model.device, self.precision):  # 16-bit matmuls and convs; the loss comes out fp32
            loss = self.objective(batch, draws)
        if not torch.isfinite(loss):
            raise TrainingError(f"loss became {loss.item()} at step {self.step}; "
                                f"the last good checkpoint in {self.out_dir} is kept")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()          # fp16: backward of S·loss (devices.py); else plain backward
        self.scaler.unscale_(self.optimizer)        # gradients / S, so clipping sees their true norm
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], cfg.grad_clip,
                                       foreach=self.optimizer.defaults["fused"])  # one norm kernel, too
        self.scaler.step(self.optimizer)            # skipped when fp16 gradients overflowed
        self.scaler.update()
        self.step += 1
        self.update_ema()
        return loss.item()

    # ------------------------------------------------------------- the loop
    def run(self, total_steps: int | None = None, minutes: float | None = None, save_every: int = 0,
            on_save=None, save_minutes: float = 5.0) -> Path | None:
        """Train to ``total_steps``, or for ``minutes`` of wall-clock (VAE included): the mean speed sets the
        total after 10 steps and at the warm-up's end, then, only ever down, every 200 steps (a machine that
        slows down would overrun), so the rate still decays to its end; a resumed timed run keeps its plan.
        Checkpoints: every ``save_every`` steps, every ``save_minutes`` of wall-clock, and at the end. Ctrl-C or
        SIGTERM stops between two steps and saves; during the VAE phase nothing is saved, and it says so."""
        start, on_save = time.monotonic(), on_save or (lambda trainer: None)
        try:
            self.train_vae_phase(total_steps)
        except KeyboardInterrupt:
            self.log("interrupted while training the VAE: nothing was saved (a new run starts afresh)")
            raise
        try:
            self.start_diffusion_phase(total_steps)
        except KeyboardInterrupt:  # the VAE is trained: keep it
            self.log(f"interrupted while encoding the latent cache; saved {self.save(total_steps or 0, False)}")
            raise
        timed = total_steps is None and not self.planned_total
        total_steps = self.step + 10**9 if timed else self.planned_total if total_steps is None else total_steps
        self.model.train()
        bar = tqdm(total=None if timed else total_steps, initial=self.step, disable=self.rank != 0,
                   desc="diffusion", unit="step")
        t0, first_step, last_save = time.monotonic(), self.step, time.monotonic()
        stop = []  # a signal asks to stop: the loop ends between two steps, never inside one
        handlers = ({sig: signal.signal(sig, lambda *_: stop.append(True)) for sig in (signal.SIGINT, signal.SIGTERM)}
                    if self.rank == 0 else {})
        try:
            while self.step < total_steps and not stop:
                loss = self.train_step(total_steps)
                self.losses.append(loss)
                done = self.step - first_step
                per_step = (time.monotonic() - t0) / done
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{self.cfg.batch_size / per_step:.0f}")
                if timed and (done in (10, self.cfg.warmup_steps) or done % 200 == 0):  # (re-)estimate the total
                    left = minutes * 60 - (time.monotonic() - start)
                    estimate = self.step + max(0, int(left / per_step))  # after the warm-up: only ever down
                    total_steps = estimate if done <= self.cfg.warmup_steps else min(total_steps, estimate)
                    total_steps = agree(total_steps, self.world, self.model.device)  # rank 0 decides
                    bar.total = total_steps
                due = (save_every and self.step % save_every == 0) or time.monotonic() - last_save > 60 * save_minutes
                if due and self.step < total_steps:
                    self.save(total_steps)
                    last_save = time.monotonic()
                    on_save(self)
        finally:
            bar.close()
            for sig, handler in handlers.items():
                signal.signal(sig, handler)
        path = self.save(total_steps, gather=not stop or self.world == 1)
        on_save(self)
        if stop:
            self.log(f"interrupted at step {self.step}; saved {path}")
            raise KeyboardInterrupt
        self.model.eval()
        return path

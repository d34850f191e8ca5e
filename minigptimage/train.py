"""Training: the VAE first, then the prompt encoder and U-Net on the VAE's latents, with checkpoints that resume.

The diffusion objective (Ho et al. 2020, arXiv 2006.11239, Algorithm 1), on latents (Rombach et al. 2022):
    z₀ = VAE mean of an image · scale_factor,   t ~ U{0, …, T−1},   ε ~ N(0, I)
    z_t = √ᾱ_t·z₀ + √(1−ᾱ_t)·ε                      (DDPM eq. 4)
    loss = w(t)·‖f_θ(z_t, t, prompt) − target‖²,     target = ε, v = √ᾱ_t·ε − √(1−ᾱ_t)·z₀ or z₀
    (v: Salimans & Ho 2022, arXiv 2202.00512 sec. 4)
Min-SNR-γ weighting (Hang et al. 2023, arXiv 2303.09556 eq. 10): w = min(SNR, γ)/SNR for ε, min(SNR, γ)/(SNR+1)
for v, min(SNR, γ) for x₀. Conditioning dropout for classifier-free guidance (Ho & Salimans 2022, sec. 3.2): with
probability ``cond_dropout`` a row's prompt is replaced by the learned null prompt and its glyph canvas by zeros.
The multimodal inputs are trained in the same run: every item gives the encoder its true box as a box token, and
every ``reference_every``-th item is a style pair whose reference image is the only source of its colours
(``training_data.training_items``).

Everything random comes from one ``torch.Generator`` whose state is saved, and the data is indexed by step
(batch s is dataset items s·B … s·B+B−1), so a run resumed from a checkpoint continues exactly as an
uninterrupted one. AdamW (Loshchilov & Hutter 2019), linear warm-up then cosine decay, gradient clipping, and an
exponential moving average (EMA) of the weights, which is what sampling uses.

Read top to bottom: the config, the objective (``diffusion_loss``), the ``Trainer`` (one step, EMA, the loop,
checkpoints), and ``train_run``, the one place where a run is set up (torchrun, ``--vae``, ``--resume``) for the
command line, the GPU check and lesson 08. The data stream and the latent cache live in ``training_data.py``,
the process group in ``distributed.py``.
"""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from .checkpoints import CheckpointError, atomic_save, read_checkpoint
from .devices import autocast, grad_scaler, resolve_precision
from .distributed import LossModule, agree, data_parallel, gather_states, setup_distributed
from .pipeline import MiniGPTImage, PipelineConfig
from .tokenizer import trim_padding
from .glyphs import box_masks
from .training_data import (PCA_ITEMS, SCALE_ITEMS, LatentCache, cache_size, curriculum_dataset, data_batch,
                            first_items, training_dataset, vae_images, word_tokenizer)
from .training_data import rendered_chunks, training_items  # noqa: F401  (re-exported: tests and lessons use them)
from .vae import VAE, train_vae

CHECKPOINT = re.compile(r"^ckpt_(\d{7,})\.pt$")


@dataclass
class TrainConfig:
    batch_size: int = 64          # images per diffusion step
    lr: float = 1e-3              # peak AdamW learning rate
    weight_decay: float = 0.01    # AdamW decoupled weight decay
    warmup_steps: int = 50        # linear warm-up from 0 to lr
    final_lr_fraction: float = 0.1  # cosine decay ends at lr·final_lr_fraction
    grad_clip: float = 1.0        # max global gradient norm
    ema_decay: float = 0.999      # ceiling of the EMA decay (it warms up as (1+s)/(10+s))
    cond_dropout: float = 0.1     # probability of training a row unconditionally (for guidance)
    timestep_shift: float = 1.0   # α of the timestep shift (SD3, Esser et al. 2024, eq. 23): t/T drawn as
                                  # α·u / (1 + (α−1)·u) with u uniform; α > 1 trains the noisiest steps more
                                  # often (where a sample's colours are decided); 1: t uniform, as the DDPM paper
    timestep_shift_anneal: bool = False  # the shift falls linearly from α at the first step to 1 (uniform t) at
                                  # the last (shift_at): colours and layout first, the clean last strokes at the end
    min_snr_gamma: float = 0.0    # Min-SNR-γ loss weighting; 0 turns it off. Off by default: it weights the
                                  # x₀ error by min(SNR, γ) → 0 at t ≈ T, exactly where a sample's colours are
                                  # decided from the prompt alone (measured: colour from t = 999 was 28% with γ=5)
    seed: int = 0                 # seeds the data order, t, ε and dropout
    vae_steps: int = 300          # VAE training steps before diffusion (0 with a given VAE); a run of N < 300
                                  # diffusion steps trains the VAE for N, so a short run spends its time on its steps
    vae_batch_size: int = 32      # images per VAE step
    vae_lr: float = 1e-3          # VAE learning rate
    latent_cache: int = 0         # >0: pre-render and pre-encode this many items once (the VAE encoder costs
                                  # ~4× the U-Net per image); 0: render and encode every batch afresh. A run of
                                  # known total renders only the items it reads (training_data.cache_size)
    text_weight: float = 0.0      # the loss inside the text's box counts 1 + text_weight times (at latent
                                  # resolution, by the share of each latent cell the box covers): the letters
                                  # are a small part of the image, yet they are what a text model is judged on
    curriculum_steps: int = 0     # the first steps train on short upper-case words only (CURRICULUM), then the
                                  # mixture: the model learns to copy the glyph canvas on the easiest texts first
    curriculum_cache: int = 4096  # items of the curriculum's latent cache (with latent_cache > 0)
    made_up_words: float = 0.0    # share of template captions whose slot words are made-up strings (captions.py,
                                  # "Made-up words"): unknown nouns in known frames, as the held-out vocabulary
    reference_every: int = 5      # every k-th item is a style pair: the prompt 'the word "X" in the style of
                                  # the image' with a reference image of another word in the same style; 0: none
    precision: str = "fp32"       # "fp32" | "bf16" | "fp16" autocast | "auto" (devices.py); weights stay fp32
    render_workers: int = 0       # processes that render the latent cache (the same items either way); 0: one per
                                  # CPU core (at most 16) when training on a GPU, none on the CPU

    @classmethod
    def preset(cls, name: str) -> "TrainConfig":
        base = name.partition("-")[0]
        if base == "small":
            return cls(batch_size=128, lr=3e-4, warmup_steps=500, vae_steps=5000, latent_cache=20000)
        if base == "tiny":  # batch 32 at 2e-3 learns more per image than 64 at 1e-3 (measured: RESULTS.md);
            # the text weight and the curriculum lost to this recipe in ten minutes; the annealed shift 3 → 1
            # binds colours earliest with fewer specks than a fixed shift (RESULTS.md, "A 10-minute recipe")
            return cls(batch_size=32, lr=2e-3, warmup_steps=100, latent_cache=20000, timestep_shift=3.0,
                       timestep_shift_anneal=True)
        return cls()


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class TrainingError(RuntimeError):
    """Training cannot go on (a non-finite loss); the last good checkpoint is kept."""


def lr_at(step: int, total: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay from lr to lr·final_lr_fraction at ``total``."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = min(1.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps))
    low = cfg.lr * cfg.final_lr_fraction
    return low + 0.5 * (cfg.lr - low) * (1 + math.cos(math.pi * progress))


def shift_at(step: int, total: int, cfg: TrainConfig) -> float:
    """The timestep shift α of step ``step`` of ``total``: ``cfg.timestep_shift`` throughout, or with
    ``cfg.timestep_shift_anneal`` falling linearly from it at step 0 to 1 (t uniform) at ``total``."""
    if not cfg.timestep_shift_anneal:
        return cfg.timestep_shift
    progress = min(1.0, step / max(1, total))
    return 1 + (cfg.timestep_shift - 1) * (1 - progress)


def loss_weight(snr: torch.Tensor, prediction: str, gamma: float) -> torch.Tensor:
    """Min-SNR-γ weights (Hang et al. 2023, eq. 10), expressed for the chosen prediction target."""
    if gamma <= 0:
        return torch.ones_like(snr)
    clipped = snr.clamp(max=gamma)
    return {"epsilon": clipped / snr, "v": clipped / (snr + 1), "x0": clipped}[prediction]


def drop_condition(cond: dict, null: dict, drop: torch.Tensor) -> dict:
    """Replace the rows where ``drop`` (B,) is True by the null prompt (padded to the prompt's length) and an
    empty glyph canvas."""
    context, mask = cond["context"], cond["context_mask"]           # (B, L, D), (B, L)
    n = null["context"].shape[1]
    if n > context.shape[1]:
        raise ValueError("max_prompt_len: shorter than the null prompt")
    null_context = torch.zeros_like(context)
    null_context[:, :n] = null["context"]
    null_mask = torch.zeros_like(mask)
    null_mask[:, :n] = True
    d = drop[:, None]
    out = {"context": torch.where(d[..., None], null_context, context),
           "context_mask": torch.where(d, null_mask, mask)}
    if "glyph" in cond:
        out["glyph"] = cond["glyph"] * (~drop).to(cond["glyph"].dtype)[:, None, None, None]
    return out


def shifted_timesteps(u: torch.Tensor, num_steps: int, shift: float) -> torch.Tensor:
    """Timesteps (B,) from uniform u (B,) in [0, 1): t = ⌊T · α·u / (1 + (α−1)·u)⌋, the shift of SD3
    (Esser et al. 2024, arXiv 2403.03206, eq. 23) on DDPM's discrete t. α = 1 leaves t uniform; α > 1 moves
    the draws toward t = T (P(t/T ≥ 1/2) = α / (1 + α))."""
    shifted = shift * u / (1 + (shift - 1) * u)
    return (shifted * num_steps).long().clamp(max=num_steps - 1)


def draw_randomness(batch_size: int, latent_shape, num_steps: int, cond_dropout: float,
                    generator: torch.Generator, timestep_shift: float = 1.0) -> dict:
    """The random part of one training batch: timesteps t (B,), noise ε (B, C, h, w), dropout flags (B,).
    ``timestep_shift`` ≠ 1 draws t by ``shifted_timesteps`` (1 keeps the uniform draw, the same numbers)."""
    t = (torch.randint(0, num_steps, (batch_size,), generator=generator) if timestep_shift == 1 else
         shifted_timesteps(torch.rand(batch_size, generator=generator, dtype=torch.float64), num_steps,
                           timestep_shift))
    return {"t": t,
            "noise": torch.randn((batch_size, *latent_shape), generator=generator),
            "drop": torch.rand(batch_size, generator=generator) < cond_dropout}


def diffusion_loss(model: MiniGPTImage, batch: dict, cfg: TrainConfig, generator: torch.Generator | None = None,
                   draws: dict | None = None):
    """One batch of the diffusion objective (see the module docstring). Returns the scalar loss.
    The randomness comes from ``generator``, or is given as ``draws`` (see ``draw_randomness``)."""
    device = model.device
    if "latent" in batch:                                          # pre-encoded (TrainConfig.latent_cache)
        z0 = batch["latent"].to(device)                            # (B, C, h, w), unit variance
    else:
        with torch.no_grad():
            z0 = model.vae.encode_latents(batch["image"].to(device))  # (B, 3, H, W) -> (B, C, h, w)
    B = z0.shape[0]
    if draws is None:
        draws = draw_randomness(B, z0.shape[1:], model.schedule.num_steps, cfg.cond_dropout, generator,
                                cfg.timestep_shift)
    t_cpu = draws["t"].cpu()                                       # (B,) indexes the float64 tables on the CPU
    t, noise, drop = (draws[k].to(device) for k in ("t", "noise", "drop"))
    z_t = model.schedule.q_sample(z0, t, noise=noise)               # DDPM eq. 4
    prediction = model.config.prediction
    target = {"epsilon": noise, "x0": z0, "v": model.schedule.get_v(z0, noise, t)}[prediction]
    if "ids" in batch:                                             # pre-tokenized (LatentCache)
        ids, mask = trim_padding(batch["ids"], batch["mask"])       # (B, L)
    else:
        ids, mask = trim_padding(*model.tokenizer.encode(batch["caption"], model.config.max_prompt_len))
    enc = model.config.encoder
    box = batch["box"].to(device).float() if enc.use_layout_tokens and "box" in batch else None  # (B, 4)
    has_ref = batch.get("has_reference")
    with_ref = enc.use_image_tokens and has_ref is not None and bool(has_ref.any())
    context, context_mask = model.encoder(ids.to(device), mask.to(device), box=box,
                                          image=batch["reference"].to(device) if with_ref else None,
                                          image_present=has_ref.to(device) if with_ref else None)
    cond = {"context": context, "context_mask": context_mask}
    if model.config.glyph:
        cond["glyph"] = batch["glyph"].to(device)                  # (B, 1, H, W)
    cond = drop_condition(cond, model.null_condition(B), drop)
    out = model.denoise(z_t, t, cond)                              # (B, C, h, w)
    snr = model.schedule.snr[t_cpu].to(device, torch.float32)      # (B,): float32 on the device, as is the loss
    w = loss_weight(snr, prediction, cfg.min_snr_gamma)
    error = (out - target).pow(2)                                  # (B, C, h, w)
    if cfg.text_weight:
        region = text_region(batch["box"], model.config.image_size, z0.shape[-1]).to(device)  # (B, 1, h, w)
        error = error * (1 + cfg.text_weight * region)
    return (w * error.mean(dim=(1, 2, 3))).mean()


def text_region(box: torch.Tensor, image_size: int, side: int) -> torch.Tensor:
    """(B, 1, side, side): the share of each latent cell that the text's box (B, 4) = (x0, y0, x1, y1) in
    pixels covers — 1 inside, 0 outside, a fraction on its edges (the box's pixel mask, average-pooled)."""
    mask = box_masks(box.detach().cpu().float().round().long(), image_size)  # (B, 1, H, W)
    return torch.nn.functional.avg_pool2d(mask, image_size // side)


# ----------------------------------------------------------------- checkpoints on disk
def checkpoints(out_dir) -> list[Path]:
    """``ckpt_*.pt`` files in ``out_dir``, oldest step first."""
    out_dir = Path(out_dir)
    found = [p for p in out_dir.glob("ckpt_*.pt") if CHECKPOINT.match(p.name)] if out_dir.is_dir() else []
    return sorted(found, key=lambda p: int(CHECKPOINT.match(p.name).group(1)))


def newest_good_checkpoint(out_dir, log=print) -> tuple[Path, dict] | None:
    """The newest checkpoint in ``out_dir`` that loads; corrupt ones are reported by name and skipped."""
    for path in reversed(checkpoints(out_dir)):
        try:
            ckpt = read_checkpoint(path)
            if "train_state" not in ckpt:
                raise CheckpointError(f"checkpoint {path}: it has no training state to resume from")
            return path, ckpt
        except CheckpointError as err:
            log(f"skipping {err}")
    return None


def load_vae(path) -> VAE:
    """A trained VAE from a VAE file (``tiny_data/vae.pt``) or from a minigptimage checkpoint."""
    ckpt = read_checkpoint(path)
    if isinstance(ckpt, dict) and ckpt.get("kind") == "minigptimage":
        return MiniGPTImage.from_checkpoint_dict(ckpt, str(path)).vae
    return VAE.load(path)


class Trainer:
    """Trains one ``MiniGPTImage`` into ``out_dir``, writing ``ckpt_XXXXXXX.pt`` files that resume exactly."""

    def __init__(self, model: MiniGPTImage, cfg: TrainConfig, out_dir, preset: str = "custom",
                 keep: int = 3, log=print, rank: int = 0, world: int = 1):
        self.model, self.cfg, self.out_dir, self.preset = model, cfg, Path(out_dir), preset
        self.keep, self.log, self.rank, self.world = keep, log, rank, world
        self.ema = {name: copy.deepcopy(getattr(model, name)).requires_grad_(False)
                    for name in ("encoder", "unet")}
        params = list(model.encoder.parameters()) + list(model.unet.parameters())
        self.optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + rank)
        # read by step (training_data.py)
        self.dataset = training_dataset(cfg.seed, model.config.image_size, cfg.made_up_words)
        self.easy = (curriculum_dataset(cfg.seed, model.config.image_size, cfg.made_up_words)
                     if cfg.curriculum_steps else None)
        self.step, self.vae_done, self.losses = 0, False, []
        self.objective = LossModule(diffusion_loss, model)  # wrapped in DDP once the VAE is trained
        self.cache = self.easy_cache = None  # LatentCaches, built after the VAE phase when cfg.latent_cache > 0
        self.precision = resolve_precision(cfg.precision, model.device)
        self.scaler = grad_scaler(model.device, self.precision)  # loss scaling for fp16, else a pass-through

    # ------------------------------------------------------------- checkpoints
    def state(self, total_steps: int) -> dict:
        ckpt = self.model.checkpoint_dict()
        for name, module in self.ema.items():      # sampling weights are the EMA ones
            ckpt["weights"][name] = {k: v.detach().cpu() for k, v in module.state_dict().items()}
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
        if generators is not None:
            ckpt["train_state"]["generators"] = generators  # "generator" stays rank 0's, for older readers
        path = atomic_save(ckpt, self.out_dir / f"ckpt_{self.step:07d}.pt")
        for old in checkpoints(self.out_dir)[:-self.keep]:
            old.unlink(missing_ok=True)
        return path

    def restore(self, ckpt: dict) -> None:
        ts = ckpt["train_state"]
        resumed = MiniGPTImage.from_checkpoint_dict(ckpt)
        if resumed.config != self.model.config:
            raise CheckpointError("checkpoint: it was trained with another config than this run's preset")
        saved = ts.get("train_config", {}).get("made_up_words", 0.0)  # absent in older checkpoints: none
        if saved != self.cfg.made_up_words:  # the data stream (and its latent cache) would change mid-run
            raise CheckpointError(f"checkpoint: it was trained with --made-up-words {saved}, this run asks for "
                                  f"{self.cfg.made_up_words}; resume with the same value")
        for n in ("encoder", "unet"):
            getattr(self.model, n).load_state_dict(ts["raw"][n])
            self.ema[n].load_state_dict(ckpt["weights"][n])
        self.model.vae.load_state_dict(ckpt["weights"]["vae"])
        self.optimizer.load_state_dict(ts["optimizer"])
        states = ts.get("generators") or []  # absent in checkpoints of before: rank 0's state for every rank
        self.generator.set_state(states[self.rank] if self.rank < len(states) else ts["generator"])
        self.step, self.vae_done, self.losses = ts["step"], ts["vae_done"], list(ts["losses"])
        if ts.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ts["scaler"])

    # ------------------------------------------------------------- the loops
    def train_vae_phase(self, total_steps: int | None = None) -> None:
        """PCA initialisation, ``cfg.vae_steps`` steps (at most ``total_steps``: a short run spends its time on
        its own steps), then the scale factor that gives the latents unit variance."""
        if self.vae_done:
            return
        device = self.model.device
        if self.model.vae.cfg.linear_path:  # start from the closed-form linear optimum (see VAE.init_from_pca)
            self.model.vae.init_from_pca(first_items(self.dataset, PCA_ITEMS)["image"].to(device))
        steps = self.cfg.vae_steps if total_steps is None else min(self.cfg.vae_steps, total_steps)
        if steps > 0:
            self.log(f"training the VAE for {steps} steps")
            B = self.cfg.vae_batch_size
            train_vae(self.model.vae, vae_images(self.dataset, B, device), steps=steps, batch_size=B,
                      lr=self.cfg.vae_lr, seed=self.cfg.seed, progress=self.rank == 0)
        self.model.vae.fit_scale_factor(first_items(self.dataset, SCALE_ITEMS)["image"].to(device))
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
            if self.easy is not None:
                easy = cache_size(min(self.cfg.curriculum_cache, size), self.cfg.curriculum_steps,
                                  self.cfg.batch_size, self.world)
                self.easy_cache = LatentCache(self.model, self.easy, easy, progress=self.rank == 0,
                                              reference_every=self.cfg.reference_every, workers=workers)
        self.objective = data_parallel(self.objective, self.world)

    def update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for n, ema in self.ema.items():  # θ_ema ← θ_ema + (1 − decay)·(θ − θ_ema), every tensor in one call:
                # on a GPU a Python loop's hundreds of tiny kernel launches would cost more than the update itself
                torch._foreach_lerp_(list(ema.parameters()), list(getattr(self.model, n).parameters()), 1 - decay)

    def batch(self, step: int) -> dict:
        """This process's batch of ``step``: from the latent cache, or rendered (training_data.py). The first
        ``curriculum_steps`` read the curriculum's stream; then the mixture's stream starts at its batch 0."""
        dataset, cache = self.dataset, self.cache
        if self.easy is not None and step < self.cfg.curriculum_steps:
            dataset, cache = self.easy, self.easy_cache
        elif self.easy is not None:
            step -= self.cfg.curriculum_steps
        if cache is not None:
            return cache.batch(step, self.cfg.batch_size, self.rank, self.world)
        return data_batch(dataset, step, self.cfg.batch_size, self.rank, self.world, self.cfg.reference_every)

    def train_step(self, total_steps: int, draws: dict | None = None) -> float:
        """One optimiser step on this process's batch; ``draws`` (t, noise, dropout) overrides the generator."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, total_steps, self.cfg)
        batch = self.batch(self.step)
        cfg = dataclasses.replace(self.cfg, timestep_shift=shift_at(self.step, total_steps, self.cfg))
        with autocast(self.model.device, self.precision):  # 16-bit matmuls and convs; the loss comes out fp32
            loss = self.objective(batch, cfg, self.generator, draws)
        if not torch.isfinite(loss):
            raise TrainingError(f"loss became {loss.item()} at step {self.step}; "
                                f"the last good checkpoint in {self.out_dir} is kept")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()          # fp16: backward of S·loss (devices.py); else plain backward
        self.scaler.unscale_(self.optimizer)        # gradients / S, so clipping sees their true norm
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], self.cfg.grad_clip)
        self.scaler.step(self.optimizer)            # skipped when fp16 gradients overflowed
        self.scaler.update()
        self.step += 1
        self.update_ema()
        return loss.item()

    def run(self, total_steps: int | None = None, minutes: float | None = None, save_every: int = 0,
            on_save=None) -> Path | None:
        """Train to ``total_steps``, or for ``minutes`` of wall-clock (VAE included): then the speed of the
        first 10 diffusion steps sets the total, re-set from the mean speed at the end of the warm-up and, only
        ever down, every 200 steps (a machine that slows down would overrun otherwise), so the learning rate
        still decays to its end. Ctrl-C (or SIGTERM) saves a checkpoint before stopping."""
        start = time.monotonic()
        self.train_vae_phase(total_steps)
        self.start_diffusion_phase(total_steps)
        timed = total_steps is None
        total_steps = self.step + 10**9 if timed else total_steps
        self.model.train()
        bar = tqdm(total=None if timed else total_steps, initial=self.step, disable=self.rank != 0,
                   desc="diffusion", unit="step")
        interrupted, t0, first_step = False, time.monotonic(), self.step
        old_handler = signal.signal(signal.SIGTERM, _interrupt) if self.rank == 0 else None
        try:
            while self.step < total_steps:
                loss = self.train_step(total_steps)
                self.losses.append(loss)
                done = self.step - first_step
                per_step = (time.monotonic() - t0) / done
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{self.cfg.batch_size / per_step:.0f}")
                if timed and (done in (10, self.cfg.warmup_steps) or done % 200 == 0):  # (re-)estimate the total
                    left = minutes * 60 - (time.monotonic() - start)
                    estimate = self.step + max(0, int(left / per_step))
                    # once the cosine decay has begun the total may only shrink, so the rate never rises again
                    total_steps = estimate if done <= self.cfg.warmup_steps else min(total_steps, estimate)
                    # every process must stop at the same step: rank 0 decides
                    total_steps = agree(total_steps, self.world, self.model.device)
                    bar.total = total_steps
                if save_every and self.step % save_every == 0 and self.step < total_steps:
                    self.save(total_steps)
                    if on_save:
                        on_save(self)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            bar.close()
            if old_handler is not None:
                signal.signal(signal.SIGTERM, old_handler)
        path = self.save(total_steps, gather=not interrupted or self.world == 1)
        if on_save:
            on_save(self)
        if interrupted:
            self.log(f"interrupted at step {self.step}; saved {path}")
            raise KeyboardInterrupt
        self.model.eval()
        return path

    def ema_model(self) -> MiniGPTImage:
        """The model with EMA weights (what a checkpoint holds for sampling)."""
        return MiniGPTImage.from_checkpoint_dict(self.state(self.step)).to(self.model.device)




def make_trainer(preset: str, out_dir, vae=None, resume: bool = False, device: str = "cpu",
                 precision: str = "fp32", keep: int = 3, log=print, **overrides) -> Trainer:
    """A ``Trainer`` for ``preset``, set up as ``python -m minigptimage train`` does it: joins the process group
    under torchrun (logging on rank 0 only), applies ``overrides`` to ``TrainConfig.preset(preset)`` (None
    keeps the preset's value), then resumes from the newest good checkpoint in ``out_dir`` (``resume``; fresh,
    saying so, when there is none) or else takes the trained VAE ``vae`` — a file or a ``VAE`` (no VAE phase)."""
    cfg = dataclasses.replace(TrainConfig.preset(preset), precision=precision,
                              **{k: v for k, v in overrides.items() if v is not None})
    rank, world, device = setup_distributed(str(device))
    say = log if rank == 0 else (lambda *a: None)
    tokenizer = word_tokenizer() if PipelineConfig.preset(preset).tokenizer == "word" else None
    found = newest_good_checkpoint(out_dir, log=say) if resume else None
    if resume and found is None:
        say(f"no checkpoint to resume in {out_dir}; starting fresh")
    if found is not None:  # the checkpoint's latent (restore checks the rest of its config against the preset)
        vae, latent = None, PipelineConfig.from_dict(found[1]["config"]).vae
    else:
        vae = None if vae is None else vae if isinstance(vae, VAE) else load_vae(vae)
        latent = None if vae is None else vae.cfg  # the U-Net is built for the given VAE's latent
    model = MiniGPTImage.from_preset(preset, tokenizer=tokenizer, seed=cfg.seed, vae=latent).to(device)
    trainer = Trainer(model, cfg, out_dir, preset=preset, keep=keep, log=say, rank=rank, world=world)
    if found is not None:
        trainer.restore(found[1])
        say(f"resuming from {found[0]} at step {trainer.step}")
    elif vae is not None:
        model.vae.load_state_dict(vae.state_dict())
        trainer.vae_done = True
    return trainer


def train_run(preset: str, out_dir, steps: int | None = None, minutes: float | None = None, save_every: int = 0,
              on_save=None, **setup) -> Trainer:
    """Train ``preset`` into ``out_dir`` to ``steps`` in all, or for ``minutes`` (10 when neither is given);
    ``setup`` goes to ``make_trainer`` (vae, resume, device, precision, keep, log, TrainConfig fields).
    Leaves the process group, if torchrun made one. Returns the trainer (``.step``, ``.losses``, ``.model``)."""
    trainer = make_trainer(preset, out_dir, **setup)
    minutes = 10.0 if steps is None and minutes is None else minutes
    start = time.monotonic()
    path = trainer.run(total_steps=steps, minutes=minutes, save_every=save_every, on_save=on_save)
    trainer.log(f"trained to step {trainer.step} in {time.monotonic() - start:.0f} s; checkpoint {path}")
    if trainer.world > 1:
        dist.destroy_process_group()
    return trainer

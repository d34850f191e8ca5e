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
(``training_items``).

Everything random comes from one ``torch.Generator`` whose state is saved, and the data is indexed by step
(batch s is dataset items s·B … s·B+B−1), so a run resumed from a checkpoint continues exactly as an
uninterrupted one. AdamW (Loshchilov & Hutter 2019), linear warm-up then cosine decay, gradient clipping, and an
exponential moving average (EMA) of the weights, which is what sampling uses.
"""
from __future__ import annotations

import copy
import itertools
import dataclasses
import math
import multiprocessing
import os
import re
import signal
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm

from .devices import autocast, grad_scaler, resolve_precision
from .glyphs import REFERENCE_CAPTION, GlyphDataset, collate
from .pipeline import CheckpointError, MiniGPTImage, atomic_save, read_checkpoint
from .tokenizer import trim_padding
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
    min_snr_gamma: float = 0.0    # Min-SNR-γ loss weighting; 0 turns it off. Off by default: it weights the
                                  # x₀ error by min(SNR, γ) → 0 at t ≈ T, exactly where a sample's colours are
                                  # decided from the prompt alone (measured: colour from t = 999 was 28% with γ=5)
    seed: int = 0                 # seeds the data order, t, ε and dropout
    vae_steps: int = 300          # VAE training steps before diffusion (0 with a given VAE)
    vae_batch_size: int = 32      # images per VAE step
    vae_lr: float = 1e-3          # VAE learning rate
    latent_cache: int = 0         # >0: pre-render and pre-encode this many items once (the VAE encoder costs
                                  # ~4× the U-Net per image); 0: render and encode every batch afresh
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
        if base == "tiny":  # batch 32 at 2e-3 learns more per image than 64 at 1e-3 (measured: README)
            return cls(batch_size=32, lr=2e-3, warmup_steps=100, latent_cache=20000)
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


def draw_randomness(batch_size: int, latent_shape, num_steps: int, cond_dropout: float,
                    generator: torch.Generator) -> dict:
    """The random part of one training batch: timesteps t (B,), noise ε (B, C, h, w), dropout flags (B,)."""
    return {"t": torch.randint(0, num_steps, (batch_size,), generator=generator),
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
        draws = draw_randomness(B, z0.shape[1:], model.schedule.num_steps, cfg.cond_dropout, generator)
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
    snr = model.schedule.snr.to(device)[t]                         # (B,)
    w = loss_weight(snr, prediction, cfg.min_snr_gamma)
    return (w * (out - target).pow(2).mean(dim=(1, 2, 3))).mean()


class LatentCache:
    """``size`` training items rendered once and encoded once by the (trained, frozen) VAE: the latents
    (N, C, h, w), captions (and their token ids) and glyph canvases (N, 1, H, W, stored as uint8). Deterministic
    for a seed, so a resumed run rebuilds exactly the same cache. It lives on the model's device (20,000 ``tiny``
    items take ~0.5 GB), so on a GPU a step copies nothing from the host and tokenizes nothing."""

    def __init__(self, model: MiniGPTImage, dataset: GlyphDataset, size: int, progress: bool = True,
                 reference_every: int = 0, workers: int = 1):
        latents, glyphs, boxes, refs, has_ref, ids, masks, self.captions = [], [], [], [], [], [], [], []
        device, max_len = model.device, model.config.max_prompt_len
        for batch in tqdm(rendered_chunks(dataset, size, reference_every, workers), total=math.ceil(size / 256),
                          desc="encoding the training set", disable=not progress):
            with torch.no_grad():
                latents.append(model.vae.encode_latents(batch["image"].to(device)))
            glyphs.append((batch["glyph"] * 255).round().to(torch.uint8).to(device))
            refs.append(((batch["reference"] + 1) * 127.5).round().to(torch.uint8).to(device))
            boxes.append(batch["box"].to(device))
            has_ref.append(batch["has_reference"].to(device))
            tokens = model.tokenizer.encode(batch["caption"], max_len)  # (b, max_len) ids and mask
            ids.append(tokens[0].to(device))
            masks.append(tokens[1].to(device))
            self.captions += batch["caption"]
        self.latents, self.glyphs = torch.cat(latents), torch.cat(glyphs)   # (N, C, h, w), (N, 1, H, W)
        self.boxes, self.has_reference = torch.cat(boxes), torch.cat(has_ref)  # (N, 4), (N,)
        self.references = torch.cat(refs)                                   # (N, 3, H, W) uint8
        self.ids, self.masks = torch.cat(ids), torch.cat(masks)            # (N, max_len)

    def __len__(self) -> int:
        return len(self.captions)

    def batch(self, step: int, batch_size: int, rank: int = 0, world: int = 1) -> dict:
        start = (step * world + rank) * batch_size
        idx = (start + torch.arange(batch_size, device=self.latents.device)) % len(self)  # (B,)
        return {"latent": self.latents[idx], "glyph": self.glyphs[idx].float() / 255, "box": self.boxes[idx],
                "reference": self.references[idx].float() / 127.5 - 1, "has_reference": self.has_reference[idx],
                "ids": self.ids[idx], "mask": self.masks[idx],
                "caption": [self.captions[(start + k) % len(self)] for k in range(batch_size)]}


def rendered_chunks(dataset: GlyphDataset, size: int, reference_every: int, workers: int = 1, chunk: int = 256):
    """``training_items`` for items 0 … size−1, ``chunk`` at a time, in order. With ``workers`` > 1 they are
    rendered in that many processes (rendering is deterministic per index, so the chunks are the same): on a
    GPU, rendering on one core would take longer than the whole training run."""
    chunks = [range(s, min(size, s + chunk)) for s in range(0, size, chunk)]
    if workers <= 1:
        yield from (training_items(dataset, c, reference_every) for c in chunks)
        return
    spawn = multiprocessing.get_context("spawn")  # a forked child of a CUDA process cannot be trusted
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for arrays in pool.map(_items_as_arrays, itertools.repeat(dataset), chunks, itertools.repeat(reference_every)):
            yield {k: torch.from_numpy(v) if hasattr(v, "dtype") else v for k, v in arrays.items()}


def _items_as_arrays(dataset, indices, reference_every) -> dict:
    """``training_items`` with numpy arrays, which pickle plainly between processes (tensors would travel as
    shared-memory handles)."""
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v
            for k, v in training_items(dataset, indices, reference_every).items()}


class DiffusionObjective(torch.nn.Module):
    """The model behind one forward call that returns the loss, so that DistributedDataParallel (which hooks
    ``forward``) can average the gradients of the prompt encoder and U-Net across processes."""

    def __init__(self, model: MiniGPTImage, cfg: TrainConfig):
        super().__init__()
        self.model, self.cfg = model, cfg

    def forward(self, batch: dict, generator=None, draws=None) -> torch.Tensor:
        return diffusion_loss(self.model, batch, self.cfg, generator, draws)


def setup_distributed(device: str) -> tuple[int, int, str]:
    """Under ``torchrun`` (WORLD_SIZE > 1): join the process group — NCCL on GPUs, gloo on the CPU — and
    return (rank, world size, this process's device). Without torchrun: (0, 1, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, device
    on_gpu = device.startswith("cuda")
    if on_gpu:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if on_gpu else "gloo")
    return dist.get_rank(), world, device


def training_items(dataset: GlyphDataset, indices, reference_every: int = 0) -> dict:
    """Collated training items. Item i with ``reference_every`` > 0 and i % reference_every == 0 is a style
    pair (``GlyphDataset.pair``): its target is the pair's first render, its caption names only the word
    (``REFERENCE_CAPTION``) and its ``reference`` image is the second render — same colours, font, size and
    place, another word — so the style can only come from the reference's image tokens. Adds ``reference``
    (B, 3, H, W) (zeros in rows without one) and ``has_reference`` (B,) bool."""
    items, refs = [], []
    for i in indices:
        if reference_every and i % reference_every == 0:
            target, ref = dataset.pair(i)
            items.append(dataclasses.replace(target, caption=REFERENCE_CAPTION.format(text=target.text)))
            refs.append(ref.image)
        else:
            items.append(dataset.sample(i))
            refs.append(None)
    batch = collate(items)
    batch["has_reference"] = torch.tensor([r is not None for r in refs])
    batch["reference"] = torch.stack([r if r is not None else torch.zeros_like(batch["image"][0]) for r in refs])
    return batch


def data_batch(dataset: GlyphDataset, step: int, batch_size: int, rank: int = 0, world: int = 1,
               reference_every: int = 0) -> dict:
    """Batch ``step`` of the data stream: items step·B·world + rank·B … (+B−1), so ranks see distinct data."""
    start = (step * world + rank) * batch_size
    return training_items(dataset, [(start + k) % len(dataset) for k in range(batch_size)], reference_every)


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
        self.dataset = GlyphDataset("train", length=10**9, seed=cfg.seed, image_size=model.config.image_size)
        self.step, self.vae_done, self.losses = 0, False, []
        self.objective = DiffusionObjective(model, cfg)  # wrapped in DDP once the VAE is trained
        self.cache = None  # LatentCache, built after the VAE phase when cfg.latent_cache > 0
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

    def save(self, total_steps: int) -> Path | None:
        if self.rank != 0:
            return None
        path = atomic_save(self.state(total_steps), self.out_dir / f"ckpt_{self.step:07d}.pt")
        for old in checkpoints(self.out_dir)[:-self.keep]:
            old.unlink(missing_ok=True)
        return path

    def restore(self, ckpt: dict) -> None:
        ts = ckpt["train_state"]
        resumed = MiniGPTImage.from_checkpoint_dict(ckpt)
        if resumed.config != self.model.config:
            raise CheckpointError("checkpoint: it was trained with another config than this run's preset")
        for n in ("encoder", "unet"):
            getattr(self.model, n).load_state_dict(ts["raw"][n])
            self.ema[n].load_state_dict(ckpt["weights"][n])
        self.model.vae.load_state_dict(ckpt["weights"]["vae"])
        self.optimizer.load_state_dict(ts["optimizer"])
        self.generator.set_state(ts["generator"])
        self.step, self.vae_done, self.losses = ts["step"], ts["vae_done"], list(ts["losses"])
        if ts.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ts["scaler"])

    # ------------------------------------------------------------- the loops
    def train_vae_phase(self) -> None:
        if self.vae_done:
            return
        if self.model.vae.cfg.linear_path:  # start from the closed-form linear optimum (see VAE.init_from_pca)
            self.model.vae.init_from_pca(data_batch(self.dataset, 2 * 10**6, 2000)["image"].to(self.model.device))
        if self.cfg.vae_steps > 0:
            self.log(f"training the VAE for {self.cfg.vae_steps} steps")
            device, B = self.model.device, self.cfg.vae_batch_size
            stream = (data_batch(self.dataset, 10**6 + s, B)["image"].to(device) for s in itertools.count())
            train_vae(self.model.vae, stream, steps=self.cfg.vae_steps, batch_size=B, lr=self.cfg.vae_lr,
                      seed=self.cfg.seed, progress=self.rank == 0)
        images = data_batch(self.dataset, 0, 256)["image"].to(self.model.device)
        self.model.vae.fit_scale_factor(images)
        self.vae_done = True

    def start_diffusion_phase(self) -> None:
        """Freeze the VAE, encode the latent cache if asked, and wrap the objective in DDP (which also
        broadcasts rank 0's weights to every process)."""
        self.model.vae.requires_grad_(False)
        if self.cfg.latent_cache > 0 and self.cache is None:
            cores = max(1, min(16, os.cpu_count() or 1) // self.world)
            workers = self.cfg.render_workers or (cores if self.model.device.type == "cuda" else 1)
            self.cache = LatentCache(self.model, self.dataset, self.cfg.latent_cache, progress=self.rank == 0,
                                     reference_every=self.cfg.reference_every, workers=workers)
        if self.world > 1 and not isinstance(self.objective, DistributedDataParallel):
            self.objective = DistributedDataParallel(self.objective, find_unused_parameters=True)

    def update_ema(self) -> None:
        decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))
        with torch.no_grad():
            for n, ema in self.ema.items():  # θ_ema ← θ_ema + (1 − decay)·(θ − θ_ema), every tensor in one call:
                # on a GPU a Python loop's hundreds of tiny kernel launches would cost more than the update itself
                torch._foreach_lerp_(list(ema.parameters()), list(getattr(self.model, n).parameters()), 1 - decay)

    def train_step(self, total_steps: int, draws: dict | None = None) -> float:
        """One optimiser step on this process's batch; ``draws`` (t, noise, dropout) overrides the generator."""
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, total_steps, self.cfg)
        if self.cache is not None:
            batch = self.cache.batch(self.step, self.cfg.batch_size, self.rank, self.world)
        else:
            batch = data_batch(self.dataset, self.step, self.cfg.batch_size, self.rank, self.world,
                               self.cfg.reference_every)
        with autocast(self.model.device, self.precision):  # 16-bit matmuls and convs; the loss comes out fp32
            loss = self.objective(batch, self.generator, draws)
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
        self.train_vae_phase()
        self.start_diffusion_phase()
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
                    if self.world > 1:  # every process must stop at the same step: rank 0 decides
                        agreed = torch.tensor([total_steps], device=self.model.device)  # NCCL needs a GPU tensor
                        dist.broadcast(agreed, src=0)
                        total_steps = int(agreed)
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
        path = self.save(total_steps)
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

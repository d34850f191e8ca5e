"""The training objective as pure functions: timestep draws, loss weights, condition dropout and the loss.

DDPM's objective (Ho et al. 2020, arXiv 2006.11239, Algorithm 1), on latents (Rombach et al. 2022):
    z₀ = VAE mean of an image · scale_factor,   t ~ p(t),   ε ~ N(0, I)
    z_t = √ᾱ_t·z₀ + √(1−ᾱ_t)·ε                           (DDPM eq. 4)
    loss = w(t)·‖f_θ(z_t, t, prompt) − target‖²,          target = ε, v or z₀
    v = √ᾱ_t·ε − √(1−ᾱ_t)·z₀                              (Salimans & Ho 2022, arXiv 2202.00512, sec. 4)

The timestep density p(t) (``draw_randomness``): uniform on {0, …, T−1} as in the DDPM paper; shifted toward
the noisy end by SD3's shift (Esser et al. 2024, arXiv 2403.03206, eq. 23): t/T = α·u / (1 + (α−1)·u), u uniform;
or SD3's logit-normal (sec. 3.1, eq. 19): t/T = sigmoid(m + s·z), z ~ N(0, 1), which trains the middle of the
path most (the workshop: (m, s) = (0, 1)); or both, row by row (``logit_normal_or_shifted``; the ``tiny``
preset: half logit-normal (0, 1), half shifted by α = 3, so one network learns the colours, decided at the
noisy end, and the letters, drawn in the middle; for its last fifth, ``shifted_share_at``, logit-normal alone).
The loss is unweighted: w(t) = 1.

Conditioning dropout for classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598, sec. 3.2): a row
dropped with probability ``cond_dropout`` sees the learned null prompt and an empty glyph canvas.

The flow-matching objective (rectified flow: Liu et al. 2022, arXiv 2209.03003; Lipman et al. 2022, arXiv
2210.02747; Esser et al. 2024, eq. 1–4 and sec. 3.1; the path and which end is noise: flow.py), on the same
networks, dropout, EMA and checkpoints; t is continuous and ε sits at t = 1:
    z_t = (1 − t)·z₀ + t·ε,   t ∈ [0, 1)                    (uniform, shifted by α, or logit-normal (m, s))
    loss = ‖v_θ(z_t, t·T, prompt) − (ε − z₀)‖²              (the U-Net reads t·T as its timestep; no weighting)

Every random number of a step is drawn by ``draw_randomness`` (``draw_flow_randomness``) from one generator, so a
test (or a resumed run) can pass the same draws back in.
"""
from __future__ import annotations

import torch

from .flow import flow_interpolate, flow_velocity_target, shift_sigma
from .tokenizer import trim_padding


def on_timestep_grid(fractions: torch.Tensor, num_steps: int) -> torch.Tensor:
    """DDPM's discrete timesteps (B,) from fractions t/T (B,) in [0, 1]: ⌊T·t/T⌋, at most T − 1."""
    return (fractions * num_steps).long().clamp(max=num_steps - 1)


def shifted_timesteps(u: torch.Tensor, num_steps: int, shift: float) -> torch.Tensor:
    """Timesteps (B,) from uniform u (B,) in [0, 1): t = ⌊T · α·u / (1 + (α−1)·u)⌋, SD3's eq. 23 on DDPM's
    discrete t. α = 1 leaves t uniform; α > 1 moves the draws toward t = T (P(t/T ≥ ½) = α / (1 + α))."""
    return on_timestep_grid(shift_sigma(u, shift), num_steps)


def logit_normal_fractions(z: torch.Tensor, m: float = 0.0, s: float = 1.0) -> torch.Tensor:
    """Fractions t (B,) in (0, 1) from standard normal z (B,): t = sigmoid(m + s·z), SD3's logit-normal density
    (Esser et al. 2024, sec. 3.1, eq. 19), which trains the middle of the path most; m > 0 leans toward the noise."""
    return torch.sigmoid(m + s * z)


def logit_normal_or_shifted(batch_size: int, generator: torch.Generator, logit_normal, shift: float,
                            shifted_share: float) -> torch.Tensor:
    """Fractions t/T (B,) float64: logit-normal (m, s) = ``logit_normal`` (``logit_normal_fractions``), and with
    ``shifted_share`` > 0 that share of the rows drawn by the shift α instead (``flow.shift_sigma``), so one
    network trains both the middle of the path (the letters) and its noisy end (the colours)."""
    fractions = logit_normal_fractions(torch.randn(batch_size, generator=generator, dtype=torch.float64),
                                       *logit_normal)
    if shifted_share > 0:
        shifted = shift_sigma(torch.rand(batch_size, generator=generator, dtype=torch.float64), shift)
        fractions = torch.where(torch.rand(batch_size, generator=generator) < shifted_share, shifted, fractions)
    return fractions


def shifted_share_at(step: int, total_steps: int, share: float, until: float) -> float:
    """The shifted share of step ``step`` of a run of ``total_steps``: ``share`` for the first ``until`` of the run,
    then 0, so its last steps draw logit-normal alone and polish the letters in the middle of the path (the
    ``tiny`` preset: both ends for 80%, then the middle; RESULTS.md, "Retrains not shipped")."""
    return share if step < until * total_steps else 0.0


def draw_randomness(batch_size: int, latent_shape, num_steps: int, cond_dropout: float,
                    generator: torch.Generator, timestep_shift: float = 1.0, logit_normal=None,
                    shifted_share: float = 0.0) -> dict:
    """The random part of one training batch: timesteps t (B,), noise ε (B, C, h, w), dropout flags (B,).
    ``logit_normal`` = (m, s) draws t by ``logit_normal_or_shifted`` (a ``shifted_share`` of the rows by the shift
    α); else a shift α ≠ 1 draws it by ``shifted_timesteps``, and α = 1 uniformly (``torch.randint``)."""
    if logit_normal is not None:
        t = on_timestep_grid(logit_normal_or_shifted(batch_size, generator, logit_normal, timestep_shift,
                                                     shifted_share), num_steps)
    elif timestep_shift == 1:
        t = torch.randint(0, num_steps, (batch_size,), generator=generator)
    else:
        t = shifted_timesteps(torch.rand(batch_size, generator=generator, dtype=torch.float64), num_steps,
                              timestep_shift)
    return {"t": t,
            "noise": torch.randn((batch_size, *latent_shape), generator=generator),
            "drop": torch.rand(batch_size, generator=generator) < cond_dropout}


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


def encode_prompt(model, batch: dict) -> dict:
    """The condition of a training batch: the encoder's context (B, L, D) and mask (B, L) from the batch's
    tokens (or captions), its box token and reference image where the encoder takes them, and the glyph canvas."""
    device = model.device
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
    return cond


def clean_latents(model, batch: dict) -> torch.Tensor:
    """z₀ (B, C, h, w) of a training batch, of unit variance: its cached ``latent``s, or its ``image``s encoded
    by the (frozen) VAE."""
    if "latent" in batch:
        return batch["latent"].to(model.device)
    with torch.no_grad():
        return model.vae.encode_latents(batch["image"].to(model.device))  # (B, 3, H, W) -> (B, C, h, w)


def diffusion_loss(model, batch: dict, draws: dict) -> torch.Tensor:
    """One batch of DDPM's objective (the module docstring) with the given ``draws`` (``draw_randomness``);
    ``batch`` holds latents or images (``clean_latents``)."""
    device = model.device
    z0 = clean_latents(model, batch)                               # (B, C, h, w)
    t, noise, drop = (draws[k].to(device) for k in ("t", "noise", "drop"))
    z_t = model.schedule.q_sample(z0, t, noise=noise)               # DDPM eq. 4
    prediction = model.config.prediction
    target = {"epsilon": noise, "x0": z0, "v": model.schedule.get_v(z0, noise, t)}[prediction]
    cond = drop_condition(encode_prompt(model, batch), model.null_condition(z0.shape[0]), drop)
    out = model.denoise(z_t, t, cond)                              # (B, C, h, w)
    return (out - target).pow(2).mean(dim=(1, 2, 3)).mean()


def draw_flow_randomness(batch_size: int, latent_shape, cond_dropout: float, generator: torch.Generator,
                         timestep_shift: float = 1.0, logit_normal=None, shifted_share: float = 0.0) -> dict:
    """``draw_randomness`` for the flow objective: t (B,) float64 in [0, 1), continuous — for ``logit_normal`` =
    (m, s) ``logit_normal_or_shifted``, else u ~ U[0, 1) shifted by α (``flow.shift_sigma``; α = 1: uniform) —
    then the noise ε (B, C, h, w) and the dropout flags (B,), in that order."""
    if logit_normal is not None:
        t = logit_normal_or_shifted(batch_size, generator, logit_normal, timestep_shift, shifted_share)
    else:
        t = shift_sigma(torch.rand(batch_size, generator=generator, dtype=torch.float64), timestep_shift)
    return {"t": t,
            "noise": torch.randn((batch_size, *latent_shape), generator=generator),
            "drop": torch.rand(batch_size, generator=generator) < cond_dropout}


def flow_loss(model, batch: dict, draws: dict) -> torch.Tensor:
    """One batch of the flow objective (the module docstring) with ``draws`` of ``draw_flow_randomness``; the
    arguments of ``diffusion_loss``."""
    device = model.device
    z0 = clean_latents(model, batch)                               # (B, C, h, w)
    t = draws["t"].to(device, torch.float32)                       # (B,) in [0, 1]
    noise, drop = draws["noise"].to(device), draws["drop"].to(device)
    z_t = flow_interpolate(z0, noise, t)                           # (1 − t)·z₀ + t·ε
    target = flow_velocity_target(z0, noise)                       # ε − z₀
    cond = drop_condition(encode_prompt(model, batch), model.null_condition(z0.shape[0]), drop)
    out = model.denoise(z_t, t * model.config.num_steps, cond)     # (B, C, h, w): v̂ at timestep t·T
    return (out - target).pow(2).mean()

"""MiniGPTImage: the three components of a GPT-Image-1-style system wired together, and nothing else.

    prompt ──► tokenizer ──► PromptEncoder ──► context (B, L, D) ─────────────┐
    quoted word + placement ──► layout.render_canvas ──► glyph (B, 1, H, W) ──┤
    z_T ~ N(0, I) (B, C, h, w) ──► sampler ⇄ UNet(z_t, t, context, glyph) ◄───┘
    z_0 ──► VAE decoder ──► image (B, 3, H, W) in [-1, 1]

Latent diffusion (Rombach et al. 2022, arXiv 2112.10752): the diffusion model works on the VAE's latents,
scaled to unit variance by the VAE's ``scale_factor`` (their appendix G), and the decoder turns the final latent
into pixels. Classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598) contrasts the prompt with a learned
"null" prompt; during training the prompt (and its glyph canvas) is dropped at random so one network learns both.

The output pixels are always the model's: the glyph canvas is an *input* to the U-Net, never pasted into the image.
``inpaint`` and ``edit`` run the RePaint and SDEdit loops of ``editing.py`` with the same denoiser.
A call is checked once, before any network runs: ``check_request`` parses, tokenizes and places each prompt,
checks the sampling numbers and builds the sampler, and returns a ``Request`` that the three methods run (they
take one in place of their prompts). The word's box is the same for the glyph canvas and the encoder's box token.

A checkpoint is one ``.pt`` file of plain tensors, numbers, strings, lists and dicts, so it loads with a bare
``torch.load(path, weights_only=True)``; it holds a format version, the config, the tokenizer's vocabulary and the
(EMA) weights. ``train.py`` adds its own resume state under ``"train_state"``, which ``load`` ignores.
"""
from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

import torch
from torch import nn

from . import layout
from .checkpoints import (TINY_DATA, CheckpointError, atomic_save, one_line,  # noqa: F401  (re-exported)
                          read_checkpoint)
from .devices import autocast, resolve_precision
from .editing import check_images, check_masks, check_resample, check_strength, latent_mask, mask_box, repaint, sdedit
from .config import (FORMAT_VERSION, OBJECTIVES, PRESETS, SAMPLERS, PipelineConfig,  # noqa: F401  (re-exported)
                     upgrade_checkpoint)
from .encoder import PromptEncoder
from .ink import glyph_box
from .request import (Request, check_prompts, check_reference, check_sampling_args,  # noqa: F401  (re-exported)
                      make_sampler, parse_prompts)
from .samplers import sample_loop
from .schedule import NoiseSchedule
from .tokenizer import PROMPT_WORDS, CharTokenizer, WordTokenizer, trim_padding
from .unet import UNet
from .vae import VAE, VAEConfig

PRETRAINED = TINY_DATA / "minigptimage_tiny.pt"


class MiniGPTImage(nn.Module):
    """Prompt encoder + U-Net + VAE + noise schedule. See the module docstring for the flow."""

    def __init__(self, config: PipelineConfig, tokenizer=None):
        super().__init__()
        self.config = config
        if tokenizer is None:
            if config.tokenizer == "word":
                raise ValueError("tokenizer: a word-level model needs a WordTokenizer built from captions")
            tokenizer = CharTokenizer(PROMPT_WORDS)
        self.tokenizer = tokenizer
        enc_cfg = dataclasses.replace(config.encoder, vocab_size=tokenizer.vocab_size, quote_id=tokenizer.quote_id)
        self.encoder = PromptEncoder(enc_cfg)
        self.unet = UNet(config.unet)
        self.vae = VAE(config.vae)
        self.schedule = NoiseSchedule.from_name(config.schedule, config.num_steps)
        self.precision = "fp32"  # sampling's autocast format when a call names none: fp32|bf16|fp16|auto (devices.py)

    # ---------------------------------------------------------------- construction and files
    @classmethod
    def from_preset(cls, name: str, tokenizer=None, seed: int = 0, vae: VAEConfig | None = None) -> "MiniGPTImage":
        """A freshly initialised model; ``seed`` fixes the initial weights (the global RNG is left alone);
        ``vae``: another latent than the preset's (``PipelineConfig.with_vae``)."""
        config = PipelineConfig.preset(name)
        config = config if vae is None or vae == config.vae else config.with_vae(vae)
        if config.tokenizer == "word" and tokenizer is None:  # its vocabulary comes from the training captions
            raise ValueError(f"tokenizer: the {name!r} preset needs a WordTokenizer built from its training "
                             "captions (training_data.word_tokenizer())")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return cls(config, tokenizer)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def checkpoint_dict(self) -> dict:
        """Everything ``load`` needs, as plain types (weights_only-safe)."""
        return {
            "format": FORMAT_VERSION,
            "kind": "minigptimage",
            "config": self.config.to_dict(),
            "tokenizer": {"kind": self.config.tokenizer, "state": self.tokenizer.state_dict()},
            "weights": {name: {k: v.detach().cpu() for k, v in getattr(self, name).state_dict().items()}
                        for name in ("encoder", "unet", "vae")},
        }

    def save(self, path) -> Path:
        return atomic_save(self.checkpoint_dict(), path)

    @classmethod
    def from_checkpoint_dict(cls, ckpt, source: str = "checkpoint") -> "MiniGPTImage":
        if not isinstance(ckpt, dict) or ckpt.get("kind") != "minigptimage":
            raise CheckpointError(f"{source}: not a minigptimage checkpoint")
        if ckpt.get("format") not in (1, FORMAT_VERSION):
            raise CheckpointError(f"{source}: checkpoint format {ckpt.get('format')!r}, "
                                  f"this version of minigptimage reads formats 1 and {FORMAT_VERSION}")
        ckpt = upgrade_checkpoint(ckpt)
        try:
            config = PipelineConfig.from_dict(ckpt["config"])
            tok = ckpt["tokenizer"]
            tokenizer = (WordTokenizer.from_state_dict(tok["state"]) if tok["kind"] == "word"
                         else CharTokenizer.from_state_dict(tok["state"]))
            model = cls(config, tokenizer)
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{source}: its config does not match this version of minigptimage ({err})")
        for name in ("encoder", "unet", "vae"):
            try:
                getattr(model, name).load_state_dict(ckpt["weights"][name])
            except (KeyError, RuntimeError) as err:
                raise CheckpointError(f"{source}: the {name} weights do not fit its config ({one_line(err, 200)})")
        return model.eval()

    @classmethod
    def load(cls, path, map_location="cpu") -> "MiniGPTImage":
        return cls.from_checkpoint_dict(read_checkpoint(path, map_location), source=str(path))

    @classmethod
    def pretrained(cls) -> "MiniGPTImage":
        """The best checkpoint shipped in ``tiny_data/`` (trained by ``python -m minigptimage train``)."""
        return cls.load(PRETRAINED)

    # ---------------------------------------------------------------- conditioning
    def condition(self, prompts, boxes=None, reference=None) -> dict:
        """Prompts (or a checked Request) -> the U-Net's conditioning: context (B, L, D), context_mask (B, L),
        glyph (B, 1, H, W).

        The layout goes in twice, at the same box: as a box token of the encoder and as the glyph canvas. The box
        is ``boxes[i]`` when given, else the ink box of ``reference[i]`` (a reference image (B, 3, H, W) in
        [-1, 1] lends its colours through the encoder's image tokens, and its place), else the planned box."""
        request = self.checked(prompts, boxes=boxes, reference=reference)
        device, size = self.device, self.config.image_size
        box_t = torch.tensor(request.boxes, dtype=torch.float32, device=device)  # (B, 4) pixels
        reference = None if request.reference is None else request.reference.to(device)
        context, context_mask = self.encoder(request.ids.to(device), request.mask.to(device), image=reference,
                                             box=box_t if self.config.encoder.use_layout_tokens else None)
        cond = {"context": context, "context_mask": context_mask}
        if self.config.glyph:
            canvases = [layout.render_canvas(parsed.text, box, size) for parsed, box in zip(request.layouts,
                                                                                          request.boxes)]
            cond["glyph"] = torch.stack(canvases).to(device)  # (B, 1, H, W)
        return cond

    def check_request(self, prompts, steps: int = 30, sampler: str | None = None, eta: float = 0.0, guidance=None,
                      seed: int = 0, boxes=None, reference=None) -> Request:
        """Every check of ``generate``'s (and ``inpaint``'s, ``edit``'s) arguments, made once and without a
        network -> the checked Request they run when given it in place of the prompts; ValueError naming the
        argument. prompts=None checks the sampling numbers only (a Request without prompts, for its
        ``sampling()``). The command line calls it before any work, so that a ValueError raised while sampling
        is a bug of the library, not the user's mistake."""
        # 1. the sampling numbers and the sampler (None: the objective's default, ddim or euler)
        steps, guidance, seed = check_sampling_args(steps, guidance, seed, self.config)
        sampler = SAMPLERS[self.config.objective][0] if sampler is None else sampler
        made = self.make_sampler(sampler, steps, eta)
        # 2. each prompt normalised, parsed and tokenized once
        prompts, layouts = ([], []) if prompts is None else parse_prompts(prompts)
        ids = mask = None
        if prompts:
            try:
                ids, mask = trim_padding(*self.tokenizer.encode(prompts, self.config.max_prompt_len))  # (B, L)
            except ValueError as err:
                raise ValueError(f"prompt: {err}") from None
        # 3. each word's box: the caller's, else the reference's ink box, else the planned one
        if boxes is not None and len(boxes) != len(prompts):
            raise ValueError(f"boxes: expected one box per prompt ({len(prompts)}), got {len(boxes)}")
        boxes = list(boxes) if boxes is not None else [None] * len(prompts)
        given = tuple(b is not None for b in boxes)
        if reference is not None:
            reference = check_reference(reference, len(prompts), self.config.image_size)
            boxes = [b if b is not None else glyph_box(r) for b, r in zip(boxes, reference)]
        for k, (parsed, b) in enumerate(zip(layouts, boxes)):
            try:
                boxes[k] = layout.plan_box(parsed, self.config.image_size, box=b)
            except ValueError as err:
                raise ValueError(f"{'prompts' if b is None else 'boxes'}[{k}]: {err}") from None
        return Request(tuple(prompts), tuple(layouts), ids, mask, tuple(boxes), given, reference, made, sampler,
                       steps, eta, guidance, seed)

    def checked(self, prompts, **options) -> Request:
        """``check_request(prompts, **options)``, or ``prompts`` itself when it is a Request already checked;
        then every option must be left at its default, as the request holds them."""
        if not isinstance(prompts, Request):
            return self.check_request(prompts, **options)
        defaults = inspect.signature(self.check_request).parameters
        for name, value in options.items():
            default = defaults[name].default
            if value is not None if default is None else value != default:
                raise ValueError(f"{name}: given with a checked Request, which holds its own; give it to "
                                 "check_request instead")
        if not prompts.prompts:
            raise ValueError("prompts: the Request was checked without prompts (check_request(None, ...))")
        return prompts

    def null_condition(self, batch_size: int) -> dict:
        """The learned null prompt (and no glyph canvas): the unconditional branch of guidance."""
        context, context_mask = self.encoder.null_context(batch_size)
        return {"context": context, "context_mask": context_mask}

    def denoise(self, x_t, t, cond: dict) -> torch.Tensor:
        """The U-Net's prediction (ε, v or x₀ as configured) for latents x_t (B, C, h, w) at steps t (B,)."""
        out = self.unet(x_t, t, cond["context"], cond["context_mask"], glyph=cond.get("glyph"))
        return out.float()  # under autocast the U-Net answers in 16 bits; the samplers' arithmetic stays fp32

    def autocast(self, precision=None):
        """The autocast context for ``precision`` (None: ``self.precision``) on this model's device."""
        return autocast(self.device, resolve_precision(self.precision if precision is None else precision,
                                                       self.device))

    # ---------------------------------------------------------------- sampling
    def latent_shape(self, batch_size: int) -> tuple:
        side = self.config.image_size // self.config.vae.downsample
        return (batch_size, self.config.vae.latent_channels, side, side)

    def make_sampler(self, sampler: str, steps: int, eta: float):
        """``request.make_sampler`` for this model's objective, schedule and prediction."""
        return make_sampler(self.config, self.schedule, sampler, steps, eta)

    @torch.no_grad()
    def generate(self, prompts, steps: int = 30, sampler: str | None = None, eta: float = 0.0, guidance=None,
                 seed: int = 0, return_trajectory: bool = False, boxes=None, reference=None,
                 progress: bool = False, precision=None, noise=None):
        """Text to image. Returns images (B, 3, H, W) in [-1, 1] (and the latent trajectory if asked).

        guidance=None uses the model's recommended scale (stored in its config); 1 is the plain conditional
        model; 0 the unconditional one. sampler=None is the objective's default: "ddim" for a DDPM model, "euler"
        for a flow model ("heun" is its other); ``sampler="ddpm"`` walks all T steps, so it needs ``steps=T`` (and
        eta 0). precision=None uses ``self.precision`` (fp32 unless set). ``noise`` (B, C, h, w) is x_T to start from
        instead of a draw from ``seed`` (the same x_T on two devices gives close images). ``prompts`` may be a
        Request of ``check_request``, which holds the prompts, the sampling numbers, boxes and reference."""
        request = self.checked(prompts, steps=steps, sampler=sampler, eta=eta, guidance=guidance, seed=seed,
                               boxes=boxes, reference=reference)
        shape = self.latent_shape(len(request.prompts))
        if noise is not None and tuple(noise.shape) != shape:
            raise ValueError(f"noise: expected x_T of shape {shape}, got {tuple(noise.shape)}")
        self.eval()
        with self.autocast(precision):
            cond = self.condition(request)
            uncond = self.null_condition(len(request.prompts)) if request.guidance != 1.0 else None
            generator = torch.Generator(device=self.device).manual_seed(request.seed)
            x_T = (torch.randn(shape, generator=generator, device=self.device)
                   if noise is None else noise.to(self.device, torch.float32))
            result = sample_loop(self.denoise, request.sampler, x_T, cond=cond, uncond=uncond,
                                 guidance=request.guidance, generator=generator,
                                 return_trajectory=return_trajectory, progress=progress)
            z_0, traj = result if return_trajectory else (result, None)
            images = self.decode(z_0)  # (B, 3, H, W)
        return (images, traj) if return_trajectory else images

    def _start_edit(self, images, request: Request):
        """The images of inpaint and edit checked against ``request``, the generator and ε (B, C, h, w) already
        drawn from it (generate's x_T), and the null condition unless guidance is 1."""
        images = check_images(images, self.config.image_size).to(self.device)
        B = len(request.prompts)
        if B != images.shape[0]:
            raise ValueError(f"prompts: expected one per image ({images.shape[0]}), got {B}")
        self.eval()
        generator = torch.Generator(device=self.device).manual_seed(request.seed)
        eps = torch.randn(self.latent_shape(B), generator=generator, device=self.device)  # as generate
        uncond = self.null_condition(B) if request.guidance != 1.0 else None
        return images, generator, eps, uncond

    @torch.no_grad()
    def inpaint(self, images, masks, prompts, steps: int = 30, seed: int = 0, guidance=None, resample: int = 1,
                boxes=None, sampler: str | None = None, eta: float = 0.0, progress: bool = False,
                return_trajectory: bool = False, precision=None):
        """Repaint where ``masks`` is 1, keep the rest: images (B, 3, H, W) in [-1, 1], masks (B, 1, H, W) in
        {0, 1}, one prompt per image -> images (B, 3, H, W); pixels outside the mask come back unchanged.

        RePaint in latent space (``editing.repaint``, which explains the steps): the prompt's conditioning with
        the word placed in each mask's bounding box (unless ``boxes[i]`` is given, as in generate) — the glyph
        canvas and the encoder's box token alike —, the image's latent z₀ kept where the latent-grid mask is 0,
        ``resample`` tries per step; then the latent is decoded and blended, out = M·decoded + (1−M)·input.
        ``sampler``, ``steps``, ``eta``, ``guidance`` and ``seed`` are generate's (or a Request's, in place of
        the prompts). With return_trajectory, also returns a dict: "timesteps" (S,), "x_t" (S+1, B, C, h, w)
        (ε first, then x_{t_prev} after each step), "z0" (B, C, h, w), "latent_mask" (B, 1, h, w)."""
        check_resample(resample)
        request = self.checked(prompts, steps=steps, sampler=sampler, eta=eta, guidance=guidance, seed=seed,
                               boxes=boxes)
        with self.autocast(precision):
            images, generator, eps, uncond = self._start_edit(images, request)
            masks = check_masks(masks, images).to(self.device)
            if not bool(masks.any()) and not return_trajectory:
                return images.clone()  # nothing to repaint
            # 1. conditioning: the prompt, its word in the mask's box (unless the caller gave one)
            cond = self.condition(request.placed_at([mask_box(m) for m in masks]))
            # 2. the known image in latent space, and the mask on the latent grid
            z0 = self.vae.encode_latents(images)  # (B, C, h, w)
            m = latent_mask(masks, z0.shape[-1]).bool()  # (B, 1, h, w)
            # 3. RePaint
            result = repaint(self.denoise, request.sampler, eps, z0, m, cond=cond, uncond=uncond,
                             guidance=request.guidance, generator=generator, resample=resample, progress=progress,
                             return_trajectory=return_trajectory)
            z, traj = result if return_trajectory else (result, None)
            # 4. decode, then out = M·decoded + (1−M)·input: the kept pixels come back exactly
            out = torch.where(masks.bool(), self.decode(z), images)  # (B, 3, H, W)
        if not return_trajectory:
            return out
        return out, dict(traj, z0=z0, latent_mask=m.float())

    @torch.no_grad()
    def edit(self, images, prompts, strength: float, steps: int = 30, seed: int = 0, guidance=None, boxes=None,
             sampler: str | None = None, eta: float = 0.0, progress: bool = False, return_trajectory: bool = False,
             precision=None):
        """SDEdit (``editing.sdedit``): images (B, 3, H, W) in [-1, 1] noised to ``strength``·T and denoised
        under ``prompts`` -> images (B, 3, H, W). Strength 0 returns decode(encode(images)) (the input as the VAE
        sees it); strength 1 equals ``generate(prompts, steps, sampler, eta, guidance=guidance, seed=seed,
        boxes=boxes)`` exactly; in between, the last ⌈strength·n⌉ of the sampler's n steps are run (a flow
        model: from σ = strength, the steps of its grid below it). ``prompts`` may be a Request of
        ``check_request``, as in generate."""
        strength = check_strength(strength)
        request = self.checked(prompts, steps=steps, sampler=sampler, eta=eta, guidance=guidance, seed=seed,
                               boxes=boxes)
        with self.autocast(precision):
            images, generator, eps, uncond = self._start_edit(images, request)
            z0 = self.vae.encode_latents(images)  # (B, C, h, w)
            cond = self.condition(request) if strength > 0 else None
            result = sdedit(self.denoise, request.sampler, z0, strength, eps, cond=cond, uncond=uncond,
                            guidance=request.guidance, generator=generator, progress=progress,
                            return_trajectory=return_trajectory)
            z, traj = result if return_trajectory else (result, None)
            out = self.decode(z)  # (B, 3, H, W)
        return (out, traj) if return_trajectory else out

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Scaled latents (B, C, h, w) -> images (B, 3, H, W) in [-1, 1], float32 also under autocast."""
        return self.vae.decode_latents(z).float().clamp(-1, 1)

"""A call of ``generate``, ``inpaint`` or ``edit``, checked once before any network runs: the prompts parsed as
the models read them (``parse_prompts``), the sampling numbers (``check_sampling_args``), a reference image
(``check_reference``), the sampler (``make_sampler``), and the ``Request`` that ``MiniGPTImage.check_request``
builds from them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from . import layout
from .config import SAMPLERS, PipelineConfig
from .samplers import DDIMSampler, DDPMSampler, FlowEulerSampler, FlowHeunSampler
from .tokenizer import normalize_prompt

def parse_prompts(prompts) -> tuple[list[str], list[layout.PromptLayout]]:
    """(the prompts as a list, each one's ``layout.parse_prompt``): each prompt non-empty and quoting exactly one
    text to draw of at most ``layout.MAX_TEXT`` characters, as the models read it (``tokenizer.normalize_prompt``:
    typographic marks as ASCII, case and spacing outside the quotes, single quotes: 'The Word \'SKY\' In White!!'
    is 'the word "SKY" in white'); ValueError naming the prompt."""
    if isinstance(prompts, str):
        prompts = [prompts]
    if not isinstance(prompts, (list, tuple)) or not prompts:
        raise ValueError("prompts: expected a non-empty list of strings")
    checked, layouts = [], []
    for k, p in enumerate(prompts):
        if not isinstance(p, str) or not p.strip():
            raise ValueError(f"prompts[{k}]: the prompt is empty")
        p = normalize_prompt(p)
        try:
            parsed = layout.parse_prompt(p)
        except ValueError as err:
            raise ValueError(f"prompts[{k}]: {err}") from None
        if len(parsed.text) > layout.MAX_TEXT:
            raise ValueError(f"prompts[{k}]: the text {parsed.text!r} has {len(parsed.text)} characters; a model "
                             f"draws at most {layout.MAX_TEXT} (spaces included), the longest its training data had")
        checked.append(p)
        layouts.append(parsed)
    return checked, layouts


def check_prompts(prompts) -> list[str]:
    """The prompts of ``parse_prompts``, as the models read them."""
    return parse_prompts(prompts)[0]


@dataclass(frozen=True, eq=False)
class Request:
    """One call of ``generate``, ``inpaint`` or ``edit``, checked once by ``MiniGPTImage.check_request``: each
    prompt parsed, tokenized and placed, the sampling numbers checked and the sampler built. Those methods take
    it in place of their prompts; it belongs to the model that checked it (its tokenizer, size and schedule)."""
    prompts: tuple[str, ...]                      # B prompts as the model reads them (normalize_prompt)
    layouts: tuple[layout.PromptLayout, ...]      # each prompt's quoted text, region and colours
    ids: torch.Tensor | None                      # (B, L) token ids; None when checked without prompts
    mask: torch.Tensor | None                     # (B, L) bool, True = a real token
    boxes: tuple[tuple[int, int, int, int], ...]  # each word's box (x0, y0, x1, y1): glyph canvas and box token
    given: tuple[bool, ...]                       # boxes[i] is the caller's (else the reference's ink box or planned)
    reference: torch.Tensor | None                # (B, 3, H, W) in [-1, 1]: lends its colours (and place)
    sampler: object                               # what ``make_sampler`` built for sampler_name, steps and eta
    sampler_name: str                             # its name, one of SAMPLERS[config.objective]
    steps: int
    eta: float
    guidance: float                               # the scale that runs (None is the model's config.guidance)
    seed: int

    def sampling(self) -> dict:
        """The sampling as it runs, for a manifest or a table: steps, sampler, eta, guidance and seed."""
        return dict(steps=self.steps, sampler=self.sampler_name, eta=self.eta, guidance=self.guidance,
                    seed=self.seed)

    def placed_at(self, boxes) -> "Request":
        """This request with word i in ``boxes[i]`` where the caller gave no box and ``boxes[i]`` is not None
        (inpaint: each mask's box), for the glyph canvas and the box token alike."""
        placed = tuple(b if given or new is None else new for b, given, new in zip(self.boxes, self.given, boxes))
        return dataclasses.replace(self, boxes=placed)


def check_reference(reference, batch_size: int, image_size: int) -> torch.Tensor:
    """A reference image batch (B, 3, H, W) in [-1, 1], or ValueError naming what is wrong."""
    want = (batch_size, 3, image_size, image_size)
    if not isinstance(reference, torch.Tensor) or tuple(reference.shape) != want:
        got = tuple(reference.shape) if isinstance(reference, torch.Tensor) else type(reference).__name__
        raise ValueError(f"reference: expected a {want} image tensor in [-1, 1], got {got}")
    if not torch.isfinite(reference).all() or reference.min() < -1 or reference.max() > 1:
        raise ValueError("reference: pixel values must be finite and in [-1, 1]")
    return reference.float()


def check_sampling_args(steps, guidance, seed, config: PipelineConfig):
    """Validate the numbers a user gives to a sampler; return (steps, guidance, seed)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= config.num_steps:
        raise ValueError(f"steps: expected an integer from 1 to {config.num_steps}, got {steps!r}")
    guidance = config.guidance if guidance is None else guidance
    if not isinstance(guidance, (int, float)) or not (guidance == guidance) or abs(guidance) > 100:
        raise ValueError(f"guidance: expected a finite number from -100 to 100, got {guidance!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
        raise ValueError(f"seed: expected an integer from 0 to 2**63-1, got {seed!r}")
    return steps, float(guidance), seed


def make_sampler(config: PipelineConfig, schedule, sampler: str, steps: int, eta: float):
    """DDIM with ``steps`` "trailing" steps and noise η = ``eta``, or DDPM, which walks all T steps of the
    training schedule and has no η: it refuses any other ``steps`` and an η other than 0. A flow model takes
    Euler or Heun with ``steps`` steps on the unshifted σ grid (samplers.FlowSampler), and no η. Each
    objective refuses the other's samplers (``SAMPLERS``)."""
    if isinstance(eta, bool) or not isinstance(eta, (int, float)) or not 0 <= eta <= 100:  # also refuses nan
        raise ValueError(f"eta: expected a number from 0 (deterministic DDIM) to 100, got {eta!r}")
    objective, known = config.objective, [name for names in SAMPLERS.values() for name in names]
    if sampler in known and sampler not in SAMPLERS[objective]:
        raise ValueError(f"sampler: {sampler!r} does not sample a model trained with objective {objective!r}; "
                         f"use {' or '.join(map(repr, SAMPLERS[objective]))}")
    if sampler in ("euler", "heun"):
        if eta != 0:
            raise ValueError(f"eta: the flow samplers have no η (η is DDIM's noise), got eta={eta}; use eta=0")
        flow_sampler = FlowEulerSampler if sampler == "euler" else FlowHeunSampler
        return flow_sampler(steps, num_train_timesteps=config.num_steps)
    if sampler == "ddim":
        return DDIMSampler(schedule, steps, eta=eta, spacing="trailing", prediction=config.prediction)
    if sampler == "ddpm":
        T = config.num_steps
        if steps != T:
            raise ValueError(f"steps: DDPM walks all {T} steps of the model's schedule, got steps={steps}; "
                             f"use steps={T}, or the ddim sampler for fewer")
        if eta != 0:
            raise ValueError(f"eta: DDPM has no η (η is DDIM's noise), got eta={eta}; use eta=0 or the ddim sampler")
        return DDPMSampler(schedule, prediction=config.prediction)
    raise ValueError(f"sampler: expected {' or '.join(map(repr, SAMPLERS[objective]))}, got {sampler!r}")

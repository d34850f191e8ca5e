"""The configuration of a ``MiniGPTImage`` and of its checkpoint file: ``PipelineConfig`` (the three components'
configs and the pipeline's own fields, with the named presets), its plain-dict form and its checks (a missing or
unknown field is refused by name), and the one upgrade step of an older checkpoint format.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .encoder import PromptEncoderConfig
from .unet import UNetConfig
from .vae import VAEConfig

OBJECTIVES = ("ddpm", "flow")  # training objectives (objective.py) a model can be trained and sampled with
SAMPLERS = {"ddpm": ("ddim", "ddpm"), "flow": ("euler", "heun")}  # each objective's samplers, its default first
FORMAT_VERSION = 2  # 2: the config names its training objective and holds every field (format 1 is upgraded)


@dataclass
class PipelineConfig:
    """Build one with ``PipelineConfig.preset(name)``: the defaults (here and in the three sub-configs) are what
    a checkpoint saved before a field existed loads with, and on their own they make a model no preset ships."""
    image_size: int = 64                  # H = W of the images, in pixels
    num_steps: int = 1000                 # T, diffusion steps of the training schedule
    schedule: str = "cosine"              # "linear" | "cosine" (NoiseSchedule.from_name)
    objective: str = "ddpm"               # how it was trained, which decides how it samples: "ddpm" | "flow"
    prediction: str = "v"                 # what the U-Net predicts: "epsilon" | "v" | "x0" (flow: "v", ε − x₀)
    tokenizer: str = "char"               # "char" (spells words) | "word" (a predecessor's view)
    max_prompt_len: int = 96              # L, tokens per prompt including <bos> and <eos>
    glyph: bool = True                    # glyph-aware path: render the quoted word as a canvas for the U-Net
    guidance: float = 2.0                 # recommended classifier-free guidance scale for sampling
    sampling_steps: int = 30              # recommended DDIM steps (the benchmarks' default for this model)
    encoder: PromptEncoderConfig = field(default_factory=PromptEncoderConfig)
    unet: UNetConfig = field(default_factory=UNetConfig)
    vae: VAEConfig = field(default_factory=VAEConfig)

    @classmethod
    def preset(cls, name: str) -> "PipelineConfig":
        """``tiny`` trains in ~10 minutes on 2 CPU cores; ``small`` is for a laptop GPU; ``micro`` is a toy that
        trains in seconds, for tests and the lessons' fast mode. The ``-noglyph`` and ``-word`` variants switch
        off the glyph path or use word tokens (the comparison of lesson 14); ``-abspos`` gives the encoder
        learned absolute positions and no segment embedding (the README's position comparison).
        ``-workshop`` is the network of its base; its training recipe differs (``train.TrainConfig.preset``)."""
        base, _, variant = name.partition("-")
        if base not in ("micro", "tiny", "small") or variant not in ("", "noglyph", "word", "abspos", "workshop"):
            raise ValueError(f"preset: unknown name {name!r}; expected one of {', '.join(PRESETS)}")
        size = "small" if base == "small" else "tiny"
        # every preset shares the tiny VAE, so ``small`` reuses tiny_data/vae.pt and a GPU's minutes all go to the
        # diffusion model (a VAE trains on freshly rendered images, which the CPU renders far slower than a GPU eats)
        encoder, unet, vae = (PromptEncoderConfig.preset(size), UNetConfig.preset(size), VAEConfig.preset("tiny"))
        if base == "micro":
            encoder = dataclasses.replace(encoder, dim=32, depth=1, heads=2)
            unet = dataclasses.replace(unet, channels=(16, 32), heads=2, time_dim=32, groups=8, glyph_channels=8)
            vae = dataclasses.replace(vae, channels=(8,) + (16,) * (len(vae.channels) - 1), groups=4)
        if variant == "abspos":
            encoder = dataclasses.replace(encoder, positions="learned", segments=False)
        cfg = cls(tokenizer="word" if variant == "word" else "char", glyph=variant != "noglyph" and variant != "word",
                  vae=vae)
        cfg.encoder = dataclasses.replace(encoder, max_len=max(encoder.max_len, cfg.max_prompt_len))
        cfg.unet = dataclasses.replace(unet, glyph=cfg.glyph, context_dim=encoder.dim,
                                       in_channels=vae.latent_channels, out_channels=vae.latent_channels,
                                       glyph_scale=vae.downsample,
                                       prediction=cfg.prediction)
        return cfg

    def with_vae(self, vae: VAEConfig) -> "PipelineConfig":
        """This config on another latent (``VAEConfig.preset``'s comparison of lesson 07): the VAE's config, and
        a U-Net that reads and predicts its C channels and whose glyph branch patchifies the canvas by its
        downsampling factor. On a finer grid (32×32 where the preset's latent is 16×16) the U-Net gains one
        narrow level per factor of 2 on top — half the first width, no attention — so that its other levels keep
        their widths, resolutions and attention: a U-Net at full width on 4× the cells would cost about 4× the
        time (RESULTS.md, "Choosing a latent")."""
        finer = self.vae.downsample // vae.downsample if vae.downsample < self.vae.downsample else 1
        extra = finer.bit_length() - 1  # new levels on top, one per factor of 2
        if 2 ** extra * vae.downsample != max(vae.downsample, self.vae.downsample):
            raise ValueError(f"vae: a latent grid of image/{vae.downsample} is not this preset's "
                             f"image/{self.vae.downsample} refined by a power of 2")
        g = self.unet.groups
        top = g * max(1, self.unet.channels[0] // (2 * g))  # the narrow level's width, a multiple of the groups
        unet = dataclasses.replace(self.unet, in_channels=vae.latent_channels, out_channels=vae.latent_channels,
                                   glyph_scale=vae.downsample, channels=(top,) * extra + tuple(self.unet.channels),
                                   attention_levels=tuple(i + extra for i in self.unet.attention_levels))
        return dataclasses.replace(self, vae=vae, unet=unet)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PipelineConfig":
        """The config of ``to_dict``; a missing or unknown field is a ValueError that names it."""
        def build(klass, values: dict, where: str):
            names = [f.name for f in dataclasses.fields(klass)]
            unknown, missing = sorted(set(values) - set(names)), [n for n in names if n not in values]
            if unknown or missing:
                raise ValueError(f"config{where}: " + "; ".join(
                    ([f"unknown field {', '.join(unknown)}"] if unknown else []) +
                    ([f"missing field {', '.join(missing)}"] if missing else [])))
            return klass(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
        sub = {"encoder": PromptEncoderConfig, "unet": UNetConfig, "vae": VAEConfig}
        if not isinstance(d, dict) or not all(isinstance(d.get(k), dict) for k in sub):
            raise ValueError("config: expected a dict with encoder, unet and vae dicts")
        top = {k: (build(sub[k], v, f".{k}") if k in sub else v) for k, v in d.items()}
        config = build(cls, top, "")
        if config.objective not in OBJECTIVES:
            raise ValueError(f"config.objective: {config.objective!r}, expected one of {', '.join(OBJECTIVES)}")
        if config.objective == "flow" and config.prediction != "v":
            raise ValueError(f"config.prediction: a flow model predicts the velocity ('v'), got {config.prediction!r}")
        return config


def upgrade_checkpoint(ckpt: dict) -> dict:
    """A checkpoint dict of an older format as format ``FORMAT_VERSION``; the one place old files are read.
    Format 1 grew fields and keys over time, so it is read as those files were trained:
    - a config field it lacks takes ``PipelineConfig``'s default (they are the values before the field existed),
      and its objective is "ddpm";
    - its training state gets "generators" (one state per process) = [its "generator"], "scaler" = {} (no fp16
      loss scaling), and a ``train_config`` without ``made_up_words`` had none (0.0)."""
    if ckpt.get("format") != 1:
        return ckpt
    ckpt = dict(ckpt, format=2)
    config, defaults = dict(ckpt["config"]), PipelineConfig().to_dict()
    for key, value in defaults.items():
        config[key] = {**value, **config[key]} if isinstance(value, dict) and key in config else config.get(key, value)
    ckpt["config"] = config
    if "train_state" in ckpt:
        ts = dict(ckpt["train_state"])
        ts.setdefault("generators", [ts["generator"]])
        ts.setdefault("scaler", {})
        ts["train_config"] = {"made_up_words": 0.0, **ts.get("train_config", {})}
        ckpt["train_state"] = ts
    return ckpt


PRESETS = tuple(f"{b}{v}" for b in ("tiny", "small", "micro")
                for v in ("", "-noglyph", "-word", "-abspos", "-workshop"))

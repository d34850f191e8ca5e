"""The command line's flags: ``build_parser`` lists every command and flag, and each flag's type checks it as it
is parsed — every number through ``number`` (a range, and the memory that a flag that sizes memory would take),
a preset name, a box. ``check_output`` and ``check_folder`` check the paths a command will write, before any
work. A problem raises ``UsageError`` with one line that names the flag: exit code 2 in ``__main__``.
"""
from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

EXAMPLES = """examples:
  python -m minigptimage demo --out demo_out
  python -m minigptimage sample 'the word "HELLO" in red on white, in the center' --out hello.png
  python -m minigptimage train --preset tiny --minutes 10 --out runs/tiny
  python -m minigptimage train --preset small --minutes 5 --device cuda --precision bf16 --out runs/small
  python -m minigptimage train --preset tiny --steps 2000 --save-every 200 --out runs/tiny --resume
  python -m minigptimage train --preset tiny --objective flow --minutes 10 --out runs/flow
  python -m minigptimage sample '"FLOW" in blue on white' --checkpoint runs/flow --sampler heun --steps 8 --out f.png
  python -m minigptimage edit --image hello.png --mask mask.png '"WORLD" in blue on white' --out world.png
  python -m minigptimage evaluate --checkpoint runs/tiny --n 50
  python -m minigptimage verify hello.png
  python -m minigptimage bench
"""
# the flags that size memory: their largest value, and the bytes one unit takes (measured on the CPU)
MAX_CAPTIONS, CAPTION_BYTES = 10_000, 200_000  # evaluate --n: both splits' images and renders of a caption
MAX_BATCH, IMAGE_BYTES = 2048, 15_000_000      # train --batch-size: activations of one image (small preset)
MAX_CACHE, ITEM_BYTES = 500_000, 33_000        # train --latent-cache: a 32x32x4 latent, canvases, tokens


class UsageError(ValueError):
    """Something wrong in what the user typed."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and sys.exit(2); we want one clean line
        raise UsageError(message)


def number(kind, low=None, high=None, unit_bytes=None):
    """An argparse type: a finite ``kind`` (int or float) from ``low`` to ``high`` (None: unbounded). Over
    ``high``, the message says the memory the value would take at ``unit_bytes`` a unit."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is not None and math.isfinite(value) and (low is None or value >= low) and \
                (high is None or value <= high):
            return value
        bounds = (f" from {low} to {high}" if high is not None else f" of at least {low}") if low is not None else ""
        need = f" (about {size(value * unit_bytes)} of memory; {high} take {size(high * unit_bytes)})" \
            if unit_bytes and value is not None and value > high else ""
        raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}{bounds}, "
                                         f"got {text!r}{need}")
    return parse


def size(nbytes: int) -> str:
    """A byte count as whole TB, GB or MB."""
    for unit, scale in (("TB", 10**12), ("GB", 10**9), ("MB", 10**6)):
        if nbytes >= scale or unit == "MB":
            return f"{nbytes // scale:,} {unit}"


def preset_name(text):
    """An argparse type: a preset of pipeline.PRESETS."""
    from .pipeline import PRESETS
    if text not in PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {text!r}; expected one of {', '.join(PRESETS)}")
    return text


def box_corners(text):
    """An argparse type: x0,y0,x1,y1 in pixels (the pipeline checks that the box fits the image)."""
    try:
        box = [int(v) for v in text.split(",")]
    except ValueError:
        box = []
    if len(box) != 4:
        raise argparse.ArgumentTypeError(f"expected four integers x0,y0,x1,y1, got {text!r}")
    return box


def add_device_flags(q):  # devices.py
    q.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
    q.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                   help="autocast format (auto: bf16 on a GPU that has it, fp16 on one without, fp32 on CPU)")


def add_model_flags(q, provenance: bool = True):
    """--checkpoint, the sampling flags (ranges checked by the pipeline), the device and, to write, the key."""
    q.add_argument("--checkpoint", default=None,
                   help="a .pt file or a training folder (newest checkpoint); default: the shipped model")
    q.add_argument("--steps", type=number(int), default=None,
                   help="sampling steps (default: 30 for ddim; ddpm walks all T of the model's schedule)")
    q.add_argument("--sampler", choices=["ddim", "ddpm", "euler", "heun"], default=None,
                   help="ddim or ddpm for a DDPM model, euler or heun for a flow model (default: ddim, euler)")
    q.add_argument("--eta", type=number(float), default=0.0, help="DDIM eta: 0 deterministic, 1 DDPM-like")
    q.add_argument("--guidance", type=number(float), default=None, help="guidance scale (default: the model's)")
    q.add_argument("--seed", type=number(int), default=0)
    add_device_flags(q)
    if provenance:
        q.add_argument("--key", default=None, help="key for the manifest's HMAC and the watermark")
        q.add_argument("--no-watermark", action="store_true", help="do not embed the invisible watermark")
        q.add_argument("--no-manifest", action="store_true", help="do not seal a provenance manifest")


def build_parser() -> Parser:
    p = Parser(prog="python -m minigptimage", description="A minimal GPT-Image-1-style text-to-image system.",
               epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    q = sub.add_parser("demo", help="render demo prompts with the shipped model (under a minute)")
    q.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    q.add_argument("--train", action="store_true",
                   help="first train the learner's model for 10 minutes (the tiny-workshop preset, lesson 08)")
    add_device_flags(q)

    q = sub.add_parser("train", help="train a model on the glyph dataset")
    q.add_argument("--preset", default="tiny", type=preset_name, help="tiny, small, tiny-noglyph, tiny-word, …")
    q.add_argument("--out", required=True, help="folder for checkpoints (DIR/ckpt_*.pt) and figures")
    budget = q.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=number(float, 0.01, 10_000),
                        help="wall-clock budget, VAE included (default 10)")
    budget.add_argument("--steps", type=number(int, 1, 10**9), help="total diffusion steps of the run")
    q.add_argument("--save-every", type=number(int, 0), default=0, help="checkpoint every K steps (and at the end)")
    q.add_argument("--keep", type=number(int, 1), default=3, help="keep the newest K checkpoints")
    again = q.add_mutually_exclusive_group()  # what to do with a folder that already holds checkpoints
    again.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint in --out")
    again.add_argument("--overwrite", action="store_true", help="delete the checkpoints in --out and start afresh")
    q.add_argument("--vae", default=None, help="reuse a trained VAE (tiny_data/vae.pt or a checkpoint)")
    q.add_argument("--encoder", default=None,
                   help="train the U-Net only, on the frozen prompt encoder (and tokenizer) of this model file "
                        "(the tiny-workshop preset's default: tiny_data/minigptimage_tiny_10min.pt)")
    q.add_argument("--vae-steps", type=number(int, 1), default=None,
                   help="VAE steps before diffusion (preset default; --vae skips the phase)")
    q.add_argument("--batch-size", type=number(int, 1, MAX_BATCH, IMAGE_BYTES), default=None,
                   help="images per step and process")
    q.add_argument("--lr", type=number(float, 1e-8, 1), default=None, help="peak learning rate (preset default)")
    q.add_argument("--warmup-steps", type=number(int, 0), default=None, help="linear warm-up steps (preset default)")
    q.add_argument("--latent-cache", type=number(int, 0, MAX_CACHE, ITEM_BYTES), default=None,
                   help="items rendered and encoded once (0: render every batch; tiny default 20000)")
    q.add_argument("--timestep-shift", type=number(float, 0.1, 100), default=None,
                   help="α of SD3's timestep shift (> 1: the noisiest steps more often; 1: t uniform; preset "
                        "default: 3 for tiny, where it draws half the rows' t and logit-normal the rest; 1 otherwise)")
    q.add_argument("--objective", choices=["ddpm", "flow"], default=None,
                   help="ddpm (the noise objective, the default) or flow (rectified flow: straight paths, sampled "
                        "with --sampler euler or heun)")
    q.add_argument("--made-up-words", type=number(float, 0, 1), default=None,
                   help="share of template captions whose nouns, verbs and fillers are made-up strings (0: none, "
                        "the default): unknown words in known sentences, so colours bind by the sentence")
    q.add_argument("--seed", type=number(int, 0, 2**63 - 1), default=0)
    add_device_flags(q)

    q = sub.add_parser("sample", help="generate one image from a prompt")
    q.add_argument("prompt")
    q.add_argument("--out", required=True, help="the PNG to write")
    q.add_argument("--box", type=box_corners, default=None, help="x0,y0,x1,y1: where the word goes, in pixels")
    q.add_argument("--reference", default=None,
                   help='an image whose style (colours, place) the word takes: use with \'the word "X" in the '
                        'style of the image\'')
    q.add_argument("--trajectory", default=None, help="also write a denoising-trajectory figure here (.png, .pdf, "
                                                      ".svg, .jpg)")
    add_model_flags(q)

    q = sub.add_parser("edit", help="inpaint a masked region, or edit a whole image (SDEdit)")
    q.add_argument("prompt")
    q.add_argument("--image", required=True, help="the PNG to edit (the model's image size, RGB)")
    q.add_argument("--mask", default=None, help="a PNG mask: white = repaint; without it, SDEdit the image")
    q.add_argument("--strength", type=number(float, 0, 1), default=None,
                   help="SDEdit strength in [0, 1] (default 0.7); not with --mask, which repaints the mask fully")
    q.add_argument("--out", required=True, help="the PNG to write")
    add_model_flags(q)

    q = sub.add_parser("evaluate", help="generate from captions and read the words back")
    q.add_argument("--n", type=number(int, 1, MAX_CAPTIONS, CAPTION_BYTES), default=50,
                   help="captions per split (training words, held-out words)")
    add_model_flags(q, provenance=False)

    q = sub.add_parser("verify", help="check a PNG's provenance manifest and watermark")
    q.add_argument("file")
    q.add_argument("--key", default=None, help="the key (default: the documented public demo key)")

    q = sub.add_parser("bench", help="speed of the networks on this machine")
    q.add_argument("--repeats", type=number(int, 1, 1000), default=5)
    add_device_flags(q)
    return p


def check_output(flag: str, path, formats, others: dict | None = None) -> Path:
    """A file the command will write: a name ending in one of ``formats``, not a folder, in a folder that
    exists and can be written, and not the file of another output (``others``: {flag: path})."""
    path = Path(path)
    if path.suffix.lower().lstrip(".") not in formats:
        raise UsageError(f"{flag}: expected a file name ending in .{', .'.join(formats)}, got {str(path)!r}")
    folder, same = path.parent, [f for f, p in (others or {}).items() if Path(p).resolve() == path.resolve()]
    problem = ("is a folder, expected a file name" if path.is_dir() else
               "exists and is not a regular file" if path.exists() and not path.is_file() else
               f"is in {str(folder)!r}, which does not exist" if not folder.exists() else
               f"is in {str(folder)!r}, which is a file, not a folder" if not folder.is_dir() else
               f"is in {str(folder)!r}, which cannot be written" if not os.access(folder, os.W_OK) else
               f"is also the file of {same[0]}; give each output its own name" if same else "")
    if problem:
        raise UsageError(f"{flag}: {str(path)!r} {problem}")
    return path


def check_folder(flag: str, path) -> Path:
    """A folder the command will write into (made if missing): refused when it is a file."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag}: {str(path)!r} is a file, expected a folder")
    return path


def check_key(args):
    """The provenance flags: a --key that something uses, and that is non-empty text."""
    from .watermark import key_bytes
    if args.key is None:
        return None
    if getattr(args, "no_watermark", False) and getattr(args, "no_manifest", False):
        raise UsageError("--key: nothing uses it with both --no-watermark and --no-manifest; "
                         "leave one of the three out")
    try:
        key_bytes(args.key)
    except ValueError:  # empty, or bytes of the command line that are not UTF-8 text
        raise UsageError("--key: expected a non-empty key of UTF-8 text") from None
    return args.key

"""The command line: ``python -m minigptimage {demo,train,sample,edit,evaluate,verify,bench}``.

This is the one place that reads ``sys.argv``. Anything wrong in what the user gave becomes one line on stderr
and exit code 2 — no traceback, and no partly written output file (every file is written atomically).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

EXAMPLES = """examples:
  python -m minigptimage demo --out demo_out
  python -m minigptimage sample 'the word "HELLO" in red on white, in the center' --out hello.png
  python -m minigptimage train --preset tiny --minutes 10 --out runs/tiny
  python -m minigptimage train --preset small --minutes 5 --device cuda --precision bf16 --out runs/small
  python -m minigptimage train --preset tiny --steps 2000 --save-every 200 --out runs/tiny --resume
  python -m minigptimage edit --image hello.png --mask mask.png '"WORLD" in blue on white' --out world.png
  python -m minigptimage evaluate --checkpoint runs/tiny --n 50
  python -m minigptimage verify hello.png
  python -m minigptimage bench
"""
DEMO_PROMPTS = Path(__file__).resolve().parent.parent / "tiny_data" / "demo_prompts.txt"


class UsageError(ValueError):
    """Something wrong in what the user typed."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage and sys.exit(2); we want one clean line
        raise UsageError(message)


def build_parser() -> Parser:
    p = Parser(prog="python -m minigptimage", description="A minimal GPT-Image-1-style text-to-image system.",
               epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def sampling_options(q):
        q.add_argument("--steps", type=int, default=30, help="sampling steps (default 30)")
        q.add_argument("--sampler", choices=["ddim", "ddpm"], default="ddim")
        q.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic, 1 DDPM-like")
        q.add_argument("--guidance", type=float, default=None, help="guidance scale (default: the model's)")
        q.add_argument("--seed", type=int, default=0)
        device_options(q)

    def device_options(q):  # devices.py
        q.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:1, mps")
        q.add_argument("--precision", choices=["auto", "fp32", "bf16", "fp16"], default="auto",
                       help="autocast format (auto: bf16 on a GPU that has it, fp16 on one without, fp32 on CPU)")

    def checkpoint_option(q):
        q.add_argument("--checkpoint", default=None,
                       help="a .pt file or a training folder (newest checkpoint); default: the shipped model")

    def provenance_options(q):
        q.add_argument("--key", default=None, help="key for the manifest's HMAC and the watermark")
        q.add_argument("--no-watermark", action="store_true", help="do not embed the invisible watermark")
        q.add_argument("--no-manifest", action="store_true", help="do not seal a provenance manifest")

    q = sub.add_parser("demo", help="render demo prompts with the shipped model (under a minute)")
    q.add_argument("--out", default="demo_out", help="output folder (default demo_out)")
    q.add_argument("--train", action="store_true", help="first train the tiny preset from scratch (10 min)")
    device_options(q)

    q = sub.add_parser("train", help="train a model on the glyph dataset")
    q.add_argument("--preset", default="tiny", help="tiny, small, tiny-noglyph, tiny-word, …")
    q.add_argument("--out", required=True, help="folder for checkpoints (DIR/ckpt_*.pt) and figures")
    budget = q.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="wall-clock budget, VAE included (default 10)")
    budget.add_argument("--steps", type=int, help="total diffusion steps of the run")
    q.add_argument("--save-every", type=int, default=0, help="checkpoint every K steps (and at the end)")
    q.add_argument("--keep", type=int, default=3, help="keep the newest K checkpoints")
    q.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint in --out")
    q.add_argument("--vae", default=None, help="reuse a trained VAE (tiny_data/vae.pt or a checkpoint)")
    q.add_argument("--vae-steps", type=int, default=None, help="VAE steps before diffusion (preset default)")
    q.add_argument("--batch-size", type=int, default=None, help="images per step and process")
    q.add_argument("--lr", type=float, default=None, help="peak learning rate (preset default)")
    q.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (preset default)")
    q.add_argument("--latent-cache", type=int, default=None,
                   help="items rendered and encoded once (0: render every batch; tiny default 20000)")
    q.add_argument("--min-snr-gamma", type=float, default=None,
                   help="Min-SNR-γ loss weighting (0: off, the plain v loss; preset default)")
    q.add_argument("--seed", type=int, default=0)
    device_options(q)

    q = sub.add_parser("sample", help="generate one image from a prompt")
    q.add_argument("prompt")
    q.add_argument("--out", required=True, help="the PNG to write")
    q.add_argument("--box", default=None, help="x0,y0,x1,y1: where the word goes, in pixels")
    q.add_argument("--reference", default=None,
                   help='an image whose style (colours, place) the word takes: use with \'the word "X" in the '
                        'style of the image\'')
    q.add_argument("--trajectory", default=None, help="also write a denoising-trajectory figure here")
    checkpoint_option(q)
    sampling_options(q)
    provenance_options(q)

    q = sub.add_parser("edit", help="inpaint a masked region, or edit a whole image (SDEdit)")
    q.add_argument("prompt")
    q.add_argument("--image", required=True, help="the PNG to edit (the model's image size, RGB)")
    q.add_argument("--mask", default=None, help="a PNG mask: white = repaint; without it, SDEdit the image")
    q.add_argument("--strength", type=float, default=0.7, help="SDEdit strength in [0, 1] (default 0.7)")
    q.add_argument("--out", required=True, help="the PNG to write")
    checkpoint_option(q)
    sampling_options(q)
    provenance_options(q)

    q = sub.add_parser("evaluate", help="generate from captions and read the words back")
    checkpoint_option(q)
    q.add_argument("--n", type=int, default=50, help="captions per split (training words, held-out words)")
    sampling_options(q)

    q = sub.add_parser("verify", help="check a PNG's provenance manifest and watermark")
    q.add_argument("file")
    q.add_argument("--key", default=None, help="the key (default: the documented public demo key)")

    q = sub.add_parser("bench", help="speed of the networks on this machine")
    q.add_argument("--repeats", type=int, default=5)
    device_options(q)
    return p


def resolve_checkpoint(path):
    from .train import newest_good_checkpoint
    from .pipeline import PRETRAINED
    if path is None:
        return PRETRAINED
    p = Path(path)
    if p.is_dir():
        found = newest_good_checkpoint(p, log=lambda m: print(m, file=sys.stderr))
        if found is None:
            raise ValueError(f"--checkpoint: no usable ckpt_*.pt in folder {str(p)!r}")
        return found[0]
    return p


def pick_device(args) -> None:
    """Turn ``--device`` and ``--precision`` into a torch.device and "fp32" | "bf16" | "fp16" (devices.py),
    and say which, once (on rank 0 under torchrun)."""
    from .devices import describe, resolve_device, resolve_precision
    try:
        args.device = resolve_device(args.device)
        args.precision = resolve_precision(args.precision, args.device)
    except ValueError as err:
        raise UsageError(f"--{err}") from None
    if os.environ.get("RANK", "0") == "0":
        print(describe(args.device, args.precision))


def load_model(args):
    from .pipeline import MiniGPTImage
    path = resolve_checkpoint(args.checkpoint)
    model = MiniGPTImage.load(path).to(args.device)
    model.precision = args.precision  # generate, inpaint and edit sample under this autocast
    return model, path


def parse_box(text):
    try:
        box = [int(v) for v in text.split(",")]
        if len(box) != 4:
            raise ValueError
    except ValueError:
        raise UsageError(f"--box: expected four integers x0,y0,x1,y1, got {text!r}") from None
    return box


def write_image(image, path, args, model_path, fields):
    """Write one image (3, H, W) with the manifest and mark unless switched off."""
    from .provenance import DEFAULT_KEY, file_sha256, save_png_with_provenance
    key = DEFAULT_KEY if args.key is None else args.key
    mark, seal = not args.no_watermark, not args.no_manifest
    fields = dict(fields, checkpoint_sha256=file_sha256(model_path))
    save_png_with_provenance(image.cpu(), path, fields, key=key if (mark or seal) else None,
                             watermark=mark, sign=seal)


def check_out_png(path) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise UsageError(f"--out: expected a .png file name, got {str(path)!r}")
    if not path.parent.exists():
        raise UsageError(f"--out: folder {str(path.parent)!r} does not exist")
    return path


def cmd_sample(args) -> int:
    from .plots import trajectory as plot_trajectory
    from .pipeline import check_prompts
    out = check_out_png(args.out)
    check_prompts([args.prompt])
    box = None if args.box is None else [parse_box(args.box)]
    model, model_path = load_model(args)
    reference = None
    if args.reference is not None:
        from .images import load_image
        reference = load_image(args.reference, model.config.image_size).to(model.device)  # (1, 3, H, W)
    images, traj = model.generate([args.prompt], steps=args.steps, sampler=args.sampler, eta=args.eta,
                                  guidance=args.guidance, seed=args.seed, boxes=box, reference=reference,
                                  return_trajectory=True)
    guidance = model.config.guidance if args.guidance is None else args.guidance
    write_image(images[0], out, args, model_path, dict(prompt=args.prompt, seed=args.seed, sampler=args.sampler,
                                                        steps=args.steps, guidance=guidance))
    print(f"wrote {out}")
    if args.trajectory:
        frames, ts = trajectory_frames(model, traj)
        print(f"wrote {plot_trajectory(frames, ts, args.trajectory)}")
    return 0


def cmd_edit(args) -> int:
    from .images import load_image, load_mask
    from .pipeline import check_prompts
    out = check_out_png(args.out)
    check_prompts([args.prompt])
    if not 0.0 <= args.strength <= 1.0:  # also refuses nan
        raise UsageError(f"--strength: expected a number from 0 to 1, got {args.strength}")
    model, model_path = load_model(args)
    size = model.config.image_size
    image = load_image(args.image, size).to(model.device)                        # (1, 3, H, W)
    options = dict(steps=args.steps, seed=args.seed, guidance=args.guidance)
    if args.mask is not None:
        mask = load_mask(args.mask, size).to(model.device)                       # (1, 1, H, W)
        result = model.inpaint(image, mask, [args.prompt], **options)
    else:
        result = model.edit(image, [args.prompt], args.strength, **options)
    guidance = model.config.guidance if args.guidance is None else args.guidance
    write_image(result[0], out, args, model_path, dict(prompt=args.prompt, seed=args.seed, sampler="ddim",
                                                        steps=args.steps, guidance=guidance))
    print(f"wrote {out}")
    return 0


def trajectory_frames(model, traj, count: int = 8):
    """Pick ``count`` evenly spaced predicted-x₀ latents of sample 0 along the trajectory and decode them."""
    import torch
    x0s, ts = traj["x0_pred"], traj["timesteps"]
    picks = torch.linspace(0, len(x0s) - 1, min(count, len(x0s))).round().long().tolist()
    latents = torch.stack([x0s[k][0] for k in picks])        # (S, C, h, w)
    return model.decode(latents.to(model.device)).cpu(), [int(ts[k]) for k in picks]


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate, format_table
    model, path = load_model(args)
    scores = evaluate(model, n=args.n, steps=args.steps, sampler=args.sampler, guidance=args.guidance,
                      seed=args.seed)
    guidance = model.config.guidance if args.guidance is None else args.guidance
    print(f"checkpoint {path}")
    print(format_table(scores, args.steps, args.sampler, guidance))
    return 0


def cmd_verify(args) -> int:
    from .provenance import DEFAULT_KEY, verify_png
    report = verify_png(args.file, key=DEFAULT_KEY if args.key is None else args.key)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_bench(args) -> int:
    from .benchmarks.speed import run_bench
    run_bench(repeats=args.repeats, device=args.device, precision=args.precision)
    return 0


def cmd_train(args) -> int:
    from .train import train_run
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps: expected a positive number of steps, got {args.steps}")
    if args.minutes is not None and not 0 < args.minutes <= 10000:
        raise UsageError(f"--minutes: expected a positive number of minutes, got {args.minutes}")
    if args.save_every < 0 or args.keep < 1:
        raise UsageError("--save-every must be ≥ 0 and --keep ≥ 1")
    if (args.batch_size is not None and args.batch_size < 1) or (args.warmup_steps is not None and args.warmup_steps < 0):
        raise UsageError("--batch-size must be ≥ 1 and --warmup-steps ≥ 0")
    if args.lr is not None and not 0 < args.lr < 1:  # also refuses nan
        raise UsageError(f"--lr: expected a learning rate between 0 and 1, got {args.lr}")
    train_run(args.preset, args.out, steps=args.steps, minutes=args.minutes, save_every=args.save_every,
              on_save=lambda t: write_training_figures(t, Path(args.out)), vae=args.vae, resume=args.resume,
              device=args.device, precision=args.precision, keep=args.keep, batch_size=args.batch_size, lr=args.lr,
              warmup_steps=args.warmup_steps, vae_steps=args.vae_steps, seed=args.seed,
              latent_cache=args.latent_cache, min_snr_gamma=args.min_snr_gamma)
    return 0


def write_training_figures(trainer, out: Path) -> None:
    """Loss curve and a grid of samples from the EMA weights."""
    from .plots import image_grid, loss_curve
    if trainer.rank != 0 or not trainer.losses:
        return
    loss_curve(trainer.losses, out / "loss.png")
    prompts = demo_prompts()[:8]
    images = trainer.ema_model().generate(prompts, steps=20, seed=0)
    image_grid(images, out / f"samples_{trainer.step:07d}.png", titles=prompts, ncols=4)


def demo_prompts() -> list[str]:
    return [line.strip() for line in DEMO_PROMPTS.read_text().splitlines()
            if line.strip() and not line.startswith("#")]


def cmd_demo(args) -> int:
    from .evaluate import evaluate, format_table
    from .pipeline import MiniGPTImage, PRETRAINED, TINY_DATA
    from .plots import image_grid, trajectory as plot_trajectory
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    if args.train:
        train_args = build_parser().parse_args(["train", "--preset", "tiny", "--out", str(out / "run"), "--minutes",
                                                "10", "--keep", "1", "--vae", str(TINY_DATA / "vae.pt")])
        train_args.device, train_args.precision = args.device, args.precision
        cmd_train(train_args)
        model = MiniGPTImage.load(resolve_checkpoint(out / "run")).to(args.device)
    else:
        model = MiniGPTImage.load(PRETRAINED).to(args.device)
    model.precision = args.precision
    prompts = demo_prompts()
    images, traj = model.generate(prompts, steps=30, seed=0, return_trajectory=True)
    print(f"wrote {image_grid(images, out / 'demo_grid.png', titles=prompts, ncols=4)}")
    frames, ts = trajectory_frames(model, traj)
    print(f"wrote {plot_trajectory(frames, ts, out / 'demo_trajectory.png', title=prompts[0])}")
    from .reader import PRETRAINED as READER
    if READER.is_file():
        print(format_table(evaluate(model, n=10, steps=30), 30, "ddim", model.config.guidance))
    else:
        print(f"(no glyph reader shipped at {READER}: skipping the evaluate table)")
    print(f"demo finished in {time.monotonic() - start:.1f} s")
    return 0


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "sample": cmd_sample, "edit": cmd_edit, "evaluate": cmd_evaluate,
            "verify": cmd_verify, "bench": cmd_bench}


def main(argv=None) -> int:
    """Run one command; return its exit code (2 for anything wrong in what the user gave)."""
    try:
        args = build_parser().parse_args(argv)
        if hasattr(args, "precision"):  # every command that runs a model
            pick_device(args)
        return COMMANDS[args.command](args)
    except ValueError as err:  # UsageError, CheckpointError and every input check of the library
        print(f"minigptimage: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("minigptimage: interrupted", file=sys.stderr)
        return 130
    except RuntimeError as err:  # e.g. a non-finite training loss, a device that is not there
        print(f"minigptimage: error: {one_line(err)}", file=sys.stderr)
        return 1


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:500] if text else type(err).__name__


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())

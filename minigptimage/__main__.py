"""The command line: ``python -m minigptimage {demo,train,sample,edit,evaluate,verify,bench}``.

This is the one place that reads ``sys.argv``. Anything wrong in what the user gave becomes one line on stderr
and exit code 2 — no traceback, and no partly written output file (every file is written atomically). Every
flag does what it says or is refused. The user's input is checked first (``users_input``: the library's own
checks, run before any network); an exception after that is a bug of minigptimage, said so in one line with
exit code 1 (as are a training that cannot go on and a machine out of memory or disk, each in its own words).
"""
from __future__ import annotations

import argparse
import contextlib
import math
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


def bounded(kind, low, high=None):
    """An argparse type: a number of ``kind`` (int or float) from ``low`` to ``high`` (nan is refused)."""
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not (math.isfinite(value) and value >= low and (high is None or value <= high)):
            raise argparse.ArgumentTypeError(f"expected a number from {low}{'' if high is None else f' to {high}'}, "
                                             f"got {text}")
        return value
    return parse


def preset_name(text):
    """An argparse type: a preset of pipeline.PRESETS."""
    from .pipeline import PRESETS
    if text not in PRESETS:
        raise argparse.ArgumentTypeError(f"unknown preset {text!r}; expected one of {', '.join(PRESETS)}")
    return text


@contextlib.contextmanager
def users_input():
    """A ValueError raised inside is about what the user gave — a library check of a flag, a prompt or a file —
    so it becomes a UsageError (exit 2). Outside such a block a ValueError is a bug (exit 1)."""
    try:
        yield
    except UsageError:
        raise
    except ValueError as err:
        raise UsageError(str(err)) from None


def build_parser() -> Parser:
    p = Parser(prog="python -m minigptimage", description="A minimal GPT-Image-1-style text-to-image system.",
               epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def sampling_options(q):
        q.add_argument("--steps", type=int, default=None,
                       help="sampling steps (default: 30 for ddim; ddpm walks all T of the model's schedule)")
        q.add_argument("--sampler", choices=["ddim", "ddpm"], default="ddim")
        q.add_argument("--eta", type=float, default=0.0, help="DDIM eta: 0 deterministic, 1 DDPM-like (ddim only)")
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
    q.add_argument("--preset", default="tiny", type=preset_name, help="tiny, small, tiny-noglyph, tiny-word, …")
    q.add_argument("--out", required=True, help="folder for checkpoints (DIR/ckpt_*.pt) and figures")
    budget = q.add_mutually_exclusive_group()
    budget.add_argument("--minutes", type=float, help="wall-clock budget, VAE included (default 10)")
    budget.add_argument("--steps", type=int, help="total diffusion steps of the run")
    q.add_argument("--save-every", type=int, default=0, help="checkpoint every K steps (and at the end)")
    q.add_argument("--keep", type=int, default=3, help="keep the newest K checkpoints")
    q.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint in --out")
    q.add_argument("--vae", default=None, help="reuse a trained VAE (tiny_data/vae.pt or a checkpoint)")
    q.add_argument("--vae-steps", type=bounded(int, 1), default=None,
                   help="VAE steps before diffusion (preset default; --vae skips the phase)")
    q.add_argument("--batch-size", type=int, default=None, help="images per step and process")
    q.add_argument("--lr", type=float, default=None, help="peak learning rate (preset default)")
    q.add_argument("--warmup-steps", type=int, default=None, help="linear warm-up steps (preset default)")
    q.add_argument("--latent-cache", type=bounded(int, 0), default=None,
                   help="items rendered and encoded once (0: render every batch; tiny default 20000)")
    q.add_argument("--min-snr-gamma", type=bounded(float, 0), default=None,
                   help="Min-SNR-γ loss weighting (0: off, the plain v loss; preset default)")
    q.add_argument("--timestep-shift", type=bounded(float, 0.1, 100), default=None,
                   help="α of SD3's timestep shift (> 1: the noisiest steps more often; 1: t uniform; preset "
                        "default: 3 for tiny, 1 otherwise)")
    q.add_argument("--timestep-shift-anneal", action="store_true", default=None,
                   help="the shift falls linearly from α to 1 over the run (colours first, clean strokes last; "
                        "on in the tiny preset, where --timestep-shift 1 turns the shift off)")
    q.add_argument("--made-up-words", type=bounded(float, 0, 1), default=None,
                   help="share of template captions whose nouns, verbs and fillers are made-up strings (0: none, "
                        "the default): unknown words in known sentences, so colours bind by the sentence")
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
    q.add_argument("--strength", type=float, default=None,
                   help="SDEdit strength in [0, 1] (default 0.7); not with --mask, which repaints the mask fully")
    q.add_argument("--out", required=True, help="the PNG to write")
    checkpoint_option(q)
    sampling_options(q)
    provenance_options(q)

    q = sub.add_parser("evaluate", help="generate from captions and read the words back")
    checkpoint_option(q)
    q.add_argument("--n", type=bounded(int, 1), default=50,
                   help="captions per split (training words, held-out words)")
    sampling_options(q)

    q = sub.add_parser("verify", help="check a PNG's provenance manifest and watermark")
    q.add_argument("file")
    q.add_argument("--key", default=None, help="the key (default: the documented public demo key)")

    q = sub.add_parser("bench", help="speed of the networks on this machine")
    q.add_argument("--repeats", type=bounded(int, 1), default=5)
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
            raise UsageError(f"--checkpoint: no usable ckpt_*.pt in folder {str(p)!r}")
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


def sampling_options(args, model) -> dict:
    """The sampling flags as ``generate``'s arguments: --steps defaults to 30 for ddim and to the model's T for
    ddpm, which walks every step (``check_request`` refuses another count, and an eta, for ddpm)."""
    steps = args.steps if args.steps is not None else model.config.num_steps if args.sampler == "ddpm" else 30
    return dict(steps=steps, sampler=args.sampler, eta=args.eta, guidance=args.guidance, seed=args.seed)


def manifest_fields(args, model, options: dict, **extra) -> dict:
    """What the manifest records: the prompt and the sampling as it really ran (the steps DDPM walked too)."""
    guidance = model.config.guidance if options["guidance"] is None else options["guidance"]
    return dict(prompt=args.prompt, seed=options["seed"], sampler=options["sampler"], steps=options["steps"],
                eta=options["eta"], guidance=guidance, **extra)


def check_provenance_flags(args) -> None:
    if args.key is not None and args.no_watermark and args.no_manifest:
        raise UsageError("--key: nothing uses it with both --no-watermark and --no-manifest; leave one of the three out")


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
    from .images import load_image
    from .plots import trajectory as plot_trajectory
    from .pipeline import check_prompts
    out = check_out_png(args.out)
    check_provenance_flags(args)
    box = None if args.box is None else [parse_box(args.box)]
    with users_input():
        check_prompts([args.prompt])
        model, model_path = load_model(args)
        reference = None if args.reference is None else \
            load_image(args.reference, model.config.image_size).to(model.device)  # (1, 3, H, W)
        options = sampling_options(args, model)
        model.check_request([args.prompt], boxes=box, reference=reference, **options)
    images, traj = model.generate([args.prompt], boxes=box, reference=reference, return_trajectory=True, **options)
    write_image(images[0], out, args, model_path, manifest_fields(args, model, options))
    print(f"wrote {out}")
    if args.trajectory:
        frames, ts = trajectory_frames(model, traj)
        print(f"wrote {plot_trajectory(frames, ts, args.trajectory)}")
    return 0


def cmd_edit(args) -> int:
    from .images import load_image, load_mask
    from .pipeline import check_prompts
    out = check_out_png(args.out)
    check_provenance_flags(args)
    if args.mask is not None and args.strength is not None:
        raise UsageError("--strength: inpainting (--mask) repaints the masked region fully; give --strength only "
                         "to SDEdit a whole image (no --mask)")
    strength = 0.7 if args.strength is None else args.strength
    if not 0.0 <= strength <= 1.0:  # also refuses nan
        raise UsageError(f"--strength: expected a number from 0 to 1, got {strength}")
    with users_input():
        check_prompts([args.prompt])
        model, model_path = load_model(args)
        size = model.config.image_size
        image = load_image(args.image, size).to(model.device)                    # (1, 3, H, W)
        mask = None if args.mask is None else load_mask(args.mask, size).to(model.device)  # (1, 1, H, W)
        options = sampling_options(args, model)
        model.check_request([args.prompt], **options)
    if mask is not None:
        result = model.inpaint(image, mask, [args.prompt], **options)
        fields = manifest_fields(args, model, options, edit="inpaint")
    else:
        result = model.edit(image, [args.prompt], strength, **options)
        fields = manifest_fields(args, model, options, edit="sdedit", strength=strength)
    write_image(result[0], out, args, model_path, fields)
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
    with users_input():
        model, path = load_model(args)
        options = sampling_options(args, model)
        model.check_request(None, **options)
    scores = evaluate(model, n=args.n, **options)
    guidance = model.config.guidance if args.guidance is None else args.guidance
    print(f"checkpoint {path}")
    print(format_table(scores, options["steps"], args.sampler, guidance, eta=args.eta))
    return 0


def cmd_verify(args) -> int:
    from .provenance import DEFAULT_KEY, verify_png
    with users_input():
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
              latent_cache=args.latent_cache, min_snr_gamma=args.min_snr_gamma,
              timestep_shift=args.timestep_shift, timestep_shift_anneal=args.timestep_shift_anneal,
              made_up_words=args.made_up_words)
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
    import torch
    from .evaluate import evaluation_samples, format_table, generate_in_batches, reader_misses, score_images
    from .pipeline import MiniGPTImage, PRETRAINED, TINY_DATA
    from .plots import image_grid, trajectory as plot_trajectory
    from .reader import PRETRAINED as READER, GlyphReader
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
    reader = GlyphReader.pretrained() if READER.is_file() else None
    prompts = demo_prompts()
    images, traj = model.generate(prompts, steps=30, seed=0, return_trajectory=True)
    reads = reader.read(images.cpu()) if reader else [""] * len(prompts)
    image_grid(images, out / "demo_grid.png", ncols=4,  # each whole prompt, wrapped, and what the reader reads
               titles=[p + (f"\nreader: {r or '∅'}" if reader else "") for p, r in zip(prompts, reads)])
    print(f"wrote {out / 'demo_grid.png'}")
    frames, ts = trajectory_frames(model, traj)
    plot_trajectory(frames, ts, out / "demo_trajectory.png", title=prompts[0])
    print(f"wrote {out / 'demo_trajectory.png'}")
    if reader is None:
        print(f"(no glyph reader shipped at {READER}: skipping the evaluate table)")
        print(f"demo finished in {time.monotonic() - start:.1f} s")
        return 0
    # The evaluate table (n = 10 per split), with every scored image shown beside its reading, and the
    # reader's own misses on clean renders of held-out text: a word it misreads may still be right.
    clean = evaluation_samples("heldout", 50)
    misses = reader_misses(reader, clean)
    scores, scored, titles = [], [], []
    for split in ("train", "heldout"):
        samples = evaluation_samples(split, 10)
        split_start = time.perf_counter()
        split_images = generate_in_batches(model, [s.caption for s in samples], steps=30)  # (10, 3, H, W)
        scores.append(score_images(split_images, samples, reader, split, (time.perf_counter() - split_start) / 10))
        scored.append(split_images)
        titles += [f"{s.caption}\nreader: {r or '∅'}" for s, r in zip(samples, reader.read(split_images))]
    image_grid(torch.cat(scored), out / "demo_scored.png", titles=titles, ncols=5)
    print(format_table(scores, 30, "ddim", model.config.guidance))
    print(f"the images scored above: {out / 'demo_scored.png'}, each titled with its prompt and the reader's reading. "
          f"The reader itself misreads {len(misses)} of {len(clean)} clean held-out renders"
          + (f" (e.g. {', '.join(f'{t} as {r or chr(8709)}' for t, r in misses[:3])})" if misses else "")
          + ": look at an image before blaming the model for a word the reader got wrong.")
    print(f"demo finished in {time.monotonic() - start:.1f} s")
    return 0


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "sample": cmd_sample, "edit": cmd_edit, "evaluate": cmd_evaluate,
            "verify": cmd_verify, "bench": cmd_bench}


REPORT = "this is a bug in minigptimage; please report it with the command you ran"


def main(argv=None) -> int:
    """Run one command; return its exit code: 0, 1 when the work failed (a bug, a training that cannot go on, a
    machine out of memory or disk; ``verify``: a file that does not check out), 2 for anything wrong in what
    the user gave, 130 when interrupted."""
    try:
        args = build_parser().parse_args(argv)
        if hasattr(args, "precision"):  # every command that runs a model
            pick_device(args)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print("minigptimage: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        code, message = explain(err)
        print(f"minigptimage: {message}", file=sys.stderr)
        return code


def explain(err: Exception) -> tuple[int, str]:
    """(exit code, one line) for an exception that ended a command."""
    users, runs = (UsageError,), (MemoryError, OSError)
    try:  # (the package itself may be what failed to import)
        import torch
        from .checkpoints import CheckpointError
        from .train import TrainingError
        users, runs = users + (CheckpointError,), runs + (TrainingError, torch.cuda.OutOfMemoryError)
    except Exception:
        pass
    if isinstance(err, users):  # a flag, a prompt or a file the user gave
        return 2, f"error: {one_line(err)}"
    if isinstance(err, runs):  # a training that cannot go on, the machine out of memory or disk
        return 1, f"error: {one_line(err)}"
    return 1, f"internal error: {type(err).__name__}: {one_line(err)} — {REPORT}"


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return text[:500] if text else type(err).__name__


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())

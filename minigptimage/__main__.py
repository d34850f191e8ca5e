"""The command line: ``python -m minigptimage {demo,train,sample,edit,evaluate,verify,bench}``.

This is the one place that reads ``sys.argv``; its flags and their checks are in ``cli.py``. Every request is
checked before any work: the flags as they are parsed, the paths a command writes, then the prompt, the files
and the sampling numbers by the library's own checks inside ``users_input``. Anything wrong in what the user
gave becomes one line on stderr and exit code 2 — no traceback, and no partly written output file (every file
is written atomically). An exception after the checks is a bug of minigptimage, said so in one line with exit
code 1 (as are a training that cannot go on and a machine out of memory or disk, each in its own words).
"""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from .checkpoints import one_line
from .cli import UsageError, build_parser, check_folder, check_key, check_output


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


def resolve_checkpoint(path):
    """--checkpoint as a file: the shipped model for None, the newest good ckpt_*.pt of a training folder."""
    from .checkpoints import newest_good_checkpoint
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
    """(the model of --checkpoint on --device, sampling under --precision; the file it came from)."""
    from .pipeline import MiniGPTImage
    path = resolve_checkpoint(args.checkpoint)
    model = MiniGPTImage.load(path).to(args.device)
    model.precision = args.precision  # generate, inpaint and edit sample under this autocast
    return model, path


SAMPLING_FLAGS = ("steps", "sampler", "eta", "guidance", "seed")
TRAINING_FLAGS = ("vae", "encoder", "resume", "overwrite", "device", "precision", "keep", "batch_size", "lr", "warmup_steps",
                  "vae_steps", "seed", "latent_cache", "timestep_shift", "made_up_words",
                  "objective")


def flags(args, names) -> dict:
    return {name: getattr(args, name) for name in names}


def sampling_request(model, prompts, steps=None, sampler="ddim", eta=0.0, guidance=None, seed=0, **conditions):
    """``model.check_request`` of the prompts, the sampling flags and ``conditions``: steps 30 for ddim and all
    T for ddpm unless given. The Request runs as it was checked, and its ``sampling()`` (the guidance that runs
    included) goes into the manifest and the table."""
    steps = steps if steps is not None else model.config.num_steps if sampler == "ddpm" else 30
    return model.check_request(prompts, steps=steps, sampler=sampler, eta=eta, guidance=guidance, seed=seed,
                               **conditions)


def write_result(args, image, model_path, request: dict, **extra) -> None:
    """Write --out with the manifest of the prompt and the sampling as it ran (unless --no-manifest) and the
    watermark (unless --no-watermark)."""
    from .provenance import save_generated_png
    save_generated_png(image, args.out, dict(prompt=args.prompt, **request, **extra), model_path, key=args.key,
                       watermark=not args.no_watermark, sign=not args.no_manifest)
    print(f"wrote {args.out}")


def cmd_sample(args) -> int:
    from .images import load_image
    from .plots import FIGURE_FORMATS, trajectory_figure
    out = check_output("--out", args.out, ["png"])
    if args.trajectory is not None:
        check_output("--trajectory", args.trajectory, FIGURE_FORMATS, {"--out": out})
    with users_input():
        check_key(args)
        model, model_path = load_model(args)
        reference = None if args.reference is None else \
            load_image(args.reference, model.config.image_size).to(model.device)  # (1, 3, H, W)
        boxes = None if args.box is None else [args.box]
        request = sampling_request(model, [args.prompt], **flags(args, SAMPLING_FLAGS), boxes=boxes,
                                   reference=reference)
    images, record = model.generate(request, return_trajectory=True)
    write_result(args, images[0], model_path, request.sampling())
    if args.trajectory is not None:
        trajectory_figure(model, record, args.trajectory)
        print(f"wrote {args.trajectory}")
    return 0


def cmd_edit(args) -> int:
    from .images import load_image, load_mask
    check_output("--out", args.out, ["png"])
    if args.mask is not None and args.strength is not None:
        raise UsageError("--strength: inpainting (--mask) repaints the masked region fully; give --strength only "
                         "to SDEdit a whole image (no --mask)")
    with users_input():
        check_key(args)
        model, model_path = load_model(args)
        size = model.config.image_size
        image = load_image(args.image, size).to(model.device)  # (1, 3, H, W)
        mask = None if args.mask is None else load_mask(args.mask, size).to(model.device)  # (1, 1, H, W)
        request = sampling_request(model, [args.prompt], **flags(args, SAMPLING_FLAGS))
    if mask is not None:
        write_result(args, model.inpaint(image, mask, request)[0], model_path, request.sampling(), edit="inpaint")
    else:
        strength = 0.7 if args.strength is None else args.strength
        write_result(args, model.edit(image, request, strength)[0], model_path, request.sampling(),
                     edit="sdedit", strength=strength)
    return 0


def cmd_evaluate(args) -> int:
    from .evaluate import evaluate, format_table
    with users_input():
        model, path = load_model(args)
        request = sampling_request(model, None, **flags(args, SAMPLING_FLAGS)).sampling()
    scores = evaluate(model, n=args.n, **request)
    print(f"checkpoint {path}")
    print(format_table(scores, request["steps"], request["sampler"], request["guidance"], eta=request["eta"]))
    return 0


def cmd_verify(args) -> int:
    from .provenance import DEFAULT_KEY, verify_png
    with users_input():
        report = verify_png(args.file, key=DEFAULT_KEY if args.key is None else check_key(args))
    print(report.summary())
    return 0 if report.ok else 1


def cmd_bench(args) -> int:
    from .benchmarks.speed import run_bench
    run_bench(repeats=args.repeats, device=args.device, precision=args.precision)
    return 0


def cmd_train(args) -> int:
    from .demo import demo_prompts
    from .plots import training_figures
    from .launch import train_run
    out = check_folder("--out", args.out)
    train_run(args.preset, out, steps=args.steps, minutes=args.minutes, save_every=args.save_every,
              on_save=lambda trainer: training_figures(trainer, out, demo_prompts()[:8]),
              **flags(args, TRAINING_FLAGS))
    return 0


def cmd_demo(args) -> int:
    from .demo import demo_prompts, run_demo
    from .pipeline import PRETRAINED
    from .plots import training_figures
    from .launch import train_run
    out, checkpoint = check_folder("--out", args.out), PRETRAINED
    if args.train:
        train_run("tiny-workshop", out / "run", minutes=10, keep=1, overwrite=True,
                  device=args.device, precision=args.precision,
                  on_save=lambda t: training_figures(t, out / "run", demo_prompts()[:8]))
        checkpoint = resolve_checkpoint(out / "run")
    run_demo(out, checkpoint, args.device, args.precision)
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
        return 2, f"error: {one_line(err, 500)}"
    if isinstance(err, runs):  # a training that cannot go on, the machine out of memory or disk
        return 1, f"error: {one_line(err, 500)}"
    return 1, f"internal error: {type(err).__name__}: {one_line(err, 500)} — {REPORT}"


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())

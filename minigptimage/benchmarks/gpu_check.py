"""The GPU check: one command that measures the laptop-GPU path and prints one table.

    python -m minigptimage.benchmarks.gpu_check                  # on a CUDA machine: under 8 minutes on one H200
    python -m minigptimage.benchmarks.gpu_check --dry-run        # the same steps with tiny settings, on any CPU

It installs nothing: if a package of requirements.txt is missing it says so and stops. Then, timing each part:
1. the tests marked ``gpu`` (``pytest -m gpu tests/test_devices.py``, in their own process);
2. the ``tiny`` 10-minute recipe's 2,063 steps of 32 (README; the shipped VAE), its latent cache timed apart,
   then ``evaluate --n 50`` of its EMA weights;
3. ``small`` for a fixed few minutes (its cache included), then the same evaluation;
4. sampling speed: images/s at 30 DDIM steps in batches of 256, and the share of that time spent outside the
   networks' steps (``MiniGPTImage.condition``: tokenizing and drawing the glyph canvases on the CPU);
5. determinism: the same seed twice on the device, and the shipped model on the CPU against the device from the
   same x_T (mean |Δ| of pixels in [-1, 1]).
Precision is ``auto`` (bf16 on an H200). The dry run (``--dry-run``, or GPU_CHECK_DRY=1) shrinks every number so
the whole path runs on a 2-core CPU in about two minutes; its figures mean nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

import torch

from minigptimage.devices import describe, resolve_device, resolve_precision
from minigptimage.evaluate import evaluate, evaluation_samples
from minigptimage.pipeline import PRETRAINED, TINY_DATA, MiniGPTImage
from minigptimage.launch import make_trainer
from minigptimage.train import Trainer

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = ("torch", "numpy", "matplotlib", "PIL", "tqdm", "pytest", "hypothesis")  # requirements.txt's imports


@dataclass
class CheckConfig:
    tiny_steps: int = 2063        # the tiny 10-minute recipe: 2,063 steps of batch 32 (README, tiny_data/README)
    cache: int = 20000            # latent-cache items of both runs (the presets' own)
    small_preset: str = "small"
    small_minutes: float = 3.0    # small's budget, its cache included; cut to what the 8 minutes leave
    small_batch: int | None = None  # None: the preset's (128)
    budget_minutes: float = 7.5   # the whole check's
    eval_n: int = 50              # captions per split for evaluate
    sample_batch: int = 256       # sampling batch
    sample_batches: int = 4       # timed batches per model (after one warm-up)
    compare_n: int = 8            # images of the determinism comparison
    render_workers: int = 0       # 0: train.py's choice (one per core on a GPU)

    @classmethod
    def dry(cls) -> "CheckConfig":
        return cls(tiny_steps=4, cache=32, small_preset="tiny", small_minutes=0.25, small_batch=8, eval_n=2,
                   sample_batch=4, sample_batches=1, compare_n=2, render_workers=2)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn):
    """(fn(), seconds), with the GPU's queue drained on both sides."""
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


def gpu_tests() -> str:
    run = subprocess.run([sys.executable, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider",
                          "tests/test_devices.py"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    lines = run.stdout.strip().splitlines()
    if run.returncode not in (0, 5):
        print(run.stdout[-3000:], run.stderr[-2000:], sep="\n")
    return lines[-1] if lines else f"pytest exit {run.returncode}"


def train(preset: str, device, precision: str, out: Path, cfg: CheckConfig, steps=None, minutes=None,
          batch=None) -> tuple[Trainer, dict]:
    """A run as ``train --preset P --vae tiny_data/vae.pt`` does it (``make_trainer``), with the cache (all
    ``cfg.cache`` items: the full recipe's) and the steps timed apart."""
    trainer = make_trainer(preset, out, vae=TINY_DATA / "vae.pt", device=str(device), precision=precision, keep=1,
                           log=lambda m: None, latent_cache=cfg.cache, render_workers=cfg.render_workers,
                           batch_size=batch)
    tc = trainer.cfg
    with contextlib.redirect_stderr(io.StringIO()):  # tqdm's bars would bury the table
        _, cache_s = timed(trainer.start_diffusion_phase)
        if minutes is not None:
            minutes = max(0.05, minutes - cache_s / 60)
        _, train_s = timed(lambda: trainer.run(total_steps=steps, minutes=minutes))
    _, data_s = timed(lambda: [trainer.cache.batch(s, tc.batch_size) for s in range(50)])
    return trainer, {"cache_s": cache_s, "train_s": train_s, "steps": trainer.step, "batch": tc.batch_size,
                     "lr": tc.lr, "data_ms": 1000 * data_s / 50, "step_ms": 1000 * train_s / max(1, trainer.step)}


def scores(model, precision: str, n: int) -> str:
    model.precision = precision
    seen, held = evaluate(model, n=n, steps=30)
    return (f"exact words {seen.word_acc:.0%} / {held.word_acc:.0%}, colour {seen.colour_acc:.0%} / "
            f"{held.colour_acc:.0%} (seen / held-out, n = {n})")


def sampling(model, precision: str, cfg: CheckConfig) -> tuple[float, float]:
    """(images/s at 30 DDIM steps, share of a batch's time in ``condition``)."""
    prompts = [s.caption for s in evaluation_samples("heldout", cfg.sample_batch)]
    model.precision = precision
    model.generate(prompts, steps=30, seed=0)  # warm-up: kernels chosen, memory allocated
    _, total = timed(lambda: [model.generate(prompts, steps=30, seed=k) for k in range(cfg.sample_batches)])
    with torch.no_grad():
        _, cond_s = timed(lambda: model.condition(prompts))
    return cfg.sample_batch * cfg.sample_batches / total, cond_s * cfg.sample_batches / total


def determinism(device, precision: str, n: int) -> tuple[bool, float]:
    """(same seed twice on the device equal?, mean |Δ| CPU fp32 vs device from the same x_T)."""
    prompts = [s.caption for s in evaluation_samples("heldout", n)]
    cpu, dev = MiniGPTImage.load(PRETRAINED), MiniGPTImage.load(PRETRAINED).to(device)
    dev.precision = precision
    same = torch.equal(dev.generate(prompts, seed=7), dev.generate(prompts, seed=7))
    x_T = torch.randn(cpu.latent_shape(len(prompts)), generator=torch.Generator().manual_seed(7))
    delta = (cpu.generate(prompts, noise=x_T) - dev.generate(prompts, noise=x_T).cpu()).abs().mean()
    return same, float(delta)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dry-run", action="store_true", help="tiny settings, for a CPU (also: GPU_CHECK_DRY=1)")
    p.add_argument("--small-minutes", type=float, default=None, help="small's budget (default 3)")
    p.add_argument("--out", default=None, help="also write the table to this file")
    args = p.parse_args(argv)
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        print(f"missing {', '.join(missing)}: pip install -r requirements.txt first", file=sys.stderr)
        return 2
    dry = args.dry_run or os.environ.get("GPU_CHECK_DRY") == "1"
    cfg = CheckConfig.dry() if dry else CheckConfig()
    cfg.small_minutes = args.small_minutes or cfg.small_minutes
    device = resolve_device("auto")
    precision = resolve_precision("auto", device)
    if device.type != "cuda" and not dry:
        print("no CUDA GPU here: use --dry-run to rehearse the check on this machine", file=sys.stderr)
        return 2
    start, rows = time.perf_counter(), []
    head = f"{describe(device, precision)}, torch {torch.__version__}, {os.cpu_count()} CPU cores" + \
        (" — DRY RUN: the figures mean nothing" if dry else "")
    print(head, flush=True)

    def row(what, value, seconds=None):
        rows.append((what, value, "" if seconds is None else f"{seconds:.1f}"))
        print(f"{what}: {value}", flush=True)

    def attempt(what, fn):
        """One part; its failure becomes its row, so a one-shot GPU run keeps the rest of its table."""
        try:
            return fn()
        except Exception as err:  # noqa: BLE001
            traceback.print_exc()
            row(what, "FAILED: " + (" ".join(str(err).split())[:300] or type(err).__name__))

    def trained(preset, label, **budget):
        trainer, t = train(preset, device, precision, Path(tmp) / f"run{len(rows)}", cfg, **budget)
        n_params = sum(p.numel() for p in trainer.model.parameters())
        row(f"{preset} latent cache ({cfg.cache} items rendered + encoded)",
            f"{cfg.cache / t['cache_s']:.0f} items/s", t["cache_s"])
        row(f"{preset}: {n_params / 1e6:.1f}M parameters, batch {t['batch']}, lr {t['lr']:g}, {label}",
            f"{t['steps']} steps, {t['step_ms']:.1f} ms/step ({t['batch'] * 1000 / t['step_ms']:.0f} img/s); "
            f"a cache batch {t['data_ms']:.2f} ms", t["train_s"])
        return trainer.ema_model()

    attempt("`pytest -m gpu`", lambda: row("`pytest -m gpu`", *timed(gpu_tests)))
    with tempfile.TemporaryDirectory() as tmp:
        tiny = attempt("tiny recipe", lambda: trained("tiny", f"{cfg.tiny_steps} steps (target ≤ 60 s)",
                                                      steps=cfg.tiny_steps))
        if tiny is not None:
            attempt("tiny: evaluate", lambda: row("tiny: evaluate (CPU 10-min model: 8% / 12% exact, binding 70% / 60%)",
                                                  *timed(lambda: scores(tiny, precision, cfg.eval_n))))
        left = cfg.budget_minutes - (time.perf_counter() - start) / 60 - 1.5  # keep 1.5 min for what follows
        minutes = max(0.1, min(cfg.small_minutes, left))
        small = attempt(cfg.small_preset, lambda: trained(cfg.small_preset, f"{minutes:.1f} min, cache included",
                                                           minutes=minutes, batch=cfg.small_batch))
        if small is not None:
            attempt(f"{cfg.small_preset}: evaluate",
                    lambda: row(f"{cfg.small_preset}: evaluate (target ≥ 95% held-out, colour 100%)",
                                *timed(lambda: scores(small, precision, cfg.eval_n))))

    def speed(name, model):
        (ips, cond_share), s = timed(lambda: sampling(model, precision, cfg))
        row(f"{name}: sampling, batch {cfg.sample_batch}, 30 DDIM steps (target ≥ 500 img/s)",
            f"{ips:.0f} img/s; {cond_share:.0%} of it in condition() (glyph canvases, tokens: CPU)", s)

    attempt("shipped tiny: sampling", lambda: speed("shipped tiny", MiniGPTImage.load(PRETRAINED).to(device)))
    if small is not None:
        attempt(f"{cfg.small_preset}: sampling", lambda: speed(cfg.small_preset, small))

    def compare():
        (same, delta), s = timed(lambda: determinism(device, precision, cfg.compare_n))
        row("same seed twice on the device / CPU fp32 vs device from the same x_T",
            f"{'identical' if same else 'DIFFERENT'} / mean abs pixel difference {delta:.4f} (pixels in [-1, 1])", s)
    attempt("determinism", compare)

    table = [head, "", "| step | measured | s |", "|---|---|---|"] + [f"| {a} | {b} | {c} |" for a, b, c in rows]
    table.append(f"\ntotal {time.perf_counter() - start:.0f} s")
    print("\n".join(table))
    if args.out:
        Path(args.out).write_text("\n".join(table) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

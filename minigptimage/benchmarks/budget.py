"""What ten minutes buy on this machine: the workshop recipe's steps, measured in about 20 seconds.

    python -m minigptimage.benchmarks.budget [--minutes 10] [--device auto]

A timed run spends its budget on two things: building the latent cache (rendering and encoding each training
item once) and diffusion steps. This measures both on a small probe — ``PROBE_ITEMS`` items, then
``PROBE_STEPS`` steps after two of warm-up — for the workshop recipe (``python -m minigptimage train --preset
tiny-workshop``), and a few steps of the network the shipped model was trained with, and prints:

- how many steps the budget buys here, against the steps the README's figures were measured at;
- how long the shipped model's recipe (``SHIPPED_STEPS`` steps, plus its VAE) would take here.

Steps bought = (budget − cache items × seconds per item) / seconds per step: the same plan a ``--minutes`` run
makes (``train.Trainer.run``), measured before the run instead of during it.
"""
from __future__ import annotations

import argparse
import tempfile
import time

from ..devices import resolve_device
from ..pipeline import PRETRAINED
from ..launch import make_trainer
from ..train import TrainConfig

PROBE_ITEMS, PROBE_STEPS = 256, 8
SHIPPED_STEPS, SHIPPED_VAE_SECONDS_HERE = 15000, 525  # RESULTS.md: its VAE took 525 s on the 2-core machine
REFERENCE_STEPS = 3300  # steps of the workshop recipe in ten minutes on the 2-core machine of RESULTS.md
REFERENCE_PER_STEP = 0.17  # its seconds per step there (the shipped VAE's 525 s are scaled by the ratio)


def seconds_per_step(trainer, steps: int, clock) -> float:
    """Mean seconds of ``steps`` training steps, after two steps of warm-up."""
    trainer.model.train()
    total = steps + 2
    for _ in range(2):
        trainer.train_step(total)
    start = clock()
    for _ in range(steps):
        trainer.train_step(total)
    return (clock() - start) / steps


def measure(preset: str, device, clock=time.perf_counter, items: int = PROBE_ITEMS, steps: int = PROBE_STEPS,
            **setup) -> dict:
    """{"per_item": seconds to render and encode one cache item, "per_step": seconds per step} of ``preset``
    set up as ``train`` would (``setup`` goes to ``make_trainer``), on a probe cache of ``items`` items."""
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(preset, out, device=str(device), latent_cache=items, log=lambda m: None, **setup)
        trainer.train_vae_phase(0)
        start = clock()
        trainer.start_diffusion_phase()
        per_item = (clock() - start) / items
        return {"per_item": per_item, "per_step": seconds_per_step(trainer, steps, clock)}


def steps_in(minutes: float, per_item: float, per_step: float, cache_items: int) -> int:
    """The steps a ``--minutes`` run buys: what is left after building its cache, at ``per_step``."""
    return max(0, int((60 * minutes - per_item * cache_items) / per_step))


def report(minutes: float, workshop: dict, shipped_step: float, cache_items: int, reference_per_step: float):
    steps = steps_in(minutes, workshop["per_item"], workshop["per_step"], cache_items)
    shipped = SHIPPED_STEPS * shipped_step + cache_items * workshop["per_item"]
    vae = SHIPPED_VAE_SECONDS_HERE * workshop["per_step"] / reference_per_step  # scaled by this machine's speed
    return "\n".join([
        f"workshop recipe: {workshop['per_step']:.3f} s a step, {1000 * workshop['per_item']:.1f} ms a cache item",
        f"{minutes:g} minutes buy about {steps} steps here ({cache_items} cache items first); the README's "
        f"figures were measured at {REFERENCE_STEPS} steps",
        f"the shipped model's recipe ({SHIPPED_STEPS} steps at {shipped_step:.3f} s, plus its VAE) would take "
        f"about {(shipped + vae) / 3600:.1f} hours here",
    ]), steps


def summary(minutes: float = 10.0, device="cpu") -> str:
    """Measure the workshop recipe and the shipped model's network here; what ``minutes`` buy (the report)."""
    workshop = measure("tiny-workshop", device)
    shipped = measure("tiny", device, items=32, steps=3, vae=str(PRETRAINED))["per_step"]
    cache = TrainConfig.preset("tiny-workshop").latent_cache
    return report(minutes, workshop, shipped, cache, REFERENCE_PER_STEP)[0]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigptimage.benchmarks.budget", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    if not 0 < args.minutes <= 24 * 60:
        parser.error("--minutes: expected more than 0 and at most 1440")
    print(summary(args.minutes, resolve_device(args.device)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

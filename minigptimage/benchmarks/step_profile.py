"""Where the time of one training step goes: data, prompt encoder, each U-Net level and its attention, the glyph
branch, loss, backward, optimiser and EMA.

    python -m minigptimage.benchmarks.step_profile [--preset tiny-workshop] [--steps 20] [--batch-size 32]
                                                   [--threads N]

It sets up a run as ``train`` does (``launch.make_trainer``, with a latent cache of just the items it reads),
then times ``--steps`` steps after three of warm-up. A step is timed in the trainer's own order (batch, draws,
loss, backward, clip and AdamW, EMA); the forward pass is split by module hooks (CPU execution is synchronous,
so a module's wall-clock is its own). The backward pass is one figure: autograd runs it as one graph. The
second table is torch.profiler's top operators over the same steps, forward and backward together.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict

import torch

from ..objective import diffusion_loss
from ..pipeline import TINY_DATA
from ..launch import make_trainer
from ..train import lr_at


def forward_parts(model) -> dict:
    """{part name: [modules]}: the encoder, the glyph branch, each U-Net level's residual blocks and attention,
    the middle block, and the time embedding."""
    unet, n = model.unet, model.unet.cfg.num_res_blocks
    levels = len(unet.cfg.channels)
    parts = defaultdict(list)
    parts["prompt encoder"].append(model.encoder)
    parts["time embedding"] += [unet.time_mlp, unet.pooled_context]
    if unet.cfg.glyph:
        parts["glyph branch"] += [unet.glyph_branch, *unet.glyph_down, *unet.glyph_up]
    for i in range(levels):
        side = f"{2 ** i}x down"
        parts[f"level {i} ({side}) res blocks"] += [*unet.down_res[i * n:(i + 1) * n],
                                                    *unet.up_res[(levels - 1 - i) * n:(levels - i) * n]]
        attn = [*unet.down_attn[i * n:(i + 1) * n], *unet.up_attn[(levels - 1 - i) * n:(levels - i) * n]]
        if i in unet.cfg.attention_levels:
            parts[f"level {i} ({side}) attention"] += attn
    parts["middle block (attention)"] += [unet.mid_res1, unet.mid_attn, unet.mid_res2]
    parts["in/out convs, resampling"] += [unet.conv_in, unet.conv_out, unet.norm_out, *unet.downsample,
                                          *unet.upsample]
    return parts


def time_modules(parts: dict, totals: dict) -> list:
    """Forward hooks that add each part's wall-clock (seconds) to ``totals``; returns the hook handles."""
    handles = []
    for name, modules in parts.items():
        for m in modules:
            def pre(mod, args, name=name):
                mod._started = time.perf_counter()

            def post(mod, args, out, name=name):
                totals[name] += time.perf_counter() - mod._started
            handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    return handles


def profile_steps(trainer, steps: int, total: int) -> dict:
    """Mean seconds per step of each phase, over ``steps`` steps (forward split by module)."""
    model, cfg, totals = trainer.model, trainer.cfg, defaultdict(float)
    params = trainer.optimizer.param_groups[0]["params"]
    handles = time_modules(forward_parts(model), totals)
    for _ in range(steps):
        clock = time.perf_counter()

        def lap(name):
            nonlocal clock
            now = time.perf_counter()
            totals[name] += now - clock
            clock = now
        batch = trainer.batch(trainer.step)
        lap("data (latent cache)")
        draws = trainer.draw(total)
        lap("draws")
        loss = diffusion_loss(model, batch, draws)
        lap("forward")
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        lap("backward")
        for group in trainer.optimizer.param_groups:
            group["lr"] = lr_at(trainer.step, total, cfg)
        torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        trainer.optimizer.step()
        lap("clip + AdamW")
        trainer.step += 1
        trainer.update_ema()
        lap("EMA")
    for h in handles:
        h.remove()
    hooked = sum(v for k, v in totals.items() if k not in
                 ("data (latent cache)", "draws", "forward", "backward", "clip + AdamW", "EMA"))
    totals["forward: loss, noising, rest"] = totals.pop("forward") - hooked
    return {k: v / steps for k, v in totals.items()}


def top_operators(trainer, steps: int, total: int, k: int = 8) -> list[tuple[str, float]]:
    """(operator, share of the self CPU time) of the ``k`` costliest operators over ``steps`` train steps."""
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            trainer.train_step(total)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    whole = sum(e.self_cpu_time_total for e in events)
    return [(e.key, e.self_cpu_time_total / whole) for e in events[:k]]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigptimage.benchmarks.step_profile", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="tiny-workshop")
    parser.add_argument("--vae", default=str(TINY_DATA / "vae.pt"))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    total = 3 + 2 * args.steps
    with tempfile.TemporaryDirectory() as out:
        trainer = make_trainer(args.preset, out, vae=args.vae, batch_size=args.batch_size, latent_cache=20000,
                               log=lambda m: None)
        clock = time.perf_counter()
        trainer.start_diffusion_phase(total)
        cache_seconds = time.perf_counter() - clock
        trainer.model.train()
        clock = time.perf_counter()
        for _ in range(3):
            trainer.train_step(total)
        warmup_seconds = time.perf_counter() - clock
        parts = profile_steps(trainer, args.steps, total)
        ops = top_operators(trainer, min(5, args.steps), total)
    step = sum(parts.values())
    print(f"{args.preset}, batch {trainer.cfg.batch_size}, {torch.get_num_threads()} threads"
          f": {step:.3f} s a step ({args.steps} steps); latent cache of "
          f"{len(trainer.cache)} items {cache_seconds:.1f} s; the first 3 steps {warmup_seconds:.1f} s")
    print("| part | ms a step | share |\n|---|---|---|")
    for name, seconds in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {1000 * seconds:.1f} | {seconds / step:.0%} |")
    print("\n| operator (forward and backward) | share of CPU time |\n|---|---|")
    for name, share in ops:
        print(f"| {name} | {share:.0%} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Speed of the networks on this machine: how long a training step of the U-Net and the VAE takes.

    python -m minigptimage.benchmarks.speed      (or: python -m minigptimage bench)

For each network (tiny presets; U-Net on latents 4×16×16 with a 48-token context and a glyph canvas, VAE on
64×64 RGB images) and each batch size it prints the median time of a forward pass and of a forward+backward
pass (after warm-up), the training throughput in images/s, and the achieved GFLOP/s. FLOPs are counted by
``torch.utils.flop_counter.FlopCounterMode`` (matmuls and convolutions only; attention is counted through
its from-scratch matmuls, since the fused kernel is not counted). The ceiling is the machine's own float32
matmul rate (1024×1024, median of several runs): a network with small convolutions and many normalisation
and activation layers reaches only a fraction of it — the gap is memory traffic and framework overhead.

When ``diffusers`` is importable (it is not a dependency), a ``UNet2DConditionModel`` of about the same
parameter count (channels 32/64/64, cross-attention at the two lower resolutions) is timed alongside.
Timings are wall-clock: on a shared machine they vary with the load; compare rows measured together.
``bench --device cuda --precision bf16`` times the same on a GPU under autocast (the ceiling is then that device's
matmul rate in that precision).
"""
from __future__ import annotations

import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from minigptimage.attention import MultiHeadAttention
from minigptimage.devices import DTYPES, autocast
from minigptimage.encoder import PromptEncoder, PromptEncoderConfig
from minigptimage.unet import UNet, UNetConfig

CONTEXT_LEN, LATENT, IMAGE = 48, (4, 16, 16), 64


def median_ms(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        if torch.cuda.is_available():  # a GPU runs asynchronously: wait for it before reading the clock
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def matmul_gflops(n: int = 1024, repeats: int = 7, device="cpu", precision: str = "fp32") -> float:
    """The device's matmul rate in ``precision``: 2·n³ FLOPs per n×n product."""
    g = torch.Generator().manual_seed(0)
    a, b = (torch.randn(n, n, generator=g).to(device, DTYPES[precision]) for _ in range(2))
    return 2 * n ** 3 / median_ms(lambda: a @ b, repeats, warmup=3) / 1e6


def count_flops(fn) -> int:
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return counter.get_total_flops()


def unfused(model):
    """Switch our attention to its from-scratch matmuls (countable); return a function that switches it back."""
    modules = [m for m in model.modules() if isinstance(m, MultiHeadAttention)]
    for m in modules:
        m.fast = False
    return lambda: [setattr(m, "fast", True) for m in modules]


def params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def unet_step(model, batch: int, context_dim: int, glyph: bool, diffusers: bool = False, device="cpu",
              precision: str = "fp32"):
    """(forward, forward+backward) closures on fixed random inputs, on ``device`` under ``precision``'s autocast."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *LATENT, generator=g).to(device)
    t = torch.randint(0, 1000, (batch,), generator=g).to(device)
    context = torch.randn(batch, CONTEXT_LEN, context_dim, generator=g).to(device)
    mask = torch.ones(batch, CONTEXT_LEN, dtype=torch.bool, device=device)
    canvas = torch.rand(batch, 1, IMAGE, IMAGE, generator=g).to(device) if glyph else None
    if diffusers:
        forward = lambda: model(x, t, encoder_hidden_states=context, encoder_attention_mask=mask).sample  # noqa: E731
    else:
        forward = lambda: model(x, t, context, mask, glyph=canvas)  # noqa: E731
    forward = autocast_fn(forward, device, precision)
    return no_grad(forward), lambda: forward().float().square().mean().backward()


def vae_step(model, batch: int, device="cpu", precision: str = "fp32"):
    x = (torch.rand(batch, 3, IMAGE, IMAGE, generator=torch.Generator().manual_seed(0)) * 2 - 1).to(device)
    forward = autocast_fn(lambda: model.decode(model.encode(x)[0]), device, precision)
    return no_grad(forward), lambda: (forward().float() - x).square().mean().backward()


def autocast_fn(fn, device, precision: str):
    def run():
        with autocast(device, precision):
            return fn()
    return run


def no_grad(fn):
    def run():
        with torch.no_grad():
            return fn()
    return run


def diffusers_unet(context_dim: int):
    """diffusers' UNet2DConditionModel with channels 32/64/64 and cross-attention at the lower two levels."""
    from diffusers import UNet2DConditionModel
    from diffusers.models.attention_processor import AttnProcessor
    model = UNet2DConditionModel(
        sample_size=LATENT[1], in_channels=LATENT[0], out_channels=LATENT[0], block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"), layers_per_block=1,
        cross_attention_dim=context_dim, norm_num_groups=32, attention_head_dim=8)

    def unfused_diffusers(m):
        processors = m.attn_processors
        m.set_attn_processor(AttnProcessor())  # plain matmuls, so FlopCounterMode sees them
        return lambda: m.set_attn_processor(processors)
    return model, unfused_diffusers


def measure(name, model, make_step, batch_sizes, repeats, make_unfused=unfused):
    """One table row per batch size: name, params, forward ms, fwd+bwd ms, images/s, GFLOP/s."""
    rows = []
    for batch in batch_sizes:
        forward, train = make_step(batch)
        restore = make_unfused(model)
        flops = count_flops(train)
        restore()
        model.zero_grad(set_to_none=True)
        fwd_ms, train_ms = median_ms(forward, repeats), median_ms(train, repeats)
        rows.append((name, params(model), batch, fwd_ms, train_ms, 1000 * batch / train_ms, flops / train_ms / 1e6))
    return rows


def preset_costs(out):
    """Parameters and multiply-accumulates per image (forward) for every preset."""
    out(f"{'preset':<22}{'params':>12}{'MACs/image':>14}")
    one = torch.ones(1, CONTEXT_LEN, dtype=torch.bool)
    for name in ("tiny", "small"):
        enc = PromptEncoder(PromptEncoderConfig.preset(name))
        unfused(enc)
        macs = count_flops(lambda: enc(torch.full((1, CONTEXT_LEN), 40), one)) // 2
        out(f"{'encoder ' + name + ' (L=48)':<22}{params(enc):>12,}{macs:>14,}")
        cfg = UNetConfig.preset(name)
        unet = UNet(cfg)
        unfused(unet)
        macs = count_flops(lambda: unet(torch.zeros(1, *LATENT), 0, torch.zeros(1, CONTEXT_LEN, cfg.context_dim),
                                        one, glyph=torch.zeros(1, 1, IMAGE, IMAGE))) // 2
        out(f"{'unet ' + name:<22}{params(unet):>12,}{macs:>14,}")
        try:
            from minigptimage.pipeline import PipelineConfig
            from minigptimage.vae import VAE
        except ImportError:
            continue
        vae = VAE(PipelineConfig.preset(name).vae)  # every preset uses the tiny VAE (pipeline.py)
        macs = count_flops(lambda: vae.decode(vae.encode(torch.zeros(1, 3, IMAGE, IMAGE))[0])) // 2
        out(f"{'vae ' + name + ' (enc+dec)':<22}{params(vae):>12,}{macs:>14,}")


def run_bench(batch_sizes=(32, 64), repeats: int = 5, threads: int | None = None, out=print, device="cpu",
              precision: str = "fp32"):
    """Print the speed table for this machine (see the module docstring), on ``device`` under ``precision``."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    on = dict(device=device, precision=precision)
    try:
        out(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {device} {precision}; "
            f"matmul ceiling {matmul_gflops(**on):.1f} GFLOP/s (1024×1024, median)")
        preset_costs(out)
        cfg = UNetConfig.preset("tiny")
        unet = UNet(cfg).to(device)
        rows = measure("unet tiny", unet, lambda b: unet_step(unet, b, cfg.context_dim, cfg.glyph, **on),
                       batch_sizes, repeats)
        try:
            from minigptimage.vae import VAE, VAEConfig
            vae = VAE(VAEConfig.preset("tiny")).to(device)
            rows += measure("vae tiny", vae, lambda b: vae_step(vae, b, **on), batch_sizes, repeats)
        except ImportError as error:
            out(f"(vae row skipped: {error})")
        try:
            ref, ref_unfused = diffusers_unet(cfg.context_dim)
            ref.to(device)
            rows += measure("diffusers UNet2DCond.", ref,
                            lambda b: unet_step(ref, b, cfg.context_dim, False, True, **on),
                            batch_sizes, repeats, ref_unfused)
        except ImportError:
            out("(diffusers not installed: no side-by-side row)")
        out(f"{'network':<22}{'params':>11}{'batch':>6}{'fwd ms':>9}{'fwd+bwd ms':>12}{'img/s':>8}{'GFLOP/s':>9}")
        for name, n, batch, fwd, train, ips, gflops in rows:
            out(f"{name:<22}{n:>11,}{batch:>6}{fwd:>9.1f}{train:>12.1f}{ips:>8.0f}{gflops:>9.1f}")
        ours = {r[2]: r[4] for r in rows if r[0] == "unet tiny"}
        for name, _, batch, _, train, _, _ in rows:
            if name.startswith("diffusers"):
                out(f"batch {batch}: diffusers fwd+bwd / ours = {train / ours[batch]:.2f}×")
        return rows
    finally:
        torch.set_num_threads(previous)


if __name__ == "__main__":
    run_bench()

"""The model the wiring tests of test_pipeline.py and test_editing.py share (import it: ``from fixtures_model
import untrained_micro``; pytest puts tests/ on the path)."""
import dataclasses

import torch

from minigptimage.pipeline import MiniGPTImage, PipelineConfig


def untrained_micro(num_steps: int = 1000) -> MiniGPTImage:
    """A micro model, untrained, whose zero-initialised convs (output and glyph branch) are set to small random
    values, so that its prediction depends on x_t, t, the prompt and the glyph canvas: quick to build, for
    tests of the wiring rather than of what training learned. ``num_steps`` is T of its schedule (a small T
    makes DDPM, which walks all T steps, cheap); the weights are the same for every T."""
    config = dataclasses.replace(PipelineConfig.preset("micro"), num_steps=num_steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = MiniGPTImage(config)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.unet.parameters():
            if not p.any():
                p.normal_(0.0, 0.05, generator=g)
    return m.eval()

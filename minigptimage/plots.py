"""Figures people look at: image grids, denoising trajectories, schedules, loss curves, attention maps.

Every function takes tensors in the package's conventions (images (B, 3, H, W) in [-1, 1]) and writes a
PNG with matplotlib (the non-interactive Agg backend, so it works without a screen).
"""
from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402


def fast_mode() -> bool:
    """True when ``MINIGPTIMAGE_FAST=1``: lessons and demos shrink their work to seconds."""
    return os.environ.get("MINIGPTIMAGE_FAST", "0") not in ("", "0")


def output_dir(lesson_file: str | os.PathLike) -> Path:
    """Where a lesson writes its figures: ``$MINIGPTIMAGE_OUT`` when set, else ``lessons/out/``."""
    out = os.environ.get("MINIGPTIMAGE_OUT") or Path(lesson_file).resolve().parent / "out"
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def to_numpy_image(image: torch.Tensor):
    """(3, H, W) in [-1, 1] -> (H, W, 3) float numpy in [0, 1] for ``imshow``."""
    return ((image.detach().float().cpu().clamp(-1, 1) + 1) / 2).permute(1, 2, 0).numpy()


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Save a matplotlib figure as PNG and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def image_grid(images: torch.Tensor, path, titles=None, ncols: int = 8) -> Path:
    """A grid of images (B, 3, H, W) in [-1, 1], with an optional title above each."""
    n = images.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(to_numpy_image(images[k]), interpolation="nearest")
            if titles is not None:
                ax.set_title(str(titles[k])[:28], fontsize=6)
    return save_figure(fig, path)


def loss_curve(losses, path, title: str = "training loss") -> Path:
    """Loss against step, on a log scale, with a running mean to show the trend."""
    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(losses, alpha=0.35, label="loss")
    k = max(1, len(losses) // 50)
    if len(losses) >= k:
        smooth = torch.tensor(losses, dtype=torch.float64).unfold(0, k, 1).mean(1).tolist()
        ax.plot(range(k - 1, len(losses)), smooth, label=f"mean of {k}")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title(title)
    ax.legend()
    return save_figure(fig, path)


def trajectory(frames: torch.Tensor, timesteps, path, title: str = "denoising trajectory") -> Path:
    """Frames (S, 3, H, W) of one sample along the reverse process, labelled by timestep."""
    s = frames.shape[0]
    fig, axes = plt.subplots(1, s, figsize=(1.4 * s, 1.7), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        ax.imshow(to_numpy_image(frames[k]), interpolation="nearest")
        ax.set_title(f"t={timesteps[k]}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    return save_figure(fig, path)

"""Figures people look at: image grids, denoising trajectories, schedules, loss curves, attention maps.

Every function takes tensors in the package's conventions (images (B, 3, H, W) in [-1, 1]) and writes a
figure with matplotlib (PNG, or another of FIGURE_FORMATS by the file name) atomically: a temporary file in the
same folder, renamed over the target (``checkpoints.atomic_write``), so no reader sees half a figure. A script
(a lesson run with ``python``, the command line) draws with the non-interactive Agg backend, so it works
without a screen; inside a Jupyter kernel the backend is left to Jupyter, and ``save_figure`` also shows each
figure in the notebook, under the cell that made it.
"""
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path

import matplotlib
import torch

from .checkpoints import atomic_write

FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")  # what savefig writes with no LaTeX or Ghostscript


def in_notebook() -> bool:
    """True inside a Jupyter (IPython) kernel, where figures can be shown under the cell."""
    ipython = sys.modules.get("IPython")  # a kernel has imported it already; a script has not
    shell = ipython.get_ipython() if ipython is not None else None
    return getattr(shell, "kernel", None) is not None


if "IPython" not in sys.modules and not os.environ.get("MPLBACKEND"):
    matplotlib.use("Agg")  # a script: draw into files only, no window (and no display needed)
import matplotlib.pyplot as plt  # noqa: E402


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


def figure_format(path: str | os.PathLike) -> str:
    """The format a figure file's name asks for, one of FIGURE_FORMATS; ValueError naming the path otherwise."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in FIGURE_FORMATS:
        raise ValueError(f"path: expected a figure file name ending in .{', .'.join(FIGURE_FORMATS)}, "
                         f"got {str(path)!r}")
    return fmt


def save_figure(fig, path: str | os.PathLike) -> None:
    """Save a matplotlib figure atomically in the format its name asks for (and, in a notebook, show it under
    the cell), then close it. Returns nothing, so a notebook cell that ends with a figure shows the figure and
    no stray value."""
    path = Path(path)
    try:
        fmt = figure_format(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=110, bbox_inches="tight"))
        if in_notebook():
            from IPython.display import display
            display(fig)  # shown once here; closing below stops Jupyter from showing it a second time
    finally:
        plt.close(fig)


def image_grid(images: torch.Tensor, path, titles=None, ncols: int = 8, title_width: int = 26) -> None:
    """A grid of images (B, 3, H, W) in [-1, 1], with an optional title above each, whole: a long title (a
    prompt) is wrapped over lines of at most ``title_width`` characters, never cut."""
    n = images.shape[0]
    ncols = max(1, min(ncols, n))
    nrows = (n + ncols - 1) // ncols
    wrapped = (["\n".join(textwrap.fill(line, title_width) for line in str(t).split("\n")) for t in titles]
               if titles is not None else None)  # each line of a title wrapped on its own
    lines = max((w.count("\n") + 1 for w in wrapped), default=1) if wrapped else 1
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, (1.62 + 0.12 * lines) * nrows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        if k < n:
            ax.imshow(to_numpy_image(images[k]), interpolation="nearest")
            if wrapped is not None:
                ax.set_title(wrapped[k], fontsize=6)
    save_figure(fig, path)


def loss_curve(losses, path, title: str = "training loss") -> None:
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
    save_figure(fig, path)


def trajectory(frames: torch.Tensor, timesteps, path, title: str = "denoising trajectory") -> None:
    """Frames (S, 3, H, W) of one sample along the reverse process, labelled by timestep."""
    s = frames.shape[0]
    fig, axes = plt.subplots(1, s, figsize=(1.4 * s, 1.7), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.axis("off")
        ax.imshow(to_numpy_image(frames[k]), interpolation="nearest")
        ax.set_title(f"t={timesteps[k]}", fontsize=7)
    fig.suptitle(title, fontsize=8)
    save_figure(fig, path)


def trajectory_figure(model, trajectory_record: dict, path, title: str = "denoising trajectory",
                      count: int = 8) -> None:
    """Decode ``count`` evenly spaced predicted-x₀ latents of sample 0 from ``generate(...,
    return_trajectory=True)``'s record with ``model.decode``, and draw them with ``trajectory``."""
    x0s, ts = trajectory_record["x0_pred"], trajectory_record["timesteps"]
    picks = torch.linspace(0, len(x0s) - 1, min(count, len(x0s))).round().long().tolist()
    latents = torch.stack([x0s[k][0] for k in picks])  # (S, C, h, w)
    frames = model.decode(latents.to(model.device)).cpu()  # (S, 3, H, W)
    trajectory(frames, [int(ts[k]) for k in picks], path, title=title)


def training_figures(trainer, out: Path, prompts: list[str]) -> None:
    """What a training run draws at each save (on rank 0): the loss curve (``loss.png``) and a grid of the EMA
    weights' samples of ``prompts`` (``samples_STEP.png``)."""
    if trainer.rank != 0 or not trainer.losses:
        return
    loss_curve(trainer.losses, out / "loss.png")
    images = trainer.ema_model().generate(prompts, steps=20, seed=0)
    image_grid(images, out / f"samples_{trainer.step:07d}.png", titles=prompts, ncols=4)

"""Flow matching against DDPM at an equal budget: the exact word against the number of network evaluations.

    python -m minigptimage.benchmarks.flow_vs_ddpm --checkpoint runs/ddpm --checkpoint runs/flow [--n 100]
        [--evaluations 1 2 4 8 16 30] [--out flow_vs_ddpm.png]

Each checkpoint (a .pt file, or a training folder: its newest good checkpoint) is sampled with its objective's
samplers — DDIM ("trailing", η = 0) for a DDPM model, Euler and Heun (σ grid unshifted) for a flow model — at
each number E of network evaluations: DDIM and Euler take E steps, Heun E/2 (two evaluations a step; an odd E
is skipped). Classifier-free guidance doubles every evaluation of every sampler alike (at the model's own
scale), so it is left out of E. The prompts and scores are ``benchmarks.learner``'s: held-out upper-case words
in the standard form, Tesseract's exact reading (where the ``tesseract`` program is installed), our reader's
exact word, colour binding, specked images and seconds per image. Checkpoints of one objective (runs from
several seeds) are pooled per sampler and E.

Prints a markdown table (RESULTS.md's section "Flow matching against DDPM at an equal budget", which lesson 16
prints) and writes a figure: exact word against E, one line per objective and sampler (Tesseract's where it
is installed, else our reader's).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from ..checkpoints import newest_good_checkpoint
from ..pipeline import SAMPLERS, MiniGPTImage
from ..plots import save_figure
from ..reader import GlyphReader
from ..samplers import FlowEulerSampler, FlowHeunSampler
from .learner import learner_samples, pooled, score_model

EVALUATIONS = (1, 2, 4, 8, 16, 30)
PER_STEP = {"ddim": 1, "euler": FlowEulerSampler.evaluations_per_step,  # network evaluations per step
            "heun": FlowHeunSampler.evaluations_per_step}
SECTION = "## Flow matching against DDPM at an equal budget"  # RESULTS.md's heading for this table
HEADER = ("| objective | sampler | evaluations | steps | n | Tesseract exact | reader exact | both colours | specked "
          "| s/image |\n|---|---|---|---|---|---|---|---|---|---|")


def steps_for(sampler: str, evaluations: int) -> int | None:
    """The steps that spend exactly ``evaluations`` network evaluations, or None when none do."""
    steps, left = divmod(evaluations, PER_STEP[sampler])
    return steps if steps >= 1 and left == 0 else None


def resolve(path) -> Path:
    """A checkpoint file, or the newest good checkpoint of a training folder."""
    path = Path(path)
    if path.is_dir():
        found = newest_good_checkpoint(path, log=lambda m: None)
        if found is None:
            raise SystemExit(f"--checkpoint: no usable ckpt_*.pt in {path}")
        return found[0]
    return path


def compare(paths, n: int, evaluations=EVALUATIONS, seed: int = 0, log=print) -> list[dict]:
    """One row per (objective, sampler, evaluations): the pooled scores of the checkpoints of that objective."""
    models = [MiniGPTImage.load(resolve(p)) for p in paths]
    reader, samples = GlyphReader.pretrained(), learner_samples(n)
    rows = []
    for objective in dict.fromkeys(m.config.objective for m in models):  # in the order given
        group = [m for m in models if m.config.objective == objective]
        samplers = [s for s in SAMPLERS[objective] if s in PER_STEP]  # not DDPM, which walks all T steps
        for sampler in samplers:
            for e in evaluations:
                steps = steps_for(sampler, e)
                if steps is None:
                    continue
                with torch.inference_mode():
                    results = [score_model(m, reader, samples, steps, seed, sampler=sampler) for m in group]
                rows.append(dict(objective=objective, sampler=sampler, evaluations=e, steps=steps,
                                 n=n * len(group), **pooled(results)))
                log(format_row(rows[-1]))
    return rows


def format_row(row: dict) -> str:
    tess = "—" if row["tesseract"] is None else f"{row['tesseract']:.0%}"
    return (f"| {row['objective']} | {row['sampler']} | {row['evaluations']} | {row['steps']} | {row['n']} | {tess} | "
            f"{row['reader']:.0%} | {row['binding']:.0%} | {row['specked']:.0%} | {row['seconds']:.2f} |")


def figure(rows: list[dict], path) -> None:
    """Exact word against evaluations, one line per objective and sampler."""
    import matplotlib.pyplot as plt  # after plots.py has chosen the backend
    key = "tesseract" if all(r["tesseract"] is not None for r in rows) else "reader"
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for line in dict.fromkeys((r["objective"], r["sampler"]) for r in rows):
        xs = [r for r in rows if (r["objective"], r["sampler"]) == line]
        ax.plot([r["evaluations"] for r in xs], [100 * r[key] for r in xs], marker="o", label=" + ".join(line))
    ax.set_xscale("log", base=2)
    ax.set_xticks(sorted({r["evaluations"] for r in rows}), [str(e) for e in sorted({r["evaluations"] for r in rows})])
    ax.set_xlabel("network evaluations per image (guidance not counted)")
    ax.set_ylabel(f"exact word, % ({'Tesseract' if key == 'tesseract' else 'our reader'})")
    ax.set_title(f"held-out words, n = {rows[0]['n']} per point", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m minigptimage.benchmarks.flow_vs_ddpm", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", action="append", required=True,
                        help="a model to score (repeat: one or more per objective, e.g. one per training seed)")
    parser.add_argument("--n", type=int, default=100, help="prompts per checkpoint (default 100)")
    parser.add_argument("--evaluations", type=int, nargs="+", default=list(EVALUATIONS),
                        help=f"numbers of network evaluations (default {' '.join(map(str, EVALUATIONS))})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first batch's noise (default 0)")
    parser.add_argument("--out", default="flow_vs_ddpm.png", help="the figure (default flow_vs_ddpm.png)")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 2000:
        parser.error("--n: expected 1 to 2000")
    if not all(1 <= e <= 1000 for e in args.evaluations):
        parser.error("--evaluations: expected numbers from 1 to 1000")
    print("checkpoints: " + ", ".join(str(resolve(p)) for p in args.checkpoint))
    print(HEADER)
    rows = compare(args.checkpoint, args.n, sorted(set(args.evaluations)), args.seed)
    figure(rows, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

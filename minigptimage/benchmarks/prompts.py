"""Prompt understanding, family by family: does the model follow a prompt phrased as a person types it?

    python -m minigptimage.benchmarks.prompts [--checkpoint PATH] [--n 50]
    python -m minigptimage.benchmarks.prompts --by-length --checkpoint A.pt --checkpoint B.pt --out fig.png
    python -m minigptimage.benchmarks.prompts --ceiling [--vae PATH]

Every family asks for held-out text (words and strings never used in training) and names both colours and
the place, so the scores are comparable; each family differs from the first in one thing. The held-out
connectives are ``composed_captions.CONNECTIVES["heldout"]``; the low-contrast pairs are the legible pairs whose WCAG 2
contrast ratio is under 3.5 (``LOW_CONTRAST_PAIRS``: 28 of the 50, yellow on white and white on orange among them).

| family | phrasing | text |
|---|---|---|
| training phrasings | the training mixture (captions.random_caption) | upper-case words of 2–6 letters |
| held-out phrasings | forms training never saw | the same |
| held-out vocabulary | training's word-slot frames filled with words no training caption uses | the same |
| 7–10 characters | the training mixture | upper-case words of 7–10 letters |
| lower case and digits | the training mixture | lower-case words, numbers and codes (a third each) |
| two words | the training mixture | two words (upper, lower or capitalised) |
| held-out connectives | parts in any order, joined by connectives no training caption uses | the same |
| low-contrast pairs | the training mixture, in the legible pairs of contrast under 3.5 only | the same |

Scores (evaluate.score_images): exact word and characters read by our glyph reader, **colour binding** (text
colour and background colour both right), position, **specked** (the share of images with an ink cluster of
under 20 pixels away from the text: scoring.has_speck; measured, never filtered), seconds per image; and Tesseract's exact reading where the
``tesseract`` program is installed (benchmarks/ocr_legibility.py). ``--by-length`` draws colour binding and exact
word against the text's length for one or more checkpoints (the README's comparison of the encoder's positions).
``--ceiling`` reads each family's clean held-out renders before and after a round trip through the VAE (the
model's, or ``--vae PATH``): a diffusion model that learned the latents of its training images perfectly would
read no better than the round trip, so this is the most the latent leaves for the words.
"""
from __future__ import annotations

import argparse
import time

import torch

from ..evaluate import evaluation_samples, generate_in_batches, score_images
from ..glyphs import COLOR_PAIRS, COLORS, contrast_ratio
from ..pipeline import PRETRAINED, MiniGPTImage
from ..reader import GlyphReader
from ..scoring import has_speck, word_accuracy
from ..vae import VAE
from .ocr_legibility import tesseract_exact

LOW_CONTRAST_PAIRS = [(fg, bg) for fg, bg in COLOR_PAIRS if contrast_ratio(COLORS[fg], COLORS[bg]) < 3.5]
FAMILIES = {  # name -> list of (share of n, GlyphDataset options); all on the held-out texts
    "training phrasings": [(1, dict(phrasing="train", text_kind="upper", lengths=(2, 6)))],
    "held-out phrasings": [(1, dict(phrasing="heldout", text_kind="upper", lengths=(2, 6)))],
    "held-out vocabulary": [(1, dict(phrasing="heldout-vocab", text_kind="upper", lengths=(2, 6)))],
    "7–10 characters": [(1, dict(phrasing="train", text_kind="upper", lengths=(7, 10)))],
    "lower case and digits": [(1 / 3, dict(phrasing="train", text_kind=k)) for k in ("lower", "digits", "code")],
    "two words": [(1, dict(phrasing="train", text_kind="two words"))],
    "held-out connectives": [(1, dict(phrasing="heldout-connectives", text_kind="upper", lengths=(2, 6)))],
    "low-contrast pairs": [(1, dict(phrasing="train", text_kind="upper", lengths=(2, 6),
                                    color_pairs=LOW_CONTRAST_PAIRS))],
}


def family_samples(name: str, n: int, seed: int = 1234) -> list:
    """The ``n`` held-out items of a family (fixed for a seed)."""
    parts = FAMILIES[name]
    counts = [round(share * n) for share, _ in parts]
    counts[-1] = n - sum(counts[:-1])
    return [s for c, (_, options) in zip(counts, parts) if c > 0  # a small n may leave a part empty
            for s in evaluation_samples("heldout", c, seed, **options)]


def specked_share(images: torch.Tensor) -> float:
    """Share of the images (n, 3, H, W) that carry a speck away from their text (scoring.has_speck: an ink
    cluster of under 20 pixels that does not chain to the text's box). A measure only: nothing is filtered."""
    return sum(has_speck(im) for im in images) / len(images)


def family_result(model, reader, name: str, n: int, steps: int = 30, seed: int = 0):
    """(SplitScore, Tesseract exact or None, specked share) for one family."""
    samples = family_samples(name, n)
    start = time.perf_counter()
    images = generate_in_batches(model, [s.caption for s in samples], steps, seed)  # (n, 3, H, W)
    score = score_images(images, samples, reader, name, (time.perf_counter() - start) / n)
    return score, tesseract_exact(images, [s.text for s in samples]), specked_share(images)


def run_family(model, reader, name: str, n: int, steps: int = 30, seed: int = 0):
    """(SplitScore, Tesseract exact or None) for one family: ``family_result`` without the specks."""
    return family_result(model, reader, name, n, steps, seed)[:2]


def binding_by_length(model, reader, n: int, steps: int = 30, lengths=range(2, 11), seed: int = 0) -> dict:
    """{length: (colour binding, exact word)} on ``n`` held-out upper-case words of each length."""
    out = {}
    for length in lengths:
        samples = evaluation_samples("heldout", n, 1234, phrasing="train", text_kind="upper",
                                     lengths=(length, length))
        images = generate_in_batches(model, [s.caption for s in samples], steps, seed)
        score = score_images(images, samples, reader, str(length), 0.0)
        out[length] = (score.binding_acc, score.word_acc)
    return out


@torch.no_grad()
def vae_ceiling(vae, reader, name: str, n: int, batch_size: int = 50) -> tuple[float, float]:
    """(exact word on the clean renders, exact word after encode → decode) for ``n`` held-out items of a family."""
    samples = family_samples(name, n)
    clean = torch.stack([s.image for s in samples]).float()  # (n, 3, H, W) in [-1, 1]
    round_trip = torch.cat([vae.decode_latents(vae.encode_latents(clean[k:k + batch_size])).clamp(-1, 1)
                            for k in range(0, n, batch_size)])
    texts = [s.text for s in samples]
    return word_accuracy(reader.read(clean), texts), word_accuracy(reader.read(round_trip), texts)


def plot_by_length(results: dict, path) -> None:
    """results {label: {length: (binding, exact)}} → a two-panel line figure at ``path``."""
    import matplotlib.pyplot as plt

    from ..plots import save_figure
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for label, by_length in results.items():
        lengths = sorted(by_length)
        for k, ax in enumerate(axes):
            ax.plot(lengths, [100 * by_length[m][k] for m in lengths], marker="o", label=label)
    for ax, title in zip(axes, ("colour binding (text and background right)", "exact word")):
        ax.set(title=title, xlabel="letters in the held-out word", ylabel="%", ylim=(-3, 103))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    save_figure(fig, path)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", action="append", help="model file (repeat with --by-length to compare)")
    p.add_argument("--n", type=int, default=50, help="prompts per family (per length with --by-length)")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--by-length", action="store_true", help="colour binding against word length, as a figure")
    p.add_argument("--out", default="prompts_by_length.png", help="the --by-length figure")
    p.add_argument("--ceiling", action="store_true", help="what the VAE's round trip leaves readable, per family")
    p.add_argument("--vae", help="with --ceiling: a VAE file (vae_training.train_shipped_vae) instead of the model's")
    args = p.parse_args(argv)
    checkpoints = args.checkpoint or [str(PRETRAINED)]
    reader = GlyphReader.pretrained()
    if args.ceiling:
        vae = VAE.load(args.vae) if args.vae else MiniGPTImage.load(checkpoints[0]).vae
        print(f"VAE {args.vae or checkpoints[0]}: latent {vae.cfg.latent_channels} × (side / "
              f"{vae.cfg.downsample})², n = {args.n} clean held-out renders per family\n")
        print("| family | reader on clean renders | after the VAE round trip |\n|---|---|---|")
        for name in FAMILIES:
            clean, round_trip = vae_ceiling(vae, reader, name, args.n)
            print(f"| {name} | {clean:.0%} | {round_trip:.0%} |", flush=True)
        return 0
    if args.by_length:
        results = {}
        for path in checkpoints:
            model = MiniGPTImage.load(path)
            label = f"{path.rsplit('/', 1)[-1]} ({model.config.encoder.positions} positions)"
            results[label] = binding_by_length(model, reader, args.n, args.steps)
            print(label, {m: f"{b:.0%} / {w:.0%}" for m, (b, w) in results[label].items()}, flush=True)
        plot_by_length(results, args.out)
        print(f"figure: {args.out}")
        return 0
    model = MiniGPTImage.load(checkpoints[0])
    print(f"checkpoint {checkpoints[0]}, n = {args.n} held-out prompts per family, DDIM {args.steps}, "
          f"guidance {model.config.guidance:g}\n")
    print("| family | exact word | characters | colour binding | text colour | position | specked | s/image | "
          "Tesseract exact |\n|---|---|---|---|---|---|---|---|---|")
    for name in FAMILIES:
        s, tess, specked = family_result(model, reader, name, args.n, args.steps)
        print(f"| {name} | {s.word_acc:.0%} | {s.char_acc:.0%} | {s.binding_acc:.0%} | {s.colour_acc:.0%} | "
              f"{s.position_acc:.0%} | {specked:.0%} | {s.seconds_per_image:.3f} | "
              f"{'—' if tess is None else f'{tess:.0%}'} |", flush=True)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(torch.get_num_threads())
    raise SystemExit(main())

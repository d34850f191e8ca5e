"""The data the trainer reads: training items by index, batches by step, and the latent cache.

The data is a stream indexed by step, never shuffled in memory: diffusion batch s on rank r of W processes is
items (s·W + r)·B … (s·W + r)·B + B − 1 of ``GlyphDataset("train")``, which renders item i the same way every
time (deterministic per index and seed). So a run resumed at step s reads exactly what an uninterrupted one
would, and ranks read distinct items. Three other readers of the same dataset use their own parts of it (the
constants below).

``LatentCache`` renders the first N items once and encodes them once with the trained, frozen VAE (its
encoder costs ~4× the U-Net per image), so a diffusion step on a GPU copies nothing from the host.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import torch
from tqdm.auto import tqdm

from .glyphs import HIGH_CONTRAST_PAIRS, REFERENCE_CAPTION, GlyphDataset, collate
from .vae import VAE
from .vae_training import train_vae

# GlyphDataset renders items on demand, so its length is only the range of indices the streams may use:
# large enough that no stream below wraps around in any run.
DATASET_LENGTH = 10**9
# VAE batch s is stream batch VAE_FIRST_BATCH + s (of vae_batch_size items): items from 10⁶·32 = 3.2·10⁷ on,
# which diffusion reaches only after 10⁶ steps of 32 images — never, in practice — so the VAE and the U-Net
# are trained on different images.
VAE_FIRST_BATCH = 10**6
# The VAE's PCA initialisation and its scale factor are fitted on the stream's first items (the same images
# the diffusion run starts with: a fit needs a representative sample, not unseen ones).
PCA_ITEMS, SCALE_ITEMS = 2000, 256
CHUNK = 256  # items rendered (and encoded) at a time when building the latent cache


# What a run trains on (TrainConfig.task): GlyphDataset options of the training split.
TASKS = {
    "mixture": {},  # every text kind, length and legible colour pair, every training phrasing (the shipped model)
    # the learner's ten minutes: upper-case words of 2–6 letters, every training phrasing, the high-contrast pairs
    "workshop": dict(text_kind="upper", lengths=(2, 6), color_pairs=HIGH_CONTRAST_PAIRS),
}


def training_dataset(seed: int, image_size: int, made_up: float = 0.0, task: str = "mixture") -> GlyphDataset:
    """The training split, as every stream above reads it (``made_up``: TrainConfig.made_up_words)."""
    return GlyphDataset("train", length=DATASET_LENGTH, seed=seed, image_size=image_size, made_up=made_up,
                        **TASKS[task])


def word_tokenizer(seed: int = 0, captions: int = 20000):
    """The ``-word`` presets' tokenizer: one token per word of ``captions`` training captions (and the
    reference prompt), the rest <unk> — the predecessor's view that lesson 14 compares."""
    from .glyphs import REFERENCE_CAPTION
    from .tokenizer import WordTokenizer
    ds = GlyphDataset("train", length=captions, seed=seed)
    return WordTokenizer.from_texts([ds.caption(i) for i in range(len(ds))] + [REFERENCE_CAPTION])


def training_items(dataset: GlyphDataset, indices, reference_every: int = 0) -> dict:
    """Collated training items. Item i with ``reference_every`` > 0 and i % reference_every == 0 is a style
    pair (``GlyphDataset.pair``): its target is the pair's first render, its caption names only the word
    (``REFERENCE_CAPTION``) and its ``reference`` image is the second render — same colours, font, size and
    place, another word — so the style can only come from the reference's image tokens. Adds ``reference``
    (B, 3, H, W) (zeros in rows without one) and ``has_reference`` (B,) bool."""
    items, refs = [], []
    for i in indices:
        if reference_every and i % reference_every == 0:
            target, ref = dataset.pair(i)
            items.append(dataclasses.replace(target, caption=REFERENCE_CAPTION.format(text=target.text)))
            refs.append(ref.image)
        else:
            items.append(dataset.sample(i))
            refs.append(None)
    batch = collate(items)
    batch["has_reference"] = torch.tensor([r is not None for r in refs])                       # (B,)
    batch["reference"] = torch.stack([r if r is not None else torch.zeros_like(batch["image"][0])
                                      for r in refs])                                          # (B, 3, H, W)
    return batch


def data_batch(dataset: GlyphDataset, step: int, batch_size: int, rank: int = 0, world: int = 1,
               reference_every: int = 0) -> dict:
    """Batch ``step`` of the data stream: items step·B·world + rank·B … (+B−1), so ranks see distinct data."""
    start = (step * world + rank) * batch_size
    return training_items(dataset, [(start + k) % len(dataset) for k in range(batch_size)], reference_every)


_first_items: dict = {}  # (the dataset's identity, n) -> items, rendered once per process


def first_items(dataset: GlyphDataset, n: int) -> dict:
    """Items 0 … n−1 (what the VAE's PCA initialisation and scale factor are fitted on). Rendering is a pure
    function of the dataset's settings and the index, so they are rendered once per process (read-only)."""
    key = (dataset.split, dataset.seed, dataset.image_size, dataset.phrasing, dataset.text_kind,
           dataset.lengths, dataset.complete, dataset.made_up, n)
    if key not in _first_items:
        _first_items[key] = training_items(dataset, range(n))
    return _first_items[key]


def vae_images(dataset: GlyphDataset, batch_size: int, device):
    """The VAE's endless stream of image batches (B, 3, H, W): stream batches VAE_FIRST_BATCH, +1, …"""
    return (data_batch(dataset, VAE_FIRST_BATCH + s, batch_size)["image"].to(device) for s in itertools.count())


def fit_vae(vae: VAE, dataset: GlyphDataset, steps: int, batch_size: int, lr: float, seed: int,
            progress: bool = True, log=print) -> None:
    """A run's VAE phase: the closed-form linear optimum on the stream's first items (``VAE.init_from_pca``,
    with a linear path), ``steps`` steps on the VAE's own part of the stream, then the scale factor that gives
    the latents unit variance."""
    device = next(vae.parameters()).device
    if vae.cfg.linear_path:
        vae.init_from_pca(first_items(dataset, PCA_ITEMS)["image"].to(device))
    if steps > 0:
        log(f"training the VAE for {steps} steps")
        train_vae(vae, vae_images(dataset, batch_size, device), steps=steps, batch_size=batch_size, lr=lr,
                  seed=seed, progress=progress)
    vae.fit_scale_factor(first_items(dataset, SCALE_ITEMS)["image"].to(device))


def _items_as_arrays(dataset, indices, reference_every) -> dict:
    """``training_items`` with numpy arrays, which pickle plainly between processes (tensors would travel as
    shared-memory handles)."""
    return {k: v.numpy() if isinstance(v, torch.Tensor) else v
            for k, v in training_items(dataset, indices, reference_every).items()}


def rendered_chunks(dataset: GlyphDataset, size: int, reference_every: int, workers: int = 1, chunk: int = CHUNK):
    """``training_items`` for items 0 … size−1, ``chunk`` at a time, in order. With ``workers`` > 1 they are
    rendered in that many processes (rendering is deterministic per index, so the chunks are the same): on a
    GPU, rendering on one core would take longer than the whole training run."""
    chunks = [range(s, min(size, s + chunk)) for s in range(0, size, chunk)]
    if workers <= 1:
        yield from (training_items(dataset, c, reference_every) for c in chunks)
        return
    spawn = multiprocessing.get_context("spawn")  # a forked child of a CUDA process cannot be trusted
    with ProcessPoolExecutor(workers, mp_context=spawn, initializer=torch.set_num_threads, initargs=(1,)) as pool:
        for arrays in pool.map(_items_as_arrays, itertools.repeat(dataset), chunks, itertools.repeat(reference_every)):
            yield {k: torch.from_numpy(v) if hasattr(v, "dtype") else v for k, v in arrays.items()}


def cache_size(configured: int, total_steps: int | None, batch_size: int, world: int = 1) -> int:
    """The latent cache a run needs: ``configured`` items, or fewer when the run's total is known and reads
    fewer (total·B·world items, rounded up to whole chunks), so a short run does not render 20,000 images for
    40 steps. A timed run (total unknown at the start) keeps ``configured``."""
    if configured <= 0 or total_steps is None:
        return configured
    used = max(1, total_steps) * batch_size * world
    return min(configured, math.ceil(used / CHUNK) * CHUNK)


class LatentCache:
    """``size`` training items rendered once and encoded once by the (trained, frozen) VAE: the latents
    (N, C, h, w), captions (and their token ids) and glyph canvases (N, 1, H, W, stored as uint8). Deterministic
    for a seed, so a resumed run rebuilds exactly the same cache. It lives on the model's device (20,000 ``tiny``
    items take ~0.5 GB), so on a GPU a step copies nothing from the host and tokenizes nothing."""

    def __init__(self, model, dataset: GlyphDataset, size: int, progress: bool = True,
                 reference_every: int = 0, workers: int = 1):
        latents, glyphs, boxes, refs, has_ref, ids, masks, self.captions = [], [], [], [], [], [], [], []
        device, max_len = model.device, model.config.max_prompt_len
        for batch in tqdm(rendered_chunks(dataset, size, reference_every, workers), total=math.ceil(size / CHUNK),
                          desc="encoding the training set", disable=not progress):
            with torch.no_grad():
                latents.append(model.vae.encode_latents(batch["image"].to(device)))  # (b, C, h, w)
            glyphs.append((batch["glyph"] * 255).round().to(torch.uint8).to(device))
            refs.append(((batch["reference"] + 1) * 127.5).round().to(torch.uint8).to(device))
            boxes.append(batch["box"].to(device))
            has_ref.append(batch["has_reference"].to(device))
            tokens = model.tokenizer.encode(batch["caption"], max_len)  # (b, max_len) ids and mask
            ids.append(tokens[0].to(device))
            masks.append(tokens[1].to(device))
            self.captions += batch["caption"]
        self.latents, self.glyphs = torch.cat(latents), torch.cat(glyphs)   # (N, C, h, w), (N, 1, H, W)
        self.boxes, self.has_reference = torch.cat(boxes), torch.cat(has_ref)  # (N, 4), (N,)
        self.references = torch.cat(refs)                                   # (N, 3, H, W) uint8
        self.ids, self.masks = torch.cat(ids), torch.cat(masks)            # (N, max_len)

    def __len__(self) -> int:
        return len(self.captions)

    def batch(self, step: int, batch_size: int, rank: int = 0, world: int = 1) -> dict:
        """``data_batch``'s items (step·world + rank)·B …, encoded; they wrap around the cache's N items."""
        start = (step * world + rank) * batch_size
        idx = (start + torch.arange(batch_size, device=self.latents.device)) % len(self)  # (B,)
        return {"latent": self.latents[idx], "glyph": self.glyphs[idx].float() / 255, "box": self.boxes[idx],
                "reference": self.references[idx].float() / 127.5 - 1, "has_reference": self.has_reference[idx],
                "ids": self.ids[idx], "mask": self.masks[idx],
                "caption": [self.captions[(start + k) % len(self)] for k in range(batch_size)]}

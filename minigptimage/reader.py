"""A glyph reader: a small CRNN that reads the text in an image, used to score text-to-image outputs.

CRNN (Shi, Bai & Yao 2015, arXiv 1507.05717): convolutions turn the image into a feature map, the height is
collapsed (here by a max over rows, so the word may sit anywhere vertically), and every remaining column
becomes one time step of a sequence; a per-column classifier gives log-probabilities over the 63 characters
of ``ALPHABET`` (A–Z, a–z, 0–9 and the space between two words) plus a "blank". Training uses CTC
(Graves et al. 2006, "Connectionist Temporal Classification"): the loss sums the probability of every
column-wise path that collapses to the target text (merge repeats, then drop blanks), so no one has to say
which column holds which character. Reading is greedy CTC decoding: the best class per column, repeats
merged, blanks dropped ("CC-A-TT" → "CAT").

    image (B, 3, 64, 64) → ink map (B, 1, 64, 64) → three conv blocks → (B, c, 8, 32) → max over rows → (B, c, 32)
    → a 1-D conv along the columns (context between neighbouring letters) → (B, 64, 32) log-probabilities

Simplified from the paper: a 1-D convolution replaces the bidirectional LSTM (a 10-character text needs
little context, and convs train faster on a CPU); BatchNorm everywhere; 32 columns for at most 10
characters. CTC needs a blank between the two copies of a doubled character, so a 10-character text needs
at most 19 columns; the narrowest renders give a character 5 pixels (2.5 columns: 10 characters in 50–52
pixels, or two short words such as "An Is" in 25), which leaves room for them.

The network does not see colours: its input is an ink map, each pixel's colour distance to the background
(the median colour of the image border) over the image's strongest contrast, so "red on white" and
"yellow on purple" look the same and it only has to learn letter shapes (colour is scored separately,
scoring.glyph_colour). Training images are augmented (shifts, blur, noise, contrast, inverted and shuffled
colour channels) so the reader also reads the imperfect pixels a generator makes. It never sees the held-out
words, numbers or codes.

Shipped: tiny_data/reader.pt (265,376 parameters, 1.1 MB), the ``tiny-wide`` preset, made by
``train_shipped_reader()`` (three rounds of 1,500 steps of 32, each on 16,000 fresh renders of the training
mixture, seeds 0, 1 and 2). Its 1-D conv sees 5 columns and it takes the mean over rows beside the max, so it
sees how tall a stroke is and the letters either side. It reads 98.0% of clean held-out renders of the mixture
exactly (RESULTS.md, "The glyph reader", per kind). What it misses is mostly letters whose two cases have one
shape (S/s, O/o, C/c, V/v, W/w, X/x: only size tells them apart, and a lone "s" has nothing to compare with),
0/O, I/T in serif and a wide lower-case m. Scores that use it (evaluate, benchmarks) inherit these limits: an
image read wrongly may be right. The ``tiny`` preset is the narrower reader (3 columns, max over rows only).
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checkpoints import TINY_DATA, load_module, save_module
from .ink import ink_map

FORMAT = 1  # version of the checkpoint dict written by GlyphReader.save
ALPHABET = string.ascii_uppercase + string.ascii_lowercase + string.digits + " "  # class k + 1 is ALPHABET[k]; 0 is the CTC blank
PRETRAINED = TINY_DATA / "reader.pt"


@dataclass
class ReaderConfig:
    image_size: int = 64  # side of the square input images
    channels: tuple = (32, 64, 128)  # widths of the three conv blocks
    seq_channels: int = 128  # width of the 1-D convs along the columns
    context: int = 3  # columns the first 1-D conv sees (5: a narrow letter and its neighbours on both sides)
    row_mean: bool = False  # also pass the mean over rows: how tall a stroke is (S vs s), which a max loses

    @classmethod
    def preset(cls, name: str) -> "ReaderConfig":
        presets = {"tiny": cls(),  # 3 columns of context, max over rows only
                   "tiny-wide": cls(context=5, row_mean=True)}  # the shipped reader's (reads better, above)
        if name not in presets:
            raise ValueError(f"name: expected one of {sorted(presets)}, got {name!r}")
        return presets[name]


def conv_block(c_in: int, c_out: int, pool: tuple[int, int] | None):
    layers = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    return layers + ([nn.MaxPool2d(pool)] if pool else [])


class GlyphReader(nn.Module):
    """CRNN + greedy CTC decoding: `read(images)` returns the words it sees."""

    def __init__(self, cfg: ReaderConfig | None = None, seed: int | None = None):
        super().__init__()
        self.cfg = cfg = cfg or ReaderConfig()
        c = list(cfg.channels)
        with torch.random.fork_rng(enabled=seed is not None):  # reproducible init, global RNG untouched
            if seed is not None:
                torch.manual_seed(seed)
            # 64×64 → 32×32 → 16×32 → 8×32 (rows halve three times, columns once)
            self.features = nn.Sequential(*conv_block(1, c[0], (2, 2)), *conv_block(c[0], c[1], (2, 1)),
                                          *conv_block(c[1], c[2], (2, 1)))
            s = cfg.seq_channels
            rows = 2 if cfg.row_mean else 1  # the max over rows, and the mean too
            self.sequence = nn.Sequential(nn.Conv1d(rows * c[2], s, cfg.context, padding=cfg.context // 2),
                                          nn.BatchNorm1d(s), nn.ReLU(), nn.Conv1d(s, len(ALPHABET) + 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) in [-1, 1] -> log-probabilities (B, K, T) over blank + ALPHABET per column (K = 64)."""
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"images: expected (B, 3, H, W), got {tuple(images.shape)}")
        f = self.features(ink_map(images)[0])  # (B, c, H/8, W/2)
        f = torch.cat([f.amax(dim=2), f.mean(dim=2)], 1) if self.cfg.row_mean else f.amax(dim=2)  # (B, c or 2c, T)
        return self.sequence(f).log_softmax(dim=1)  # (B, K, T)

    @torch.no_grad()
    def read(self, images: torch.Tensor, batch_size: int = 256) -> list[str]:
        """Greedy CTC decoding of (B, 3, H, W) images in [-1, 1]: best class per column, merge repeats, drop blanks."""
        was_training = self.training
        self.eval()
        words = []
        for i in range(0, len(images), batch_size):
            best = self(images[i:i + batch_size].float()).argmax(dim=1)  # (B, T)
            words += [ctc_greedy_decode(row) for row in best.tolist()]
        self.train(was_training)
        return words

    def save(self, path) -> None:
        save_module(self, path, FORMAT)

    @classmethod
    def load(cls, path) -> "GlyphReader":
        return load_module(cls, ReaderConfig, path, FORMAT, "glyph-reader")

    @classmethod
    def pretrained(cls) -> "GlyphReader":
        """The reader shipped in tiny_data/reader.pt (trained by `train_shipped_reader`)."""
        return cls.load(PRETRAINED)


def ctc_greedy_decode(classes: list[int]) -> str:
    """Collapse a best path: merge repeated classes, then drop blanks (class 0). [3,3,0,1,20,20] → "CAT"."""
    out, prev = [], 0
    for k in classes:
        if k != prev and k != 0:
            out.append(ALPHABET[k - 1])
        prev = k
    return "".join(out)


def encode_words(words: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Words -> (concatenated class ids, lengths) in the form F.ctc_loss takes."""
    for w in words:
        if not w or any(ch not in ALPHABET for ch in w):
            raise ValueError(f"words: expected non-empty texts over A–Z, a–z, 0–9 and space, got {w!r}")
    ids = torch.tensor([ALPHABET.index(ch) + 1 for w in words for ch in w], dtype=torch.long)
    return ids, torch.tensor([len(w) for w in words], dtype=torch.long)


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random degradations a generated image may show, per image: colour-channel shuffle and inversion,
    shift by up to 3 pixels, blur, contrast/brightness change and Gaussian noise. (B, 3, H, W) -> same."""
    B = images.shape[0]
    if B == 0:
        return images

    def u(lo, hi, *shape):  # uniform draws from the generator
        return lo + (hi - lo) * torch.rand(B, *shape, generator=generator)

    x = images[torch.arange(B)[:, None], torch.stack([torch.randperm(3, generator=generator) for _ in range(B)])]
    x = torch.where(u(0, 1, 1, 1, 1) < 0.3, -x, x)
    shift = torch.randint(-3, 4, (2,), generator=generator).tolist()  # one shift per batch
    x = torch.roll(F.pad(x, (3, 3, 3, 3), mode="replicate"), shifts=shift, dims=(2, 3))[..., 3:-3, 3:-3]
    sigma = u(0.1, 1.2)  # Gaussian blur, σ in pixels, a 5-tap kernel per image
    taps = torch.exp(-(torch.arange(-2, 3).float()[None] ** 2) / (2 * sigma[:, None] ** 2))
    taps = (taps / taps.sum(1, keepdim=True)).repeat_interleave(3, 0)  # (3B, 5)
    xb = x.reshape(1, 3 * B, *x.shape[2:])  # (1, 3B, H, W): a grouped conv blurs each image on its own
    xb = F.conv2d(F.pad(xb, (2, 2, 0, 0), mode="replicate"), taps[:, None, None, :], groups=3 * B)
    xb = F.conv2d(F.pad(xb, (0, 0, 2, 2), mode="replicate"), taps[:, None, :, None], groups=3 * B)
    x = xb.reshape(x.shape)
    x = x * u(0.4, 1.0, 1, 1, 1) + u(-0.3, 0.3, 1, 1, 1)
    x = x + u(0.0, 0.15, 1, 1, 1) * torch.randn(x.shape, generator=generator)
    return x.clamp(-1, 1)


def train_reader(reader: GlyphReader, images: torch.Tensor, words: list[str], steps: int = 1500,
                 batch_size: int = 32, lr: float = 3e-3, seed: int = 0, augment_prob: float = 0.7,
                 progress: bool = True) -> list[float]:
    """CTC training on (images (N, 3, H, W), words); returns the loss of every step. Adam, one-cycle rate.

    CTC first sits on a plateau (all blanks) until the network learns where letters are; clean images get it
    off the plateau sooner, so the augmented fraction of a batch ramps from 0 to `augment_prob` over the
    first third of training."""
    if len(images) != len(words):
        raise ValueError(f"words: expected {len(images)} words (one per image), got {len(words)}")
    generator = torch.Generator().manual_seed(seed)
    targets, lengths = encode_words(words)
    starts = torch.cat([torch.zeros(1, dtype=torch.long), lengths.cumsum(0)[:-1]])
    opt = torch.optim.Adam(reader.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.1)
    reader.train()
    losses = []
    for step in tqdm(range(steps), desc="reader", disable=not progress):
        idx = torch.randint(len(images), (batch_size,), generator=generator)
        x = images[idx]
        n_aug = int(augment_prob * min(1.0, 3 * step / steps) * batch_size)
        x = torch.cat([augment(x[:n_aug], generator), x[n_aug:]])
        log_probs = reader(x)  # (B, K, T)
        target = torch.cat([targets[starts[i]:starts[i] + lengths[i]] for i in idx.tolist()])
        T = log_probs.shape[2]
        loss = F.ctc_loss(log_probs.permute(2, 0, 1), target, torch.full((batch_size,), T, dtype=torch.long),
                          lengths[idx], blank=0, zero_infinity=True)  # log_probs as (T, B, K)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    reader.eval()
    return losses


def train_shipped_reader(path=PRETRAINED, steps: int = 1500, batch_size: int = 32, seed: int = 0,
                         n_images: int = 16000, rounds: int = 3, preset: str = "tiny-wide",
                         progress: bool = True) -> GlyphReader:
    """How tiny_data/reader.pt was made: ``rounds`` rounds of ``steps`` one-cycle steps, round k on ``n_images``
    fresh renders (dataset seed ``seed + k``) of the dataset's training mixture (every kind of
    ``glyphs.TEXT_KINDS``, 1–10 characters): ¾ from the "train" split, ¼ from the "random" split (random
    letter strings, so the reader learns letters rather than a vocabulary) — never a held-out word or string.
    Train with augmentation, save. The defaults (preset ``tiny-wide``, three rounds) remake the shipped file;
    ``preset="tiny", rounds=2`` makes the narrower reader (RESULTS.md, "The glyph reader")."""
    from .glyphs import GlyphDataset  # imported here: the reader itself does not depend on the data

    reader = GlyphReader(ReaderConfig.preset(preset), seed=seed)
    n_random = n_images // 4
    for k in range(rounds):
        datasets = [GlyphDataset("train", length=n_images - n_random, seed=seed + k, cache=True),
                    GlyphDataset("random", length=n_random, seed=seed + k, cache=True)]
        images = torch.cat([ds.cache["image"] for ds in datasets]).float() / 127.5 - 1  # (N, 3, H, W) in [-1, 1]
        words = [w for ds in datasets for w in ds.cache["text"]]
        train_reader(reader, images, words, steps=steps, batch_size=batch_size, seed=seed + k, progress=progress)
    if path is not None:
        reader.save(path)
    return reader

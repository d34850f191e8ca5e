"""The glyph dataset: real words drawn with real fonts, with a caption, a layout box, a mask and a glyph canvas.

Text rendering is what GPT-Image-1-style models are judged on, and what small diffusion models get wrong
(the "spelling" problem of Imagen, arXiv:2205.11487 §4.4, and the character-aware study of Liu et al.,
arXiv:2212.10562). So our toy data is text of 1–10 characters — an upper-case, lower-case or capitalised
word, two words, a number or a code such as R2D2 (``TEXT_KINDS``) — in one of three DejaVu fonts that
matplotlib ships, in a colour from ``COLORS`` on a contrasting background, placed in a named region of
``layout.REGIONS``, with a caption from the grammar of ``captions.py`` (many phrasings; colours or place
sometimes left out). Each item carries

    image    (3, H, W) float32 in [-1, 1]
    caption  e.g. 'the word "CAT" in red on white, at the top left'
    box      (x0, y0, x1, y1) ints, the tight box of the inked pixels, exclusive ends: image[:, y0:y1, x0:x1]
    mask     (1, H, W) float32, 1 inside the box (the region to paint)
    glyph    (1, H, W) float32 in [0, 1], the word in the image's font filling the same box (layout.py)

Size and place follow ``layout.word_size`` / ``layout.place``: the largest size at which the word fits the
region with a margin, centred with ±1 px jitter — the rule ``layout.plan_box`` uses at generation time.
Colour pairs are the legible ones, ``layout.LEGIBLE_PAIRS``: 50 of the 56 pairs of the eight colours, those
that both our reader and Tesseract read (``benchmarks/color_pairs.py``). Drawing one image (the
colours, ``render_word``, a pair's contrast) is ``drawing.py``.

Every item is a pure function of (split, seed, index): its randomness comes from
``numpy.random.default_rng([seed, index, split_id])``, the same on every machine.
Batches: ``DataLoader(ds, batch_size=32, collate_fn=collate)``, or ``ds.batch(indices)``; with ``cache=True``
every item is rendered once into uint8 tensors and ``batch`` only indexes them.
Held out: words by the hash rule of ``tiny_data/WORDS.md``, numbers and codes by the same rule on the string
(``is_heldout_text``), phrasings by ``captions.is_heldout``, and the words of the ``phrasing="heldout-vocab"``
family (captions.WORDS["heldout"]) and the connectives of ``phrasing="heldout-connectives"``
(composed_captions.CONNECTIVES["heldout"]) appear in no training caption. A dataset draws words of one ``split`` and
captions of one ``phrasing`` family, so every pair of the two can be measured.
Simplified: one line of text per image on a flat background; no rotation, no perspective, no texture. Text
too wide for a row at the smallest legible size (5-pixel capitals) is never drawn (the word lists hold only
words that fit).
"""
from __future__ import annotations

import string
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

from . import captions, layout
from .captions import is_heldout_text  # the held-out rule for texts (captions keeps its made-up words off it)
from .checkpoints import TINY_DATA  # words_train.txt, words_heldout.txt
from .composed_captions import CONNECTIVES, longest_composed
from .drawing import COLORS, contrast_ratio, render_word  # noqa: F401  (re-exported: the dataset's colours, drawing)
from .layout import FONTS, MAX_TEXT, REGIONS  # noqa: F401  (re-exported: the dataset's fonts, regions, length limit)

SPLITS = {"train": 0, "heldout": 1, "random": 2}  # split name -> split_id in the per-item seed
TEXT_KINDS = {  # kind -> share of the training mixture (GlyphDataset with text_kind=None)
    "upper": 0.40, "lower": 0.15, "title": 0.10, "two words": 0.15, "digits": 0.10, "code": 0.10,
}
REFERENCE_CAPTION = 'the word "{text}" in the style of the image'  # a prompt that comes with a reference image
LIST_FIELDS = ("caption", "text", "color", "background", "font", "position")  # collated as lists


COLOR_PAIRS = list(layout.LEGIBLE_PAIRS)  # (text, background): every pair the dataset draws
# The pairs of WCAG contrast ≥ 3.5: the 16×16×8 VAE (tiny_data/vae.pt) keeps 98% of their clean held-out words
# readable by Tesseract after its round trip, the lower-contrast pairs 67% (RESULTS.md, "The learner's model").
HIGH_CONTRAST_PAIRS = [p for p in COLOR_PAIRS if contrast_ratio(COLORS[p[0]], COLORS[p[1]]) >= 3.5]
MAX_CAPTION_CHARS = max(  # the longest caption the grammar makes: filled forms, then composed captions
    [len(captions.fill(f, "W" * MAX_TEXT, "yellow", "orange", "bottom right", place=p, stop=True))
     for family in captions.FAMILIES for f in captions.forms(family) for p in range(3)]
    + [len(longest_composed(c, "W" * MAX_TEXT, captions.PLACE_PHRASES)) for c in CONNECTIVES])


@lru_cache(maxsize=None)
def load_words(split: str) -> tuple[str, ...]:
    """The word list of a split: ``tiny_data/words_<split>.txt``, one UPPERCASE word (2–10 letters) a line."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout' for a word list, got {split!r}")
    return tuple((TINY_DATA / f"words_{split}.txt").read_text().split())


@dataclass
class GlyphSample:
    image: torch.Tensor  # (3, H, W) float32 in [-1, 1]
    caption: str  # names the word in double quotes, its colour, the background and the region
    text: str  # the word drawn
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) tight ink box, exclusive ends
    mask: torch.Tensor  # (1, H, W) float32, 1 inside box
    glyph: torch.Tensor  # (1, H, W) float32 in [0, 1], canvas of text in its own font, in box
    color: str  # text colour, a key of COLORS
    background: str  # background colour, a key of COLORS
    font: str  # a key of FONTS
    position: str  # a key of REGIONS
    size: int  # pixel font size


class GlyphDataset(torch.utils.data.Dataset):
    """Captioned text images; see the module docstring. ``split``: "train", "heldout" (words and strings never
    used in training) or "random" (random A–Z strings). ``phrasing``: the caption family (captions.py), "train",
    "heldout" (phrasings training never sees), "heldout-vocab" (words training never uses) or
    "heldout-connectives" (parts in any order, joined by connectives training never uses). ``text_kind``:
    one kind of ``TEXT_KINDS`` or None for the training mixture; ``lengths`` (lo, hi): text lengths drawn
    uniformly (default 1–10; words have 2 or more letters). ``complete=True``: every caption names both
    colours and the place (for scoring). ``pairs=True`` makes ``ds[i]`` return ``ds.pair(i)``; ``cache=True``
    renders every item once into uint8 tensors (fast ``batch``). ``made_up``: the share of template captions
    whose slot words are made up (``captions.random_caption``; "train" phrasing only). ``color_pairs``: the
    (text, background) pairs to draw from, some of ``COLOR_PAIRS`` (default: all of them)."""

    def __init__(self, split: str = "train", length: int = 10000, seed: int = 0, image_size: int = 64,
                 pairs: bool = False, cache: bool = False, phrasing: str = "train", text_kind: str | None = None,
                 lengths: tuple[int, int] = (1, MAX_TEXT), complete: bool = False, made_up: float = 0.0,
                 color_pairs=None):
        if split not in SPLITS:
            raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
        if phrasing not in captions.FAMILIES:
            raise ValueError(f"phrasing must be one of {', '.join(map(repr, captions.FAMILIES))}, got {phrasing!r}")
        if text_kind is not None and text_kind not in TEXT_KINDS:
            raise ValueError(f"text_kind must be None or one of {sorted(TEXT_KINDS)}, got {text_kind!r}")
        if not (len(lengths) == 2 and 1 <= lengths[0] <= lengths[1] <= MAX_TEXT):
            raise ValueError(f"lengths must be (lo, hi) with 1 <= lo <= hi <= {MAX_TEXT}, got {lengths!r}")
        if not 0 <= made_up <= 1 or (made_up and phrasing != "train"):
            raise ValueError(f"made_up must be in [0, 1], and 0 unless phrasing='train'; got {made_up!r} with "
                             f"phrasing {phrasing!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {seed!r}")
        if not isinstance(length, int) or length < 1:
            raise ValueError(f"length must be an int >= 1, got {length!r}")
        if not isinstance(image_size, int) or not all(layout.word_size("WWWWWW", "center", image_size, f)
                                                      for f in FONTS):
            raise ValueError(f"image_size must be an int large enough for any 6-letter word (44 or more), "
                             f"got {image_size!r}")
        color_pairs = [tuple(p) for p in (COLOR_PAIRS if color_pairs is None else color_pairs)]
        if not color_pairs or not set(color_pairs) <= set(COLOR_PAIRS):
            raise ValueError(f"color_pairs must be a non-empty list of pairs from glyphs.COLOR_PAIRS, got "
                             f"{color_pairs!r}")
        if pairs and cache:
            raise ValueError("cache must be False when pairs=True (the cache holds single renders)")
        self.split, self.length, self.seed, self.image_size, self.pairs = split, length, seed, image_size, pairs
        self.phrasing, self.text_kind, self.lengths, self.complete = phrasing, text_kind, tuple(lengths), complete
        self.made_up, self.color_pairs = made_up, color_pairs
        self.words = load_words(split) if split != "random" else None
        self.by_length = _by_length(self.words) if self.words else None  # length -> words of that length
        self.cache = self._render_all() if cache else None

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int):
        return self.pair(index) if self.pairs else self.sample(index)

    def _rng(self, index: int) -> np.random.Generator:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for a dataset of length {self.length}")
        return np.random.default_rng([self.seed, index, SPLITS[self.split]])

    def _fits(self, text: str, font: str) -> bool:
        """Legible in the center row in ``font`` and in the planner's font (then it can go in some region)."""
        return all(layout.word_size(text, "center", self.image_size, f) for f in {font, layout.CANVAS_FONT})

    def _word(self, rng: np.random.Generator, length: int) -> str:
        """An upper-case word of the split with ``length`` letters (the nearest length the list has)."""
        if self.words is None:  # the "random" split: letter strings on the training side of the held-out rule
            return self._string(rng, string.ascii_uppercase, max(2, length))
        by_length = self.by_length
        length = min(by_length, key=lambda n: (abs(n - length), n))
        words = by_length[length]
        return words[int(rng.integers(len(words)))]

    def _string(self, rng: np.random.Generator, alphabet: str, length: int) -> str:
        """A random string of ``alphabet`` on this split's side of the held-out rule. Numbers and codes of one
        or two characters are too few to split, so "train" and "heldout" share them (numbers 0–99, single
        characters, codes such as A4 or 7B); the
        "random" split (which trains the VAE and the reader) keeps to the training side at every length."""
        while True:
            text = "".join(rng.choice(list(alphabet), size=length))
            if self.split == "random":
                if not is_heldout_text(text):
                    return text
            elif length <= 2 or is_heldout_text(text) == (self.split == "heldout"):
                return text

    def _text(self, rng: np.random.Generator, font: str, kind: str | None = None, length: int | None = None) -> tuple:
        """(text, kind): a text of ``kind`` (or of the dataset's kind or mixture) and ``length`` characters (or
        a length drawn from ``lengths``), that fits the image in ``font``."""
        kinds = list(TEXT_KINDS)
        kind = kind or self.text_kind or kinds[int(rng.choice(len(kinds), p=list(TEXT_KINDS.values())))]
        lo, hi = self.lengths
        while True:
            n = length or int(rng.integers(lo, hi + 1))
            if kind in ("upper", "lower", "title"):
                word = self._word(rng, max(n, 2))
                text = {"upper": word, "lower": word.lower(), "title": word.capitalize()}[kind]
            elif kind == "two words":  # two words, n characters in all with the space (at least 2 + 1 + 2)
                first = self._word(rng, int(rng.integers(2, max(2, n - 3) + 1)))
                text = first + " " + self._word(rng, max(2, n - 1 - len(first)))
                text = [text, text.lower(), text.title()][int(rng.integers(3))]
            elif kind == "digits":
                text = self._string(rng, string.digits, n)
            else:  # "code": capitals and digits with at least one of each when n >= 2 (R2D2, A4, B52)
                text = self._string(rng, string.ascii_uppercase + string.digits, n)
                if n >= 2 and (text.isalpha() or text.isdigit()):
                    continue
            if len(text) <= MAX_TEXT and self._fits(text, font):
                return text, kind

    def _font(self, rng: np.random.Generator) -> str:
        return list(FONTS)[int(rng.integers(len(FONTS)))]

    def _style(self, rng: np.random.Generator, text: str, font: str) -> dict:
        # a region where the text is legible in its font and in the planner's neutral font (so plan_box agrees):
        # the first that fits in a random order of the regions, i.e. uniform over the regions that fit
        order = rng.permutation(len(REGIONS))
        position = next(r for r in (list(REGIONS)[k] for k in order)
                        if layout.word_size(text, r, self.image_size, font) and layout.word_size(text, r, self.image_size))
        color, background = self.color_pairs[int(rng.integers(len(self.color_pairs)))]
        j = max(1, self.image_size // 64)
        jitter = tuple(int(v) for v in rng.integers(-j, j + 1, size=2))
        caption = captions.random_caption(rng, self.phrasing, text, color, background, position, self.complete,
                                          self.made_up)
        return dict(font=font, position=position, color=color, background=background, jitter=jitter,
                    caption=caption, text=text)

    def _render(self, text: str, style: dict, size: int | None = None) -> GlyphSample:
        s = style
        size = size or layout.word_size(text, s["position"], self.image_size, s["font"])
        image, box = render_word(text, s["color"], s["background"], s["font"], s["position"],
                                 self.image_size, size=size, jitter=s["jitter"])
        x0, y0, x1, y1 = box
        mask = torch.zeros(1, self.image_size, self.image_size)
        mask[:, y0:y1, x0:x1] = 1
        canvas = layout.render_canvas(text, box, self.image_size, s["font"], size=size)  # the image's own ink
        caption = s["caption"].replace(f'"{s["text"]}"', f'"{text}"')  # a pair's second text, same phrasing
        return GlyphSample(image.float() / 127.5 - 1, caption, text, box, mask, canvas, s["color"],
                           s["background"], s["font"], s["position"], size)

    def sample(self, index: int) -> GlyphSample:
        """Item ``index`` as a single render."""
        rng = self._rng(index)
        font = self._font(rng)
        text, _ = self._text(rng, font)
        return self._render(text, self._style(rng, text, font))

    def caption(self, index: int) -> str:
        """Just the caption of item ``index`` (no rendering): ``ds.caption(i) == ds[i].caption``."""
        rng = self._rng(index)
        font = self._font(rng)
        text, _ = self._text(rng, font)
        return self._style(rng, text, font)["caption"]

    def pair(self, index: int) -> tuple[GlyphSample, GlyphSample]:
        """Two renders sharing colours, font, font size, region and jitter, with different texts of the same
        kind and length (the smaller of the two texts' sizes, so both fit)."""
        rng = self._rng(index)
        font = self._font(rng)
        first, kind = self._text(rng, font)
        second = first
        for _ in range(100):  # a kind and length may hold a single text (a 1-letter code, say)
            second, _ = self._text(rng, font, kind, len(first))
            if second != first:
                break
        style = self._style(rng, first, font)
        size = min(layout.word_size(w, style["position"], self.image_size, style["font"]) for w in (first, second))
        for row in (layout.ROW_OF[style["position"]], "center"):  # the second text does not fit: a whole row
            if not size:
                style["position"] = row
                size = min(layout.word_size(w, row, self.image_size, style["font"]) for w in (first, second))
        return self._render(first, style, size), self._render(second, style, size)

    def _render_all(self) -> dict:
        """Every item once, images and glyphs as uint8 (4 bytes a pixel: 16 KiB an item at 64 × 64)."""
        n, size = self.length, self.image_size
        cache = dict(image=torch.empty(n, 3, size, size, dtype=torch.uint8),
                     glyph=torch.empty(n, 1, size, size, dtype=torch.uint8), box=torch.empty(n, 4, dtype=torch.long))
        cache.update({k: [] for k in LIST_FIELDS})
        for i in range(n):
            s = self.sample(i)
            cache["image"][i] = ((s.image + 1) * 127.5).round()  # exact: image was uint8 / 127.5 − 1
            cache["glyph"][i] = (s.glyph * 255).round()
            cache["box"][i] = torch.tensor(s.box)
            for k in LIST_FIELDS:
                cache[k].append(getattr(s, k))
        return cache

    def batch(self, indices) -> dict:
        """``collate`` of the items at ``indices``; from the uint8 cache when the dataset was built with it."""
        if self.cache is None:
            return collate([self[int(i)] for i in indices])
        idx = torch.as_tensor(indices, dtype=torch.long)
        out = {k: (v[idx] if torch.is_tensor(v) else [v[i] for i in idx.tolist()]) for k, v in self.cache.items()}
        out["image"] = out["image"].float() / 127.5 - 1  # (B, 3, H, W) in [-1, 1]
        out["glyph"] = out["glyph"].float() / 255  # (B, 1, H, W) in [0, 1]
        out["mask"] = box_masks(out["box"], self.image_size)
        return out


def box_masks(boxes: torch.Tensor, image_size: int) -> torch.Tensor:
    """(B, 1, H, W) float masks, 1 inside each box (B, 4) = (x0, y0, x1, y1) with exclusive ends."""
    r = torch.arange(image_size)
    x0, y0, x1, y1 = (boxes[:, k, None] for k in range(4))  # each (B, 1)
    inside_y = (r >= y0) & (r < y1)  # (B, H)
    inside_x = (r >= x0) & (r < x1)  # (B, W)
    return (inside_y[:, :, None] & inside_x[:, None, :]).float()[:, None]  # (B, 1, H, W)


@lru_cache(maxsize=None)
def _by_length(words: tuple[str, ...]) -> dict[int, tuple[str, ...]]:
    by_length = {n: tuple(w for w in words if len(w) == n) for n in range(1, MAX_TEXT + 1)}
    return {n: ws for n, ws in by_length.items() if ws}


def collate(samples: list):
    """Stack GlyphSamples into a dict: image (B, 3, H, W), mask and glyph (B, 1, H, W), box (B, 4) long,
    and lists for caption, text, color, background, font, position. Pairs give a tuple of two dicts."""
    if isinstance(samples[0], tuple):
        return tuple(collate([s[k] for s in samples]) for k in range(len(samples[0])))
    out = {k: torch.stack([getattr(s, k) for s in samples]) for k in ("image", "mask", "glyph")}
    out["box"] = torch.tensor([s.box for s in samples], dtype=torch.long)  # (B, 4)
    for k in LIST_FIELDS:
        out[k] = [getattr(s, k) for s in samples]
    return out


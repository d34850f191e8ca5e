"""Tokenizers: text → integer ids the prompt encoder embeds. Characters can spell; whole words cannot.

A model can only draw the letters of a word it can see. Imagen (arXiv:2205.11487) and the character-aware
study of Liu et al. (arXiv:2212.10562, "Character-Aware Models Improve Visual Text Rendering") show that
subword tokenizers hide spelling from the text encoder; ByT5-style character/byte inputs (arXiv:2105.13626)
fix it. Two tokenizers make the point on our toy data:

- ``CharTokenizer``: one token per character; a fixed vocabulary, so every word, seen or not, is spelled out.
  ids: <pad>=0, <bos>=1, <eos>=2, <unk>=3, then printable ASCII 32..126 in order (id = ord(ch) − 28);
  vocab_size 99. ``CharTokenizer(PROMPT_WORDS)`` — what the models use — adds a few whole-word tokens (ids
  99, 100, …) for the prompt's own vocabulary: colours, places and the caption templates' words, lower-case,
  outside the quotes (capitalised forms, "The", are spelled). The word to draw is always spelled out; "red" and "white" become one token each, so the
  encoder need not first learn to assemble colour names from letters (measured: with characters only, the
  tiny model mixed up text and background colours after 10 minutes of training).
- ``WordTokenizer``: one token per word, vocabulary built from training captions; a word never seen in
  training becomes <unk>, and the model cannot know what to draw. Punctuation and quotes are tokens of
  their own; words are lower-cased except inside double quotes, whose case is what must be drawn.

Both share ``encode(texts, max_len) -> (ids (B, L), mask (B, L))``: <bos> tokens <eos> then <pad> up to
L = max_len; mask is True on real tokens (<bos> and <eos> included). ``decode(ids)`` drops the specials.
``state_dict()`` is plain lists and strings so it can live in a ``weights_only`` checkpoint.

**How people type.** ``normalize_prompt`` is the one place that decides which spellings of a prompt mean the
same request: typographic quotes, dashes and no-break spaces become ASCII; single quotes mark the text when
the prompt has no double quotes (an apostrophe inside a word, "don't", is not a quote); outside the quotes,
letters are lower-cased, runs of spaces become one, no space stays before , . : ; ! ? or ) or after (, and a
final run of . ! ? goes. The quoted text is kept as typed (only spaces at its ends go, as nothing draws them).
``layout.parse_prompt`` reads the normalised prompt, and a prompt is normalised once before it is encoded
(``encode`` itself stays exact: ``decode(encode([s], n)[0][0]) == s``).
"""
from __future__ import annotations

import re
from collections import Counter

import torch

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
# what word processors and phones type for - " ' and the space: the vocabulary is printable ASCII
TYPOGRAPHIC = str.maketrans({"\u2014": "-", "\u2013": "-", "\u201c": '"', "\u201d": '"', "\u2018": "'",
                             "\u2019": "'", "\u00a0": " "})
_SINGLE_QUOTE = re.compile(r"(?<![A-Za-z0-9])'|'(?![A-Za-z0-9])")  # a ' not between two letters or digits


def quote_marks(prompt: str) -> str:
    """``prompt`` with its two single quote marks made double, when it has no double quote and exactly two
    single quotes that are not apostrophes inside a word ("write 'DON'T' in red"); else ``prompt`` unchanged."""
    marks = [m.start() for m in _SINGLE_QUOTE.finditer(prompt)]
    if '"' in prompt or len(marks) != 2:
        return prompt
    i, j = marks
    return prompt[:i] + '"' + prompt[i + 1:j] + '"' + prompt[j + 1:]


def normalize_prompt(prompt: str) -> str:
    """The prompt as the models read it (see "How people type" in the module docstring):
    'The Word  \'SKY\' In White On Blue!!' → 'the word "SKY" in white on blue'."""
    parts = quote_marks(prompt.translate(TYPOGRAPHIC)).split('"')  # even indices outside the quotes, odd inside
    for k in range(0, len(parts), 2):
        outside = re.sub(r"\s+", " ", parts[k].lower())
        parts[k] = re.sub(r"\( ", "(", re.sub(r" (?=[,.:;!?)])", "", outside))
    for k in range(1, len(parts) - 1, 2):  # a quoted text: its end spaces are not drawn
        parts[k] = parts[k].strip()
    if len(parts) % 2:  # balanced quotes: the last part is outside them
        parts[-1] = re.sub(r"[\s.!?]+$", "", parts[-1])
    return '"'.join(parts).strip()


def trim_padding(ids: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop the trailing columns that are padding in every row: (B, L) → (B, L'), L' = the last real column.
    Attention masks padding out, so the encoder's output on real tokens is unchanged; the time is not —
    a batch of ~28-token captions padded to 96 spent more time in the encoder than in the U-Net."""
    real = mask.any(dim=0).nonzero()  # columns that hold a real token in some row
    end = int(real.max()) + 1 if len(real) else 0
    return ids[:, :end], mask[:, :end]


class _Tokenizer:
    """Shared encode/decode over a list of tokens ``self.vocab`` (index = id)."""
    pad_id, bos_id, eos_id, unk_id = range(4)
    vocab: list[str]

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def quote_id(self) -> int:
        """The id of the double quote that encloses the text to draw (-1 when the vocabulary has none)."""
        return self.vocab.index('"') if '"' in self.vocab else -1

    def token_ids(self, text: str, index: int) -> list[int]:
        raise NotImplementedError

    def encode(self, texts: list[str], max_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(ids LongTensor (B, max_len), mask BoolTensor (B, max_len)): <bos> tokens <eos> <pad>…"""
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise ValueError("texts must be a list of strings (wrap a single prompt in a list)")
        if not isinstance(max_len, int) or max_len < 2:
            raise ValueError(f"max_len must be an int >= 2 (room for <bos> and <eos>), got {max_len!r}")
        ids = torch.full((len(texts), max_len), self.pad_id, dtype=torch.long)  # (B, L)
        for b, text in enumerate(texts):
            row = [self.bos_id] + self.token_ids(text, b) + [self.eos_id]
            if len(row) > max_len:
                raise ValueError(f"texts[{b}] is {len(row) - 2} tokens long; with <bos> and <eos> that is "
                                 f"{len(row)} > max_len {max_len}")
            ids[b, :len(row)] = torch.tensor(row)
        return ids, ids != self.pad_id

    def tokens(self, ids) -> list[str]:
        """The token strings of a 1-D id sequence, specials included."""
        ids = torch.as_tensor(ids)
        if ids.dim() != 1:
            raise ValueError(f"ids must be 1-D (one sequence), got shape {tuple(ids.shape)}")
        if len(ids) and not (0 <= int(ids.min()) and int(ids.max()) < self.vocab_size):
            raise ValueError(f"ids must lie in [0, {self.vocab_size}), got {ids.tolist()}")
        return [self.vocab[i] for i in ids.tolist()]


# Whole-word tokens of CharTokenizer(PROMPT_WORDS): the words of the caption grammar (captions.py) and of
# glyphs.REFERENCE_CAPTION, the colour names and the places that layout.parse_prompt understands. A checkpoint
# stores the list its model was trained with (``state_dict``), so editing this one changes only new models.
PROMPT_WORDS = ("the", "word", "in", "on", "a", "an", "text", "letters", "background", "image", "with", "written",
                "at", "style", "of", "red", "green", "blue", "black", "white", "yellow", "orange", "purple",
                "top", "bottom", "left", "right", "center", "upper", "lower", "middle", "centre",
                "against", "centered", "corner", "label", "near", "part", "poster", "reading", "reads", "says",
                "sign", "spelling", "that", "title", "to", "words",
                # the other training words of captions.grammar_words("train"), one token each (the held-out
                # vocabulary stays spelled by characters)
                "badge", "bold", "caption", "characters", "headline", "huge", "nice", "plaque", "print", "put",
                "render", "show", "stamp", "tag", "tiny", "writing",
                # the training words of captions composed from parts (composed_captions.CONNECTIVES["train"])
                "colour", "draw", "over", "please", "saying", "spells", "using", "write")
_PIECES = re.compile(r"[A-Za-z]+|[^A-Za-z]")  # letter runs, or any single other character


class CharTokenizer(_Tokenizer):
    """One token per printable ASCII character (see the module docstring for the fixed id table), plus
    optional whole-word tokens for ``words`` outside double quotes."""

    def __init__(self, words=()):
        words = list(words)
        if len(set(words)) != len(words) or not all(isinstance(w, str) and w.isalpha() for w in words):
            raise ValueError("words must be distinct strings of letters")
        self.vocab = list(SPECIALS) + [chr(c) for c in range(32, 127)] + words
        self.words = {w: 99 + k for k, w in enumerate(words)}

    def token_ids(self, text: str, index: int = 0) -> list[int]:
        for k, ch in enumerate(text):
            if not " " <= ch <= "~":
                raise ValueError(f"texts[{index}] has character {ch!r} at position {k}, outside the "
                                 "vocabulary (printable ASCII 32..126)")
        if not self.words:
            return [ord(ch) - 28 for ch in text]  # ' ' (32) → 4, …, '~' (126) → 98
        ids, quoted = [], False
        for piece in _PIECES.findall(text):
            quoted ^= piece == '"'
            if not quoted and piece in self.words:
                ids.append(self.words[piece])  # a whole prompt word (never inside the quotes)
            else:
                ids.extend(ord(ch) - 28 for ch in piece)
        return ids

    def decode(self, ids) -> str:
        """The text of a 1-D id sequence, specials dropped."""
        return "".join(t for t in self.tokens(ids) if t not in SPECIALS)

    def state_dict(self) -> dict:
        return {"kind": "char", "vocab": self.vocab[len(SPECIALS):], "words": list(self.words)}

    @classmethod
    def from_state_dict(cls, state: dict) -> "CharTokenizer":
        tok = cls(state.get("words", ()))
        if state.get("kind") != "char" or state.get("vocab") != tok.vocab[len(SPECIALS):]:
            raise ValueError("state is not a CharTokenizer state (different kind or vocabulary)")
        return tok


_WORD_RE = re.compile(r"\w+|[^\w\s]")  # runs of letters/digits, or one punctuation mark (quotes included)


def split_words(text: str) -> list[str]:
    """Word tokens: punctuation split off, lower-cased except inside double quotes (the word to draw)."""
    out, quoted = [], False
    for tok in _WORD_RE.findall(text):
        if tok == '"':
            quoted = not quoted
        out.append(tok if quoted else tok.lower())
    return out


class WordTokenizer(_Tokenizer):
    """One token per word (``split_words``); words outside the vocabulary become <unk>."""

    def __init__(self, words: list[str]):
        self.vocab = list(SPECIALS) + [w for w in words if w not in SPECIALS]
        self.index = {tok: i for i, tok in enumerate(self.vocab)}

    @classmethod
    def from_texts(cls, texts: list[str], min_count: int = 1) -> "WordTokenizer":
        """Vocabulary of the words seen at least ``min_count`` times, most frequent first (ties A→Z)."""
        counts = Counter(w for t in texts for w in split_words(t))
        return cls([w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count])

    def token_ids(self, text: str, index: int = 0) -> list[int]:
        return [self.index.get(w, self.unk_id) for w in split_words(text)]

    def decode(self, ids) -> str:
        """Tokens joined by single spaces, except before , . ; : ! ? and inside quotes; <unk> is kept."""
        text, quoted = "", False
        for tok in self.tokens(ids):
            if tok in SPECIALS[:3]:
                continue
            glue = not text or tok in ",.;:!?" or (tok == '"' and quoted) or (text.endswith('"') and quoted)
            text += tok if glue else " " + tok
            quoted ^= tok == '"'
        return text

    def state_dict(self) -> dict:
        return {"kind": "word", "vocab": self.vocab[len(SPECIALS):]}

    @classmethod
    def from_state_dict(cls, state: dict) -> "WordTokenizer":
        if state.get("kind") != "word":
            raise ValueError(f"state is not a WordTokenizer state (kind {state.get('kind')!r})")
        return cls(list(state["vocab"]))

"""Checks for lesson 04's exercises: character ids with <bos>/<eos>/<pad>, decoding, the hybrid tokenizer's pieces."""
from __future__ import annotations

import torch

from minigptimage.tokenizer import PROMPT_WORDS, CharTokenizer

from .calling import call

TEXTS = ['the word "CAT" in red', 'a sign that says "R2D2" on blue', '"hello world"', "x"]


def check_encode(fn) -> str | None:
    want_ids, want_mask = CharTokenizer().encode(TEXTS, 40)
    got = call(fn, list(TEXTS), 40)
    if not (isinstance(got, tuple) and len(got) == 2):
        return "your function should return a pair (ids, mask)"
    ids, mask = got
    for name, value, want in (("ids", ids, want_ids), ("mask", mask, want_mask)):
        if not isinstance(value, torch.Tensor):
            return f"your {name} should be a torch tensor, got {type(value).__name__}"
        if tuple(value.shape) != tuple(want.shape):
            return f"your {name} has shape {tuple(value.shape)}; expected {tuple(want.shape)} (B texts × max_len)"
    if mask.dtype != torch.bool:
        return f"your mask has dtype {mask.dtype}; expected torch.bool (True = a real token)"
    for b, text in enumerate(TEXTS):
        for k in range(want_ids.shape[1]):
            if int(ids[b, k]) != int(want_ids[b, k]):
                what = ("<bos> (1)" if k == 0 else "<eos> (2)" if k == len(text) + 1 else
                        "<pad> (0)" if k > len(text) + 1 else f"the id of {text[k - 1]!r}, ord − 28")
                return f"text {b} ({text!r}), position {k}: you gave {int(ids[b, k])}, expected {int(want_ids[b, k])}, {what}"
        if not torch.equal(mask[b], want_mask[b]):
            return f"text {b} ({text!r}): the mask should be True on <bos>, the {len(text)} characters and <eos>, False on padding"
    return None


def check_decode(fn) -> str | None:
    ids, _ = CharTokenizer().encode(TEXTS, 40)
    for b, text in enumerate(TEXTS):
        got = call(fn, ids[b].clone())
        if got != text:
            return f"decoding text {b}: you gave {got!r}, expected {text!r}" + (
                " — drop the specials (ids 0–3)" if isinstance(got, str) and len(got) > len(text) else "")
    return None


def check_hybrid_pieces(fn) -> str | None:
    tokenizer = CharTokenizer(PROMPT_WORDS)
    for text in ('the word "red" in blue on a white background, at the top', 'A sign that says "Top Hat"',
                 'yellow text, black background: "OK"', '"in the center" written in green'):
        want = tokenizer.tokens(tokenizer.encode([text], 80)[0][0])
        want = [t for t in want if t not in ("<pad>", "<bos>", "<eos>")]
        got = call(fn, text, PROMPT_WORDS)
        got = list(got) if isinstance(got, (list, tuple)) else got
        if got != want:
            if not isinstance(got, list):
                return f"your function should return a list of token strings, got {type(got).__name__}"
            k = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            return (f"for {text!r}: token {k} is {got[k] if k < len(got) else 'missing'!r}, expected "
                    f"{want[k] if k < len(want) else 'nothing more'!r} (a prompt word is one token only outside the quotes)")
    return None

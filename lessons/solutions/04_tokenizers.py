"""Solutions to lesson 04's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/04_tokenizers.py`.
"""
import re

import torch


def exercise_encode(texts, max_len):
    ids = torch.zeros(len(texts), max_len, dtype=torch.long)  # (B, L), all <pad> = 0
    for b, text in enumerate(texts):
        row = [1] + [ord(ch) - 28 for ch in text] + [2]  # <bos> characters <eos>
        ids[b, :len(row)] = torch.tensor(row)
    return ids, ids != 0


def exercise_decode(ids):
    return "".join(chr(i + 28) for i in ids.tolist() if i >= 4)  # ids 0–3 are the specials


def exercise_hybrid_pieces(text, words):
    pieces, quoted = [], False
    for piece in re.findall(r"[A-Za-z]+|[^A-Za-z]", text):
        quoted ^= piece == '"'
        if not quoted and piece in words:
            pieces.append(piece)   # a whole prompt word
        else:
            pieces.extend(piece)   # spelled out: one token per character
    return pieces


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_encode(texts, max_len):
    ids = torch.zeros(len(texts), max_len, dtype=torch.long)
    for b, text in enumerate(texts):
        ids[b, :len(text)] = torch.tensor([ord(ch) - 28 for ch in text])  # no <bos>/<eos>
    return ids, ids != 0


def mistake_decode(ids):
    return "".join(chr(i + 28) for i in ids.tolist())  # specials kept


def mistake_hybrid_pieces(text, words):
    pieces = []
    for piece in re.findall(r"[A-Za-z]+|[^A-Za-z]", text):
        pieces.extend([piece] if piece in words else piece)  # ignores the quotes
    return pieces


ANSWERS = """
Q1. Inside the quotes is the text to *draw*: the model must see its letters to draw them. If "red" in
    'the word "red"' became the colour token, the prompt would read like 'the word <red>' — a colour, not
    three letters — and the model could not tell the text "red" from the colour red. Outside the quotes the
    same word is an instruction, and one token is the easiest way to give it.

Q2. The character tokenizer spells c-r-i-m-s-o-n; the hybrid spells it too (it is not a prompt word), and the
    word tokenizer gives <unk> (never in a training caption). None of the models ever saw the word, so none
    knows it means a red: the colour the model picks is its guess for a prompt without a known text colour
    (captions that leave the colour out taught it to pick one). The text "CAT" is drawn either way.

Q3. BPE splits a word into frequent pieces ("CAT" may be one token, "Ergonomic" three arbitrary chunks), so
    the encoder still has to know each piece's letters, which it only learns indirectly, and the pieces of
    one word change with its case and context. Liu et al. measure that T5 and CLIP-style encoders rarely know
    a word's exact spelling, while ByT5 (bytes) does, and that this is what limits spelling in the image.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.04_tokenizers")
    for name in ("encode", "decode", "hybrid_pieces"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

"""Solutions to lesson 05's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/05_attention_and_the_prompt_encoder.py`.
"""
import math

import torch


def exercise_attention(q, k, v, key_mask):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])                # (B, N, Lq, Lk)
    scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))  # padded keys: weight 0
    return scores.softmax(dim=-1) @ v                                        # (B, N, Lq, d)


def exercise_split_heads(x, heads):
    B, L, D = x.shape
    return x.view(B, L, heads, D // heads).transpose(1, 2)  # (B, N, L, d)


def exercise_text_positions(quoted):
    n = quoted.sum(dim=1, keepdim=True).clamp(min=1)                     # (B, 1) quoted tokens per row
    steps = torch.where(quoted, 1.0 / n, torch.ones_like(n, dtype=torch.float32))  # (B, L)
    return steps.cumsum(dim=1) - steps                                    # (B, L): the sum of earlier steps


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_attention(q, k, v, key_mask):
    scores = (q @ k.transpose(-2, -1)).masked_fill(~key_mask[:, None, None, :], float("-inf"))  # no √d
    return scores.softmax(dim=-1) @ v


def mistake_split_heads(x, heads):
    B, L, D = x.shape
    return x.view(B, L, D // heads, heads).permute(0, 3, 1, 2)  # heads take every N-th channel


def mistake_text_positions(quoted):
    n = quoted.sum(dim=1, keepdim=True).clamp(min=1)
    return torch.where(quoted, 1.0 / n, torch.ones_like(n, dtype=torch.float32)).cumsum(dim=1)  # off by one step


ANSWERS = """
Q1. For random q and k with unit-variance entries, q·k has variance d. Without the 1/√d the scores grow like
    √d, the softmax saturates (one weight near 1, the rest near 0) and its gradients vanish; with it the
    scores have unit variance whatever the head width (Vaswani et al. sec. 3.2.1).

Q2. Read the printout of section 2 (full mode). The hybrid encoder sees "red" as one token whose embedding can
    itself mean red; the character encoder must first combine r-e-d (or y-e-l-l-o-w) across positions into one
    idea, then still decide which colour word is the text's and which the background's — more to learn in the
    same number of steps, on sequences twice as long.

Q3. A learned table gives each absolute position its own vector. After a quoted word longer than any in
    training, "in red" lands on positions that never held a colour word, with vectors trained for other
    contexts, and the encoder misreads the prompt. With rotary positions only distances matter, and since the
    quoted span counts as one position, "in red" is always the same distance after the quoted text — the
    pattern the encoder learned holds for any length.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.05_attention_and_the_prompt_encoder")
    for name in ("attention", "split_heads", "text_positions"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

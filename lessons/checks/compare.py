"""Shared helpers for the exercise checks: compare a learner's tensor with the library's and say, in words,
what differs — None, the shape (with both shapes and the likely slip), or the worst value that is off and where
(which item, which time step, …), with a word on an integer tensor where a float one was expected.

    compare(got, want, "your x_t", where=lambda index: f"at t = {t[index[0]]}")  -> None or a sentence
"""
from __future__ import annotations

import torch


def compare(got, want: torch.Tensor, what: str, where=None, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """None when `got` matches `want` (same shape, values within atol + rtol·|want|); else a sentence naming
    the shape or the worst value, located by `where(index)` (index = a tuple of ints) when given."""
    if got is None:
        return f"{what} is None — is a `return` missing?"
    if not isinstance(got, torch.Tensor):
        return f"{what} should be a torch tensor, but it is a {type(got).__name__}"
    if tuple(got.shape) != tuple(want.shape):
        return f"{what} has shape {tuple(got.shape)}; expected {tuple(want.shape)}" + shape_hint(got.shape, want.shape)
    integer_answer = want.is_floating_point() and not got.is_floating_point()
    got = got.detach().to(torch.float64)
    want = want.detach().to(torch.float64)
    if not bool(torch.isfinite(got).all()):
        return f"{what} contains NaN or infinite values (a division by zero, or the log/sqrt of a negative?)"
    excess = (got - want).abs() - (atol + rtol * want.abs())  # > 0 where the value is off
    if bool((excess <= 0).all()):
        return None
    flat = int(excess.flatten().argmax())
    index = tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), want.shape)) if want.dim() else ()
    place = where(index) if where is not None else (f"at index {list(index)}" if index else "")
    wrong = int((excess > 0).sum())
    dtype = (" — your tensor is an integer (or bool) one where a float one is expected: an integer tensor "
             "(torch.arange, an index, a cumsum of a bool mask) rounds the values; convert it with .float()"
             if integer_answer else "")
    return (f"{what} is wrong {place}: you gave {float(got[index]):.6g}, expected {float(want[index]):.6g}"
            f" ({wrong} of {want.numel()} values are off){dtype}").replace("  ", " ")


def comparable(got, want: torch.Tensor) -> bool:
    """True when `got` is a tensor of `want`'s shape and dtype: a check may then test it against the common
    mistakes (torch.allclose needs the same dtype; an answer of another dtype gets compare's sentence alone)."""
    return isinstance(got, torch.Tensor) and got.shape == want.shape and got.dtype == want.dtype


def shape_hint(got, want) -> str:
    """A clause on the likely slip behind a wrong shape, or ''."""
    got, want = tuple(got), tuple(want)
    if len(got) == len(want) + 1 and 1 in got and tuple(d for d in got if d != 1) == tuple(d for d in want if d != 1):
        return " — one dimension of size 1 too many: squeeze it, or reshape to the expected shape"
    if want and len(got) > len(want) and got[-len(want):] == want:
        return " — extra leading dimensions: did a (B,) tensor broadcast against (B, …) without a reshape?"
    if len(got) + 1 == len(want) and 1 in want and tuple(d for d in got if d != 1) == tuple(d for d in want if d != 1):
        return " — a dimension of size 1 is missing (keepdim=True, or unsqueeze)"
    if sorted(got) == sorted(want):
        return " — the same sizes in another order: a transpose or permute is missing or swapped"
    if got and want and got[0] != want[0] and got[1:] == want[1:]:
        return " — the first (batch) dimension differs: one result per input item"
    return ""

"""Shared helpers for the exercise checks: compare a learner's tensor with the library's and say, in words,
what differs — the shape, or the first value that is off and where (which item, which time step, …).

    compare(got, want, "your x_t", where=lambda index: f"at t = {t[index[0]]}")  -> None or a sentence
"""
from __future__ import annotations

import torch


def compare(got, want: torch.Tensor, what: str, where=None, atol: float = 1e-5, rtol: float = 1e-4) -> str | None:
    """None when `got` matches `want` (same shape, values within atol + rtol·|want|); else a sentence naming
    the shape or the worst value, located by `where(index)` (index = a tuple of ints) when given."""
    if not isinstance(got, torch.Tensor):
        return f"{what} should be a torch tensor, but it is a {type(got).__name__}"
    if tuple(got.shape) != tuple(want.shape):
        return f"{what} has shape {tuple(got.shape)}; expected {tuple(want.shape)}"
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
    return (f"{what} is wrong {place}: you gave {float(got[index]):.6g}, expected {float(want[index]):.6g}"
            f" ({wrong} of {want.numel()} values are off)").replace("  ", " ")

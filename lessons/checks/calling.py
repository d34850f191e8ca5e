"""Calling the learner's function: every check goes through ``call(fn, *args)``, so a crash inside the learner's
own code, or a function that returns nothing, is reported with its likely cause instead of a bare traceback.

    got = call(fn, x0.clone(), t.clone())   # the learner's answer; never None
                                            # or YourFunctionFailed("… the likely cause …")

The causes recognised, from the error's text (PyTorch's messages):
* **no return value** — the function returned None (its ``return`` line is missing), or a value inside it was
  None (a helper that returns nothing);
* **wrong dtype** — an integer (Long) or bool tensor met a floating-point (Float) one, e.g. ``torch.arange`` or
  a ``cumsum`` of a bool mask used in float arithmetic;
* **wrong shape** — two shapes that do not broadcast or multiply; the sentence names the shapes in the error
  and the shapes (and dtypes) of the inputs the function was given.
"""
from __future__ import annotations

import inspect
import re
import traceback

import torch


class YourFunctionFailed(Exception):
    """The learner's function crashed or returned None; the exception's text is the verdict, in words."""


def describe(value) -> str:
    """A short description of a value for a learner: 'a float32 tensor of shape (6, 3, 8, 8)'."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        return f"{'an' if dtype[0] in 'aeiou' else 'a'} {dtype} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    if isinstance(value, (int, float, str, bool)):
        return f"{type(value).__name__} {value!r}"[:60]
    return f"a {type(value).__name__}"


def _inputs(fn, args) -> str:
    """'x0: a float32 tensor of shape (6, 3, 8, 8), t: an int64 tensor of shape (6,)' (tensors and lists only)."""
    try:
        names = [name for name, p in inspect.signature(fn).parameters.items()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        names = []
    names += [f"argument {k + 1}" for k in range(len(names), len(args))]
    return ", ".join(f"{name}: {describe(a)}" for name, a in zip(names, args) if isinstance(a, (torch.Tensor, list)))


def _your_line(fn, error: Exception) -> str:
    """' (line 12: `return a * b`)': the last line of the learner's file that the error passed through."""
    filename = getattr(getattr(fn, "__code__", None), "co_filename", None)
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == filename]
    if not frames:
        return ""
    line = (frames[-1].line or "").strip()
    return f" (line {frames[-1].lineno}" + (f": `{line}`)" if line else ")")


NONE_WORDS = re.compile(r"NoneType")
INDEX_WORDS = re.compile(r"out of bounds|out of range", re.IGNORECASE)  # checked before the shape words ("size")
INDEX_DTYPE_WORDS = re.compile(r"tensors used as indices must be|indices must be", re.IGNORECASE)
DTYPE_WORDS = re.compile(r"dtype|scalar type|can't be cast|did not match|\b(Long|Float|Double|Half|Bool)\b|long int",
                         re.IGNORECASE)
SHAPE_WORDS = re.compile(r"size of tensor|must match the size|shape|size mismatch|Expected size|cannot be multiplied|"
                         r"invalid for input of size|broadcast|dimension", re.IGNORECASE)


def explain(fn, args, error: Exception) -> str:
    """One sentence on why ``fn(*args)`` raised ``error``: what was raised, where, and the likely cause."""
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    said = f"your function raised {type(error).__name__}{_your_line(fn, error)}: {message}"
    given = _inputs(fn, args)
    if INDEX_WORDS.search(message):
        return (said + " — an index out of range: a position past the end of a dimension (counting starts at 0, "
                "the last index is its size − 1), e.g. t = T used to index a table of T values"
                + (f". You were given {given}" if given else ""))
    if INDEX_DTYPE_WORDS.search(message):
        return (said + " — an index of the wrong type: tensors used as indices must be integer (Long) or bool; "
                "convert it with .long()" + (f". You were given {given}" if given else ""))
    if NONE_WORDS.search(message):
        return (said + " — a value in your function is None: a helper (or an earlier exercise) without a "
                "`return` line, or a variable that was never set?")
    if DTYPE_WORDS.search(message):
        return (said + " — a dtype mismatch: an integer (Long) or bool tensor met a floating-point (Float) one, "
                "e.g. torch.arange, an index or the cumsum of a bool mask used in float arithmetic; convert it "
                "with .float() or .to(x.dtype)" + (f". You were given {given}" if given else ""))
    if SHAPE_WORDS.search(message):
        return (said + " — a shape mismatch: two tensors whose shapes do not line up. You were given "
                + (given or "no tensors") + ". For example, a per-item value of shape (B,) must be reshaped to (B, 1, 1, 1) "
                "(or indexed [:, None, None, None]) before it multiplies a (B, C, H, W) tensor")
    return said


def call(fn, *args):
    """``fn(*args)``, the learner's function; raises YourFunctionFailed (with the likely cause) when it crashes
    or returns None. NotImplementedError (the unfilled starter) passes through unchanged."""
    try:
        result = fn(*args)
    except NotImplementedError:
        raise
    except Exception as error:
        raise YourFunctionFailed(explain(fn, args, error)) from error
    if result is None:
        raise YourFunctionFailed("your function returned None — is the `return` line missing? A function that "
                                 "ends without `return` gives None")
    return result

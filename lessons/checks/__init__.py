"""Automatic checks for the lessons' exercises: one module per lesson (``checks/NN_topic.py`` holds
``check_<name>(fn) -> str | None``), shared by the lessons, their solutions and the tests.

A check calls the learner's function through ``calling.call`` on random inputs, compares it with the library's
answer (``compare.compare``), and returns ``None`` when it agrees or a sentence in a learner's words saying what
is wrong (which shape, which value, which time step). When the learner's function crashes or returns nothing,
``call`` names the likely cause (no ``return``, a dtype, a shape). ``report`` prints the verdict in a lesson, so
an exercise not yet done never stops it.
"""
from __future__ import annotations

from .calling import YourFunctionFailed


def verdict(check, fn) -> str | None:
    """``check(fn)``'s verdict: None when the function passes, else the sentence that says what is wrong."""
    try:
        return check(fn)
    except NotImplementedError:
        return "not attempted yet: replace the `raise NotImplementedError` with your code"
    except YourFunctionFailed as failure:  # the learner's function crashed or returned None: the likely cause
        return str(failure)
    except Exception as error:  # the check could not use the answer (an unexpected type, say): say so
        return (f"the check could not use what your function returned ({type(error).__name__}: {error}) — "
                "compare the type and shape you return with what the exercise asks for")


def report(check, fn, name: str) -> None:
    """Print the verdict of ``check(fn)`` for exercise ``name``: "correct" or what is wrong. Returns nothing,
    so a notebook cell that ends with it shows only the printed line."""
    problem = verdict(check, fn)
    print(f"{name}: " + ("correct" if problem is None else problem))

"""Automatic checks for the lessons' exercises: one module per lesson (``checks/NN_topic.py`` holds
``check_<name>(fn) -> str | None``), shared by the lessons, their solutions and the tests.

A check calls the learner's function on random inputs, compares it with the library's answer, and returns
``None`` when it agrees or a sentence in a learner's words saying what is wrong (which shape, which value,
which time step). ``report`` prints that sentence in a lesson, so an exercise not yet done never stops it.
"""
from __future__ import annotations


def report(check, fn, name: str) -> bool:
    """Run ``check(fn)`` and print the verdict for exercise ``name``; True when it passes."""
    try:
        problem = check(fn)
    except NotImplementedError:
        problem = "not attempted yet: replace the `raise NotImplementedError` with your code"
    except Exception as error:  # the learner's code crashed: say how, in one line
        problem = f"your function raised {type(error).__name__}: {error}"
    print(f"{name}: " + ("correct" if problem is None else problem))
    return problem is None

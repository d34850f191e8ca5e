"""Every exercise check can fail and can pass: for each `exercise_<name>` in `lessons/solutions/NN_topic.py`,
the lesson's own starter (its source taken from `lessons/NN_topic.py` with `ast` and run alone, so its body is
still `raise NotImplementedError`) is reported as not done, the solution as correct, and each
`mistake_<name>` the solutions file lists (a common error) gets a message rather than "correct"."""
import __future__
import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `lessons.checks.*` are imported as modules of the repository

from lessons.checks import report  # noqa: E402

SOLUTIONS = sorted((ROOT / "lessons" / "solutions").glob("[0-9][0-9]_*.py"))


def load_solution(path: Path):
    spec = importlib.util.spec_from_file_location(f"solution_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def starter_from_lesson(lesson: Path, name: str):
    """The function `name` as the lesson defines it, executed on its own (annotations left unevaluated)."""
    tree = ast.parse(lesson.read_text(encoding="utf-8"))
    defs = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name]
    assert len(defs) == 1, f"{lesson.name} should define {name} exactly once at top level, found {len(defs)}"
    namespace = {}
    code = compile(ast.Module(body=defs, type_ignores=[]), str(lesson), "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    exec(code, namespace)
    return namespace[name]


CASES = []
for solution_file in SOLUTIONS:
    names = [node.name for node in ast.parse(solution_file.read_text(encoding="utf-8")).body
             if isinstance(node, ast.FunctionDef) and node.name.startswith("exercise_")]
    CASES += [(solution_file, name) for name in names]


def test_every_solution_file_has_a_lesson_a_check_module_and_exercises():
    assert SOLUTIONS, "no solutions found in lessons/solutions/"
    for solution_file in SOLUTIONS:
        assert (ROOT / "lessons" / solution_file.name).exists(), f"no lesson for {solution_file.name}"
        assert (ROOT / "lessons" / "checks" / solution_file.name).exists(), f"no checks for {solution_file.name}"
        assert any(path == solution_file for path, _ in CASES), f"{solution_file.name} solves no exercise_*"


@pytest.mark.parametrize("solution_file,name", CASES, ids=[f"{p.stem}:{n}" for p, n in CASES])
def test_starter_fails_and_solution_passes(solution_file, name, capsys):
    lesson = ROOT / "lessons" / solution_file.name
    checks = importlib.import_module(f"lessons.checks.{solution_file.stem}")
    check = getattr(checks, "check_" + name.removeprefix("exercise_"))
    solution = load_solution(solution_file)

    starter = starter_from_lesson(lesson, name)
    assert not report(check, starter, "starter"), f"the unfilled starter of {name} passed its check"
    assert "not attempted" in capsys.readouterr().out

    assert report(check, getattr(solution, name), "solution"), capsys.readouterr().out

    mistake = getattr(solution, "mistake_" + name.removeprefix("exercise_"), None)
    if mistake is not None:
        problem = check(mistake)
        assert isinstance(problem, str) and problem, f"the common mistake for {name} was reported correct"

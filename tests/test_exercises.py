"""Every exercise check can fail and can pass: for each `exercise_<name>` in `lessons/solutions/NN_topic.py`,
the lesson's own starter (its source taken from `lessons/NN_topic.py` with `ast` and run alone, so its body is
still `raise NotImplementedError`) is reported as not done, the solution as correct, and each
`mistake_<name>` the solutions file lists (a common error) gets a message rather than "correct".

Checks that help: for every check, planted slips get their likely cause in the message — a function with no
`return` ("returned None"), a crash on a dtype mismatch inside the learner's function ("dtype"), a crash on
shapes that do not broadcast ("shape", with the inputs' shapes), and, where the answer is a float tensor, an
answer with an extra dimension (both shapes named) and an integer answer ("integer"). Two wrong answers seen
in class are tested by name: lesson 08's in-place EMA update and lesson 15's `(cumsum == 1) | quote`; so are
the ways to get lesson 07's choice of a latent wrong (the best ceiling whatever it costs, an average, > for ≥)."""
import __future__
import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # `lessons.checks.*` are imported as modules of the repository

import torch  # noqa: E402

from lessons.checks import report, verdict  # noqa: E402

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
    report(check, starter, "starter")
    assert "starter: not attempted" in capsys.readouterr().out, f"the unfilled starter of {name} was not reported as such"

    report(check, getattr(solution, name), "solution")
    out = capsys.readouterr().out
    assert out == "solution: correct\n", out

    mistake = getattr(solution, "mistake_" + name.removeprefix("exercise_"), None)
    if mistake is not None:
        problem = check(mistake)
        assert isinstance(problem, str) and problem, f"the common mistake for {name} was reported correct"


def answers_of(check, solution) -> list:
    """What the solution returns on every call the check makes (the check's own inputs)."""
    answers = []

    def recording(*args):
        answers.append(solution(*args))
        return answers[-1]

    assert check(recording) is None
    return answers


def no_return(*args):
    torch.zeros(1)  # the work is done, the `return` forgotten


def long_meets_float(*args):
    positions = torch.arange(4)  # integer positions (a LongTensor) ...
    return positions @ torch.rand(4)  # ... in float arithmetic: dtype mismatch


def shapes_do_not_broadcast(*args):
    alpha_bar = torch.rand(6)  # one value per item, not reshaped to (B, 1, 1, 1)
    return alpha_bar * torch.rand(6, 3, 8, 8)


@pytest.mark.parametrize("solution_file,name", CASES, ids=[f"{p.stem}:{n}" for p, n in CASES])
def test_planted_slips_get_their_likely_cause(solution_file, name):
    checks = importlib.import_module(f"lessons.checks.{solution_file.stem}")
    check = getattr(checks, "check_" + name.removeprefix("exercise_"))
    solution = getattr(load_solution(solution_file), name)

    problem = verdict(check, no_return)
    assert problem and "returned None" in problem and "return" in problem, problem
    problem = verdict(check, long_meets_float)
    assert problem and "dtype mismatch" in problem and "long_meets_float" not in problem, problem
    assert "`return positions @ torch.rand(4)" in problem, f"the learner's line is not quoted: {problem}"
    problem = verdict(check, shapes_do_not_broadcast)
    assert problem and "shape mismatch" in problem, problem
    assert "of shape (6, 3, 8, 8)" not in problem or "You were given" in problem, problem

    answers = answers_of(check, solution)
    if not all(isinstance(a, torch.Tensor) and a.is_floating_point() and a.dim() > 0 for a in answers):
        return  # the answer is a number, a string, a list or an integer tensor: the shape and dtype slips do not apply

    def extra_dimension(*args):
        return solution(*args).unsqueeze(0)

    problem = verdict(check, extra_dimension)
    assert problem, f"an answer with an extra dimension passed the check of {name}"
    shape = tuple(answers[0].shape)
    assert str((1, *shape)) in problem and str(shape) in problem, f"both shapes should be named: {problem}"

    def integer_answer(*args):
        return (solution(*args) * 3).long()  # e.g. built on torch.arange and never converted: values rounded

    problem = verdict(check, integer_answer)
    assert problem and "integer" in problem, f"an integer answer to {name} got no dtype hint: {problem}"


def test_lesson07_pick_latent_mistakes_get_their_hints():
    """Each common way to get exercise 4 wrong fails on a table of the check's own, with the hint for it."""
    checks = importlib.import_module("lessons.checks.07_tiny_vae_and_latents")

    def weakest(row):
        return min(row["ceiling"].values())

    def average(row):
        return sum(row["ceiling"].values()) / len(row["ceiling"])

    def best_ceiling(table, bar):  # ignores the cost
        return max(table, key=lambda name: weakest(table[name]))

    def cheapest(table, bar):  # ignores the bar
        return min(table, key=lambda name: table[name]["cost"])

    def by_average(table, bar):  # the average of the families instead of the weakest
        reach = [name for name in table if average(table[name]) >= bar]
        return min(reach, key=lambda name: table[name]["cost"]) if reach else best_ceiling(table, bar)

    def strictly_above(table, bar):  # > instead of ≥
        reach = [name for name in table if weakest(table[name]) > bar]
        return min(reach, key=lambda name: table[name]["cost"]) if reach else best_ceiling(table, bar)

    def no_fallback(table, bar):  # min() of an empty list when no latent reaches the bar
        return min([name for name in table if weakest(table[name]) >= bar], key=lambda name: table[name]["cost"])

    def cheapest_when_none_reaches(table, bar):
        reach = [name for name in table if weakest(table[name]) >= bar] or list(table)
        return min(reach, key=lambda name: (table[name]["cost"], -weakest(table[name])))

    def first_of_a_tie(table, bar):  # a tie on cost goes to the first in the table
        reach = [name for name in table if weakest(table[name]) >= bar]
        return min(reach, key=lambda name: table[name]["cost"]) if reach else best_ceiling(table, bar)

    def sorts_the_table(table, bar):  # right pick, but the learner's table is changed
        for name in list(table):
            table[name]["ceiling"] = dict(sorted(table[name]["ceiling"].items(), key=lambda item: item[1]))
            table[name].pop("cost")
        return "B"

    for mistake, hint in [(best_ceiling, "take the cheapest latent that reaches it"),
                          (cheapest, "does not reach the bar"), (by_average, "not by its average"),
                          (strictly_above, "means ≥, not >"), (no_fallback, "comes closest"),
                          (cheapest_when_none_reaches, "comes closest"), (first_of_a_tie, "the tie goes to"),
                          (sorts_the_table, "changed the table")]:
        problem = verdict(checks.check_pick_latent, mistake)
        assert problem and hint in problem, f"{mistake.__name__}: {problem}"
    problem = verdict(checks.check_pick_latent, lambda table, bar: table["16×16×12"])
    assert problem and "return its name" in problem, problem


def test_lesson08_ema_update_in_place_fails():
    checks = importlib.import_module("lessons.checks.08_training_a_text_to_image_model")

    def in_place(ema_params, params, decay):
        for e, p in zip(ema_params, params):
            e.mul_(decay).add_(p, alpha=1 - decay)  # right values, but the inputs are overwritten
        return ema_params

    problem = verdict(checks.check_ema_update, in_place)
    assert problem and "changed its inputs" in problem, problem


def test_lesson15_quoted_span_first_span_only_fails():
    checks = importlib.import_module("lessons.checks.15_prompts_paraphrases_and_positions")

    def first_span_only(ids, quote_id):
        is_quote = ids == quote_id
        return (is_quote.cumsum(dim=1) == 1) | is_quote  # right for one quoted span, wrong for two

    problem = verdict(checks.check_quoted_span, first_span_only)
    assert problem and "count % 2 == 1" in problem, problem


def test_checking_a_lessons_exercises_without_running_it(capsys):
    """`python -m lessons.checks NN` reads the exercise functions out of the lesson file (here: a solutions file,
    which has the same shape) with its imports, and checks them all."""
    from lessons.checks.__main__ import exercises_of, main
    solved = exercises_of(ROOT / "lessons" / "solutions" / "08_training_a_text_to_image_model.py")
    assert sorted(solved) == ["exercise_ema_update", "exercise_v_target", "exercise_x0_from_v"]
    checks = importlib.import_module("lessons.checks.08_training_a_text_to_image_model")
    assert all(verdict(getattr(checks, "check_" + n.removeprefix("exercise_")), f) is None for n, f in solved.items())
    assert main(["01"]) == 0
    assert capsys.readouterr().out.count("not attempted yet") == 3
    assert main(["99"]) == 2


def test_checking_keeps_a_learners_own_helpers_and_constants(tmp_path):
    """A learner's exercise may call a helper function (or read a constant) written beside it in the lesson."""
    from lessons.checks.__main__ import exercises_of
    lesson = tmp_path / "99_mine.py"
    lesson.write_text("import torch\nSCALE = 2.0\n\ndef double(x):\n    return SCALE * x\n\n"
                      "def exercise_twice(x):\n    return double(x)\n\nraise SystemExit('the lesson body is not run')\n")
    assert exercises_of(lesson)["exercise_twice"](torch.ones(2)).tolist() == [2.0, 2.0]
    for path in sorted((ROOT / "lessons").glob("[0-9][0-9]_*.py")):  # every lesson's functions load alone
        exercises_of(path)


def test_a_crash_hint_names_an_index_out_of_range_and_an_index_of_the_wrong_type():
    from lessons.checks.calling import explain
    table = torch.arange(5.0)

    def reads_past_the_end(t):
        return table[t]

    def float_index(t):
        return table[t.float()]
    for fn, hint, wrong in [(reads_past_the_end, "index out of range", "shape mismatch"),
                            (float_index, "convert it with .long()", "convert it with .float()")]:
        try:
            fn(torch.tensor([5]))
        except Exception as err:  # noqa: BLE001  (the learner's crash, whatever it is)
            said = explain(fn, (torch.tensor([5]),), err)
        assert hint in said and wrong not in said, said

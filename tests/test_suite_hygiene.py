"""The tests themselves: no assert whose message is really a condition.

``assert code == 0, err and path.is_file()`` checks only ``code == 0``: everything after the comma is the
message, evaluated only on failure. Three such slips once hid a broken ``--resume``; this finds new ones.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def condition_like(node: ast.expr) -> bool:
    """A message that reads as a check: `a and b`, `a == b`, `x in y`, `not a`."""
    return isinstance(node, (ast.BoolOp, ast.Compare)) or (isinstance(node, ast.UnaryOp)
                                                             and isinstance(node.op, ast.Not))


def test_no_assert_message_is_a_condition():
    slips = []
    for folder in ("tests", "lessons", "minigptimage"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Assert) and node.msg is not None and condition_like(node.msg):
                    slips.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)[:120]}")
    assert not slips, "the part after the comma is only the message, never checked:\n" + "\n".join(slips)

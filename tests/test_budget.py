"""The budget command: what a timed run buys on this machine, predicted from a probe, on a fake clock."""
from minigptimage.benchmarks import budget


def test_the_probe_measures_items_and_steps_and_the_plan_follows(monkeypatch):
    """A fake clock that reads 0 and 2.56 s around the 8-item probe cache, then 10 and 12 s around 2 steps: 0.32 s
    an item and 1 s a step. And the plan: at 10 ms an item and 0.25 s a step, ten minutes with a 20,000-item
    cache buy (600 − 200) / 0.25 = 1,600 steps."""
    readings = iter([0.0, 2.56, 10.0, 12.0])
    measured = budget.measure("micro", "cpu", clock=lambda: next(readings), items=8, steps=2, batch_size=2,
                              vae_steps=0)
    assert measured == {"per_item": 2.56 / 8, "per_step": 1.0}
    assert budget.steps_in(10, 0.01, 0.25, 20000) == 1600
    assert budget.steps_in(1, 0.01, 0.25, 20000) == 0  # the cache alone overruns the budget
    text, steps = budget.report(10, {"per_item": 0.01, "per_step": 0.25}, 0.3, 20000, reference_per_step=0.25)
    assert steps == 1600 and "1600 steps" in text

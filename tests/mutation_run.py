"""A repeatable mutation run: plant plausible bugs, one at a time, in a copy of the repository, run the tests that
should notice each one, and print the share of bugs caught ("killed"). Run by hand, not in CI:

    python tests/mutation_run.py                # every mutant, on a copy of the last commit (HEAD)
    python tests/mutation_run.py --worktree     # on a copy of the working tree instead (uncommitted edits too)
    python tests/mutation_run.py --only "ema|unet:"  # the mutants whose name contains "ema" or "unet:"
    python tests/mutation_run.py --list         # list them

The repository itself is never modified: the files are copied to a temporary folder first (``git archive`` of
HEAD, or ``git ls-files`` of the working tree), and each mutant is written there, tested, then undone. A run of
the unmutated copy comes first: its tests must pass, or the figures would mean nothing. Each mutant runs only
the fast test files (or single tests) that should catch it, with ``-x``; the whole run takes ~10 minutes of one
CPU core. A mutant whose ``old`` text is no longer in the source is reported as stale (update it), and one whose tests
run past ``--timeout`` as undecided; neither is counted.

Target: ≥ 90 % killed. A survivor means a test is missing, or that the mutant is equivalent (changes nothing a
user could observe); the equivalent ones are marked below with the reason, and reported apart.
"""
from __future__ import annotations

import argparse
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Mutant:
    name: str
    path: str          # file, relative to the repository root
    old: str           # exact text, must occur once
    new: str
    tests: tuple       # pytest arguments: files, node ids, -k expressions
    equivalent: str = ""  # why no test can tell it apart, when it is so


S, SA, ED, TR = "minigptimage/schedule.py", "minigptimage/samplers.py", "minigptimage/editing.py", "minigptimage/train.py"
PI, UN = "minigptimage/pipeline.py", "minigptimage/unet.py"
T_SCHED, T_SAMP, T_EDIT = ("tests/test_schedule.py",), ("tests/test_samplers.py",), ("tests/test_editing.py",)
T_UNET = ("tests/test_unet.py", "-k", "not fits_one_batch and not presets")  # the two slow ones train or build big
T_TRAIN_FAST = ("tests/test_train.py", "-k", "definition or recurrence or ema_weights or crash or killed")

MUTANTS = [
    # ---- schedule.py: the forward process and the conversions
    Mutant("schedule: q_sample without the √ on ᾱ", S, "return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * eps",
           "return alpha_bar * x0 + (1 - alpha_bar).sqrt() * eps", T_SCHED),
    Mutant("schedule: q_step without the √ on 1−β", S, "return (1 - beta).sqrt() * x_prev + beta.sqrt() * eps",
           "return (1 - beta) * x_prev + beta.sqrt() * eps", T_SCHED),
    Mutant("schedule: ᾱ before step 0 is ᾱ_0, not 1", S,
           "self.alphas_cumprod_prev = torch.cat([betas.new_ones(1), self.alphas_cumprod[:-1]])",
           "self.alphas_cumprod_prev = torch.cat([self.alphas_cumprod[:1], self.alphas_cumprod[:-1]])",
           T_SCHED + T_SAMP),
    Mutant("schedule: posterior variance β_t instead of β̃_t", S,
           "self.posterior_variance = (1 - ab_prev) / (1 - ab) * betas", "self.posterior_variance = betas + 0 * ab",
           T_SCHED + T_SAMP),
    Mutant("schedule: get_v with the sign of x₀ flipped", S,
           "return alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * x0",
           "return alpha_bar.sqrt() * eps + (1 - alpha_bar).sqrt() * x0", T_SCHED),
    Mutant("schedule: v→ε with a minus sign", S,
           "eps = (1 - alpha_bar) ** 0.5 * x_t + alpha_bar ** 0.5 * model_output",
           "eps = (1 - alpha_bar) ** 0.5 * x_t - alpha_bar ** 0.5 * model_output", T_SCHED),
    Mutant("schedule: cosine β capped at 0.9999", S, "min(1 - f((i + 1) / num_steps) / f(i / num_steps), 0.999)",
           "min(1 - f((i + 1) / num_steps) / f(i / num_steps), 0.9999)", T_SCHED),
    Mutant("schedule: from_name does not rescale linear β for T ≠ 1000", S, "scale = 1000 / num_steps",
           "scale = 1.0", T_SCHED),
    # ---- samplers.py: DDIM, DDPM, guidance
    Mutant("samplers: DDIM σ with β_t instead of 1 − ᾱ_t/ᾱ_prev", SA,
           "variance = (1 - alpha_bar_prev) / (1 - alpha_bar) * (1 - alpha_bar / alpha_bar_prev)",
           "variance = (1 - alpha_bar_prev) / (1 - alpha_bar) * self.schedule.betas.to(t.device)[t]", T_SAMP),
    Mutant("samplers: DDIM direction without −σ²", SA, "(1 - alpha_bar_prev - sigma**2).clamp(min=0).sqrt()",
           "(1 - alpha_bar_prev).clamp(min=0).sqrt()", T_SAMP),
    Mutant("samplers: DDIM ᾱ before step 0 is ᾱ_0", SA,
           "torch.where(t_prev >= 0, ab[t_prev.clamp(min=0)], torch.ones_like(ab[t]))",
           "torch.where(t_prev >= 0, ab[t_prev.clamp(min=0)], ab[0] * torch.ones_like(ab[t]))", T_SAMP),
    Mutant("samplers: DDIM lands on t − round(T/n)", SA, "self.step_ratio = T // n ", "self.step_ratio = round(T / n) ",
           T_SAMP),
    Mutant("samplers: DDPM draws noise at t = 0", SA, "        if bool((t == 0).all()):\n            return mean\n",
           "", T_SAMP),
    Mutant("samplers: guidance from the conditional output", SA,
           "return uncond_out + scale * (cond_out - uncond_out)", "return cond_out + scale * (cond_out - uncond_out)",
           T_SAMP),
    Mutant("samplers: guidance 1 still runs the unconditional model", SA,
           "if guidance is None or guidance == 1:\n        return out", "if guidance is None:\n        return out",
           T_SAMP),
    Mutant("samplers: DDPM skips t = 0", SA, "self.timesteps = torch.arange(schedule.num_steps - 1, -1, -1)",
           "self.timesteps = torch.arange(schedule.num_steps - 1, 0, -1)", T_SAMP),
    # ---- editing.py: RePaint and SDEdit
    Mutant("editing: RePaint re-noising without its square roots", ED,
           "x_t = math.sqrt(ratio) * x_prev + math.sqrt(1 - ratio) * noise",
           "x_t = ratio * x_prev + (1 - ratio) * noise", T_EDIT),
    Mutant("editing: the glyph canvas not at the mask's box", ED,
           "layout.canvas_for_prompts(prompts, model.config.image_size, mask_boxes)",
           "layout.canvas_for_prompts(prompts, model.config.image_size)", T_EDIT),
    Mutant("editing: known region noised to t instead of t_prev", ED,
           "x_known = model.schedule.q_sample(z0, t_prev, noise=noise) if t_prev >= 0 else z0",
           "x_known = model.schedule.q_sample(z0, t, noise=noise) if t_prev >= 0 else z0", T_EDIT),
    Mutant("editing: region_psnr finite on an empty region (4e93e34 reverted)", ED,
           "/ keep.flatten(1).sum(1)  #", "/ keep.flatten(1).sum(1).clamp_min(1)  #", T_EDIT),
    Mutant("editing: SDEdit runs ⌊strength·steps⌋ steps", ED, "k = math.ceil(strength * steps)",
           "k = int(strength * steps)", T_EDIT),
    Mutant("editing: mask box one pixel short", ED, "return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)",
           "return (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))", T_EDIT),
    Mutant("editing: no pixel blend after decoding", ED,
           "out = torch.where(masks.bool(), model.decode(x_t), images)", "out = model.decode(x_t)", T_EDIT),
    # ---- train.py: the objective, EMA, checkpoints (and checkpoints.py)
    Mutant("train: v target with x₀ and ε swapped", TR, "model.schedule.get_v(z0, noise, t)",
           "model.schedule.get_v(noise, z0, t)", T_TRAIN_FAST),
    Mutant("train: z_t from swapped z₀ and ε", TR, "z_t = model.schedule.q_sample(z0, t, noise=noise)",
           "z_t = model.schedule.q_sample(noise, t, noise=z0)", T_TRAIN_FAST),
    Mutant("train: Min-SNR weight of the ε target whatever the prediction", TR,
           "w = loss_weight(snr, prediction, cfg.min_snr_gamma)", 'w = loss_weight(snr, "epsilon", cfg.min_snr_gamma)',
           T_TRAIN_FAST),
    Mutant("train: EMA moves the wrong way", TR, "list(getattr(self.model, n).parameters()), 1 - decay)",
           "list(getattr(self.model, n).parameters()), decay)", T_TRAIN_FAST),
    Mutant("train: EMA without its warm-up", TR, "decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))",
           "decay = self.cfg.ema_decay", T_TRAIN_FAST),
    Mutant("train: checkpoints hold the raw weights", TR,
           'ckpt["weights"][name] = {k: v.detach().cpu() for k, v in module.state_dict().items()}', "pass",
           T_TRAIN_FAST),
    Mutant("train: checkpoint written straight to its path", TR,
           'path = atomic_save(self.state(total_steps), self.out_dir / f"ckpt_{self.step:07d}.pt")',
           'path = self.out_dir / f"ckpt_{self.step:07d}.pt"\n        torch.save(self.state(total_steps), path)',
           T_TRAIN_FAST),
    Mutant("train: resume loads the raw weights into the EMA", TR,
           'self.ema[n].load_state_dict(ckpt["weights"][n])', 'self.ema[n].load_state_dict(ts["raw"][n])',
           ("tests/test_train.py", "-k", "resume_gives")),
    Mutant("checkpoints: a failed save leaves its temporary file", "minigptimage/checkpoints.py",
           "            os.unlink(tmp)\n", "            pass\n", T_TRAIN_FAST),
    # ---- pipeline.py, the U-Net, the tokenizer, the command line
    Mutant("pipeline: leading spacing", PI, 'spacing="trailing"', 'spacing="leading"',
           ("tests/test_pipeline.py", "-k", "documented_loop")),
    Mutant("pipeline: DDIM always predicts ε", PI,
           'spacing="trailing",\n                               prediction=self.config.prediction)',
           'spacing="trailing",\n                               prediction="epsilon")',
           ("tests/test_pipeline.py", "-k", "documented_loop")),
    Mutant("pipeline: guidance=None means 1, not the model's scale", PI,
           "guidance = config.guidance if guidance is None else guidance", "guidance = 1.0 if guidance is None else guidance",
           ("tests/test_pipeline.py", "-k", "documented_loop")),
    Mutant("unet: FiLM scales by γ instead of 1 + γ", UN, "h = self.norm2(h) * (1 + gamma) + beta",
           "h = self.norm2(h) * gamma + beta", T_UNET),
    Mutant("unet: timestep embedding of cosines only", UN, "torch.cat([angles.cos(), angles.sin()], dim=-1)",
           "torch.cat([angles.cos(), angles.cos()], dim=-1)", T_UNET),
    Mutant("tokenizer: trim_padding to the longest row (4e93e34 reverted)", "minigptimage/tokenizer.py",
           "    real = mask.any(dim=0).nonzero()  # columns that hold a real token in some row\n"
           "    end = int(real.max()) + 1 if len(real) else 0\n",
           "    end = int(mask.sum(dim=1).max()) if mask.numel() else 0\n", ("tests/test_tokenizer.py", "-k", "trim")),
    Mutant("cli: --resume ignored", "minigptimage/__main__.py",
           "found = newest_good_checkpoint(args.out, log=say) if args.resume else None", "found = None",
           ("tests/test_cli.py", "-k", "resume")),
]


def copy_repository(dest: Path, worktree: bool) -> None:
    """The repository's files (no .git, no virtual environment) into ``dest``."""
    if worktree:
        names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                               capture_output=True, check=True).stdout.decode().split("\0")
        for name in filter(None, names):
            src = ROOT / name
            if src.is_file():
                (dest / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest / name)
    else:
        archive = subprocess.run(["git", "archive", "--format=tar", "HEAD"], cwd=ROOT, capture_output=True,
                                 check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")


def run_tests(copy: Path, args, timeout: float) -> tuple[bool, str, float]:
    """(passed, first failing test or reason, seconds) for ``pytest -x -q args`` in the copy; the output of the
    last run is kept in ``run_tests.output``."""
    env = dict(os.environ, PYTHONPATH=str(copy), OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")
    env.pop("HYPOTHESIS_PROFILE", None)  # the derandomised ci profile: the same examples every run
    start = time.monotonic()
    try:
        run = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args],
                             cwd=copy, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, "timed out", time.monotonic() - start
    seconds = time.monotonic() - start
    run_tests.output = run.stdout + run.stderr
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", run.stdout, flags=re.M)
    if run.returncode == 0:
        return True, "", seconds
    return False, failed[0] if failed else run.stdout.strip().splitlines()[-1:][0][:100], seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worktree", action="store_true", help="copy the working tree, not HEAD")
    parser.add_argument("--only", default="", help="run the mutants whose name contains this text (a|b: either)")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--no-baseline", action="store_true", help="skip the run of the unmutated copy")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per test run")
    args = parser.parse_args(argv)
    mutants = [m for m in MUTANTS if any(part.strip().lower() in m.name.lower() for part in args.only.split("|"))]
    if args.list:
        for m in mutants:
            print(f"{m.name}  [{m.path}]  -> {' '.join(m.tests)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="minigptimage_mutants_") as tmp:
        copy = Path(tmp)
        copy_repository(copy, args.worktree)
        print(f"copy of {'the working tree' if args.worktree else 'HEAD'} in {copy}; {len(mutants)} mutants")
        if not args.no_baseline:
            for tests in dict.fromkeys(m.tests for m in mutants):  # each distinct selection once, in order
                passed, why, seconds = run_tests(copy, tests, args.timeout)
                print(f"baseline  {' '.join(tests)}: {'pass' if passed else 'FAIL ' + why} ({seconds:.0f} s)")
                if not passed:
                    print(run_tests.output[-3000:])
                    print("the tests fail without any mutant: fix that first")
                    return 1
        killed, survived, stale, equivalent = [], [], [], []
        for m in mutants:
            target = copy / m.path
            original = target.read_text()
            if original.count(m.old) != 1:
                stale.append(m)
                print(f"STALE     {m.name}: its text occurs {original.count(m.old)} times in {m.path}")
                continue
            target.write_text(original.replace(m.old, m.new))
            try:
                passed, why, seconds = run_tests(copy, m.tests, args.timeout)
            finally:
                target.write_text(original)
            if why == "timed out":  # a slow machine, not a failing test: decide nothing
                stale.append(m)
                print(f"TIMEOUT   {m.name} ({seconds:.0f} s): rerun it with a larger --timeout")
            elif not passed:
                killed.append(m)
                print(f"killed    {m.name} ({seconds:.0f} s) by {why}")
            elif m.equivalent:
                equivalent.append(m)
                print(f"equivalent {m.name} ({seconds:.0f} s): {m.equivalent}")
            else:
                survived.append(m)
                print(f"SURVIVED  {m.name} ({seconds:.0f} s)")
        counted = len(killed) + len(survived) + len(equivalent)
        if counted:
            print(f"\nkilled {len(killed)}/{counted} = {100 * len(killed) / counted:.0f}%"
                  f" ({len(killed)}/{len(killed) + len(survived)} = "
                  f"{100 * len(killed) / max(1, len(killed) + len(survived)):.0f}% without the {len(equivalent)}"
                  f" equivalent); {len(stale)} stale or timed out")
        for m in survived:
            print(f"  survivor: {m.name}")
    return 0 if not survived and not stale else 1


if __name__ == "__main__":
    sys.exit(main())

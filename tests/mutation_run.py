"""A repeatable mutation run: plant plausible bugs, one at a time, in a copy of the repository, run the tests that
should notice each one, and print the share of bugs caught ("killed"), per module and overall. Run by hand, not in CI:

    python tests/mutation_run.py                # every mutant, on a copy of the last commit (HEAD)
    python tests/mutation_run.py --worktree     # on a copy of the working tree instead (uncommitted edits too)
    python tests/mutation_run.py --only "ema|unet:"  # the mutants whose name contains "ema" or "unet:"
    python tests/mutation_run.py --list         # list them, and whether each one's text is still in its file

The repository itself is never modified: the files are copied to a temporary folder first (``git archive`` of
HEAD, or ``git ls-files`` of the working tree), and each mutant is written there, tested, then undone. A run of
the unmutated copy comes first: its tests must pass, or the figures would mean nothing. Each mutant runs only
the fast test files (or single tests) of its own module, with ``-x``; the whole run (115 mutants, before the last five were added) took 13 minutes of one
CPU core. A mutant is found by its ``old`` text, not by a line number, so edits elsewhere in a file never move
it; when that text is no longer in the source (someone rewrote the line) the mutant is skipped with a warning
(update it), and one whose tests run past ``--timeout`` is undecided; neither is counted.

Target: ≥ 90 % killed, overall and in every module. A survivor means a test is missing, or that the mutant is
equivalent (changes nothing a user could observe); the equivalent ones are marked below with the reason, and
reported apart. The exit code is 1 when a mutant survives or a module is under the target.
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
PI, UN, RQ = "minigptimage/pipeline.py", "minigptimage/unet.py", "minigptimage/request.py"
T_SCHED, T_SAMP, T_EDIT = ("tests/test_schedule.py",), ("tests/test_samplers.py",), ("tests/test_editing.py",)
T_UNET = ("tests/test_unet.py", "-k", "not fits_one_batch and not presets")  # the two slow ones train or build big
T_TRAIN_FAST = ("tests/test_train.py", "-k", "recurrence or ema_weights or crash or killed")
OB, T_OBJECTIVE = "minigptimage/objective.py", ("tests/test_objective.py", "-k", "definition")

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
    Mutant("editing: the word (canvas and box token) not at the mask's box", PI,
           "self.condition(request.placed_at([mask_box(m) for m in masks]))", "self.condition(request)", T_EDIT),
    Mutant("editing: known region noised to t instead of t_prev", ED,
           "x_known = sampler.schedule.q_sample(z0, t_prev, noise=noise) if t_prev >= 0 else z0",
           "x_known = sampler.schedule.q_sample(z0, t, noise=noise) if t_prev >= 0 else z0", T_EDIT),
    Mutant("editing: region_psnr finite on an empty region (4e93e34 reverted)", ED,
           "/ keep.flatten(1).sum(1)  #", "/ keep.flatten(1).sum(1).clamp_min(1)  #", T_EDIT),
    Mutant("editing: SDEdit runs ⌊strength·steps⌋ steps", ED, "k = math.ceil(strength * n)",
           "k = int(strength * n)", T_EDIT),
    Mutant("editing: mask box one pixel short", ED, "return (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)",
           "return (int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max()))", T_EDIT),
    Mutant("editing: no pixel blend after decoding", PI,
           "out = torch.where(masks.bool(), self.decode(z), images)", "out = self.decode(z)", T_EDIT),
    # ---- train.py: the objective, EMA, checkpoints (and checkpoints.py)
    Mutant("objective: v target with x₀ and ε swapped", OB, "model.schedule.get_v(z0, noise, t)",
           "model.schedule.get_v(noise, z0, t)", T_OBJECTIVE),
    Mutant("objective: z_t from swapped z₀ and ε", OB, "z_t = model.schedule.q_sample(z0, t, noise=noise)",
           "z_t = model.schedule.q_sample(noise, t, noise=z0)", T_OBJECTIVE),
    Mutant("objective: logit-normal t drawn uniformly", OB, "t = on_timestep_grid(logit_normal_or_shifted(batch_size, generator, logit_normal, timestep_shift,\n"
           "                                                     shifted_share), num_steps)",
           "t = torch.randint(0, num_steps, (batch_size,), generator=generator)",
           ("tests/test_objective.py", "-k", "logit_normal")),
    Mutant("objective: the shifted share picks the other rows", OB, "generator=generator) < shifted_share, shifted",
           "generator=generator) >= shifted_share, shifted", ("tests/test_objective.py", "-k", "shifted_share or both_ends")),
    Mutant("objective: the shifted share never ends", OB,
           "return share if step < until * total_steps else 0.0", "return share",
           ("tests/test_objective.py", "tests/test_train.py", "-k", "shifted_until or shifted_share_holds")),
    Mutant("train: the draw ignores shifted_until", TR, "self.draw(total_steps) if draws is None", "self.draw(2 * total_steps) if draws is None",
           ("tests/test_train.py", "-k", "shifted_until")),
    Mutant("train: EMA moves the wrong way", TR, "list(getattr(self.model, n).parameters()), 1 - decay)",
           "list(getattr(self.model, n).parameters()), decay)", T_TRAIN_FAST),
    Mutant("train: EMA without its warm-up", TR, "decay = min(self.cfg.ema_decay, (1 + self.step) / (10 + self.step))",
           "decay = self.cfg.ema_decay", T_TRAIN_FAST),
    Mutant("train: checkpoints hold the raw weights", TR,
           'ckpt = self.ema_checkpoint()  # sampling weights are the EMA ones, training\'s are "raw"',
           "ckpt = self.model.checkpoint_dict()",
           T_TRAIN_FAST),
    Mutant("train: checkpoint written straight to its path", TR,
           'path = atomic_save(ckpt, self.out_dir / f"ckpt_{self.step:07d}.pt")',
           'path = self.out_dir / f"ckpt_{self.step:07d}.pt"\n        torch.save(ckpt, path)',
           T_TRAIN_FAST),
    Mutant("train: resume loads the raw weights into the EMA", TR,
           'self.ema[n].load_state_dict(ckpt["weights"][n])', 'self.ema[n].load_state_dict(ts["raw"][n])',
           ("tests/test_train.py", "-k", "resume_gives")),
    Mutant("checkpoints: a failed save leaves its temporary file", "minigptimage/checkpoints.py",
           "            os.unlink(tmp)\n", "            pass\n", T_TRAIN_FAST),
    Mutant("checkpoints: a new run folder reuses the highest one", "minigptimage/checkpoints.py",
           'f"run_{1 + max(', 'f"run_{0 + max(', ("tests/test_checkpoints.py", "-k", "new_folder")),
    Mutant("two experts: the clean model predicts the noisy steps", "minigptimage/benchmarks/two_experts.py",
           "noisy if int(t[0]) > tau else clean", "clean if int(t[0]) > tau else noisy",
           ("tests/test_two_experts.py",)),
    # ---- pipeline.py, the U-Net, the tokenizer, the command line
    Mutant("request: leading spacing", RQ, 'spacing="trailing"', 'spacing="leading"',
           ("tests/test_pipeline.py", "-k", "documented_loop")),
    Mutant("request: DDIM always predicts ε", RQ, 'spacing="trailing", prediction=config.prediction)',
           'spacing="trailing", prediction="epsilon")', ("tests/test_pipeline.py", "-k", "documented_loop")),
    Mutant("request: guidance=None means 1, not the model's scale", RQ,
           "guidance = config.guidance if guidance is None else guidance", "guidance = 1.0 if guidance is None else guidance",
           ("tests/test_pipeline.py", "-k", "documented_loop")),
    Mutant("unet: FiLM scales by γ instead of 1 + γ", UN, "feat = self.norm2(feat) * (1 + gamma) + beta",
           "feat = self.norm2(feat) * gamma + beta", T_UNET),
    Mutant("unet: timestep embedding of cosines only", UN, "torch.cat([angles.cos(), angles.sin()], dim=-1)",
           "torch.cat([angles.cos(), angles.cos()], dim=-1)", T_UNET),
    Mutant("tokenizer: trim_padding to the longest row (4e93e34 reverted)", "minigptimage/tokenizer.py",
           "    real = mask.any(dim=0).nonzero()  # columns that hold a real token in some row\n"
           "    end = int(real.max()) + 1 if len(real) else 0\n",
           "    end = int(mask.sum(dim=1).max()) if mask.numel() else 0\n", ("tests/test_tokenizer.py", "-k", "trim")),
    Mutant("launch: make_trainer ignores --resume", "minigptimage/launch.py",
           "found = newest_good_checkpoint(out_dir, log=say) if resume else None", "found = None",
           ("tests/test_cli.py", "-k", "resume")),
]

# ---- the modules named for a second round: the prompt encoder and its attention, the caption grammar, devices, layout,
# ---- the dataset's held-out rules, and the metrics behind the README's tables (evaluate, scoring, ink)
EN, AT, CA, DE = "minigptimage/encoder.py", "minigptimage/attention.py", "minigptimage/captions.py", "minigptimage/devices.py"
LA, GL, EV = "minigptimage/layout.py", "minigptimage/glyphs.py", "minigptimage/evaluate.py"
SC, IK, TO = "minigptimage/scoring.py", "minigptimage/ink.py", "minigptimage/tokenizer.py"
T_ENC, T_ATT, T_LAYOUT = ("tests/test_encoder.py",), ("tests/test_attention.py",), ("tests/test_layout.py",)
T_GLYPHS, T_EVAL, T_SCORING = ("tests/test_glyphs.py",), ("tests/test_evaluate.py",), ("tests/test_scoring.py",)
T_TOK, T_DEV = ("tests/test_tokenizer.py",), ("tests/test_devices_mutants.py",)  # the latter imports no trainer
T_CAPT = ("tests/test_captions.py", "tests/test_glyphs.py", "-k", "caption")  # -k: all of test_captions.py too

MUTANTS += [
    # ---- encoder.py: rotary wiring, the quoted span, the other modalities' tokens
    Mutant("encoder: rotary positions never reach the blocks", EN,
           'if cfg.positions == "rotary":  # text tokens', 'if False:  # text tokens', T_ENC),
    Mutant("encoder: positions padded on the wrong side", EN, "F.pad(text_positions(quoted), (0, x.shape[1] - L))",
           "F.pad(text_positions(quoted), (x.shape[1] - L, 0))", T_ENC),
    Mutant("encoder: text positions start at 1 (off by one)", EN, "return step.cumsum(dim=1) - step",
           "return step.cumsum(dim=1)", T_ENC),
    Mutant("encoder: the closing quote is outside the quoted span", EN,
           "return (is_quote.cumsum(dim=1) % 2 == 1) | is_quote", "return is_quote.cumsum(dim=1) % 2 == 1", T_ENC),
    Mutant("encoder: quoted tokens a whole step each", EN, "torch.where(quoted, 1.0 / n,", "torch.where(quoted, 1.0 + 0 * n,",
           T_ENC),
    Mutant("encoder: padding counted in the quoted span", EN, "quoted = quoted_tokens(ids, cfg.quote_id) & mask",
           "quoted = quoted_tokens(ids, cfg.quote_id)", T_ENC),
    Mutant("encoder: learned positions dropped", EN, "text = text + self.pos_embed[:L]", "text = text + 0", T_ENC),
    Mutant("encoder: Fourier frequencies without the 2", EN, "freqs = 2 * math.pi * 2.0 **", "freqs = math.pi * 2.0 **",
           T_ENC),
    Mutant("encoder: patch rows and columns swapped", EN,
           "pos = self.row_embed[: H // p, None, :] + self.col_embed[None, : W // p, :]",
           "pos = self.row_embed[None, : W // p, :] + self.col_embed[: H // p, None, :]", T_ENC),
    Mutant("encoder: image tokens typed as layout", EN, '"image") + self.type_embed.weight[IMAGE]',
           '"image") + self.type_embed.weight[LAYOUT]', T_ENC),
    # ---- attention.py: RoPE and the attention maths
    Mutant("attention: rotary on q only", AT, "q, k = rotary(q, positions), rotary(k, positions)",
           "q, k = rotary(q, positions), k", T_ATT),
    Mutant("attention: the block drops its positions", AT, "key_padding_mask=mask, positions=positions)",
           "key_padding_mask=mask)", T_ATT),
    Mutant("attention: forward ignores the positions", AT, "q, k, v = self.qkv(x, context, positions)  #",
           "q, k, v = self.qkv(x, context)  #", T_ATT),
    Mutant("attention: rotation by −θ (a sign)", AT, "even * cos - odd * sin, even * sin + odd * cos",
           "even * cos + odd * sin, -even * sin + odd * cos", T_ATT),
    Mutant("attention: θ_i = base^(−2i/(d/2))", AT, "dtype=dtype) / d)  # (d/2,)", "dtype=dtype) / (d // 2))  # (d/2,)",
           T_ATT),
    Mutant("attention: no 1/√d", AT, "scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])",
           "scores = q @ k.transpose(-2, -1)", T_ATT),
    Mutant("attention: cross-attention after the first norm", AT, "self.cross_attn(self.norm2(x), context",
           "self.cross_attn(self.norm1(x), context", T_ATT),
    # ---- captions.py: the grammar and its held-out family (test_captions.py is another helper's)
    Mutant("captions: held out one form in five, not four", CA, "digest()[0] % 4 == 0", "digest()[0] % 5 == 0", T_CAPT),
    Mutant("captions: the place left out half the time", CA, "rng.random() >= 0.1)", "rng.random() >= 0.5)", T_CAPT),
    Mutant("captions: 'a white sign' not counted as naming the background", CA,
           'return "{fg}" in caption_form, "{bg}" in caption_form or "{a_bg}" in caption_form',
           'return "{fg}" in caption_form, "{bg}" in caption_form', T_CAPT),
    Mutant("captions: complete keeps forms naming either colour", CA, "if not complete or all(names_colour(f))",
           "if not complete or any(names_colour(f))", T_CAPT),
    Mutant("captions: 'in the upper part' said of the bottom", CA,
           '"bottom": ("at the bottom", "near the bottom", "in the lower part")',
           '"bottom": ("at the bottom", "near the bottom", "in the upper part")', T_CAPT),
    Mutant("captions: always 'a', never 'an'", CA,
           'a_bg = ("an " if bg[0] in "aeiou" else "a ") + bg\n    caption = form.format(',
           'a_bg = "a " + bg\n    caption = form.format(', T_CAPT),
    Mutant("captions: templates never drawn", CA, "if not frames or rng.random() < NEW_WORDS_SHARE:",
           "if not frames:", T_CAPT),
    # ---- devices.py: auto device and precision, autocast, loss scaling
    Mutant("devices: auto prefers MPS to CUDA", DE,
           'torch.device("cuda" if torch.cuda.is_available() else "mps" if mps_available() else "cpu")',
           'torch.device("mps" if mps_available() else "cuda" if torch.cuda.is_available() else "cpu")', T_DEV),
    Mutant("devices: bf16 only after Ampere (> 8)", DE, "torch.cuda.get_device_capability(device)[0] >= 8",
           "torch.cuda.get_device_capability(device)[0] > 8", T_DEV),
    Mutant("devices: GPU index off by one", DE, "device.index >= count", "device.index > count", T_DEV),
    Mutant("devices: auto is 16-bit on MPS too", DE, 'if device.type == "cuda" else "fp32"',
           'if device.type != "cpu" else "fp32"', T_DEV),
    Mutant("devices: bf16 allowed on a GPU without it", DE, 'if precision == "bf16" and not bf16_ok:', "if False:", T_DEV),
    Mutant("devices: autocast always bf16", DE, "dtype=DTYPES[precision])", "dtype=torch.bfloat16)", T_DEV),
    Mutant("devices: bf16 scales the loss too", DE, 'enabled=precision == "fp16")', 'enabled=precision != "fp32")', T_DEV),
    # ---- layout.py: limits, rectangles, placement, the prompt parser
    Mutant("layout: MAX_TEXT 11", LA, "MAX_TEXT = 10  #", "MAX_TEXT = 11  #", T_LAYOUT),
    Mutant("layout: margin 4 px at 64", LA, "return max(1, image_size // 32)", "return max(1, image_size // 16)", T_LAYOUT),
    Mutant("layout: 4-px capitals allowed", LA, "MIN_LETTER_HEIGHT = 5  #", "MIN_LETTER_HEIGHT = 4  #", T_LAYOUT),
    Mutant("layout: half rows take 6-px capitals", LA, "return max(7, image_size // 9)", "return max(6, image_size // 9)",
           T_LAYOUT),
    Mutant("layout: region edges truncated, not rounded", LA, "return tuple(round(f * image_size) for f in REGIONS[region])",
           "return tuple(int(f * image_size) for f in REGIONS[region])", T_LAYOUT),
    Mutant("layout: place moves against dx", LA, "x0 = min(max(rx0 + (rx1 - rx0 - w) // 2 + dx, rx0), rx1 - w)",
           "x0 = min(max(rx0 + (rx1 - rx0 - w) // 2 - dx, rx0), rx1 - w)", T_LAYOUT),
    Mutant("layout: place clamps to the region's right edge, not the word's", LA, "rx0), rx1 - w)", "rx0), rx1)", T_LAYOUT),
    Mutant("layout: a long corner word flush with the image edge", LA, "        x0 = m\n", "        x0 = 0\n", T_LAYOUT),
    Mutant("layout: 'lower' read as top", LA, '"lower": "bottom"', '"lower": "top"', T_LAYOUT),
    Mutant("layout: text colour and background swapped", LA, "return PromptLayout(text, region, colors, fg, bg)",
           "return PromptLayout(text, region, colors, bg, fg)", T_LAYOUT),
    Mutant("layout: 'X on Y' not read as the text colour", LA, r"|\b{_COLOR} on (?:a |an )?{_COLOR}\b", "", T_LAYOUT),
    # ---- glyphs.py: the held-out rules, lengths, contrast, jitter, masks
    Mutant("glyphs: the random split keeps held-out strings (920d5c5 reverted)", GL,
           "if not is_heldout_text(text):\n                    return text", "return text", T_GLYPHS),
    Mutant("glyphs: random-split words unfiltered", GL,
           "return self._string(rng, string.ascii_uppercase, max(2, length))",
           'return "".join(rng.choice(list(string.ascii_uppercase), size=max(2, length)))', T_GLYPHS),
    Mutant("glyphs: only 1-character strings shared", GL, "elif length <= 2 or is_heldout_text(text)",
           "elif length <= 1 or is_heldout_text(text)", T_GLYPHS),
    Mutant("captions: held-out texts one in ten", CA, "digest()[0] % 20 == 0", "digest()[0] % 10 == 0", T_GLYPHS),
    Mutant("captions: held-out text rule case-sensitive", CA, "hashlib.sha256(text.upper().encode())",
           "hashlib.sha256(text.encode())", T_GLYPHS),
    Mutant("glyphs: no text of MAX_TEXT characters", GL, "if len(text) <= MAX_TEXT and", "if len(text) < MAX_TEXT and",
           T_GLYPHS),
    Mutant("drawing: luminance weights of G and B swapped", "minigptimage/drawing.py",
           "0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]", "0.2126 * c[0] + 0.0722 * c[1] + 0.7152 * c[2]",
           ("tests/test_drawing.py",)),
    Mutant("glyphs: jitter never to the right or down", GL, "rng.integers(-j, j + 1, size=2)",
           "rng.integers(-j, j, size=2)", T_GLYPHS),
    Mutant("glyphs: box masks one row too tall", GL, "inside_y = (r >= y0) & (r < y1)", "inside_y = (r >= y0) & (r <= y1)",
           T_GLYPHS),
    # ---- evaluate.py: the scores of the README's tables
    Mutant("evaluate: binding needs only one colour", EV, "sum(c and b for c, b in zip(colour, background))",
           "sum(c or b for c, b in zip(colour, background))", T_EVAL),
    Mutant("evaluate: word and character accuracy swapped", EV,
           "word_accuracy(read, texts), char_accuracy(read, texts)", "char_accuracy(read, texts), word_accuracy(read, texts)",
           T_EVAL),
    Mutant("evaluate: text colour reports the background's", EV, "char_accuracy(read, texts), sum(colour) / n",
           "char_accuracy(read, texts), sum(background) / n", T_EVAL),
    Mutant("evaluate: every batch seeded alike", EV, "steps=steps, seed=seed + k,", "steps=steps, seed=seed,", T_EVAL),
    Mutant("evaluate: moved boxes never touch the far edge", EV, "image_size - side + 1, (1,)", "image_size - side, (1,)",
           T_EVAL),
    Mutant("evaluate: layout IoU against the dataset's box, not the asked one", EV,
           "ious = [box_iou(glyph_box(im), b) for im, b in zip(images, boxes)]",
           "ious = [box_iou(glyph_box(im), s.box) for im, s in zip(images, samples)]", T_EVAL),
    Mutant("evaluate: table columns text colour and binding swapped", EV,
           '{s.colour_acc:.1%} | "\n                     f"{s.binding_acc:.1%}',
           '{s.binding_acc:.1%} | "\n                     f"{s.colour_acc:.1%}', T_EVAL),
    Mutant("evaluate: reference background compared with its text colour", EV,
           '"background": sum(background_colour(im) == r.background', '"background": sum(background_colour(im) == r.color',
           T_EVAL),
    Mutant("evaluate: the seed not passed on", EV, "steps, seed, batch_size,", "steps, 0, batch_size,", T_EVAL),
    Mutant("evaluate: captions that may leave a colour out", EV, '{"complete": True, **dataset_options}',
           '{"complete": False, **dataset_options}', T_EVAL),
    # ---- scoring.py and ink.py: the pixel measures
    Mutant("scoring: characters over the target's length only", SC, "/ max(len(r), len(t), 1)", "/ max(len(t), 1)",
           T_SCORING),
    Mutant("scoring: text colour from all the ink, not its core", SC,
           "def glyph_colour(image: torch.Tensor, threshold: float = 0.75)",
           "def glyph_colour(image: torch.Tensor, threshold: float = 0.5)", T_SCORING),
    Mutant("scoring: background from the whole image", SC, "    frame[BORDER:-BORDER, BORDER:-BORDER] = False\n", "",
           T_SCORING),
    Mutant("scoring: centroid x and y swapped", SC,
           "cx, cy = (xs.float().mean() + 0.5) / W, (ys.float().mean() + 0.5) / H",
           "cy, cx = (xs.float().mean() + 0.5) / W, (ys.float().mean() + 0.5) / H", T_SCORING),
    Mutant("scoring: IoU without the intersection in the union", SC,
           "(b[2] - b[0]) * (b[3] - b[1]) - inter", "(b[2] - b[0]) * (b[3] - b[1])", T_SCORING),
    Mutant("ink: box one pixel short on the right", IK, "return int(xs.min()), int(ys.min()), int(xs.max()) + 1,",
           "return int(xs.min()), int(ys.min()), int(xs.max()),", T_SCORING),
    Mutant("ink: a cluster of exactly MIN_SPECK pixels is a speck", IK, "(ink[labels.long()] >= min_pixels)",
           "(ink[labels.long()] > min_pixels)", T_SCORING),
    Mutant("ink: clusters chain only 2 pixels apart", IK, "mask[None, None].float(), 2 * reach + 1, 1, reach)",
           "mask[None, None].float(), reach + 1, 1, reach // 2)", T_SCORING),
    Mutant("ink: a 4×4 latent blot is not a speck", IK, "MIN_SPECK = 20  #", "MIN_SPECK = 16  #", T_SCORING),
    # ---- tokenizer.py (besides trim_padding above)
    Mutant("tokenizer: character ids off by one", TO, "return [ord(ch) - 28 for ch in text]",
           "return [ord(ch) - 27 for ch in text]", T_TOK),
    Mutant("tokenizer: prompt words inside the quotes", TO, "            quoted ^= piece == '\"'\n", "", T_TOK),
    Mutant("tokenizer: a text that exactly fits refused", TO, "if len(row) > max_len:", "if len(row) >= max_len:", T_TOK),
    Mutant("tokenizer: min_count exclusive", TO, "if c >= min_count]", "if c > min_count]", T_TOK),
    Mutant("tokenizer: word tokens lower-case inside quotes too", TO, "out.append(tok if quoted else tok.lower())",
           "out.append(tok.lower())", T_TOK),
    Mutant("tokenizer: the mask marks <bos> as padding", TO, "return ids, ids != self.pad_id",
           "return ids, ids > self.bos_id", T_TOK),
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


def module_of(m: Mutant) -> str:
    """The module a mutant belongs to: its name up to the colon ("schedule", "cli", "ink", …)."""
    return m.name.split(":")[0]


def report(results: dict) -> bool:
    """Print the kill rate per module and overall; True when every module (and so the whole) reaches 90 %."""
    print(f"\n{'module':<12} {'killed':>6} {'survived':>8} {'equiv.':>6} {'skipped':>7}   kill rate")
    totals, ok = [0, 0, 0, 0], True
    for module in dict.fromkeys(module_of(m) for m in MUTANTS):
        counts = [len([m for m in results[kind] if module_of(m) == module])
                  for kind in ("killed", "survived", "equivalent", "skipped")]
        if not any(counts):
            continue
        totals = [a + b for a, b in zip(totals, counts)]
        decided = counts[0] + counts[1]
        rate = f"{100 * counts[0] / decided:5.1f}%" if decided else "    –"
        ok &= not decided or counts[0] / decided >= 0.9
        print(f"{module:<12} {counts[0]:>6} {counts[1]:>8} {counts[2]:>6} {counts[3]:>7}   {rate}")
    decided = totals[0] + totals[1]
    if decided:
        print(f"{'all':<12} {totals[0]:>6} {totals[1]:>8} {totals[2]:>6} {totals[3]:>7}   "
              f"{100 * totals[0] / decided:5.1f}%  (equivalent mutants not counted)")
    return ok


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
            found = (ROOT / m.path).read_text().count(m.old) if (ROOT / m.path).exists() else 0
            state = "" if found == 1 else f"  ** its text occurs {found} times in the working tree: update it **"
            print(f"{m.name}  [{m.path}]  -> {' '.join(m.tests)}{state}")
        return 0
    with tempfile.TemporaryDirectory(prefix="minigptimage_mutants_") as tmp:
        copy = Path(tmp)
        copy_repository(copy, args.worktree)
        print(f"copy of {'the working tree' if args.worktree else 'HEAD'} in {copy}; {len(mutants)} mutants")
        results = {"killed": [], "survived": [], "equivalent": [], "skipped": []}
        runnable = []
        for m in mutants:  # a mutant whose text is gone is skipped (with a warning), never fails the run
            target = copy / m.path
            found = target.read_text().count(m.old) if target.exists() else 0
            if found != 1:
                results["skipped"].append(m)
                print(f"WARNING   skipped {m.name}: its text occurs {found} times in {m.path} (update the mutant)")
            else:
                runnable.append(m)
        if not args.no_baseline:
            for tests in dict.fromkeys(m.tests for m in runnable):  # each distinct selection once, in order
                passed, why, seconds = run_tests(copy, tests, args.timeout)
                print(f"baseline  {' '.join(tests)}: {'pass' if passed else 'FAIL ' + why} ({seconds:.0f} s)")
                if not passed:
                    print(run_tests.output[-3000:])
                    print("the tests fail without any mutant: fix that first")
                    return 1
        for m in runnable:
            target = copy / m.path
            original = target.read_text()
            target.write_text(original.replace(m.old, m.new))
            try:
                passed, why, seconds = run_tests(copy, m.tests, args.timeout)
            finally:
                target.write_text(original)
            if why == "timed out":  # a slow machine, not a failing test: decide nothing
                results["skipped"].append(m)
                print(f"TIMEOUT   {m.name} ({seconds:.0f} s): rerun it with a larger --timeout")
            elif not passed:
                results["killed"].append(m)
                print(f"killed    {m.name} ({seconds:.0f} s) by {why}")
            elif m.equivalent:
                results["equivalent"].append(m)
                print(f"equivalent {m.name} ({seconds:.0f} s): {m.equivalent}")
            else:
                results["survived"].append(m)
                print(f"SURVIVED  {m.name} ({seconds:.0f} s)")
        ok = report(results)
        for m in results["survived"]:
            print(f"  survivor: {m.name}  [{m.path}]")
        for m in results["skipped"]:
            print(f"  skipped:  {m.name}  [{m.path}]")
    return 0 if ok and not results["survived"] else 1


if __name__ == "__main__":
    sys.exit(main())

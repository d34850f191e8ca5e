# %% [markdown]
# # Lesson 08 — training a text-to-image model
#
# **Goal.** Write one real training step by hand — encode, draw t and ε, noise, build the v target, the loss,
# backward, the optimizer step — check it against the library's `objective.diffusion_loss`, then run the project's
# 10-minute recipe and watch a model of your own learn to write, checkpoint by checkpoint.
#
# **Prerequisites.** Lessons 01 (q_sample), 02 (samplers), 03 (the dataset), 05–07 (encoder, U-Net, VAE).
#
# **Papers.** Ho et al. 2020, "DDPM" (arXiv 2006.11239), Algorithm 1 and eq. 4; Salimans & Ho 2022,
# "Progressive Distillation" (arXiv 2202.00512), sec. 4 and appendix D: the v target; Rombach et al. 2022,
# "Latent Diffusion" (arXiv 2112.10752), sec. 3: diffusion on a VAE's latents; Ho & Salimans 2022 (arXiv
# 2207.12598), sec. 3.2: dropping the prompt 10% of the time; Polyak & Juditsky 1992 / Karras et al. 2022:
# the exponential moving average of the weights.
#
# **What you should see** (full mode, MINUTES = 10, on an idle 2-core CPU):
# 1. the hand-written step gives exactly the library's loss on the same draws (0.915978 both, `tiny` preset,
#    batch 32), and one small AdamW step lowers it on that batch (0.9160 → 0.9149);
# 2. the 10-minute recipe — what `python -m minigptimage train --preset tiny --minutes 10 --vae
#    tiny_data/vae.pt --out DIR` runs — trains your own model into `lessons/out/lesson08_runs/run_NN/` (a new
#    folder each time: an earlier run is never overwritten). On an idle 2-core CPU ten minutes, latent cache
#    included, buy about 1,900–2,100 steps (0.28–0.29 s a step on the project's machine on 2026-12-06: the
#    shipped 10-minute model 2,063 steps in 603 s, this lesson's own run 1,896 in 605 s); on a machine busy
#    with other work far fewer (beside three other trainings: 45 steps). The training loss is noisy from step
#    to step (every batch draws new t); its mean over each sixth of the run falls fast at first and slowly
#    after (0.706, 0.476, 0.293, 0.210, 0.171, 0.160);
# 3. one table for the whole run: for each of at most six checkpoints, the loss on held-out data and what
#    the model draws for n = 50 captions per split (training-vocabulary text / held-out text), scored as
#    `evaluate --n 50` scores them: exact word, characters, colour binding (text *and* background colour both
#    as asked). Below it, the same recipe's model as shipped (`tiny_data/minigptimage_tiny_10min.pt`, 2063
#    steps): held-out loss 0.146, 8% / 12% exact, 45% / 48% of characters, colour binding 70% / 60% (the wide
#    reader, 2026-12-06). Your run should land near that row: the lesson's own run (1,896 steps) ended at 0.141,
#    4% / 10%, 42% / 43%, 70% / 68% (read by the previous reader). Colour binding comes first — 8% at step 250,
#    near 40–55% by step 1000, about 70% at the end — and
#    spelling last: ten minutes draw the letters in the right place and colours, legible to a person for
#    short words, but the reader reads few exactly. The grid (`scored.png`, each checkpoint's first eight
#    captions, one row per checkpoint, the shipped model last) shows it: at step 250 coloured noise in 4×4
#    blocks (one latent cell each); at 500 the background colour and a smudge where the word goes; from 1000
#    flat backgrounds and the words in place, "up" and "66" legible; by the end short words are clean while
#    long ones ("CONCURRING") stay smudged. The reader misses some legible words too ("66" read as "68" by the
#    previous reader): the line above the table gives its score on the clean renders of these captions (88% /
#    88%, read by the previous reader), and
#    `scored_last.png` shows all of the last checkpoint's images with their readings. The same network on
#    the same latent spells 92% of short upper-case words after 15,000 steps (the README's shipped model is
#    that budget on a finer 32×32×4 latent: 90% by our reader, 98% by Tesseract).
#
# FIGURES (for the maintainers; re-measure after retraining the 10-minute model, in full mode on an idle
# 2-core CPU; last measured 2026-12-06): item 1's two losses (0.915978, 0.9160 → 0.9149); item 2's step
# counts and loss means; item 3's reference row, the run's last row and the grid's description; the minutes
# the scoring takes (lessons/README.md: about 1.3 min); the figures question 3's answer quotes
# (lessons/solutions/08_…py).
#
# Fast mode trains the `micro` toy for a few steps: its samples are noise, and that is expected.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import copy
import dataclasses
import time

import torch

from minigptimage.evaluate import evaluation_samples, generate_in_batches, score_images
from minigptimage.glyphs import GlyphDataset
from minigptimage.pipeline import TINY_DATA, MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, loss_curve, output_dir
from minigptimage.reader import GlyphReader
from minigptimage.tokenizer import trim_padding
from minigptimage.scoring import word_accuracy
from minigptimage.checkpoints import checkpoint_files
from minigptimage.objective import diffusion_loss, draw_randomness, drop_condition
from minigptimage.train import TrainConfig, train_run
from minigptimage.training_data import data_batch
from minigptimage.vae import VAE

import importlib  # noqa: E402  (the exercise checks live in lessons/checks/, next to this file)
from lessons.checks import report  # noqa: E402
checks = importlib.import_module("lessons.checks.08_training_a_text_to_image_model")

OUT = output_dir(HERE / "08_training_a_text_to_image_model.py")
FAST = fast_mode()
started = time.perf_counter()

MINUTES = 10  # the training budget of section 4: 10 is the recipe; set 20 to train twice as long (question 3)
BUDGET_IN_STEPS = False  # True: train the steps MINUTES buy on an idle 2-core CPU, however long they take — for
                         # a machine that cannot be left alone while it trains
IDLE_STEPS_IN_10_MIN = 2063  # what ten minutes bought on an idle 2-core CPU: the shipped 10-minute model's steps

# %% [markdown]
# ## 1. The model, the shipped VAE and one batch
# The `tiny` preset with its training recipe (`TrainConfig.preset("tiny")`: batch 32, peak learning rate 2e-3,
# 100 warm-up steps, a latent cache of 20,000 items, and the timestep shift of section 2, annealed). The VAE
# is not trained here: like the command's `--vae tiny_data/vae.pt`, we load the shipped one (lesson 07), so all
# the budget goes to the diffusion model.
# Fast mode: the `micro` toy, whose small VAE starts from its closed-form PCA solution instead.

# %%
preset = "micro" if FAST else "tiny"
cfg = TrainConfig.preset(preset)
if FAST:
    cfg = dataclasses.replace(cfg, batch_size=8, lr=3e-3, warmup_steps=5, latent_cache=64)
model = MiniGPTImage.from_preset(preset, seed=0)
dataset = GlyphDataset("train", length=10**9, seed=cfg.seed)  # the stream the trainer reads, item by item
if FAST:
    pca_images = data_batch(dataset, 2 * 10**6, 128)["image"]  # (128, 3, 64, 64)
    model.vae.init_from_pca(pca_images)
    model.vae.fit_scale_factor(pca_images)
else:
    model.vae.load_state_dict(VAE.pretrained().state_dict())  # tiny_data/vae.pt, with its scale factor
model.vae.requires_grad_(False)
print(f"{preset}: prompt encoder {sum(p.numel() for p in model.encoder.parameters()) / 1e6:.2f}M + U-Net "
      f"{sum(p.numel() for p in model.unet.parameters()) / 1e6:.2f}M trainable parameters; the model predicts "
      f"{model.config.prediction!r}")

B, T = cfg.batch_size, model.config.num_steps
batch = data_batch(dataset, 0, B)  # images (B, 3, 64, 64), captions, glyph canvases (B, 1, 64, 64), boxes (B, 4)
print("first captions:", batch["caption"][:3])

# %% [markdown]
# ## 2. One training step, by hand — DDPM Algorithm 1, on latents, with v as the target
#
# | line | Algorithm 1 | here |
# |---|---|---|
# | 2 | x₀ ~ q(x₀) | z₀ = the VAE's latent mean × scale factor (Rombach et al. sec. 3) |
# | 3 | t ~ Uniform({1, …, T}) | t ~ U{0, …, T−1} (we count from 0, as diffusers) |
# | 4 | ε ~ N(0, I) | ε of the latent's shape, and a coin per row: drop the prompt with p = 0.1 |
# | 5 | ∇θ ‖ε − ε_θ(√ᾱ_t·x₀ + √(1−ᾱ_t)·ε, t)‖² | the same with v = √ᾱ_t·ε − √(1−ᾱ_t)·z₀ in place of ε |
#
# The hand step draws t uniformly, as line 3 says. The `tiny` recipe bends that draw: t/T = α·u / (1 + (α−1)·u)
# with u uniform (the timestep shift of SD3, Esser et al. 2024, eq. 23; `train.shifted_timesteps`), with α
# falling from 3 at the first step to 1 at the last (`train.shift_at`). Early on, 3 draws in 4 land in the noisy
# half, where an image's colours are decided; by the end the draw is uniform again, and the low-noise steps
# that clean the last pixels get their share. In ten minutes this binds colours earlier (RESULTS.md).
#
# **Why v and not ε?** At t near T, z_t is almost pure noise: predicting ε there is trivial (ε ≈ z_t) and says
# nothing about the image, and turning ε̂ back into x̂₀ = (z_t − √(1−ᾱ)·ε̂)/√ᾱ divides by √ᾱ (5·10⁻⁵ at t = 999),
# blowing up every error. v = √ᾱ·ε − √(1−ᾱ)·z₀ moves smoothly from ε (at t = 0) to −z₀ (at t = T): the network must say
# something about the image at every noise level, and x̂₀ = √ᾱ·z_t − √(1−ᾱ)·v̂ never divides
# (Salimans & Ho, sec. 4). For z₀ and ε of unit variance, v has unit variance at every t.

# %%
draws = draw_randomness(B, model.latent_shape(1)[1:], T, cfg.cond_dropout, torch.Generator().manual_seed(0))
t, eps, drop = draws["t"], draws["noise"], draws["drop"]  # (B,), (B, C, h, w), (B,) bool

# 1. encode the images: z₀ = mean of q(z | x) · scale factor, so z₀ has unit variance
with torch.no_grad():
    z0 = model.vae.encode_latents(batch["image"])  # (B, 3, 64, 64) -> (B, C, h, w)
# 2. noise them in closed form, DDPM eq. 4: z_t = √ᾱ_t·z₀ + √(1−ᾱ_t)·ε
alpha_bar = model.schedule.alphas_cumprod[t].float().reshape(B, 1, 1, 1)  # (B, 1, 1, 1)
z_t = alpha_bar.sqrt() * z0 + (1 - alpha_bar).sqrt() * eps  # (B, C, h, w)
# 3. the target, Salimans & Ho sec. 4: v = √ᾱ_t·ε − √(1−ᾱ_t)·z₀
v = alpha_bar.sqrt() * eps - (1 - alpha_bar).sqrt() * z0  # (B, C, h, w)
# 4. the prompt: tokens -> encoder -> context (B, L, D); the true box as a layout token; the glyph canvas
ids, mask = trim_padding(*model.tokenizer.encode(batch["caption"], model.config.max_prompt_len))  # (B, L)
context, context_mask = model.encoder(ids, mask, box=batch["box"].float())  # (B, L', D), (B, L')
cond = {"context": context, "context_mask": context_mask, "glyph": batch["glyph"]}
# 5. classifier-free guidance needs an unconditional model too: rows with drop = True get the learned null
#    prompt and an empty canvas (Ho & Salimans sec. 3.2; lesson 09 uses it)
cond = drop_condition(cond, model.null_condition(B), drop)
# 6. the network's guess and the loss: L = mean over items and latent cells of (v̂ − v)²
v_pred = model.denoise(z_t, t, cond)  # (B, C, h, w)
loss = (v_pred - v).pow(2).mean()

library_loss = diffusion_loss(model, batch, draws)
print(f"loss by hand {loss.item():.6f}, objective.diffusion_loss {library_loss.item():.6f}")
assert abs(loss.item() - library_loss.item()) <= 1e-5 * loss.item(), "the hand-written step should equal the library's"

# %% [markdown]
# Now the update: backpropagate, clip the gradient's global norm to 1, and take one AdamW step
# (Loshchilov & Hutter 2019): θ ← θ − lr·(m̂/(√ŝ + ε_adam) + λ·θ), with m̂ and ŝ the running means of the
# gradient and of its square (Adam's paper calls the second one v̂; here v̂ is already the network's prediction).
# At the very first step Adam's update is about lr·sign(gradient) for every weight, so we use a small rate
# here; the trainer warms the rate up linearly over 100 steps for the same reason.

# %%
params = list(model.encoder.parameters()) + list(model.unet.parameters())
ema = {name: copy.deepcopy(getattr(model, name)) for name in ("encoder", "unet")}  # for section 3
optimizer = torch.optim.AdamW(params, lr=1e-4, weight_decay=cfg.weight_decay)
optimizer.zero_grad(set_to_none=True)
loss.backward()                                                      # ∇θ L
grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)  # ‖∇θ L‖, rescaled to at most 1
optimizer.step()                                                     # θ ← θ − lr·AdamW(∇θ L)
with torch.no_grad():
    after_one_step = diffusion_loss(model, batch, draws)
print(f"gradient norm {grad_norm:.3f}; the same batch and draws after one step: {loss.item():.4f} -> "
      f"{after_one_step.item():.4f}")

# %% [markdown]
# ## 3. The exponential moving average (EMA) of the weights
# The weights after the last step carry the noise of the last few batches. Sampling uses an average instead:
# after every step, θ_ema ← d·θ_ema + (1 − d)·θ. A constant d would average roughly the last 1/(1−d) steps,
# but early in training that average would be dominated by the random initial weights, so the trainer warms
# the decay up: d = min(0.999, (1 + s)/(10 + s)) after step s (0.18 after the first, 0.5 at s = 8, 0.9 at
# s = 80, 0.9957 at s = 2063). The ceiling 0.999 is reached only at step 8990, after any 10-minute run: what
# the EMA holds at the end of a run is a weighted average of all its steps with the weight of step s growing
# about as s⁸ — the cell below computes it for a run of 2063 steps. Checkpoints store the EMA weights for
# sampling and keep the raw ones only to resume training.

# %%
step = 1  # the trainer counts the step just taken
decay = min(cfg.ema_decay, (1 + step) / (10 + step))
with torch.no_grad():
    for name, averaged in ema.items():
        for p_ema, p in zip(averaged.parameters(), getattr(model, name).parameters()):
            p_ema.copy_(decay * p_ema + (1 - decay) * p)  # θ_ema ← d·θ_ema + (1−d)·θ  (Trainer.update_ema)
print(f"EMA decay at step {step}: {decay:.2f}")

# How much each step's weights count in the EMA at the end of a run of S steps: step s enters with (1 − d_s)
# and is then multiplied by every later d, so its share is (1 − d_s)·d_{s+1}·…·d_S.
S = IDLE_STEPS_IN_10_MIN  # 2063
d = [min(cfg.ema_decay, (1 + k) / (10 + k)) for k in range(S + 1)]  # d_k, the decay after step k
share, later = [0.0] * (S + 1), 1.0
for k in range(S, 0, -1):
    share[k], later = (1 - d[k]) * later, later * d[k]
mean_age = sum(w * (S - k) for k, w in enumerate(share))
half = next(a for a in range(S) if sum(share[S - a:]) >= 0.5)
print(f"after {S} steps: d = {d[S]:.4f}; the EMA's weights are on average {mean_age:.0f} steps old, and half of "
      f"the average comes from the last {half} steps (a constant d = 0.999, run forever, would give 999 and 693)")

# %% [markdown]
# **Min-SNR weighting (Hang et al. 2023, arXiv 2303.09556) is off here, on purpose.** It multiplies each
# item's loss by w(t) = min(SNR_t, γ)/(SNR_t + 1) for v, with SNR_t = ᾱ_t/(1−ᾱ_t), to stop the easy low-noise
# steps from dominating. But w → 0 as t → T, and for our prompts the noisiest steps are exactly where a
# sample's colours are decided from the prompt alone: with γ = 5 the project measured colour right from
# t = 999 only 28% of the time. `TrainConfig.min_snr_gamma = 0` (the default) keeps the plain v loss;
# `train --min-snr-gamma 5` turns it on if you want to see the difference.

# %% [markdown]
# ## Exercise 1 — the v target
# Write `exercise_v_target(x0, noise, t, alphas_cumprod)`: x0 and noise are (B, C, h, w), t a (B,) LongTensor,
# alphas_cumprod the (T,) tensor ᾱ. Return v = √ᾱ_t·ε − √(1−ᾱ_t)·x₀ for each item at its own t.
# Hint: `alphas_cumprod[t]` is (B,); reshape it to (B, 1, 1, 1) and cast it to x0's dtype. Mind the order:
# ε goes with √ᾱ_t, x₀ with √(1−ᾱ_t) — swapped, the loss still falls, and the model learns the wrong thing.

# %%
def exercise_v_target(x0, noise, t, alphas_cumprod):
    raise NotImplementedError


report(checks.check_v_target, exercise_v_target, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — from the network's v̂ back to x̂₀
# A sampler needs the predicted clean latent. Since z_t = √ᾱ·x₀ + √(1−ᾱ)·ε and v = √ᾱ·ε − √(1−ᾱ)·x₀, the
# combination √ᾱ·z_t − √(1−ᾱ)·v is exactly x₀ (expand it: the ε terms cancel and ᾱ + (1−ᾱ) = 1). Write
# `exercise_x0_from_v(v, x_t, t, alphas_cumprod)` returning x̂₀ (B, C, h, w). Compare with `schedule.v_to_x0`.

# %%
def exercise_x0_from_v(v, x_t, t, alphas_cumprod):
    raise NotImplementedError


report(checks.check_x0_from_v, exercise_x0_from_v, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — one EMA update
# Write `exercise_ema_update(ema_params, params, decay)`: two lists of tensors of the same shapes and a float
# d; return a new list with θ_ema ← d·θ_ema + (1 − d)·θ for each pair (do not modify the inputs).
# Hint: which of the two should barely move when d = 0.999?

# %%
def exercise_ema_update(ema_params, params, decay):
    raise NotImplementedError


report(checks.check_ema_update, exercise_ema_update, "Exercise 3")

# %% [markdown]
# ## 4. The 10-minute recipe, with checkpoints you can sample from
# `train.train_run(preset, DIR, minutes=10, vae=...)` is what `python -m minigptimage train --preset tiny
# --minutes 10 --vae tiny_data/vae.pt --out DIR` runs: it renders and encodes the latent cache (20,000 items,
# 1 in 5 a style pair for lesson 12) once — the VAE encoder costs ~4× the U-Net per image, so caching pays —
# then measures its own speed to fix the number of steps that fit the budget, so the cosine learning-rate
# decay still ends on time. The budget includes the cache. We save a checkpoint every 250 steps to watch the
# model learn. The run's length is the one setting `MINUTES` at the top of the lesson; on a machine busy with
# other work, `BUDGET_IN_STEPS = True` trains the steps those minutes buy on an idle 2-core CPU instead (like
# `train --steps 2063`), however long they take. Each run gets a new folder, `lessons/out/lesson08_runs/run_NN`.
#
# Before training, we fix the yardstick of section 5: the **held-out loss**, the objective on batches of
# held-out text (`GlyphDataset("heldout")`: words, numbers and codes the training never sees) with t and ε
# drawn once and no prompt dropped, so the numbers compare from one checkpoint to the next.

# %%
runs = OUT / "lesson08_runs"
earlier = sorted(runs.glob("run_[0-9][0-9]*")) if runs.is_dir() else []
run_dir = runs / f"run_{1 + max((int(d.name[4:]) for d in earlier), default=0):02d}"  # a new folder every run
print(f"this run: {run_dir}" + (f" (earlier runs kept: {', '.join(d.name for d in earlier)})" if earlier else ""))
heldout = GlyphDataset("heldout", length=10**6, seed=cfg.seed)  # held-out text, never in the training stream
fixed = [(data_batch(heldout, k, 32),  # 32 held-out items, with fixed t and ε, per batch
          draw_randomness(32, model.latent_shape(1)[1:], T, 0.0, torch.Generator().manual_seed(123 + k)))
         for k in range(1 if FAST else 4)]


def held_out_loss(m: MiniGPTImage) -> float:
    """The objective on the fixed held-out batches and draws: comparable from one checkpoint to the next."""
    with torch.no_grad():
        return sum(diffusion_loss(m, b, d).item() for b, d in fixed) / len(fixed)


untrained = MiniGPTImage.from_preset(preset, seed=cfg.seed)  # the run's starting point, with the same VAE
untrained.vae.load_state_dict(model.vae.state_dict())
untrained_loss = held_out_loss(untrained)
recipe = dataclasses.asdict(cfg)  # the recipe above, field by field
# the command's own setup and loop (train.train_run); vae=: as `--vae`, no VAE phase
if FAST:
    trainer = train_run(preset, run_dir, steps=16, save_every=8, vae=model.vae, keep=1000, **recipe)
elif BUDGET_IN_STEPS:  # a busy machine: the same run as an idle one, however long it takes
    trainer = train_run(preset, run_dir, steps=round(MINUTES * IDLE_STEPS_IN_10_MIN / 10), save_every=250, vae=model.vae, keep=1000,
                        **recipe)
else:
    trainer = train_run(preset, run_dir, minutes=MINUTES, save_every=250, vae=model.vae, keep=1000, **recipe)
losses = trainer.losses
loss_curve(losses, run_dir / "loss.png", title=f"{preset}: training loss (v, one batch per step)")
bounds = [len(losses) * k // 6 for k in range(7)]  # six consecutive parts: exactly six means
means = [sum(losses[a:b]) / max(1, b - a) for a, b in zip(bounds, bounds[1:])]
print(f"{len(losses)} steps; mean training loss over each sixth of the run: " + ", ".join(f"{m:.3f}" for m in means))

# %% [markdown]
# ## 5. What each checkpoint draws, and what the reader reads
# Every checkpoint is a complete model file (`MiniGPTImage.load`). For at most six of them, evenly spread and
# the last one included: the held-out loss, then n captions per split — training-vocabulary text and held-out
# text, both colours and the place named — generated and scored exactly as `evaluate --n 50` does
# (`evaluation_samples`, `generate_in_batches`, `score_images`), so the reference row compares with the
# README. The columns are the ones the text quotes: exact word, characters, colour binding (text colour and
# background colour both as asked). The grids show the scored images with what the reader read in each.
#
# **How far to trust the reader.** Its reading is the score, and it misses some clean images too (S/s, O/o,
# 0/O look alike at 64 pixels): the first line below is its score on the clean renders of the very captions
# of the table. When a title reads "VORLD" on an image that plainly says WORLD, trust the image.

# %%
reader = GlyphReader.pretrained()
n, steps = (2, 4) if FAST else (50, 30)
splits = {split: evaluation_samples(split, n) for split in ("train", "heldout")}
clean = {split: word_accuracy(reader.read(torch.stack([s.image for s in samples])), [s.text for s in samples])
         for split, samples in splits.items()}
print(f"the reader reads {clean['train']:.0%} / {clean['heldout']:.0%} of the clean renders of these captions")


def scored(m: MiniGPTImage, label: str):
    """(held-out loss, seen score, held-out score, images, titles) for one model, as `evaluate` draws them."""
    scores, images, titles = [], [], []
    for split, samples in splits.items():
        start = time.perf_counter()
        split_images = generate_in_batches(m, [s.caption for s in samples], steps)  # (n, 3, 64, 64)
        scores.append(score_images(split_images, samples, reader, split, (time.perf_counter() - start) / n))
        images.append(split_images)
        titles += [f"{label}: {s.text} → {r or '∅'}" for s, r in zip(samples, reader.read(split_images))]
    return (held_out_loss(m), *scores, torch.cat(images), titles)


saved = checkpoint_files(run_dir)
picked = sorted({round(k * (len(saved) - 1) / 5) for k in range(6)})  # at most six, the last one included
table, shown, shown_titles = [], [], []
first = list(range(min(4, n))) + list(range(n, n + min(4, n)))  # each split's first captions, in every row
for path in [saved[k] for k in picked]:
    step_number = int(path.stem.split("_")[1])
    held_out, seen, unseen, images, titles = scored(MiniGPTImage.load(path), f"step {step_number}")
    table.append((step_number, held_out, seen, unseen))
    shown.append(images[first])
    shown_titles += [titles[k] for k in first]
image_grid(images, run_dir / "scored_last.png", titles=titles, ncols=10)  # all the last checkpoint's images
# The reference: the same recipe's model as shipped, tiny_data/minigptimage_tiny_10min.pt (2063 steps in 10
# minutes on an idle 2-core CPU) — what a 10-minute run should approach on such a machine.
reference_file = TINY_DATA / "minigptimage_tiny_10min.pt"
if not FAST and reference_file.exists():
    held_out, seen, unseen, images, titles = scored(MiniGPTImage.load(reference_file), "shipped 10-min")
    table.append(("shipped 10-min model", held_out, seen, unseen))
    shown.append(images[first])
    shown_titles += [titles[k] for k in first]
image_grid(torch.cat(shown), run_dir / "scored.png", titles=shown_titles, ncols=len(first))
print(f"n = {n} captions per split (training vocabulary / held-out text), DDIM {steps} steps, "
      f"guidance {model.config.guidance:g}")
print("| step | held-out loss | exact word | characters | colour binding |\n|---|---|---|---|---|")
print(f"| 0 | {untrained_loss:.3f} | | | |")
for step_number, held_out, seen, unseen in table:
    print(f"| {step_number} | {held_out:.3f} | {seen.word_acc:.0%} / {unseen.word_acc:.0%} | "
          f"{seen.char_acc:.0%} / {unseen.char_acc:.0%} | {seen.binding_acc:.0%} / {unseen.binding_acc:.0%} |")

# %% [markdown]
# ## Your model in the rest of the course
# Lessons 09–14 use the shipped model unless `MINIGPTIMAGE_CHECKPOINT` names a checkpoint file or a training
# folder (its newest checkpoint); the lines below print the commands for this run.

# %%
print(f"your run: {run_dir} (figures loss.png, scored.png, scored_last.png; checkpoints ckpt_*.pt)")
print(f"MINIGPTIMAGE_CHECKPOINT={run_dir} python lessons/09_classifier_free_guidance.py")
print(f"python -m minigptimage evaluate --checkpoint {run_dir} --n 50")
print(f"lesson 08 took {time.perf_counter() - started:.0f} s")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/08_training_a_text_to_image_model.py`)
# 1. The held-out loss falls but never gets near 0. Why can no network reach 0 on the v objective?
# 2. Why is the hand-written loss equal to the library's only when the draws (t, ε, dropout) are the same?
#    What would you compare if you could not share them?
# 3. Train twice as long: set `MINUTES = 20` at the top and run the lesson again (the first run is kept). Which
#    of the table's columns improves first: colour binding or exact words?

# %% [markdown]
# ## What we measured
# The hand-written step equals the library's, and training lowers the objective on held-out data.

# %%
last_loss = [row for row in table if isinstance(row[0], int)][-1][1]
print(f"held-out loss: untrained {untrained_loss:.4f}, last checkpoint {last_loss:.4f}")
assert last_loss < untrained_loss, "the diffusion loss should fall during training"

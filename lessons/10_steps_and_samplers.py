# %% [markdown]
# # Lesson 10 — steps and samplers: quality against time
#
# **Goal.** DDPM walks all T = 1000 steps of the reverse Markov chain; DDIM jumps through a subsequence of
# them with a deterministic (eta = 0) update. How few steps can we afford before the words stop reading?
# **Prerequisites.** Lessons 02 and 08. **Papers.** Ho et al. 2020 (Algorithm 2); Song et al. 2021
# (arXiv 2010.02502), eq. 12 and sec. 4.2.
#
# **What you should see.** Time per image grows linearly with the number of steps; quality rises quickly and
# then flattens, so a few tens of DDIM steps are as good as a thousand DDPM steps at a fraction of the time.
# The denoising trajectory shows the coarse layout (colours, where the word is) decided early, the letters late.

# %%
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import matplotlib.pyplot as plt

from minigptimage.evaluate import evaluate
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, output_dir, save_figure, trajectory
from minigptimage.reader import GlyphReader

OUT = output_dir(__file__)
FAST = fast_mode()
model, reader = MiniGPTImage.pretrained(), GlyphReader.pretrained()

# %% [markdown]
# ## 1. One trajectory: the predicted clean image x̂₀ along 30 DDIM steps

# %%
prompt = 'the word "SPELL" in purple on white, in the center'
images, traj = model.generate([prompt], steps=30, seed=1, return_trajectory=True)
picks = list(range(0, 30, 4)) + [29]
frames = model.decode(traj["x0_pred"][picks, 0])
trajectory(frames, [int(traj["timesteps"][k]) for k in picks], OUT / "lesson10_trajectory.png", title=prompt)

# %% [markdown]
# ## 2. Quality and time against the number of steps

# %%
step_counts = [2, 5, 10, 20] if FAST else [2, 5, 10, 20, 30, 50, 100]
n = 6 if FAST else 40
results = []
for steps in step_counts:
    start = time.perf_counter()
    seen, held = evaluate(model, n=n, steps=steps, reader=reader)
    results.append((steps, (seen.char_acc + held.char_acc) / 2, seen.seconds_per_image))
    print(f"DDIM {steps:3d} steps: characters read {results[-1][1]:.0%}, exact words "
          f"{(seen.word_acc + held.word_acc) / 2:.0%}, {results[-1][2] * 1000:.0f} ms per image")
if not FAST:
    seen, held = evaluate(model, n=n // 2, steps=model.config.num_steps, sampler="ddpm", reader=reader)
    print(f"DDPM {model.config.num_steps} steps: characters read {(seen.char_acc + held.char_acc) / 2:.0%}, "
          f"{seen.seconds_per_image * 1000:.0f} ms per image")

fig, ax = plt.subplots(1, 2, figsize=(8, 3))
ax[0].plot([r[0] for r in results], [r[1] for r in results], "o-")
ax[0].set(xscale="log", xlabel="DDIM steps", ylabel="character accuracy", title="quality")
ax[1].plot([r[0] for r in results], [r[2] * 1000 for r in results], "o-")
ax[1].set(xscale="log", yscale="log", xlabel="DDIM steps", ylabel="ms per image", title="time")
save_figure(fig, OUT / "lesson10_quality_vs_steps.png")

# %% [markdown]
# ## What we measured
# Time grows with steps (each step is one or two U-Net calls), and DDIM converges: with more steps the image
# gets closer to a many-step reference from the same starting noise (the reader's score on a handful of images
# is too noisy to assert on).

# %%
reference = model.generate([prompt], steps=50, seed=1)
distance = {n: (model.generate([prompt], steps=n, seed=1) - reference).abs().mean().item() for n in (2, 20)}
print(f"mean |x(n steps) − x(50 steps)|: 2 steps {distance[2]:.3f}, 20 steps {distance[20]:.3f}")
assert results[-1][2] > results[0][2], "more steps should cost more time"
assert distance[20] < distance[2], "DDIM with more steps should approach the many-step sample"

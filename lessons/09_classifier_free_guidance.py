# %% [markdown]
# # Lesson 09 — classifier-free guidance
#
# **Goal.** See what the guidance scale does. One network was trained both with the prompt and, 10% of the
# time, with a learned "null" prompt; at sampling time we extrapolate from the unconditional prediction
# towards the conditional one: out = out_uncond + s·(out_cond − out_uncond).
# **Prerequisites.** Lessons 02 and 08. **Paper.** Ho & Salimans 2022 (arXiv 2207.12598), eq. 6 and sec. 3.2.
#
# **What you should see.** s = 0 is the unconditional model: an image of *some* word in *some* colours. s = 1 is
# the plain conditional model. Larger s follows the prompt more closely — the reader reads more words — until
# the colours saturate and the letters burn.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import torch

from minigptimage.evaluate import evaluate
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir
from minigptimage.reader import GlyphReader
from minigptimage.samplers import classifier_free_guidance

OUT = output_dir(__file__)
FAST = fast_mode()
model, reader = MiniGPTImage.pretrained(), GlyphReader.pretrained()
print(f"the shipped model recommends guidance {model.config.guidance:g}")

# %% [markdown]
# ## 1. The formula, on one denoising step
# Guidance 1 must give exactly the conditional prediction, guidance 0 the unconditional one.

# %%
prompts = ['the word "HELLO" in red on white, in the center', '"WORLD" in blue letters on yellow, at the top']
cond, uncond = model.condition(prompts), model.null_condition(len(prompts))
x_t = torch.randn(model.latent_shape(len(prompts)), generator=torch.Generator().manual_seed(0))
t = torch.full((len(prompts),), 500)
with torch.no_grad():
    out_c, out_u = model.denoise(x_t, t, cond), model.denoise(x_t, t, uncond)
assert torch.equal(classifier_free_guidance(out_c, out_u, 1.0), out_c)
print("‖cond − uncond‖ at t=500:", (out_c - out_u).norm().item())

# %% [markdown]
# ## 2. A guidance sweep: the same prompts and seeds at several scales

# %%
scales = [0.0, 1.0, 2.0, 4.0] if FAST else [0.0, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0]
steps = 10 if FAST else 30
rows, titles = [], []
for s in scales:
    rows.append(model.generate(prompts, steps=steps, guidance=s, seed=0))
    titles += [f"s={s:g}"] * len(prompts)
image_grid(torch.cat(rows), OUT / "lesson09_guidance_grid.png", titles=titles, ncols=len(prompts) * 2)

# %% [markdown]
# ## 3. Measured: how many of the asked characters the reader reads, at each scale

# %%
n = 6 if FAST else 40
accuracy = {}
for s in scales:
    seen, held = evaluate(model, n=n, steps=steps, guidance=s, reader=reader)
    accuracy[s] = (seen.char_acc + held.char_acc) / 2
    print(f"guidance {s:4g}: characters read {accuracy[s]:.0%}, exact words {(seen.word_acc + held.word_acc) / 2:.0%},"
          f" colour {(seen.colour_acc + held.colour_acc) / 2:.0%}")
best = max(accuracy, key=accuracy.get)
print(f"best scale here: {best:g}")
assert max(accuracy[s] for s in scales if s >= 1) > accuracy[0.0], "guided samples should read better than s=0"

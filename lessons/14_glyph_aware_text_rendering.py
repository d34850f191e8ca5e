# %% [markdown]
# # Lesson 14 — why GPT-Image-1-style models can write: word tokens vs character tokens vs glyph-aware conditioning
#
# **Goal:** close the course by measuring the two claims behind legible generated text. (1) A model that sees a word
# as one token cannot spell a word it never saw — to it, every unseen word is the same ``<unk>``. (2) Seeing the
# characters helps, but drawing them is easier still when the model is also shown *where each letter's ink goes*:
# a glyph canvas (the word rendered by a font) fed to the U-Net through its own sublayers.
#
# **Prerequisites:** lessons 04 (tokenizers), 06 (the U-Net and its glyph branch), 08 (training), 10 (evaluation).
#
# **Paper section:** Imagen (Saharia et al. 2022, arXiv 2205.11487, sec. 4.4, spelling); character-aware text encoders
# (Liu et al. 2023, arXiv 2212.10562, sec. 3-4); glyph conditioning: GlyphControl (Yang et al. 2023, arXiv
# 2305.18259) and TextDiffuser (Chen et al. 2023, arXiv 2305.10855, sec. 3.2).
#
# **What you should see:**
# 1. how each tokenizer sees a held-out word: word tokens give <unk>, character tokens give its letters;
# 2. a grid: the same prompts — training-vocabulary words and never-seen words — drawn by the three variants,
#    each trained by ``python -m minigptimage train`` for the same 10-minute CPU budget (tiny_data/);
# 3. the table (exact word, characters, colour, position, seconds per image, seen and held-out words), and the
#    assertion that glyph-aware conditioning reads far better than either tokenizer alone.
# The full-size table (n = 50) is ``python -m minigptimage.benchmarks.comparison``; the README holds its figures.

# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import torch

from minigptimage.benchmarks.comparison import HEADER, VARIANT_CHECKPOINTS, VARIANTS, rows
from minigptimage.evaluate import evaluate, evaluation_samples
from minigptimage.pipeline import MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir
from minigptimage.reader import GlyphReader

torch.set_num_threads(1)
out = output_dir(__file__)
models = {name: MiniGPTImage.load(path) for name, path in VARIANT_CHECKPOINTS.items()}
reader = GlyphReader.pretrained()
n, steps = (8, 10) if fast_mode() else (50, 30)

# %% [markdown]
# ## 1. What each model reads
# The word variant's vocabulary is the words of 20,000 training captions; a held-out word is not among them.

# %%
word = evaluation_samples("heldout", 1)[0]
for name, model in models.items():
    ids, mask = model.tokenizer.encode([word.caption], model.config.max_prompt_len)
    tokens = model.tokenizer.tokens(ids[0][mask[0]].tolist())
    print(f"{VARIANTS[name]:32s} {len(tokens):3d} tokens: {' '.join(tokens)[:110]}")

# %% [markdown]
# ## 2. Side by side
# Four captions with training-vocabulary words, four with words no model saw in training; same seed for all.

# %%
samples = evaluation_samples("train", 4) + evaluation_samples("heldout", 4)
prompts = [s.caption for s in samples]
grid = torch.cat([model.generate(prompts, steps=steps, seed=0) for model in models.values()])  # (3·8, 3, 64, 64)
titles = [f"{name}: {s.text}{' (new)' if k >= 4 else ''}" for name in models for k, s in enumerate(samples)]
image_grid(grid, out / "14_variants.png", ncols=8, titles=titles)

# %% [markdown]
# ## 3. The table
# `evaluate` generates n captions per split, reads them with the glyph reader and names colour and region.

# %%
print(f"n = {n} per split, DDIM {steps} steps\n{HEADER}")
scores = {}
for name, model in models.items():
    scores[name] = {s.split: s for s in evaluate(model, n=n, steps=steps, reader=reader)}
    print("\n".join(rows(name, scores[name].values())))

# Characters read, seen and held-out words together (n is small in the fast mode: one split alone is noisy).
chars = {name: (s["train"].char_acc + s["heldout"].char_acc) / 2 for name, s in scores.items()}
assert chars["tiny"] > max(chars["tiny-word"], chars["tiny-noglyph"]) + 0.15, chars

"""Lesson 04 — tokenizers: character tokens spell a word; word tokens turn an unseen word into <unk>.

Goal: see why a text-to-image model that must draw a word needs to see its letters.
Prerequisites: lesson 03 (the captions of the glyph dataset).
Paper section: Liu et al. 2023, "Character-Aware Models Improve Visual Text Rendering" (arXiv:2212.10562,
§3–4): models whose text encoder sees characters (ByT5, arXiv:2105.13626) spell far better than those
whose tokens are whole words or subwords (T5, CLIP).
What you should see:
  1. the same caption as character tokens (long, every letter visible) and as word tokens (short);
  2. a held-out word — never in a training caption — is spelled out by the character tokenizer and becomes
     a single <unk> for the word tokenizer: the model is told "draw some word", not which;
  3. how the word vocabulary grows with the number of training captions, and how many training words it
     still misses: a word vocabulary never covers what users will type.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import matplotlib.pyplot as plt
import numpy as np

from minigptimage import layout
from minigptimage.glyphs import MAX_CAPTION_CHARS, GlyphDataset
from minigptimage.plots import fast_mode, output_dir, save_figure
from minigptimage.tokenizer import CharTokenizer, WordTokenizer

out = output_dir(__file__)
n_train = 1000 if fast_mode() else 20000
train_set = GlyphDataset("train", n_train, seed=0)
train_captions = [train_set.caption(i) for i in range(n_train)]  # captions only: no rendering
heldout = [GlyphDataset("heldout", 50, seed=0)[i] for i in range(50)]

chars = CharTokenizer()
words = WordTokenizer.from_texts(train_captions)
print(f"character vocabulary: {chars.vocab_size} tokens (fixed); word vocabulary: {words.vocab_size} tokens "
      f"(from {n_train} captions)")

# %% [markdown]
# ## 1. One held-out caption, two ways

# %%
caption = heldout[0].caption
c_ids, c_mask = chars.encode([caption], MAX_CAPTION_CHARS + 2)
w_ids, w_mask = words.encode([caption], 24)
c_tokens = chars.tokens(c_ids[0][c_mask[0]])
w_tokens = words.tokens(w_ids[0][w_mask[0]])
print(caption)
print("char :", c_tokens)
print("word :", w_tokens)
print("char decode:", chars.decode(c_ids[0]))
print("word decode:", words.decode(w_ids[0]))

fig, axes = plt.subplots(2, 1, figsize=(min(24, 0.3 * len(c_tokens) + 1), 2.6))
for ax, tokens, ids, name in ((axes[0], c_tokens, c_ids[0][c_mask[0]], "CharTokenizer"),
                              (axes[1], w_tokens, w_ids[0][w_mask[0]], "WordTokenizer")):
    unk = np.array([t == "<unk>" for t in tokens])
    ax.imshow(np.where(unk, np.nan, ids.numpy() % 9)[None], cmap="Pastel1", vmin=0, vmax=8, aspect="auto")
    for k, (tok, i) in enumerate(zip(tokens, ids.tolist())):
        ax.text(k, 0, f"{tok}\n{i}", ha="center", va="center", fontsize=5,
                color="red" if tok == "<unk>" else "black")
    ax.set_yticks([])
    ax.set_xticks([])
    ax.set_title(f"{name}: {len(tokens)} tokens", fontsize=8)
save_figure(fig, out / "04_token_strips.png")

# %% [markdown]
# ## 2. All held-out words: spelled out, or lost

# %%
unk_words = sum(words.encode([s.caption], 32)[0][0].tolist().count(words.unk_id) for s in heldout)
char_exact = sum(chars.decode(chars.encode([s.caption], MAX_CAPTION_CHARS + 2)[0][0]) == s.caption for s in heldout)
print(f"held-out captions: {unk_words}/{len(heldout)} quoted words become <unk> for the word tokenizer; "
      f"{char_exact}/{len(heldout)} decode exactly from character tokens")

# %% [markdown]
# ## 3. Coverage: the word vocabulary grows with the data and still misses words

# %%
probe_set = GlyphDataset("train", 200, seed=99)  # fresh draws from the training words
probe = [layout.parse_prompt(probe_set.caption(i)).text for i in range(200)]
sizes = [n_train // 16, n_train // 4, n_train]
missed = []
for n in sizes:
    vocab = WordTokenizer.from_texts(train_captions[:n])
    missed.append(np.mean([vocab.index.get(w) is None for w in probe]))
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(sizes, missed, "o-")
ax.set_xscale("log")
ax.set_xlabel("training captions used to build the vocabulary")
ax.set_ylabel("fraction of new training words → <unk>")
ax.set_ylim(0, 1)
save_figure(fig, out / "04_word_coverage.png")
print("captions → fraction of words unseen:", dict(zip(sizes, np.round(missed, 3))))

assert unk_words == len(heldout) and char_exact == len(heldout)
assert w_tokens.count("<unk>") == 1 and "".join(c_tokens[1:-1]) == caption and len(c_tokens) > 2 * len(w_tokens)
assert missed[0] > missed[-1]

# %% [markdown]
# # Lesson 04 — tokenizers: character tokens spell a word; word tokens turn an unseen word into <unk>
#
# **Goal:** see why a text-to-image model that must draw a word needs to see its letters — and why the models
# of this project use a *hybrid*: whole tokens for the prompt's own words, letters for the text to draw.
#
# **Prerequisites:** lesson 03 (the captions of the glyph dataset).
#
# **Paper section:** Liu et al. 2023, "Character-Aware Models Improve Visual Text Rendering" (arXiv:2212.10562,
# §3–4): models whose text encoder sees characters (ByT5, arXiv:2105.13626) spell far better than those
# whose tokens are whole words or subwords (T5, CLIP).
#
# **What you should see:**
# 1. the same caption as character tokens (long, every letter visible) and as word tokens (short);
# 2. held-out text — never in a training caption — is spelled out by the character tokenizer and becomes
#    <unk> for the word tokenizer: the model is told "draw some word", not which;
# 3. how the word vocabulary grows with the number of training captions, and how many new texts it still
#    misses: a word vocabulary never covers what users will type;
# 4. the hybrid `CharTokenizer(PROMPT_WORDS)`: colour, place and grammar words outside the quotes are one token
#    each, the quoted text is always spelled — captions about half as long as with characters, nothing lost;
# 5. three exercises: encode with character ids, decode, and the hybrid tokenizer's pieces.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import importlib

import matplotlib.pyplot as plt
import numpy as np

from lessons.checks import report
from minigptimage import layout
from minigptimage.glyphs import MAX_CAPTION_CHARS, GlyphDataset
from minigptimage.plots import fast_mode, output_dir, save_figure
from minigptimage.tokenizer import PROMPT_WORDS, CharTokenizer, WordTokenizer

checks = importlib.import_module("lessons.checks.04_tokenizers")
out = output_dir(HERE / "04_tokenizers.py")
n_train = 1000 if fast_mode() else 20000
train_set = GlyphDataset("train", n_train, seed=0)
train_captions = [train_set.caption(i) for i in range(n_train)]  # captions only: no rendering
heldout = [GlyphDataset("heldout", 50, seed=0, lengths=(3, 10))[i] for i in range(50)]  # 1-2 characters are shared

chars = CharTokenizer()
words = WordTokenizer.from_texts(train_captions)
print(f"character vocabulary: {chars.vocab_size} tokens (fixed); word vocabulary: {words.vocab_size} tokens "
      f"(from {n_train} captions)")

# %% [markdown]
# ## 1. One held-out caption, two ways

# %%
caption = heldout[1].caption  # (the first draw is a word unfit for a classroom slide; WORDS.md)
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
# ## 2. All held-out texts: spelled out, or lost
# The held-out split holds words, numbers and codes that no training caption contains (lesson 03); its texts
# come in every kind — upper, lower, capitalised, two words, digits, codes.

# %%
def quoted_tokens(tokenizer, caption):
    tokens = tokenizer.tokens(tokenizer.encode([caption], MAX_CAPTION_CHARS + 2)[0][0])
    first = tokens.index('"')
    return tokens[first + 1:tokens.index('"', first + 1)]


lost = sum("<unk>" in quoted_tokens(words, s.caption) for s in heldout)
char_exact = sum(chars.decode(chars.encode([s.caption], MAX_CAPTION_CHARS + 2)[0][0]) == s.caption for s in heldout)
print(f"held-out captions: in {lost}/{len(heldout)} the quoted text holds an <unk> for the word tokenizer; "
      f"{char_exact}/{len(heldout)} decode exactly from character tokens")
for s in heldout[1:5]:
    print(f"  {s.text!r:>14}: word tokens {quoted_tokens(words, s.caption)}")

# %% [markdown]
# ## 3. Coverage: the word vocabulary grows with the data and still misses words
# Fresh captions drawn from the *training* split: how many of their quoted texts contain a word the vocabulary
# never saw (in this case and spelling — "Hello" and "HELLO" are different word tokens)?

# %%
probe_set = GlyphDataset("train", 200, seed=99)  # fresh draws from the training words, numbers and codes
probe = [layout.parse_prompt(probe_set.caption(i)).text.split()[0] for i in range(200)]
sizes = [n_train // 16, n_train // 4, n_train]
missed = []
for n in sizes:
    vocab = WordTokenizer.from_texts(train_captions[:n])
    missed.append(np.mean([vocab.index.get(w) is None for w in probe]))
fig, ax = plt.subplots(figsize=(4, 3))
ax.plot(sizes, missed, "o-")
ax.set_xscale("log")
ax.set_xlabel("training captions used to build the vocabulary")
ax.set_ylabel("fraction of new training texts → <unk>")
ax.set_ylim(0, 1)
save_figure(fig, out / "04_word_coverage.png")
print("captions → fraction of words unseen:", dict(zip(sizes, np.round(missed, 3))))


# %% [markdown]
# ## 4. The hybrid tokenizer the models use: `CharTokenizer(PROMPT_WORDS)`
# Characters can spell anything, but they make the encoder's job harder everywhere *else* in the prompt: the
# colour "yellow" is six tokens that the encoder must first assemble into one idea, and a caption is ~60 tokens
# (attention costs grow with the square of the length). Word tokens are the opposite. The hybrid takes the
# best of each: the words of the caption grammar (`PROMPT_WORDS`: colours, places, "the", "word", "sign", …)
# become one token each *outside* the double quotes; everything else — above all the quoted text — is spelled
# character by character, so no text is ever <unk>. (Measured by the project when it was introduced: with
# characters only, the tiny model mixed up the text and background colours after 10 minutes of training;
# with whole colour words it did not — see `minigptimage/tokenizer.py`.)

# %%
hybrid = CharTokenizer(PROMPT_WORDS)
print(f"hybrid vocabulary: {hybrid.vocab_size} tokens = 99 characters and specials + {len(PROMPT_WORDS)} prompt words")
for text in (caption, 'the word "red" in blue on a white background, at the top'):
    h_ids, h_mask = hybrid.encode([text], MAX_CAPTION_CHARS + 2)
    print(hybrid.tokens(h_ids[0][h_mask[0]]))
lengths = {name: np.mean([int(tok.encode([c], MAX_CAPTION_CHARS + 2)[1].sum()) for c in train_captions[:500]])
           for name, tok in (("characters", chars), ("hybrid", hybrid))}
lengths["words"] = np.mean([int(words.encode([c], 64)[1].sum()) for c in train_captions[:500]])
hybrid_exact = sum(hybrid.decode(hybrid.encode([s.caption], MAX_CAPTION_CHARS + 2)[0][0]) == s.caption for s in heldout)
hybrid_spelled = sum("".join(quoted_tokens(hybrid, s.caption)) == s.text for s in heldout)
print("mean tokens per caption (with <bos>, <eos>):", {k: round(float(v), 1) for k, v in lengths.items()})
print(f"hybrid: {hybrid_exact}/{len(heldout)} held-out captions decode exactly, "
      f"{hybrid_spelled}/{len(heldout)} quoted texts are spelled letter by letter")

# %% [markdown]
# ## Exercise 1 — encode with character ids
# Write `exercise_encode(texts, max_len)` for the plain `CharTokenizer()`: each character ch becomes the id
# ord(ch) − 28 (' ' → 4 … '~' → 98); each row is <bos>=1, the ids, <eos>=2, then <pad>=0 up to max_len. Return
# (ids LongTensor (B, max_len), mask BoolTensor (B, max_len), True on the real tokens, <bos> and <eos> included).

# %%
def exercise_encode(texts, max_len):
    raise NotImplementedError


report(checks.check_encode, exercise_encode, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — decode
# Write `exercise_decode(ids)`: ids is a 1-D LongTensor from `CharTokenizer().encode` (specials included).
# Return the text, dropping <pad>, <bos>, <eos> and <unk> (ids 0–3). Hint: chr(id + 28).

# %%
def exercise_decode(ids):
    raise NotImplementedError


report(checks.check_decode, exercise_decode, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the hybrid tokenizer's pieces
# Write `exercise_hybrid_pieces(text, words)` returning the list of token strings (no specials) that
# `CharTokenizer(words)` makes of `text`: split the text into runs of letters and single other characters
# (`re.findall(r"[A-Za-z]+|[^A-Za-z]", text)`); a run that is in `words` and *outside* the double quotes is one
# token, anything else is spelled out character by character. Hint: flip a `quoted` flag at every '"'.

# %%
def exercise_hybrid_pieces(text, words):
    raise NotImplementedError


report(checks.check_hybrid_pieces, exercise_hybrid_pieces, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/04_tokenizers.py`)
# 1. Why must the hybrid tokenizer spell a prompt word when it is *inside* the quotes ('the word "red"')?
# 2. A user types 'the word "CAT" in crimson'. What does each tokenizer make of "crimson", and what will the
#    model draw?
# 3. Subword tokenizers (BPE) sit between words and characters. Why do they still spell badly? (Liu et al. §3.)

# %%
assert lost == len(heldout) and char_exact == len(heldout)
assert "".join(c_tokens[1:-1]) == caption and len(c_tokens) > 2 * len(w_tokens)
assert missed[0] > missed[-1]
assert hybrid_exact == len(heldout) and hybrid_spelled == len(heldout)
assert lengths["words"] < lengths["hybrid"] < 0.75 * lengths["characters"], lengths

# %% [markdown]
# # Lesson 15 — prompts, paraphrases and positions: does the model follow a prompt as a person types it?
#
# **Goal:** find out why a model that drew its training captions well swapped the text and background colours
# as soon as a prompt was phrased as a person types it, or asked for a long word — and measure the fix. (1) The
# failure, and the hypothesis: learned absolute positions. (2) The caption grammar that replaced four fixed
# templates: many phrasings, a held-out family of phrasings never trained on, six kinds of text of 1–10
# characters. (3) Rotary positions with the quoted text counted as one position, and a segment embedding that
# marks the quoted text. (4) The benchmark that asks, family by family, whether the model follows the prompt.
# (5) What the shipped model does with paraphrases, a prompt outside the grammar and a long word.
#
# **Prerequisites:** lessons 04 (the hybrid tokenizer), 05 (attention, rotary positions, `text_positions`), 10
# and 14 (evaluation: the glyph reader, and the colours and place read off the pixels).
#
# **Paper section:** Vaswani et al. 2017 (arXiv 1706.03762) sec. 3.5: learned and sinusoidal position
# embeddings, chosen in the hope that the model "extrapolate[s] to sequence lengths longer than the ones
# encountered during training"; Su et al. 2021, RoFormer (arXiv 2104.09864) sec. 3.2 and eq. 34: rotary
# positions, whose score q_m·k_n depends on the offset m − n only; Devlin et al. 2019, BERT (arXiv
# 1810.04805) sec. 3: segment embeddings; Press et al. 2022, ALiBi (arXiv 2108.12409): "train short, test
# long", the same question for language models.
#
# **What you should see:**
# 1. the failure's numbers, quoted from the issue that found it, and why the colours
#    can only come through the prompt encoder (the glyph canvas has one channel: the letters, not their colour);
# 2. the grammar: 281 forms (five frames, and a few with the place first), 221 for training, 60 held out by a
#    hash; captions of one image in both families; captions composed from parts in any order, and the
#    held-out connectives no training caption uses; prompts typed in any case, with stray spaces, "!!" or
#    single quotes, read as one request; one render of each kind of text (`15_text_kinds.png`);
# 3. where the colour words sit for words of 2 to 10 letters: with learned positions "red" moves one place per
#    letter, past every place a 2–6 letter word put it in this form; with `text_positions` it stays put
#    (`15_positions.png`); a rotary score unchanged to ~1e-14 (rounding) when both positions shift, while an
#    additive position table's scores change by more than their own size; the quoted span of a caption with
#    colour words inside its quotes, marked by its segment;
# 4. the benchmark's by-length figure, learned against rotary positions (`15_prompts_by_length.png`: rotary
#    binds colours 57–70% at every length, learned 27–37%, neither falls with length), and a live run of the
#    benchmark on the shipped model — exact word, characters, colour binding, swaps, position per family, and
#    how often the reader reads the clean renders of the same texts (its own misses: the floor under "exact
#    word") — with every scored image shown beside its reading (`15_benchmark_samples.png`);
# 5. the shipped model on paraphrases of one prompt, a prompt outside the grammar, colour words inside the
#    quotes and a long word, each read back (`15_paraphrases.png`).
#
# Measured in full mode on 2026-12-06 with the shipped model (rotary, 15,000 steps of 32 on the 32×32×4
# latent) and the wide reader, n = 20 per family — colour binding / swapped: training phrasings 100% / 0%,
# held-out phrasings 100% / 0%, held-out vocabulary 90% / 10%, 7–10 characters 100% / 0%, lower case and
# digits 100% / 0%, two words 95% / 0%; exact word 100%, 100%, 100%, 65%, 90%, 95% (the reader reads 100% of
# the clean renders of every family). All eight prompts of section 5 come out bound and read exactly: HELLO,
# "blue sky", 2024 and ABDICATION in both forms. (The model shipped before it, the same 15,000 steps on the
# 16×16×8 latent, bound 85–95% and read 95, 95, 95, 45, 75, 75% exactly, and swapped the list form "white
# background, red text: …": the finer latent spells long words better, and the colours bind as often or
# more.)
#
# Every number in the text below the failure's table comes from what the lesson prints, except the by-length
# figure's; the full-size table is `python -m minigptimage.benchmarks.prompts` (n = 50 per family) and the
# by-length figure is `python -m minigptimage.benchmarks.prompts --by-length --n 30 --checkpoint A.pt
# --checkpoint B.pt`.

# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import hashlib
import importlib
import time

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import torch

from lessons.checks import report
from minigptimage import captions, composed_captions, layout
from minigptimage.attention import rotary
from minigptimage.benchmarks.prompts import FAMILIES, family_samples
from minigptimage.encoder import quoted_tokens, text_positions
from minigptimage.evaluate import generate_in_batches, score_images
from minigptimage.glyphs import TEXT_KINDS, GlyphDataset, load_words
from minigptimage.pipeline import PRETRAINED, MiniGPTImage
from minigptimage.plots import fast_mode, image_grid, output_dir, save_figure
from minigptimage.reader import GlyphReader
from minigptimage.scoring import background_colour, glyph_colour, glyph_position, word_accuracy
from minigptimage.tokenizer import normalize_prompt

checks = importlib.import_module("lessons.checks.15_prompts_paraphrases_and_positions")
out = output_dir(HERE / "15_prompts_paraphrases_and_positions.py")
model, reader = MiniGPTImage.pretrained(), GlyphReader.pretrained()
tokenizer = model.tokenizer
steps = 8 if fast_mode() else 30

# %% [markdown]
# ## 1. The failure
# The first shipped model was trained on four fixed caption templates ('the word "CAT" in red on white, at the
# top left' and three like it) and on upper-case words of 2–6 letters. It wrote those well. Then someone typed
# `a sign that says "HELLO" in red letters on a white background` and got white letters on red, and every word
# of 7–10 letters tried came out with its colours swapped too. Measured on the benchmark of section 4 (n = 40
# held-out texts per family, DDIM 30, guidance 2; exact word read by the previous reader; that model's file has
# since been replaced, it stays in the git history):
#
# | family | exact word | colour binding (text *and* background right) |
# |---|---|---|
# | training phrasings | 75% | 42% |
# | held-out phrasings | 75% | 55% |
# | 7–10 characters | 30% | 38% |
# | lower case and digits | 40% | 38% |
# | two words | 60% | 57% |
#
# Two things stand out. The word is right far more often than its colours. And the colours fail in every family:
# none of these phrasings is one of the four templates, not even the "training phrasings" of the new grammar
# (question 1), and the long words and the lower case were new as well — these numbers alone do not tell the
# phrasing from the length; section 4's by-length figure separates them.
#
# Where does each part of a prompt go? The planner reads the quoted text and the place (`layout.parse_prompt`),
# and the glyph canvas it renders has *one* channel: it shows the U-Net where the letters' ink goes, not its
# colour. The colours reach the image only through the prompt encoder's context tokens. So a swap is the
# encoder (and the U-Net's cross-attention to it) mistaking which colour word names the letters.
#
# **Hypothesis:** learned absolute positions. The first encoder added a learned vector per token index. In four
# templates the text colour always sat at a handful of indices, so "the colour word at this index is the
# letters'" is a rule that fits the training data as well as "the colour word after *in* is the letters'". A
# longer quoted word shifts every later token by one index per letter — to indices where the training data
# never put a colour word — and a new phrasing moves them anywhere.

# %%
prompt = 'a sign that says "HELLO" in red letters on a white background'
asked = layout.parse_prompt(prompt)
canvas = layout.canvas_for_prompts([prompt], model.config.image_size)  # (1, 1, H, W)
cfg = model.config.encoder
print(f"the planner reads: text {asked.text!r}, text colour {asked.text_color}, background {asked.background}")
print(f"the glyph canvas: {tuple(canvas.shape)} — one channel, so no colour")
print(f"the shipped model's encoder: positions={cfg.positions!r}, segments={cfg.segments}")

# %% [markdown]
# ## 2. The caption grammar
# The fix starts with the data. `minigptimage/captions.py` writes a caption as a *form* — a sentence frame with
# its wording fixed — filled with the text, the two colours and a place phrase (`fill`). Forms come from five
# frames (`FRAMES`) and a few that put the place first; either colour or the place may be left out; places
# have synonyms; punctuation and capitals vary. `random_caption` draws one for an image, one draw of the
# generator per choice. About one form in four is **held out** by a hash of its string (the rule the word lists
# use: sha256, first byte mod 4 == 0): built from pieces training sees, in a combination it never sees, so a
# score on them measures understanding, not memory.

# %%
print(f"{len(captions.all_forms())} forms: {len(captions.forms('train'))} for training, "
      f"{len(captions.forms('heldout'))} held out")
for name, frame in captions.FRAMES.items():
    print(f"  {name:34s} {len(frame()):3d} forms, e.g. {frame()[-1]!r}")
place_first = [f for f in captions.all_forms() if f.startswith("{where_first}")]
print(f"  {'place first':34s} {len(place_first):3d} forms, e.g. {place_first[0]!r}")
for form in (captions.forms("train")[0], captions.forms("heldout")[0]):
    byte = hashlib.sha256(form.encode()).digest()[0]
    print(f"  {form!r}: first byte {byte}, {byte} mod 4 = {byte % 4} → "
          f"{'held out' if captions.is_heldout(form) else 'training'}")
rng = np.random.default_rng(0)
for split in ("train", "heldout"):
    print(f"\nthe same image (HELLO, red on white, top left) in the {split} family:")
    for _ in range(4):
        print("  " + captions.random_caption(rng, split, "HELLO", "red", "white", "top left"))

# %% [markdown]
# People also put the parts in their own order: 'white on red: "STOP"', 'green text on white that says "LEAF"'.
# So a share of the training captions (`captions.COMPOSED_SHARE`) is **composed from parts** — the text, its
# colour, the background and the place, in any of the 24 orders — each part in a phrase that names its own
# colour ("in red", "red letters", "over a white background", "background: white"), joined by a comma, colon,
# dash, full stop, parentheses, or a linking word ("with", "using", "that says"). The order then says nothing
# about which colour is which; only the words next to each colour do. A fixed list of connectives,
# `composed_captions.CONNECTIVES["heldout"]`, appears in no training caption: the family "heldout-connectives" asks in
# every order, with connectives the model never saw.
#
# And people type as they type: capitals, stray spaces, "!!", a full stop, single quotes.
# `tokenizer.normalize_prompt` decides once what all of these mean — every spelling below is the same request
# for `layout.parse_prompt` — and the quoted text is kept exactly as typed.

# %%
for family in ("train", "heldout"):
    print(f"composed, {family} connectives:")
    for _ in range(3):
        print("  " + composed_captions.composed_caption(rng, family, "HELLO", "red", "white",
                                                          captions.PLACES["top left"]))
print("held-out connectives:", composed_captions.CONNECTIVES["heldout"])
typed = ['the word "SKY" in white on blue', 'The Word "SKY" In White On Blue.', "the word 'SKY'  in WHITE on blue!!"]
requests = {(p.text, p.text_color, p.background) for p in map(layout.parse_prompt, typed)}
for t in typed:
    print(f"{t!r:45s} → {normalize_prompt(t)!r}")
print("requests:", requests)

# %% [markdown]
# The text changed too: six kinds (`glyphs.TEXT_KINDS`, with their share of the training mixture), 1–10
# characters each — upper case, lower case, title case, two words, numbers and codes such as R2D2. Held-out
# words, numbers and codes follow the same hash rule on the string.

# %%
kind_items = [GlyphDataset("train", 6, seed=1, text_kind=kind)[k] for k, kind in enumerate(TEXT_KINDS)]
for kind, item in zip(TEXT_KINDS, kind_items):
    print(f"{kind:10s} {TEXT_KINDS[kind]:.0%} of training: {item.text!r:13s} in {item.caption!r}")
image_grid(torch.stack([s.image for s in kind_items]), out / "15_text_kinds.png", ncols=6,
           titles=[f"{kind}: {s.text}" for kind, s in zip(TEXT_KINDS, kind_items)])

# %% [markdown]
# ## 3. Positions
# ### Where the colour words sit
# One form, one word per length from 2 to 10 letters. With learned positions a token's position is its index;
# with rotary positions it is `text_positions`: every token outside the quotes advances the count by 1, each
# of the quoted span's n tokens (the quote marks included, found by `quoted_tokens`) by 1/n — the whole span
# counts as one position.

# %%
form = 'a sign that says "{}" in red letters on a white background'
words = ["GO", "CAT", "LAMP", "HELLO", "PLANET", "KITCHEN", "ELEPHANT", "CHOCOLATE", "BASKETBALL"]
ids, mask = tokenizer.encode([form.format(w) for w in words], model.config.max_prompt_len)  # (9, L)
quoted = quoted_tokens(ids, tokenizer.quote_id) & mask  # (9, L) the quoted span
rotary_pos = text_positions(quoted)  # (9, L)
where = {}  # word -> (index of "red", index of "white", rotary position of "red", of "white")
print("letters  word        'red' index  'white' index   'red' position  'white' position")
for b, word in enumerate(words):
    tokens = tokenizer.tokens(ids[b])
    red, white = tokens.index("red"), tokens.index("white")
    where[word] = (red, white, rotary_pos[b, red].item(), rotary_pos[b, white].item())
    print(f"{len(word):7d}  {word:10s}  {red:11d}  {white:13d}  {where[word][2]:14g}  {where[word][3]:16g}")
learned_spread = max(w[0] for w in where.values()) - min(w[0] for w in where.values())
rotary_spread = max(w[2] for w in where.values()) - min(w[2] for w in where.values())

fig, ax = plt.subplots(figsize=(5.5, 3.2))
lengths = [len(w) for w in words]
ax.axvspan(1.7, 6.3, color="0.9", label="the first data's words (2–6 letters)")
ax.plot(lengths, [where[w][0] for w in words], marker="o", label='learned: index of "red"')
ax.plot(lengths, [where[w][2] for w in words], marker="s", label='rotary: text_positions of "red"')
ax.set(xlabel="letters in the quoted word", ylabel="position", title=form.format("…"))
ax.title.set_fontsize(7)
ax.legend(fontsize=7)
save_figure(fig, out / "15_positions.png")

# %% [markdown]
# ### Rotary scores depend on the offset only
# RoPE rotates the channel pairs (x_2i, x_2i+1) of every query and key by the angle position·θ_i,
# θ_i = 10000^(−2i/d) (`attention.rotary`). A rotation by m·θ then one by −n·θ is one by (m − n)·θ, so
# q_m·k_n depends on m − n only: shift both positions by the same s and every score stays. An additive table
# (the learned positions, e_m added to the token before the projections) has no such property.

# %%
g = torch.Generator().manual_seed(0)
T, d, shift = 12, 32, 7.5
q, k = torch.randn(2, 1, 1, T, d, generator=g, dtype=torch.float64)  # (B=1, H=1, T, d) each
pos = torch.arange(T, dtype=torch.float64)[None]  # (1, T)
scores = rotary(q, pos) @ rotary(k, pos).transpose(-2, -1)  # (1, 1, T, T)
shifted = rotary(q, pos + shift) @ rotary(k, pos + shift).transpose(-2, -1)
rotary_change = (scores - shifted).abs().max().item()
table = 0.5 * torch.randn(T + 8, d, generator=g, dtype=torch.float64)  # a learned position table e_m
additive = (q + table[:T]) @ (k + table[:T]).transpose(-2, -1)
additive_shifted = (q + table[8:]) @ (k + table[8:]).transpose(-2, -1)  # every position moved by 8
additive_change = (additive - additive_shifted).abs().max().item()
print(f"rotary:   max |score change| when both positions shift by {shift}: {rotary_change:.1e}")
print(f"additive: max |score change| when both positions shift by 8:   {additive_change:.2f} "
      f"(scores of size {additive.abs().mean():.2f})")

# %% [markdown]
# ### The quoted span and the segment embedding
# With rotary positions the encoder also adds a *segment* embedding (BERT's): one learned vector for the
# prompt's words, another for the quoted span, so every layer knows which tokens are the text to draw. Below, a
# two-word text that begins with a colour word: inside the quotes the hybrid tokenizer spells it letter by letter
# (it is not the token "blue"), the span is segment 1, and its ten tokens share the one position from 5 to 6.

# %%
two = 'the text "blue sky" in yellow on a purple background'
two_ids, two_mask = tokenizer.encode([two], 64)  # (1, 64)
two_quoted = quoted_tokens(two_ids, tokenizer.quote_id) & two_mask  # (1, 64)
two_positions = text_positions(two_quoted)  # (1, 64)
n_real = int(two_mask.sum())
print(" ".join(f"{tok}|{int(seg)}@{p:.3g}" for tok, seg, p in
               zip(tokenizer.tokens(two_ids[0, :n_real]), two_quoted[0, :n_real], two_positions[0, :n_real])
               if tok != " "))
print("(token|segment@position; segment 1 = the quoted span, spaces not shown)")

# %% [markdown]
# ## 4. The measurement
# `python -m minigptimage.benchmarks.prompts` asks for held-out text in five families, each different from the
# first in one thing: training phrasings, held-out phrasings, 7–10 characters, lower case and digits, two
# words. Every caption names both colours and the place, and the glyph reader and `scoring.py` read the word,
# the two colours and the region back. The `--by-length` figure draws colour binding and exact word against the
# word's length (30 held-out upper-case words per length, training phrasings) for two models trained on the
# new data with the same recipe and seed for 2588 steps of 32 — one with learned positions, one with rotary
# positions — and the long model shipped then (7158 steps; all three in the git history). The result: **rotary
# positions bind colours about twice as often at every length** (57–70% against 27–37%, chance ~5%), and
# **neither falls with length** — this data has words of up to 10 letters, so no length is new to either
# model: the figure compares the two kinds of position at lengths both were trained on, not past them. Exact word falls with length for both 2588-step
# models alike: spelling a long word is a matter of training time, not of positions.

# %%
figure = matplotlib.image.imread(Path(PRETRAINED).parent / "prompts_by_length.png")
fig, ax = plt.subplots(figsize=(9, 3.6))
ax.imshow(figure)
ax.axis("off")
ax.set_title("tiny_data/prompts_by_length.png (benchmarks.prompts --by-length)", fontsize=8)
save_figure(fig, out / "15_prompts_by_length.png")

# %% [markdown]
# The same benchmark, small and live, on the shipped model. From the colours the pixels show (text, background)
# we recompute the colour binding — both as asked — and check it against `score_images`'; and we count the
# **swaps**: images whose text has the background's colour and whose background has the text's — the failure
# itself. The last column reads the dataset's clean render of each asked text: **how far to trust the reader**
# (S/s, O/o, 0/O look alike at 64 pixels, so it misses some clean images too — a generated image it misreads
# may still say the word: look at the grid). (The fast mode runs 2 prompts of two families with 8 steps: its
# numbers are not a measurement.)

# %%
def verdict(drawn, color, background):
    """'bound' when the drawn (text, background) colours are the asked ones, 'swapped' when each is the other's."""
    return "bound" if drawn == (color, background) else "swapped" if drawn == (background, color) else "wrong"


families = ["training phrasings", "7–10 characters"] if fast_mode() else list(FAMILIES)
n = 2 if fast_mode() else 20
print(f"{PRETRAINED.name}: {cfg.positions} positions, segments {cfg.segments}; n = {n} held-out prompts per "
      f"family, DDIM {steps}, guidance {model.config.guidance:g}\n")
print("| family | exact word | characters | colour binding | swapped | position | s/image | reader on clean |\n"
      + "|---" * 8 + "|")
bench, shown, shown_titles = {}, [], []
for name in families:
    samples = family_samples(name, n)
    start = time.perf_counter()
    images = generate_in_batches(model, [s.caption for s in samples], steps)  # (n, 3, H, W)
    score = score_images(images, samples, reader, name, (time.perf_counter() - start) / n)
    drawn = [(glyph_colour(im), background_colour(im)) for im in images]  # (text, background) the pixels show
    verdicts = [verdict(d, s.color, s.background) for d, s in zip(drawn, samples)]
    assert abs(verdicts.count("bound") / n - score.binding_acc) < 1e-9, (verdicts, score)  # = the score's binding
    bench[name] = (score, verdicts.count("swapped") / n)
    clean_acc = word_accuracy(reader.read(torch.stack([s.image for s in samples])), [s.text for s in samples])
    print(f"| {name} | {score.word_acc:.0%} | {score.char_acc:.0%} | {score.binding_acc:.0%} | "
          f"{bench[name][1]:.0%} | {score.position_acc:.0%} | {score.seconds_per_image:.3f} | {clean_acc:.0%} |",
          flush=True)
    read = reader.read(images)
    shown.append(images)  # every scored image, titled: asked text → read, and the colours' verdict
    shown_titles += [f"{s.text} → {r or '∅'} {v}" for s, r, v in zip(samples, read, verdicts)]
    for s, r, v in zip(samples[:2], read, verdicts):
        print(f"    {s.caption!r} → reads {r!r}, {v}")
image_grid(torch.cat(shown), out / "15_benchmark_samples.png", ncols=10, titles=shown_titles)

# %% [markdown]
# ## 5. The fix, and what the shipped model does
# Three changes together: (1) **the data** — a grammar of phrasings instead of four templates, so the colour
# words come at many places and the words around them ("in", "on", "letters", "background") are the only
# reliable cue; six kinds of text of 1–10 characters instead of upper-case words of 2–6 letters; (2) **rotary
# positions** with the quoted span as one position, so the pattern of distances from the colour words to the
# quoted text and to "in" / "on" is the same for every length of word, and no position is new at test time;
# (3) **a segment embedding** marking the quoted span, so the encoder knows which tokens are the text to draw.
# The held-out phrasings, held-out texts and the longer words measure whether it generalises rather than
# memorises.
#
# Below: the issue's prompt and three paraphrases of it (two from the grammar's families, one typed by a person
# outside the grammar), colour words inside the quotes, a number, and a long held-out word. Same seed for all.
# In full mode the shipped model binds the colours in all eight, and all eight read exactly, the ten-letter
# ABDICATION included; in the benchmark, where the colours bind 90–100% in every family, long words are still
# what it gets wrong most: the 7–10 character words read exactly 65%.

# %%
long_word = next(w for w in load_words("heldout") if len(w) == 10)
issue_form = 'a sign that says "{text}" in {fg} letters on a {bg} background{where}'
scene_form = '{a_bg} poster with the word "{text}" written in {fg}{where}'
heldout_form = next(f for f in captions.forms("heldout", complete=True) if "{where_first}" not in f)
family = {True: "held-out form", False: "training form"}
paraphrases = [(family[captions.is_heldout(issue_form)] + " (the issue's)", prompt),
               (family[captions.is_heldout(scene_form)], captions.fill(scene_form, "HELLO", "red", "white", None)),
               (family[captions.is_heldout(heldout_form)], captions.fill(heldout_form, "HELLO", "red", "white", None)),
               ("outside the grammar", 'Please draw "HELLO" in red letters on white.'),
               ("colour words in the quotes", two),
               ("a number", 'a label that reads "2024" in white on a blue background'),
               ("a long held-out word", f'the word "{long_word}" in red on a white background'),
               ("the long word, list form", f'white background, red text: "{long_word}"')]
results = model.generate([p for _, p in paraphrases], steps=steps, seed=0)  # (8, 3, H, W)
read = reader.read(results)
closing = []
for (label, p), r, image in zip(paraphrases, read, results):
    wanted = layout.parse_prompt(p)
    drawn = glyph_colour(image), background_colour(image)
    v = verdict(drawn, wanted.text_color, wanted.background)
    closing.append((wanted.text, r, v, drawn[0]))
    print(f"{label}: {p!r}\n    asks {wanted.text!r} {wanted.text_color} on {wanted.background} → reads {r!r}, "
          f"draws {drawn[0]} on {drawn[1]} at {glyph_position(image)}: {v}")
image_grid(results, out / "15_paraphrases.png", ncols=4, titles=[f"{t} → {r or '∅'} · {v}" for t, r, v, _ in closing])

# %% [markdown]
# ## Exercise 1 — the quoted span
# The segment embedding and `text_positions` both need to know which tokens are the quoted text. Write
# `exercise_quoted_span(ids, quote_id)`: ids a (B, L) LongTensor, quote_id the tokenizer's id of `"`; return a
# (B, L) bool tensor, True on the opening quote, everything it encloses and the closing quote. Hint: the number
# of quotes at or before a token, `(ids == quote_id).cumsum(dim=1)`, is odd from the opening quote up to the
# last letter. The check compares with `encoder.quoted_tokens` on captions of the hybrid tokenizer, one of
# them with two quoted spans (so "the count is 1" is not enough: the count is odd).

# %%
def exercise_quoted_span(ids, quote_id):
    raise NotImplementedError


report(checks.check_quoted_span, exercise_quoted_span, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — rotary positions
# Write `exercise_rotary(x, positions, base=10000.0)`: x (B, H, T, D) queries or keys, positions (B, T) floats.
# Rotate each pair of neighbouring channels (x_2i, x_2i+1) of the token at position m by the angle m·θ_i,
# θ_i = base^(−2i/D): (a, b) → (a·cos − b·sin, a·sin + b·cos). Return (B, H, T, D). The check first tests the
# property RoPE is for — shift both positions by 7.5 and every score q·k stays — then compares with
# `attention.rotary`. Hint: `x[..., 0::2]` and `x[..., 1::2]` are the pairs' two halves; `torch.stack([...],
# dim=-1).flatten(-2)` interleaves them back.

# %%
def exercise_rotary(x, positions, base=10000.0):
    raise NotImplementedError


report(checks.check_rotary, exercise_rotary, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — colour binding
# Write `exercise_binding(image, color, background)`: image (3, H, W) in [-1, 1], the asked text colour and
# background colour (names of `glyphs.COLORS`). Return "bound" when the image's text colour and background
# colour are both the asked ones, "swapped" when each is the other's, else "wrong". Hint:
# `scoring.glyph_colour(image)` names the ink's colour, `scoring.background_colour(image)` the border's. The
# check shows your function renders, the same renders with their colours exchanged, and prompts that ask for
# another colour. (The benchmark's colour binding is the fraction of "bound".)

# %%
def exercise_binding(image, color, background):
    raise NotImplementedError


report(checks.check_binding, exercise_binding, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/15_prompts_paraphrases_and_positions.py`)
# 1. In the failure's table the first-data model bound colours in only 42% of its "training phrasings". Why was
#    that row not "training" for that model, and what had its encoder learned instead of the words' meaning?
# 2. `text_positions` squeezes a quoted word of n tokens into one unit of position. What does the encoder lose
#    by it, and what still tells it the letters' order and which tokens are the text?
# 3. What would a model that always draws black on white score on "text colour", and on "colour binding"? Why
#    is binding, with the swaps counted apart, the measure of this failure?

# %% [markdown]
# ## What we measured

# %%
print(f"colour word 'red' for words of 2–10 letters: index spread {learned_spread} (learned), "
      f"position spread {rotary_spread:g} (rotary, quoted span as one)")
print(f"score change under a shift of both positions: rotary {rotary_change:.1e}, additive {additive_change:.2f}")
print("live benchmark, colour binding / swapped:",
      ", ".join(f"{name} {sc.binding_acc:.0%} / {sw:.0%}" for name, (sc, sw) in bench.items()))
print("paraphrases:", ", ".join(f"{text} → {v}" for text, _, v, _ in closing))
assert requests == {("SKY", "white", "blue")}, requests  # every spelling is one request
assert learned_spread == len(words[-1]) - len(words[0]), learned_spread  # one index per letter
assert rotary_spread == 0, rotary_spread  # the quoted span counts as one position, whatever its length
assert rotary_change < 1e-10 < 0.1 < additive_change, (rotary_change, additive_change)
assert all(sc.n == n and 0 <= sc.binding_acc <= 1 for sc, _ in bench.values()), bench
assert sum(colour is not None for *_, colour in closing) >= len(closing) // 2, closing  # the model drew ink

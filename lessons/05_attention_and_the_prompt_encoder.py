"""Lesson 05 — attention and the prompt encoder: how a caption becomes context tokens.

Goal: write attention once by hand, check it against PyTorch's, then watch a tiny prompt encoder learn where
to look in a caption; finally see how text, a reference image and a layout become one token sequence.
Prerequisites: lesson 04 (character tokens).
Paper section: Vaswani et al. 2017, "Attention Is All You Need" (arXiv 1706.03762), eq. 1 and sec. 3.2.2;
Dosovitskiy et al. 2020 (ViT, arXiv 2010.11929) for image patches as tokens; Rombach et al. 2022
(arXiv 2112.10752) sec. 3.3 for why the U-Net needs context tokens at all.
What you should see:
  1. softmax(QKᵀ/√d)V written out agrees with ``torch.nn.functional.scaled_dot_product_attention`` to ~1e-15
     in float64, padding included;
  2. a tiny encoder trained briefly to read the *text colour* of a caption (chance 1/8; ~100% held-out after
     the full run): its attention, uniform at first, concentrates on a few letters of the colour words —
     the ones that tell the colours apart, like the "i" of "white" and the "l" of "black" — while most of
     the caption is ignored (heat map ``05_attention_over_caption.png``);
  3. the multimodal sequence: text tokens, then 64 image-patch tokens, a box token and 64 layout-mask tokens,
     each with its type embedding, and the learned null prompt used for classifier-free guidance.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from minigptimage import layout
from minigptimage.attention import record_attention, scaled_dot_product_attention
from minigptimage.encoder import PromptEncoder, PromptEncoderConfig
from minigptimage.glyphs import MAX_CAPTION_CHARS, GlyphDataset
from minigptimage.plots import fast_mode, output_dir, save_figure
from minigptimage.tokenizer import CharTokenizer

out = output_dir(__file__)
torch.manual_seed(0)  # parameter initialisation of the models below
g = torch.Generator().manual_seed(0)

# %% [markdown]
# ## 1. Attention by hand equals PyTorch's
# Q (B, N, Lq, d), K and V (B, N, Lk, d). Padded keys get a score of −∞, hence weight exactly 0.

# %%
q, k, v = (torch.randn(2, 4, L, 16, generator=g, dtype=torch.float64) for L in (5, 7, 7))
key_mask = torch.tensor([[True] * 7, [True] * 4 + [False] * 3])  # second prompt: 3 padding tokens
ours = scaled_dot_product_attention(q, k, v, key_mask)
theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=key_mask[:, None, None, :])
attention_error = (ours - theirs).abs().max().item()
print(f"max |ours − torch| = {attention_error:.2e}")

# %% [markdown]
# ## 2. A tiny encoder learns where to look
# Task: from the output at the first token (<bos>), classify the colour of the *letters*. Captions say it in
# several ways ('in red on white', 'a white image with the word … written in red', 'yellow text … on a purple
# background'), so the encoder must find the right colour word and ignore the background colour.
# The label comes from the library's prompt parser, ``layout.parse_prompt(caption).text_color``.

# %%
n_captions, steps, batch_size = (300, 30, 32) if fast_mode() else (4000, 400, 64)
dataset = GlyphDataset("train", n_captions, seed=0)
captions = [dataset.caption(i) for i in range(n_captions)]
colours = list(layout.COLOR_WORDS)
labels = torch.tensor([colours.index(layout.parse_prompt(c).text_color) for c in captions])
tokenizer = CharTokenizer()
L = MAX_CAPTION_CHARS + 2  # <bos> caption <eos>
ids, mask = tokenizer.encode(captions, L)  # (n, L), (n, L)

cfg = PromptEncoderConfig(dim=64, depth=2, heads=4, max_len=L, use_image_tokens=False, use_layout_tokens=False)
encoder, probe = PromptEncoder(cfg), torch.nn.Linear(cfg.dim, len(colours))
optimizer = torch.optim.Adam([*encoder.parameters(), *probe.parameters()], lr=2e-3)
n_train = int(0.9 * n_captions)


def accuracy():
    with torch.no_grad():
        context, _ = encoder(ids[n_train:], mask[n_train:])
        return (probe(context[:, 0]).argmax(-1) == labels[n_train:]).float().mean().item()


losses, accuracy_before = [], accuracy()
for step in range(steps):
    batch = torch.randint(0, n_train, (batch_size,), generator=g)
    context, _ = encoder(ids[batch], mask[batch])  # (batch_size, L, D)
    loss = F.cross_entropy(probe(context[:, 0]), labels[batch])
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
accuracy_after = accuracy()
print(f"held-out accuracy of the text colour: {accuracy_before:.2f} before, {accuracy_after:.2f} after "
      f"{steps} steps (chance {1 / len(colours):.2f})")

# %% [markdown]
# The attention maps of both blocks for one held-out caption: row = query token, column = key token.
# ``record_attention`` catches every attention module's weights during one forward pass.

# %%
caption = captions[-1]
n = len(caption) + 2
with record_attention(encoder) as maps:
    encoder(ids[-1:], mask[-1:])
tokens = ["<bos>"] + list(caption) + ["<eos>"]
fig, axes = plt.subplots(3, 1, figsize=(max(8, 0.14 * n), 9), gridspec_kw=dict(height_ratios=[1, 4, 4]))
first_row = maps["blocks.1.self_attn"][0, :, 0, :n].mean(0)  # (n,) <bos> query of the last block, mean of heads
axes[0].imshow(first_row[None].numpy(), cmap="magma", aspect="auto")
axes[0].set_title(f"last block, <bos> query (label: {layout.parse_prompt(caption).text_color})", fontsize=8)
for ax, name in zip(axes[1:], ("blocks.0.self_attn", "blocks.1.self_attn")):
    ax.imshow(maps[name][0, :, :n, :n].mean(0).numpy(), cmap="magma", aspect="auto")  # (n, n), mean of heads
    ax.set_title(f"{name}: all queries, mean over heads", fontsize=8)
for ax in axes:
    ax.set_xticks(range(n), tokens, fontsize=5)
    ax.set_yticks([])
save_figure(fig, out / "05_attention_over_caption.png")
top = first_row.argsort(descending=True)[:6].tolist()
print("the <bos> query looks most at:", [(tokens[i], round(first_row[i].item(), 3)) for i in top])

# %% [markdown]
# ## 3. Text, image and layout in one sequence
# Each modality has its own tokenizer (embedding table, patches, Fourier features of the box) and a type
# embedding; they are concatenated along the length and the transformer mixes them.

# %%
full = PromptEncoder(PromptEncoderConfig.preset("tiny"))
sample = dataset[0]
ids1, mask1 = tokenizer.encode([sample.caption], full.cfg.max_len)
box = torch.tensor([sample.box], dtype=torch.float32)  # (1, 4) pixels
segments = {
    "text only": full(ids1, mask1),
    "+ reference image": full(ids1, mask1, image=sample.image[None]),
    "+ image, box, mask": full(ids1, mask1, image=sample.image[None], box=box, layout_mask=sample.mask[None]),
}
for name, (context, context_mask) in segments.items():
    print(f"{name:>20}: context {tuple(context.shape)}, {int(context_mask.sum())} real tokens")
null, null_mask = full.null_context(1)
print(f"{'null prompt':>20}: context {tuple(null.shape)} (learned tokens for classifier-free guidance)")
print(f"tiny encoder: {sum(p.numel() for p in full.parameters()):,} parameters")

fig, axes = plt.subplots(1, 3, figsize=(9, 3))
axes[0].imshow((sample.image.permute(1, 2, 0) + 1) / 2)
axes[0].add_patch(plt.Rectangle((box[0, 0], box[0, 1]), box[0, 2] - box[0, 0], box[0, 3] - box[0, 1], fill=False,
                                color="lime"))
axes[0].set_title(sample.caption, fontsize=6)
p = full.cfg.patch_size
axes[1].imshow((sample.image.permute(1, 2, 0) + 1) / 2)
for i in range(1, 64 // p):
    axes[1].axhline(i * p - 0.5, color="w", lw=0.5)
    axes[1].axvline(i * p - 0.5, color="w", lw=0.5)
axes[1].set_title(f"{(64 // p) ** 2} patches of {p}×{p} → image tokens", fontsize=7)
kinds = np.array([0] * ids1.shape[1] + [1] * 64 + [2] + [3] * 64)
axes[2].imshow(kinds[None], cmap="tab10", vmin=0, vmax=9, aspect="auto")
axes[2].set_title("sequence: text | image | box | mask", fontsize=7)
axes[2].set_yticks([])
for ax in axes[:2]:
    ax.axis("off")
save_figure(fig, out / "05_multimodal_tokens.png")

# %%
assert attention_error < 1e-12, attention_error
assert np.mean(losses[-10:]) < np.mean(losses[:10]), "the encoder did not learn"
assert segments["+ image, box, mask"][0].shape[1] == ids1.shape[1] + 64 + 1 + 64
if not fast_mode():
    assert accuracy_after > 0.8, accuracy_after

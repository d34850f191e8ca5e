"""Lesson 06 — the U-Net: feature maps at each resolution, where the prompt enters, what the glyph branch adds.

Goal: open up the denoiser. See its feature maps at 16×16, 8×8 and 4×4; see the cross-attention maps where
the prompt's tokens enter; and measure how much the glyph canvas (the "glyph-aware sublayers") helps.
Prerequisites: lesson 01 (q_sample), lesson 05 (attention and the prompt encoder).
Paper section: Ronneberger et al. 2015 (U-Net, arXiv 1505.04597); Rombach et al. 2022 (arXiv 2112.10752)
sec. 3.3, cross-attention conditioning; Zhang et al. 2023 (ControlNet, arXiv 2302.05543) zero convolutions;
Yang et al. 2023 (GlyphControl, arXiv 2305.18259) for glyph conditioning.
Toy set-up: instead of VAE latents (lesson 07) we use a stand-in with the same shape, 4×16×16 — the image
average-pooled 4× (3 channels) plus the pooled ink of the word (1 channel). The encoder and the U-Net are
trained together for a short while to predict x₀ from x_t; the prompt is dropped 10% of the time (replaced
by the learned null prompt) and the glyph canvas 30% of the time (glyph=None), as classifier-free guidance
training does, so the same network can be asked with and without each input.
What you should see:
  1. feature maps: fine strokes at 16×16, blobs at 4×4;
  2. cross-attention maps at 8×8 for a few prompt tokens;
  3. from almost pure noise (t = T−1), the prediction with the glyph canvas has the word's shape in the right
     place; without it the network can only spread ink over likely places: the x₀ error of the ink channel
     with the canvas is far lower (the lesson's assert). The prompt, not the canvas, tells the colours.
"""
# %%
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere without installing

import dataclasses
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from minigptimage.attention import record_attention
from minigptimage.encoder import PromptEncoder, PromptEncoderConfig
from minigptimage.glyphs import MAX_CAPTION_CHARS, GlyphDataset
from minigptimage.plots import fast_mode, output_dir, save_figure, to_numpy_image
from minigptimage.schedule import NoiseSchedule
from minigptimage.tokenizer import CharTokenizer
from minigptimage.unet import UNet, UNetConfig

out = output_dir(__file__)
torch.manual_seed(0)  # parameter initialisation
g = torch.Generator().manual_seed(0)
n_items, steps, batch_size = (96, 20, 16) if fast_mode() else (2000, 600, 32)

# %% [markdown]
# ## The toy data: 4×16×16 "latents" that need both the prompt (colours) and the glyph (shape)

# %%
data = GlyphDataset("train", n_items, seed=0, cache=True).batch(range(n_items))
x0_all = torch.cat([F.avg_pool2d(data["image"], 4), F.avg_pool2d(data["glyph"], 4) * 2 - 1], dim=1)  # (n, 4, 16, 16)
tokenizer = CharTokenizer()
ids, mask = tokenizer.encode(data["caption"], MAX_CAPTION_CHARS + 2)  # (n, L)

encoder = PromptEncoder(PromptEncoderConfig(dim=64, depth=1, heads=4, max_len=ids.shape[1], use_image_tokens=False,
                                            use_layout_tokens=False))
cfg = dataclasses.replace(UNetConfig.preset("tiny"), context_dim=64, prediction="x0")
unet = UNet(cfg)
schedule = NoiseSchedule.linear(1000)
print(f"U-Net: {sum(p.numel() for p in unet.parameters()):,} parameters, levels {cfg.channels}, "
      f"attention at levels {cfg.attention_levels} + middle")


def predict(batch, t, noise, use_prompt=True, use_glyph=True):
    x_t = schedule.q_sample(x0_all[batch], t, noise=noise)
    if use_prompt:
        context, context_mask = encoder(ids[batch], mask[batch])
    else:
        context, context_mask = encoder.null_context(len(batch))
    return unet(x_t, t, context, context_mask, glyph=data["glyph"][batch] if use_glyph else None)


# %% [markdown]
# ## Training: x₀-prediction, with the prompt and the glyph randomly dropped

# %%
optimizer = torch.optim.AdamW([*encoder.parameters(), *unet.parameters()], lr=2e-3)
n_train, losses, start = int(0.9 * n_items), [], time.time()
for step in range(steps):
    batch = torch.randint(0, n_train, (batch_size,), generator=g)
    t = torch.randint(0, 1000, (batch_size,), generator=g)
    noise = torch.randn(batch_size, 4, 16, 16, generator=g)
    drop_prompt = torch.rand(batch_size, generator=g) < 0.1
    drop_glyph = (torch.rand(batch_size, generator=g) < 0.3)[:, None, None, None]
    x_t = schedule.q_sample(x0_all[batch], t, noise=noise)
    context, context_mask = encoder(ids[batch], mask[batch])
    null, null_mask = encoder.null_context(batch_size, length=context.shape[1])
    context = torch.where(drop_prompt[:, None, None], null, context)
    context_mask = torch.where(drop_prompt[:, None], null_mask, context_mask)
    glyph = data["glyph"][batch].masked_fill(drop_glyph, 0.0)  # an all-zero canvas = glyph=None
    loss = (unet(x_t, t, context, context_mask, glyph=glyph) - x0_all[batch]).square().mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print(f"{steps} steps in {time.time() - start:.0f} s; loss {losses[0]:.3f} → {sum(losses[-20:]) / len(losses[-20:]):.3f}")

# %% [markdown]
# ## 1. Feature maps at each resolution
# Forward hooks (a PyTorch feature) catch the output of every residual block on the way down and up.

# %%
held_out = torch.arange(n_train, n_items)[:4]
features = {}
blocks = {**{f"down_res.{j}": m for j, m in enumerate(unet.down_res)}, "mid_res2": unet.mid_res2,
          **{f"up_res.{j}": m for j, m in enumerate(unet.up_res)}}
hooks = [m.register_forward_hook(lambda module, args, output, name=name: features.__setitem__(name, output.detach()))
         for name, m in blocks.items()]
t_mid = torch.full((len(held_out),), 300)
noise = torch.randn(len(held_out), 4, 16, 16, generator=g)
with torch.no_grad(), record_attention(unet) as attention:
    predict(held_out, t_mid, noise)
for hook in hooks:
    hook.remove()
fig, axes = plt.subplots(1, len(features), figsize=(1.6 * len(features), 2))
for ax, (name, f) in zip(axes, features.items()):
    ax.imshow(f[0].abs().mean(0).numpy(), cmap="viridis")  # (h_i, w_i): mean |activation| over channels
    ax.set_title(f"{name}\n{tuple(f.shape[1:])}", fontsize=6)
    ax.axis("off")
save_figure(fig, out / "06_feature_maps.png")
print("feature map sizes:", {name: tuple(f.shape[1:]) for name, f in features.items()})

# %% [markdown]
# ## 2. Where the prompt enters: cross-attention maps
# Each pixel of the 8×8 level is a query; each prompt token a key. For three groups of tokens — the quoted
# word, the text-colour word and the background-colour word — we draw the weight every pixel gives them
# (summed over the group's characters, mean over heads) as an 8×8 image.

# %%
name = "up_attn.1.block.cross_attn"  # the 8×8 level on the way up: (B, heads, 64 pixels, L tokens)
cross = attention[name][0].mean(0)  # (h·w, L) for the first held-out item
item = int(held_out[0])
caption = data["caption"][item]
side = int(cross.shape[0] ** 0.5)
groups = {f'"{data["text"][item]}"': data["text"][item], f"text colour ({data['color'][item]})": data["color"][item],
          f"background ({data['background'][item]})": data["background"][item]}
fig, axes = plt.subplots(1, len(groups) + 1, figsize=(1.9 * (len(groups) + 1), 2.1))
axes[0].imshow(to_numpy_image(data["image"][item]))
axes[0].set_title(caption[:34], fontsize=5)
for ax, (title, word) in zip(axes[1:], groups.items()):
    start = caption.find(word) + 1  # +1: token 0 is <bos>
    ax.imshow(cross[:, start:start + len(word)].sum(1).reshape(side, side).numpy(), cmap="magma")
    ax.set_title(title, fontsize=6)
for ax in axes:
    ax.axis("off")
save_figure(fig, out / "06_cross_attention.png")

# %% [markdown]
# ## 3. What the glyph branch adds
# From x_t at t = T−1 (almost pure noise) the network must invent x₀. With the canvas it knows the letters;
# with the prompt it knows the colours.

# %%
t_end = torch.full((len(held_out),), 999)
noise = torch.randn(len(held_out), 4, 16, 16, generator=g)
with torch.no_grad():
    variants = {name: predict(held_out, t_end, noise, *flags) for name, flags in
                {"prompt + glyph": (True, True), "prompt only": (True, False), "glyph only": (False, True)}.items()}
target = x0_all[held_out]
ink_error = {name: (x0[:, 3] - target[:, 3]).square().mean().item() for name, x0 in variants.items()}
colour_error = {name: (x0[:, :3] - target[:, :3]).square().mean().item() for name, x0 in variants.items()}
print("x₀ error at t = T−1, ink channel (shape):  ", {k: round(v, 4) for k, v in ink_error.items()})
print("x₀ error at t = T−1, RGB channels (colour):", {k: round(v, 4) for k, v in colour_error.items()})
rows = {"target": target, **variants}
n = len(held_out)
fig, axes = plt.subplots(len(rows), 2 * n, figsize=(1.3 * 2 * n, 1.5 * len(rows)), squeeze=False)
for r, (name, x0) in enumerate(rows.items()):
    for c in range(n):
        axes[r, c].imshow(to_numpy_image(x0[c, :3]), interpolation="nearest")  # the colour channels as RGB
        axes[r, n + c].imshow(x0[c, 3].numpy(), cmap="gray", vmin=-1, vmax=1, interpolation="nearest")  # ink
    for ax in axes[r]:
        ax.axis("off")
    axes[r, 0].set_title(f"{name}: RGB channels | ink channel", fontsize=7, loc="left")
save_figure(fig, out / "06_glyph_branch_effect.png")

# %%
glyph_moved = sum(conv.weight.abs().sum().item() for conv in [*unet.glyph_down, *unet.glyph_up])
assert glyph_moved > 0, "the zero-initialised glyph projections never left zero"
assert sum(losses[-5:]) < sum(losses[:5]), "the U-Net did not learn"
if not fast_mode():
    assert ink_error["prompt + glyph"] < 0.5 * ink_error["prompt only"], ink_error

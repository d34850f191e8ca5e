# %% [markdown]
# # Lesson 06 — the U-Net: its anatomy, its feature maps, where the prompt enters, what the glyph branch adds
#
# **Goal:** open up the denoiser. Follow one call through it — time embedding, pooled prompt, residual blocks
# with AdaGN, attention, skips — then train it briefly and look inside: feature maps at 16×16, 8×8 and 4×4,
# cross-attention maps where the prompt's tokens enter, and how much the glyph canvas (the "glyph-aware
# sublayers") helps.
#
# **Prerequisites:** lesson 01 (q_sample), lesson 02 (the x₀ target), lesson 05 (attention and the prompt encoder).
#
# **Paper section:** Ronneberger et al. 2015 (U-Net, arXiv 1505.04597); Ho et al. 2020 (arXiv 2006.11239,
# appendix B: the sinusoidal time embedding in every residual block); Dhariwal & Nichol 2021 (arXiv 2105.05233,
# sec. 3: AdaGN); Nichol et al. 2021 (GLIDE, arXiv 2112.10741, sec. 2.3: the pooled prompt added to the time
# embedding); Rombach et al. 2022 (arXiv 2112.10752) sec. 3.3, cross-attention conditioning; Zhang et al. 2023
# (ControlNet, arXiv 2302.05543) zero convolutions; Yang et al. 2023 (GlyphControl, arXiv 2305.18259).
#
# **Toy set-up:** instead of VAE latents (lesson 07) we use a stand-in with the same shape, 4×16×16 — the image
# average-pooled 4× (3 channels) plus the pooled ink of the word (1 channel). The encoder and the U-Net are
# trained together for a short while to predict x₀ from x_t (lesson 02's x₀ target); the prompt is dropped 10%
# of the time (replaced by the learned null prompt) and the glyph canvas 30% of the time (glyph=None), as
# classifier-free guidance training does, so the same network can be asked with and without each input.
#
# **What you should see:**
# 1. the anatomy: every block's output shape in call order, the skips, and the sinusoidal time embedding;
# 2. after training, the FiLM scales γ(t) of a 16×16 block change with t, and change when only the colour word
#    of the prompt changes — the pooled prompt is how colours reach the level that has no attention;
# 3. feature maps (mean |activation|): at every level the word's band stands out from the background, sharper
#    at 16×16 and 8×8, a coarse blob at 4×4 — a letter is only one or two cells wide, so no map shows strokes;
# 4. cross-attention maps at 8×8 for the quoted word, the text-colour and the background-colour words;
# 5. from almost pure noise (t = T−1), the prediction with the glyph canvas has the word's shape in the right
#    place; without it the ink is spread thin: the ink channel's x₀ error is 10× lower with the canvas (full
#    mode: 0.008 against 0.080). Colours come later than shapes: see section 5 for what the prompt adds;
# 6. three exercises: the timestep embedding, AdaGN, the pooled prompt.
# %%
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()  # lessons/ (a notebook runs there)
sys.path.insert(0, str(HERE.parent))  # run from anywhere without installing

import dataclasses
import importlib
import re
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from lessons.checks import report
from minigptimage import layout
from minigptimage.attention import record_attention
from minigptimage.encoder import PromptEncoder, PromptEncoderConfig
from minigptimage.glyphs import MAX_CAPTION_CHARS, GlyphDataset
from minigptimage.plots import fast_mode, output_dir, save_figure, to_numpy_image
from minigptimage.schedule import NoiseSchedule
from minigptimage.tokenizer import CharTokenizer
from minigptimage.unet import UNet, UNetConfig, timestep_embedding

checks = importlib.import_module("lessons.checks.06_unet_and_cross_attention")
out = output_dir(HERE / "06_unet_and_cross_attention.py")
torch.manual_seed(0)  # parameter initialisation
g = torch.Generator().manual_seed(0)
n_items, steps, batch_size = (96, 20, 16) if fast_mode() else (1000, 300, 32)

# %% [markdown]
# ## The toy data: 4×16×16 "latents" that need both the prompt (colours) and the glyph (shape)

# %%
data = GlyphDataset("train", n_items, seed=0, cache=True, complete=True).batch(range(n_items))  # captions name both colours
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
# ## 1. Anatomy: one call, unet(x_t, t, context, context_mask, glyph=canvas)
# 1. **time embedding:** t → [cos(t·ωᵢ), sin(t·ωᵢ)], ωᵢ = 10000^(−i/(d/2)) (`timestep_embedding`) → MLP → temb
#    (B, 128); then **temb += Linear(mean of the real context tokens)** — the pooled prompt.
# 2. **conv_in:** (B, 4, 16, 16) → (B, 32, 16, 16).
# 3. **down path**, per level: a residual block — GroupNorm → SiLU → conv → **AdaGN**: GN(h)·(1 + γ) + β with
#    (γ, β) = Linear(SiLU(temb)) → SiLU → conv, plus the input (the residual) — then, at levels 1 and 2,
#    a transformer block (self-attention over pixels, cross-attention to the prompt, MLP); the output is
#    kept for the up path (the **skip**), and a stride-2 conv halves the side.
# 4. **middle** (4×4): residual block, transformer block, residual block.
# 5. **up path**, mirrored: **cat(h, skip)** (twice the channels) → residual block → transformer block →
#    nearest-neighbour upsampling + conv.
# 6. GroupNorm → SiLU → **conv_out**, which starts at zero (an untrained U-Net predicts 0).
# 7. the **glyph branch** turns the 64×64 canvas into one feature map per level and adds it, through 1×1 convs
#    that start at zero, at each level's entrance (down) and exit (up).
# Forward hooks record every block's output shape in the order the blocks run.

# %%
x_demo = schedule.q_sample(x0_all[:2], torch.tensor([10, 900]), generator=g)  # (2, 4, 16, 16)
context_demo, mask_demo = encoder(ids[:2], mask[:2])  # (2, L, 64)
calls = []
top_level = [(name, m) for name, m in unet.named_modules()  # the blocks (x.y only inside a ModuleList), not their parts
             if name and not name.startswith(("glyph", "time_mlp.")) and not isinstance(m, (torch.nn.ModuleList, torch.nn.Identity))
             and ("." not in name or name.split(".")[1].isdigit() and name.count(".") == 1)]
hooks = [m.register_forward_hook(lambda module, args, output, name=name: calls.append(
    (name, tuple(args[0].shape[1:]) if args else None, tuple(output.shape[1:])))) for name, m in top_level]
with torch.no_grad():
    unet(x_demo, torch.tensor([10, 900]), context_demo, mask_demo, glyph=data["glyph"][:2])
for hook in hooks:
    hook.remove()
for name, shape_in, shape_out in calls:
    note = "  ← cat(h, skip)" if name.startswith("up_res") else ""
    print(f"{name:>15}: {str(shape_in):>14} → {shape_out}{note}")

t_grid = torch.arange(0, 1000, 5)
embedding = timestep_embedding(t_grid, cfg.channels[0])  # (200, 32): what the time MLP reads
fig, ax = plt.subplots(figsize=(6, 2.4))
ax.imshow(embedding.T.numpy(), aspect="auto", cmap="RdBu_r", extent=[0, 1000, cfg.channels[0], 0])
ax.set_xlabel("timestep t")
ax.set_ylabel("embedding column")
ax.set_title("timestep_embedding: cos (top half) and sin (bottom half), fast to slow frequencies", fontsize=8)
save_figure(fig, out / "06_time_embedding.png")

# %% [markdown]
# ## Training: x₀-prediction, with the prompt and the glyph randomly dropped
# Loss (lesson 02's simple loss, with the x₀ target): ‖x̂₀(x_t, t, prompt, canvas) − x₀‖², x_t = √ᾱ_t·x₀ + √(1−ᾱ_t)·ε.

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
# ## 2. What the time embedding and the pooled prompt do to a 16×16 block
# A forward hook on `down_res.0.film` (the Linear that gives (γ, β) of the first residual block, at 16×16,
# a level with no attention) records γ and β during real calls. We change t alone, then only the text
# colour word of the prompt.

# %%
film = []
hook = unet.down_res[0].film.register_forward_hook(lambda module, args, output: film.append(output.detach()))
item = n_train  # a held-out item
other = next(c for c in layout.COLOR_WORDS if c not in (data["color"][item], data["background"][item]))
recoloured = re.sub(rf"\b{data['color'][item]}\b", other, data["caption"][item], count=1)  # not inside "centered"
assert recoloured != data["caption"][item], data["caption"][item]
ids2, mask2 = tokenizer.encode([data["caption"][item], recoloured], ids.shape[1])
with torch.no_grad():
    for t in (0, 250, 500, 750, 999):
        predict(torch.tensor([item]), torch.full((1,), t), torch.zeros(1, 4, 16, 16))
    context2, context_mask2 = encoder(ids2, mask2)
    unet(x0_all[[item, item]], torch.full((2,), 500), context2, context_mask2, glyph=data["glyph"][[item, item]])
hook.remove()
gammas = torch.cat(film[:5])[:, :cfg.channels[0]]  # (5, 32): γ of the 32 channels at the five t
change_t = (gammas[-1] - gammas[2]).abs().mean().item()
change_colour = (film[5][1] - film[5][0]).abs().mean().item()
print(f"FiLM of the 16×16 block, mean |Δ(γ, β)|: t 500 → 999: {change_t:.3f};  "
      f"'{data['color'][item]}' → '{other}' in the prompt at t = 500: {change_colour:.3f}")
fig, ax = plt.subplots(figsize=(6, 2.4))
ax.imshow(gammas.numpy(), aspect="auto", cmap="RdBu_r")
ax.set_yticks(range(5), [f"t={t}" for t in (0, 250, 500, 750, 999)], fontsize=7)
ax.set_xlabel("channel of the 16×16 block")
ax.set_title("γ(t) of AdaGN in down_res.0 (one held-out prompt)", fontsize=8)
save_figure(fig, out / "06_film_gamma.png")

# %% [markdown]
# ## 3. Feature maps at each resolution
# Forward hooks catch the output of every residual block on the way down and up, at t = 300; we draw the
# mean |activation| over channels. In the full run the band of cells where the word lies stands out at
# 16×16 and 8×8, and shrinks to a coarse blob at 4×4. Do not look for letter strokes: this 16×16 "latent"
# gives each letter one or two cells, and the channels, not the spatial maps, carry the shapes.

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
# ## 4. Where the prompt enters: cross-attention maps
# Each pixel of the 8×8 level is a query; each prompt token a key. For three groups of tokens — the quoted
# word, the text-colour word and the background-colour word — we draw the weight every pixel gives them
# (summed over the group's characters, mean over heads) as an 8×8 image, at t = 300. In the full run the
# quoted letters draw their weight from the rows where the word is, and so, in that run, did the background
# colour word; the text-colour word is attended more broadly. One item, one short training: read the maps as
# "where the network looks", not as a segmentation.

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
# ## 5. What the glyph branch adds
# From x_t at t = T−1 (almost pure noise) the network must invent x₀. With the canvas it knows the letters;
# with the prompt it knows the colours. Rows of the figure: the target, then the prediction with both inputs,
# with the prompt only, with the canvas only; left the RGB channels, right the ink channel. Measured in full
# mode (300 steps): with the canvas the ink lands where the word is (x₀ error of the ink channel 0.008 against
# 0.080 with the prompt only, whose ink is spread thin over likely places). The colours are learned later: in
# that run (whose captions sometimes left the colours out) the RGB errors were still alike, 0.63–0.66 with or
# without the prompt, while an earlier 600-step run gave 0.045 with the prompt against 0.88 without it. The
# captions now always name both colours (`complete=True`); train longer to see the prompt set the colours.

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

# %% [markdown]
# ## Exercise 1 — the timestep embedding
# Write `exercise_timestep_embedding(t, dim)`: t a (B,) LongTensor, dim even. Return (B, dim): the cosines
# cos(t·ωᵢ) for i = 0 … dim/2 − 1, then the sines, with ωᵢ = 10000^(−i/(dim/2)) (so ω₀ = 1, the fastest).
# Hint: `torch.exp(-math.log(10000) * torch.arange(half) / half)`; cast t to float. Compare with `timestep_embedding`.

# %%
def exercise_timestep_embedding(t, dim):
    raise NotImplementedError


report(checks.check_timestep_embedding, exercise_timestep_embedding, "Exercise 1")

# %% [markdown]
# ## Exercise 2 — AdaGN
# Write `exercise_adagn(h, gamma, beta, groups)`: h (B, C, h, w), gamma and beta (B, C, 1, 1). Return
# GroupNorm(h)·(1 + γ) + β, where GroupNorm normalises each of `groups` groups of channels to mean 0 and
# variance 1 over (channels of the group, h, w), with no learned scale. Hint: `F.group_norm(h, groups)`.

# %%
def exercise_adagn(h, gamma, beta, groups):
    raise NotImplementedError


report(checks.check_adagn, exercise_adagn, "Exercise 2")

# %% [markdown]
# ## Exercise 3 — the pooled prompt
# Write `exercise_pooled_context(context, context_mask)`: context (B, L, D), context_mask (B, L) bool (True = a
# real token). Return (B, D): the mean of each prompt's real tokens only — padding must not count.

# %%
def exercise_pooled_context(context, context_mask):
    raise NotImplementedError


report(checks.check_pooled_context, exercise_pooled_context, "Exercise 3")

# %% [markdown]
# ## Questions (answers in `lessons/solutions/06_unet_and_cross_attention.py`)
# 1. Why add the timestep to every residual block instead of feeding t once at the input?
# 2. The 16×16 level has no attention. How does it learn the text colour? (Section 2 measures it.)
# 3. What would the up path lose without the skip connections?

# %%
glyph_moved = sum(conv.weight.abs().sum().item() for conv in [*unet.glyph_down, *unet.glyph_up])
assert glyph_moved > 0, "the zero-initialised glyph projections never left zero"
assert sum(losses[-5:]) < sum(losses[:5]), "the U-Net did not learn"
assert [name for name, _, _ in calls][:2] == ["time_mlp", "pooled_context"] and calls[-1][2] == (4, 16, 16), calls
assert change_t > 0 and change_colour > 0, (change_t, change_colour)
if not fast_mode():
    assert ink_error["prompt + glyph"] < 0.5 * ink_error["prompt only"], ink_error

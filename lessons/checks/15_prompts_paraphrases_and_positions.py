"""Checks for lesson 15's exercises: the quoted span, rotary positions, and colour binding of one image."""
from __future__ import annotations

import torch

from minigptimage.attention import rotary
from minigptimage.encoder import quoted_tokens
from minigptimage.glyphs import COLORS, GlyphDataset
from minigptimage.scoring import background_colour, glyph_colour
from minigptimage.tokenizer import PROMPT_WORDS, CharTokenizer

from .calling import call
from .compare import compare

CAPTIONS = ['a sign that says "HELLO" in red letters on a white background',
            'the text "blue sky" in yellow on a purple background',  # colour words inside the quotes
            'red text "A" on white', 'white background, red text: "KNOWLEDGE"',
            'no quoted text at all, in red',
            'two signs, "OPEN" and "SHUT", in blue on white']  # two quoted spans: the second one counts too


def check_quoted_span(fn) -> str | None:
    tokenizer = CharTokenizer(PROMPT_WORDS)
    ids, mask = tokenizer.encode(CAPTIONS, 80)  # (5, 80), padded after <eos>
    want = quoted_tokens(ids, tokenizer.quote_id)
    got = call(fn, ids.clone(), tokenizer.quote_id)
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"return a (B, L) = {tuple(want.shape)} bool tensor, got {shape}"
    got = got.bool()
    if torch.equal(got, want):
        return None
    b, j = (int(i) for i in (got != want).nonzero()[0])
    token = tokenizer.tokens(ids[b, j:j + 1])[0]
    problem = (f"for caption {b} ({CAPTIONS[b]!r}), token {j} ({token!r}) should be "
               f"{'in' if want[b, j] else 'outside'} the quoted span, yours says {'in' if got[b, j] else 'outside'}")
    is_quote = ids == tokenizer.quote_id
    inside = is_quote.cumsum(dim=1) % 2 == 1  # the opening quote and the text, not the closing quote
    if torch.equal(got, inside):
        return problem + " — the closing quote belongs to the span too (the count of quotes is even there)"
    if torch.equal(got, want & ~is_quote):
        return problem + " — the span includes both quote marks, not only the text between them"
    later = (is_quote.cumsum(dim=1) > 2) & ~is_quote  # the text of a second quoted span
    if bool(want[later].any()) and not bool(got[later].any()):
        return problem + (" — only the first quoted span is marked: a prompt can quote twice; a token is inside"
                          " a span when the count of quotes up to it is odd (count % 2 == 1), not when it is 1")
    return problem


def check_rotary(fn) -> str | None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 6, 8, generator=g, dtype=torch.float64)  # (B, H, T, D)
    positions = torch.tensor([[0, 1, 2, 3, 4, 5], [0, 1, 1.25, 1.5, 1.75, 3]], dtype=torch.float64)  # (B, T)
    got = call(fn, x.clone(), positions.clone())
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(x.shape):
        shape = tuple(got.shape) if isinstance(got, torch.Tensor) else type(got).__name__
        return f"your rotated tensor should have the input's shape {tuple(x.shape)}, got {shape}"
    if not got.is_floating_point():
        return (f"your rotated tensor is an integer (or bool) tensor, {got.dtype}: cos and sin of the angles are "
                "fractions — keep x's float dtype (an integer tensor such as torch.arange crept in? use .float())")
    got = got.to(torch.float64)
    if not torch.allclose(got[:, :, 0], x[:, :, 0], atol=1e-9):
        return "position 0 should leave a token unchanged (a rotation by the angle 0·θ_i)"
    if not torch.allclose(got.norm(dim=-1), x.norm(dim=-1), atol=1e-6):
        return "a rotation keeps each token's length, but yours changes it: rotate each pair (x_2i, x_2i+1) by " \
               "the angle position·θ_i, (a, b) → (a·cos − b·sin, a·sin + b·cos)"
    # 1. The property RoPE is for: shift every position by s and the scores q_m·k_n stay the same.
    q, k = x, torch.randn(x.shape, generator=g, dtype=torch.float64)
    scores = call(fn, q.clone(), positions.clone()) @ call(fn, k.clone(), positions.clone()).transpose(-2, -1)  # (B, H, T, T)
    shifted = call(fn, q.clone(), positions + 7.5) @ call(fn, k.clone(), positions + 7.5).transpose(-2, -1)
    if not torch.allclose(scores.to(torch.float64), shifted.to(torch.float64), atol=1e-6):
        return "the scores q·k change when both positions shift by the same 7.5: rotate q and k with the same " \
               "angles position·θ_i, so that only the offset between their positions is left in q·k"
    # 2. The library's convention: pairs of neighbouring channels, θ_i = base^(−2i/D).
    want = rotary(x, positions)
    problem = compare(got, want, "your rotated tensor", atol=1e-6,
                      where=lambda i: f"for item {i[0]}, head {i[1]}, token {i[2]} (position "
                                      f"{float(positions[i[0], i[2]]):g}), channel {i[3]}")
    if problem:
        half = x.shape[-1] // 2
        a, b = x[..., :half], x[..., half:]
        theta = 10000.0 ** (-torch.arange(0, x.shape[-1], 2, dtype=torch.float64) / x.shape[-1])
        angle = positions[:, None, :, None] * theta
        halves = torch.cat([a * angle.cos() - b * angle.sin(), a * angle.sin() + b * angle.cos()], dim=-1)
        if torch.allclose(got, halves, atol=1e-6):
            return problem + " — you paired channel i with channel i + D/2 (the GPT-NeoX layout); " \
                             "attention.rotary pairs neighbours (x_0, x_1), (x_2, x_3), …"
        return problem + " — check the angle: pair i turns by position·θ_i with θ_i = 10000^(−2i/D)"
    return None


def _swapped(image: torch.Tensor, fg: str, bg: str) -> torch.Tensor:
    """The same word with the two colours exchanged: a pixel a·fg + (1−a)·bg becomes (1−a)·fg + a·bg."""
    fg_rgb, bg_rgb = (torch.tensor(COLORS[c], dtype=torch.float32)[:, None, None] / 127.5 - 1 for c in (fg, bg))
    return fg_rgb + bg_rgb - image  # (3, H, W)


def check_binding(fn) -> str | None:
    ds = GlyphDataset("heldout", 4, seed=7, complete=True)
    cases = []  # (image, what it shows, asked text colour, asked background)
    for i in range(len(ds)):
        s = ds[i]
        other = next(c for c in COLORS if c not in (s.color, s.background))
        cases += [(s.image, f"{s.color} on {s.background}", s.color, s.background),
                  (_swapped(s.image, s.color, s.background), f"{s.background} on {s.color}", s.color, s.background),
                  (s.image, f"{s.color} on {s.background}", s.color, other),
                  (s.image, f"{s.color} on {s.background}", other, s.background)]
    for image, shows, fg, bg in cases:
        drawn = glyph_colour(image), background_colour(image)
        want = "bound" if drawn == (fg, bg) else "swapped" if drawn == (bg, fg) else "wrong"
        got = call(fn, image.clone(), fg, bg)
        if got != want:
            return (f"an image of {shows} asked for as {fg} on {bg}: yours says {got!r}, expected {want!r} "
                    f"(scoring reads text {drawn[0]}, background {drawn[1]})"
                    + (" — binding needs the text colour and the background colour both right"
                       if want == "wrong" and got == "bound" else ""))
    return None

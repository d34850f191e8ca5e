"""Checks for lesson 07's exercises: the reparameterisation trick, the Gaussian KL, the PSNR, and picking a
latent from a table of ceilings and costs."""
from __future__ import annotations

import copy

import torch

from minigptimage.vae import VAE, psnr

from .calling import YourFunctionFailed, call, describe
from .compare import comparable, compare


def _latents(seed: int):
    g = torch.Generator().manual_seed(seed)
    mean = torch.randn(3, 4, 5, 5, generator=g)  # (B, C, h, w)
    logvar = torch.randn(3, 4, 5, 5, generator=g) * 2 - 3
    return g, mean, logvar


def check_reparameterize(fn) -> str | None:
    g, mean, logvar = _latents(1)
    noise = torch.randn(mean.shape, generator=g)
    want = VAE.reparameterize(mean, logvar, noise=noise)
    got = call(fn, mean.clone(), logvar.clone(), noise.clone())
    problem = compare(got, want, "your z", where=lambda i: f"for image {i[0]}, channel {i[1]}, cell ({i[2]}, {i[3]})")
    if problem and comparable(got, want):
        if torch.allclose(got, mean + logvar.exp() * noise, atol=1e-5):
            return problem + " — e^logvar is the variance σ²; the noise is scaled by σ = exp(logvar / 2)"
    return problem


def check_kl(fn) -> str | None:
    _, mean, logvar = _latents(2)
    want = VAE.kl(mean, logvar)
    got = call(fn, mean.clone(), logvar.clone())
    if isinstance(got, torch.Tensor) and got.dim() == 0:
        return f"your KL is one number; expected one per image, shape {tuple(want.shape)} — sum over C, h, w only"
    return compare(got, want, "your KL", where=lambda i: f"for image {i[0]}", rtol=1e-4, atol=1e-3)


def check_psnr(fn) -> str | None:
    g = torch.Generator().manual_seed(3)
    x = torch.rand(4, 3, 8, 8, generator=g) * 2 - 1
    x_hat = x + torch.randn(4, 3, 8, 8, generator=g) * torch.tensor([0.01, 0.1, 0.3, 1.0])[:, None, None, None]
    want = psnr(x_hat, x)
    got = call(fn, x_hat.clone(), x.clone())
    problem = compare(got, want, "your PSNR (dB)", where=lambda i: f"for image {i[0]}", atol=1e-3)
    if problem and comparable(got, want):
        unclamped = 10 * torch.log10(4.0 / (x_hat - x).pow(2).flatten(1).mean(1))
        if torch.allclose(got, unclamped, atol=1e-3):
            return problem + " — clamp x_hat to [-1, 1] first (a decoder's output can leave the range)"
        if torch.allclose(got, 10 * torch.log10(1.0 / (x_hat.clamp(-1, 1) - x).pow(2).flatten(1).mean(1)), atol=1e-3):
            return problem + " — the peak is 2 (images span −1 to 1), so peak² = 4"
    return problem


FAMILIES = ("training", "7–10 characters", "lower case and digits", "two words")


def _row(ceilings, cost):
    return {"ceiling": dict(zip(FAMILIES, ceilings)), "cost": cost}


# (bar, table, the right pick): hand-built so that each common mistake goes wrong on a case of its own.
PICK_CASES = [
    # the cheapest misses the bar; the best ceiling costs more than needed
    (0.8, {"16×16×8": _row((0.90, 0.66, 0.70, 0.75), 1.00), "16×16×12": _row((0.95, 0.82, 0.84, 0.90), 1.10),
           "32×32×4": _row((0.99, 0.93, 0.92, 0.94), 1.36)}, "16×16×12"),
    # A's average (88 %) is above the bar, its weakest family (62 %) far below
    (0.8, {"A": _row((0.99, 0.62, 0.95, 0.97), 1.00), "B": _row((0.90, 0.81, 0.85, 0.88), 1.20),
           "C": _row((0.97, 0.90, 0.93, 0.95), 1.50)}, "B"),
    # A's weakest family is exactly at the bar: it reaches it
    (0.75, {"A": _row((0.95, 0.75, 0.80, 0.85), 1.00), "B": _row((0.97, 0.88, 0.90, 0.93), 1.30)}, "A"),
    # none reaches the bar: the closest
    (0.95, {"A": _row((0.96, 0.66, 0.79, 0.84), 1.00), "B": _row((0.98, 0.80, 0.84, 0.90), 1.10),
            "C": _row((0.99, 0.93, 0.92, 0.94), 1.36)}, "C"),
    # two latents cost the same (a wider decoder on the same latent): the higher weakest family
    (0.8, {"16×16×8": _row((0.96, 0.81, 0.82, 0.84), 1.00), "16×16×8, 2× decoder": _row((0.96, 0.83, 0.85, 0.88), 1.00),
           "16×16×12": _row((0.98, 0.84, 0.86, 0.90), 1.10)}, "16×16×8, 2× decoder"),
    # not sorted by cost: the first latent that reaches the bar is not the cheapest
    (0.8, {"C": _row((0.99, 0.90, 0.92, 0.94), 1.40), "A": _row((0.96, 0.60, 0.79, 0.84), 1.00),
           "B": _row((0.98, 0.85, 0.86, 0.90), 1.20)}, "B"),
]


def _weakest(row) -> tuple[str, float]:
    """(family, ceiling) of a row's weakest family."""
    return min(row["ceiling"].items(), key=lambda item: item[1])


def _summary(table) -> str:
    return "; ".join(f"{name!r}: weakest {_weakest(row)[1]:.0%} ({_weakest(row)[0]}), cost {row['cost']:.2f}"
                     for name, row in table.items())


def _pick_hint(table, bar, got, want) -> str:
    """Why `got` is not the pick: from how it stands to `want` (the bar, the weakest family, the cost)."""
    reaches = [name for name, row in table.items() if _weakest(row)[1] >= bar]
    family, ceiling = _weakest(table[got])
    if _weakest(table[want])[1] == bar:
        return (f" — the weakest family of {want!r} is exactly at the bar, {bar:.0%}: reaching the bar means ≥, "
                "not >")
    if not reaches:
        return (f" — no latent reaches the bar {bar:.0%} here: return the one whose weakest family comes "
                f"closest ({want!r}, {_weakest(table[want])[1]:.0%}), whatever it costs")
    if ceiling < bar:
        average = sum(table[got]["ceiling"].values()) / len(table[got]["ceiling"])
        if average >= bar:
            return (f" — {got!r} does not reach the bar: its average, {average:.0%}, does, but its {family} "
                    f"ceiling is {ceiling:.0%}. Judge a latent by its weakest family (the min over families), "
                    "not by its average, which hides the family it fails on")
        return (f" — {got!r} does not reach the bar: its {family} ceiling is {ceiling:.0%} < {bar:.0%}; "
                "a cheap latent is no use if the U-Net can never draw that family well")
    if table[got]["cost"] > table[want]["cost"]:
        return (f" — {got!r} reaches the bar, but so does {want!r}, for less U-Net time per step "
                f"({table[want]['cost']:.2f} against {table[got]['cost']:.2f}): once the bar is reached, a higher "
                "ceiling is not worth the cost — take the cheapest latent that reaches it")
    return (f" — {got!r} and {want!r} cost the same per step; the tie goes to the higher weakest family "
            f"({want!r}: {_weakest(table[want])[1]:.0%}, {got!r}: {ceiling:.0%})")


def check_pick_latent(fn) -> str | None:
    for k, (bar, table, want) in enumerate(PICK_CASES):
        given = copy.deepcopy(table)
        try:
            got = call(fn, given, bar)
        except YourFunctionFailed as failure:
            if any(_weakest(row)[1] >= bar for row in table.values()):
                raise
            raise YourFunctionFailed(f"{failure} (with bar {bar:.0%} no latent reaches the bar: there is none "
                                     "to choose among, so return the one whose weakest family comes closest)")
        if given != table:
            return "your function changed the table it was given (sorted it, popped from it?): leave it as it is"
        where = f"case {k + 1} of {len(PICK_CASES)}, bar {bar:.0%}, latents {_summary(table)}"
        if isinstance(got, dict) and got in table.values():
            return f"{where}: you returned a row of the table; return its name (the key), e.g. {want!r}"
        if not isinstance(got, str) or got not in table:
            return f"{where}: return the name of one latent, one of {list(table)}; got {describe(got)}"
        if got != want:
            return f"{where}: you picked {got!r}, expected {want!r}" + _pick_hint(table, bar, got, want)
    return None

"""Solutions to lesson 13's exercises, and answers to its questions.

Run this file to check every solution: `python lessons/solutions/13_provenance_and_watermarks.py`.
"""
import math


def exercise_threshold(alpha):
    # exp(−t²/2) = α  ⇔  t = √(2·ln(1/α)); any larger t keeps the bound below α too.
    return math.sqrt(2 * math.log(1 / alpha))


def exercise_embed(image, pattern, strength):
    # x' = clip(x + s·(2/255)·w): the (H, W) pattern broadcasts over the 3 channels.
    return (image + strength * (2 / 255) * pattern).clamp(-1, 1)


def exercise_z_score(u, w):
    # z = Σ u·w / √(Σ u²) per image.
    return (u * w).flatten(1).sum(1) / u.flatten(1).norm(dim=1)  # (B,)


# Common mistakes the checks recognise (the test suite makes sure each gets a message, not "correct").
def mistake_threshold(alpha):
    return 2 * math.log(1 / alpha)  # t², not t


def mistake_embed(image, pattern, strength):
    return image + strength * (2 / 255) * pattern  # not clipped


def mistake_z_score(u, w):
    return (u * w).flatten(1).sum(1) / u.flatten(1).pow(2).sum(1)  # Σ u², not its root


ANSWERS = """
Q1. An HMAC proves that whoever sealed the manifest knew the key, and that neither the fields nor the
    pixels changed since. With a public key anyone can seal anything, so it proves only integrity (nothing
    was altered after sealing by someone who did not re-seal), not who made the image. Real provenance
    (C2PA) signs with a private key and a certificate chain, so a verifier learns who signed.

Q2. Section 3 measured PNG, additive noise and JPEG q90: the mark survives all three (lowest z far above the
    threshold). A crop shifts the pixels against the key's pattern and a resize resamples them: correlation
    with w then falls to chance, so the mark is lost (the module docstring says so: no geometric robustness).
    A screenshot at the same scale keeps it; scaled, it loses it. Stripping the manifest (section 4) leaves
    the mark untouched — that is why there are two labels.

Q3. Embedding adds ±s grey levels; where the pixel is already 255 (white) the +s half is clipped away and
    only the −s half remains (and at 0, black, the reverse), so half the pattern's pixels carry no mark. Measured
    on 200 dataset images: straight after PNG that costs nothing (z ≈ 54 for both groups — in a perfectly flat
    background the weighting u = r/(v + σ₀²) gives the surviving half a huge weight), but once noise or JPEG
    raises the background's local energy v, the white/black images score ~30 and ~12 against ~45 and ~25: the
    lower bump of the histogram.

Why z has variance 1 (exercise 3): with u fixed and w i.i.d. ±1 independent of u, Σ u·w has mean 0 and
variance Σ u²·Var(w) = Σ u², so dividing by √(Σ u²) gives variance 1 exactly, whatever the image.
"""

if __name__ == "__main__":
    import importlib
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from lessons.checks import report

    checks = importlib.import_module("lessons.checks.13_provenance_and_watermarks")
    for name in ("threshold", "embed", "z_score"):
        report(getattr(checks, f"check_{name}"), globals()[f"exercise_{name}"], name)

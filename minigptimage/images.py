"""Reading a user's image and mask files safely, for ``python -m minigptimage edit``.

A file from outside is hostile until proven otherwise: it may be missing, not an image, cut short, huge, in
an unexpected pixel format or of the wrong size. Every such case raises a ValueError that names the file, so
the command line can print one clear line. Pillow decodes lazily, so ``im.load()`` is called inside the
``try``: a truncated PNG fails there, not later inside torch.

Pixel formats (Pillow modes) of ``load_image``:
    RGB                 used as is
    L, 1, P, CMYK, …     converted to RGB by Pillow (grey g -> (g, g, g))
    RGBA, LA, P + alpha  composited over a white background ("over": (1−α)·white + α·colour), since the
                         model's images have no transparency and most transparent drawings mean "paper"
    I;16 (16-bit grey)   scaled by 1/65535 (not clipped to 8 bits) and repeated over three channels
    I, F (32-bit)        refused: no agreed range
The size must be image_size × image_size exactly, read from the file's header before decoding (a huge file
is refused unread). Nothing is resized silently (a resize would move the masked region and blur the glyphs);
the message says the size found and the size expected.

``load_mask``: a grey or RGB(A) image whose luminance is ≥ 128 (white) where the image is to be repainted
and < 128 (black) elsewhere; anti-aliased edges are thresholded at 128 (alpha is ignored). The result is the
(1, 1, H, W) float {0, 1} mask of ``MiniGPTImage.inpaint`` (1 = repaint).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

MASK_THRESHOLD = 128  # 8-bit luminance at or above which a mask pixel means "repaint"


def _open(path, what: str, image_size: int) -> Image.Image:
    """The decoded image at ``path``, or a ValueError naming the file. The size is read from the header and
    checked before anything is decoded, so a huge file costs no memory."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{what} {str(path)!r}: {'not a file' if path.exists() else 'no such file'}")
    try:
        with Image.open(path) as im:
            size = im.size  # from the header
            if size == (image_size, image_size):
                im.load()  # decode now: a truncated or corrupt file fails here
                im = im.copy()
    except UnidentifiedImageError:
        raise ValueError(f"{what} {str(path)!r}: not an image (not a format Pillow can read)") from None
    except Exception as err:  # OSError (truncated, corrupt), DecompressionBombError, …
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0][:120]
        raise ValueError(f"{what} {str(path)!r}: a broken image ({reason})") from None
    if size != (image_size, image_size):
        raise ValueError(f"{what} {str(path)!r}: the image is {size[0]}x{size[1]} pixels, expected "
                         f"{image_size}x{image_size} (resize it first; nothing is resized here)")
    return im


def _to_rgb(im: Image.Image, what: str, path) -> np.ndarray:
    """(H, W, 3) float64 in [0, 1], following the table of the module docstring."""
    if im.mode.startswith("I;16"):
        grey = np.asarray(im, dtype=np.float64) / 65535  # (H, W)
        return np.repeat(grey[..., None], 3, axis=2)  # (H, W, 3)
    if im.mode in ("I", "F"):
        raise ValueError(f"{what} {str(path)!r}: 32-bit pixels (mode {im.mode}) are not supported; "
                         "save it as 8-bit RGB")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255  # (H, W, 4)
        alpha = rgba[..., 3:]  # (H, W, 1)
        return (1 - alpha) * 1.0 + alpha * rgba[..., :3]  # over white
    return np.asarray(im.convert("RGB"), dtype=np.float64) / 255  # (H, W, 3)


def load_image(path, image_size: int) -> torch.Tensor:
    """An image file -> (1, 3, H, W) float32 in [-1, 1]; ValueError naming the file for anything wrong."""
    im = _open(path, "image", image_size)
    rgb = _to_rgb(im, "image", path)  # (H, W, 3) in [0, 1]
    x = torch.from_numpy(rgb).float().permute(2, 0, 1)[None]  # (1, 3, H, W)
    return (x * 2 - 1).clamp(-1, 1)


def load_mask(path, image_size: int) -> torch.Tensor:
    """A mask file (white = repaint) -> (1, 1, H, W) float32 in {0, 1}; ValueError naming the file."""
    im = _open(path, "mask", image_size)
    if im.mode.startswith("I;16"):
        grey = np.asarray(im, dtype=np.float64) / 257  # 16-bit -> the 8-bit scale
    elif im.mode in ("I", "F"):
        raise ValueError(f"mask {str(path)!r}: 32-bit pixels (mode {im.mode}) are not supported; "
                         "save it as 8-bit grey")
    else:
        grey = np.asarray(im.convert("L"), dtype=np.float64)  # (H, W) luminance 0 … 255, alpha dropped
    return torch.from_numpy(grey >= MASK_THRESHOLD).float()[None, None]  # (1, 1, H, W)

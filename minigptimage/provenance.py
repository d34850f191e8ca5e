"""Provenance: a manifest saying how an image was made, stored inside the PNG, plus the invisible mark.

Two complementary signals, as in the content-credentials world:
1. A **manifest** (inspired by C2PA, the Coalition for Content Provenance and Authenticity, c2pa.org): the
   prompt, seed, sampler, steps, guidance, checkpoint SHA-256, software version, UTC time and the SHA-256 of
   the exact 8-bit RGB pixels written, as JSON in a PNG iTXt chunk named ``minigptimage.provenance``.
   It is optionally sealed with HMAC-SHA256 over its canonical JSON (sorted keys, no spaces, UTF-8).
   This is **NOT a signed C2PA manifest**: no JUMBF box, no X.509 certificate chain, no public-key signature.
   An HMAC is a *shared-secret* seal: whoever holds the key can check it — and forge it. DEFAULT_KEY is public
   (written below), so with it the seal only detects accidents and casual edits; use a secret key otherwise.
   A manifest is metadata: re-saving the image with another tool simply drops it.
2. A **watermark** in the pixels themselves (``watermark.py``): survives re-encoding (PNG, JPEG q90, noise)
   that strips the manifest, but carries one bit ("marked with this key") rather than the whole story.

``verify_png`` checks both: the manifest is present, the pixel hash matches the pixels in the file (any
changed pixel breaks it), the HMAC matches (any changed field, or a wrong key, breaks it) and the mark is found.
The file is hostile until checked: an image over MAX_VERIFY_PIXELS is refused from its PNG header, before any
decoding; a manifest that is not a JSON object, nests deeper than MAX_NESTING or holds fields of the wrong type
makes a FAILED report, never an exception; ``VerifyReport.summary`` prints every field from the file as one
short line with control and escape characters written out (``\\x1b``), so a forged field cannot repaint a terminal.
Files are written atomically (``checkpoints.atomic_write``: a temporary file in the same folder, then
``os.replace``): a crash or an error never leaves a half-written PNG.
"""
from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, PngImagePlugin

import minigptimage
from minigptimage.checkpoints import atomic_write
from minigptimage.watermark import DEFAULT_STRENGTH, check_image, detect_watermark, embed_watermark, key_bytes

PNG_TEXT_KEY = "minigptimage.provenance"  # name of the iTXt chunk that holds the manifest
MANIFEST_FORMAT = "minigptimage.provenance/1"
DEFAULT_KEY = b"minigptimage-public-demo-key"  # public! proves integrity, not authorship (see docstring)
CALLER_FIELDS = ("prompt", "seed", "sampler", "steps", "guidance", "checkpoint_sha256")  # what the pipeline passes
COMPUTED_FIELDS = ("format", "software_version", "width", "height", "pixel_sha256", "watermark", "hmac_sha256")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_VERIFY_PIXELS = 1024 * 1024  # the detector's float64 work takes ~100 bytes a pixel: ~100 MB at this size
MAX_NESTING = 8                  # our manifests nest 2 deep (the watermark's dict); deeper is not one of ours
FIELD_CHARS = 200                # a field printed by ``summary`` is cut to this many characters


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """(3, H, W) in [-1, 1] → (H, W, 3) uint8, the exact array a PNG stores: round((x + 1)·127.5)."""
    image = check_image(image)
    if image.dim() != 3:
        raise ValueError(f"image: expected one image (3, H, W), got {tuple(image.shape)}")
    return ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def from_uint8(pixels: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, H, W) float in [-1, 1]; the inverse of ``to_uint8`` on the 8-bit grid."""
    return torch.from_numpy(np.array(pixels, dtype=np.float32)).permute(2, 0, 1) / 127.5 - 1


def pixel_sha256(pixels: np.ndarray) -> str:
    """SHA-256 (hex) of the raw (H, W, 3) uint8 bytes, row-major — the decoded PNG scanlines."""
    return hashlib.sha256(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes()).hexdigest()


def file_sha256(path: str | os.PathLike) -> str:
    """SHA-256 (hex) of a file's bytes, e.g. the checkpoint for the manifest's ``checkpoint_sha256``."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def canonical_json(manifest: dict) -> bytes:
    """The bytes the HMAC covers: every field except ``hmac_sha256``, keys sorted, no spaces, UTF-8."""
    body = {k: v for k, v in manifest.items() if k != "hmac_sha256"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def manifest_hmac(manifest: dict, key: bytes | str) -> str:
    """HMAC-SHA256 (hex) of the canonical JSON with the key (RFC 2104)."""
    return hmac.new(key_bytes(key), canonical_json(manifest), hashlib.sha256).hexdigest()


def build_manifest(pixels: np.ndarray, manifest_fields: dict, key=None, watermark_strength=None) -> dict:
    """The manifest of ``pixels`` (H, W, 3) uint8: caller fields + computed ones, sealed when a key is given."""
    if not isinstance(manifest_fields, dict) or not all(isinstance(k, str) for k in manifest_fields):
        raise ValueError(f"manifest_fields: expected a dict with str keys, got {manifest_fields!r}")
    reserved = sorted(set(manifest_fields) & set(COMPUTED_FIELDS))
    if reserved:
        raise ValueError(f"manifest_fields: {reserved} are computed here and cannot be given")
    manifest = {"created_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                **manifest_fields,
                "format": MANIFEST_FORMAT, "software_version": minigptimage.__version__,
                "height": int(pixels.shape[0]), "width": int(pixels.shape[1]),
                "pixel_sha256": pixel_sha256(pixels),
                "watermark": None if watermark_strength is None
                else {"method": "spread-spectrum-luma/1", "strength": float(watermark_strength)}}
    try:
        canonical_json(manifest)
    except (TypeError, ValueError) as e:
        raise ValueError(f"manifest_fields: values must be JSON numbers, strings, lists or dicts ({e})") from None
    manifest["hmac_sha256"] = None if key is None else manifest_hmac(manifest, key)
    return manifest


def write_png(pixels: np.ndarray, path: str | os.PathLike, text: dict | None = None) -> Path:
    """Write (H, W, 3) uint8 as an RGB PNG with iTXt chunks ``text``, atomically (temp file + os.replace)."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"path: expected a file name ending in .png, got {str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"path: folder {str(path.parent)!r} does not exist")
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_itxt(k, v)
    return atomic_write(path, lambda f: Image.fromarray(pixels).save(f, format="PNG", pnginfo=info))


def save_png_with_provenance(image: torch.Tensor, path: str | os.PathLike, manifest_fields: dict,
                             key: bytes | str | None = DEFAULT_KEY, watermark: bool = True, sign: bool = True,
                             strength: float = DEFAULT_STRENGTH) -> dict:
    """Mark ``image`` (3, H, W) in [-1, 1], quantise to 8 bits, write PNG + manifest atomically; return the manifest.

    ``manifest_fields``: the caller's fields, normally CALLER_FIELDS (prompt, seed, sampler, steps, guidance,
    checkpoint_sha256); ``created_utc`` may be given to pin the time. ``watermark`` and ``sign`` need a key."""
    image = check_image(image)
    if image.dim() != 3:
        raise ValueError(f"image: expected one image (3, H, W), got {tuple(image.shape)}")
    if key is None and (watermark or sign):
        raise ValueError("key: watermark=True or sign=True needs a key (pass key=..., or both flags False)")
    if watermark:
        image = embed_watermark(image, key, strength)
    pixels = to_uint8(image)  # (H, W, 3): the exact bytes the hash covers
    manifest = build_manifest(pixels, manifest_fields, key if sign else None, strength if watermark else None)
    write_png(pixels, path, {PNG_TEXT_KEY: json.dumps(manifest, ensure_ascii=False)})
    return manifest


def save_generated_png(image: torch.Tensor, path: str | os.PathLike, manifest_fields: dict, checkpoint,
                       key: bytes | str | None = None, watermark: bool = True, sign: bool = True) -> dict:
    """``save_png_with_provenance`` for an image a model made: the manifest also records the SHA-256 of the
    ``checkpoint`` file, and ``key`` None means DEFAULT_KEY (used only to mark or to seal)."""
    fields = dict(manifest_fields, checkpoint_sha256=file_sha256(checkpoint))
    key = DEFAULT_KEY if key is None else key
    return save_png_with_provenance(image.cpu(), path, fields, key=key if (watermark or sign) else None,
                                    watermark=watermark, sign=sign)


def read_png(path: str | os.PathLike) -> tuple[np.ndarray, dict | None]:
    """(pixels (H, W, 3) uint8, manifest dict or None) of a PNG; ValueError naming the file when it is unreadable
    or over MAX_VERIFY_PIXELS (read from the header, before decoding). A manifest chunk that is not a JSON object
    of at most MAX_NESTING levels comes back as ``{"unreadable": reason}``; text chunks over Pillow's limit
    (1 MB) raise ManifestTooLarge."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    with open(path, "rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            raise ValueError(f"{path}: not a PNG file (it does not start with the PNG signature)")
    try:
        with Image.open(path) as im:
            width, height = im.size  # from the IHDR header; nothing decoded yet
            if width * height <= MAX_VERIFY_PIXELS:
                im.load()  # decodes everything; raises on a truncated or corrupt file
                pixels = np.asarray(im.convert("RGB"), dtype=np.uint8)
                text = dict(getattr(im, "text", {}))
    except Exception as e:  # Pillow raises OSError, SyntaxError, ValueError, zlib.error … for broken files
        if isinstance(e, ValueError) and "MAX_TEXT" in str(e):  # its text limits: MAX_TEXT_CHUNK, MAX_TEXT_MEMORY
            raise ManifestTooLarge(f"{path}: a text chunk is over Pillow's limit of "
                                   f"{PngImagePlugin.MAX_TEXT_CHUNK} bytes: no manifest minigptimage writes") from None
        raise ValueError(f"{path}: truncated or corrupt PNG ({type(e).__name__}: {e})") from None
    if width * height > MAX_VERIFY_PIXELS:
        raise ValueError(f"{path}: the image is {width}x{height} pixels; verify reads at most "
                         f"{MAX_VERIFY_PIXELS} pixels (1024x1024)")
    if PNG_TEXT_KEY not in text:
        return pixels, None
    return pixels, parse_manifest(text[PNG_TEXT_KEY])


class ManifestTooLarge(ValueError):
    """A PNG whose text chunks Pillow refuses to read (over its 1 MB limit): no manifest we write."""


def parse_manifest(text: str) -> dict:
    """The manifest JSON object, or ``{"unreadable": reason}`` for anything else (deep nesting included)."""
    try:
        manifest = json.loads(text)
    except RecursionError:
        return {"unreadable": "the manifest chunk nests too deep to read"}
    except ValueError:  # bad JSON, or an integer of over 4300 digits
        return {"unreadable": "the manifest chunk is not valid JSON"}
    if not isinstance(manifest, dict):
        return {"unreadable": f"the manifest is a JSON {type(manifest).__name__}, not an object"}
    if nesting(manifest) > MAX_NESTING:
        return {"unreadable": f"the manifest nests deeper than {MAX_NESTING} levels"}
    return manifest


def nesting(value) -> int:
    """How many lists and dicts deep ``value`` goes (0 for a number or a string), counted without recursion."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, (list, dict)):
            deepest = max(deepest, depth + 1)
            if depth + 1 > MAX_NESTING:
                break
            todo += [(v, depth + 1) for v in (value.values() if isinstance(value, dict) else value)]
    return deepest


def same_digest(claimed, actual: str) -> bool:
    """A constant-time comparison of a hex digest from the file (any JSON value) with the one computed."""
    return isinstance(claimed, str) and claimed.isascii() and hmac.compare_digest(claimed, actual)


def printable(value, limit: int = FIELD_CHARS) -> str:
    """A value from a file as one safe line: a string as is, anything else as JSON; control, escape and other
    invisible characters written as Python escapes (``\\x1b``, ``\\u202e``); cut to ``limit`` characters."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text[:limit])
    return safe if len(safe) <= limit and len(text) <= limit else f"{safe[:limit]}… ({len(text)} characters)"


@dataclass
class VerifyReport:
    """What ``verify_png`` found in one file."""
    path: str                       # the file checked
    manifest: dict | None           # the manifest as read (None when the file has none)
    pixels_match: bool              # SHA-256 of the file's pixels == the manifest's pixel_sha256
    signed: bool                    # the manifest carries an HMAC
    signature_valid: bool           # that HMAC matches with the key given
    watermark_score: float | None   # detector z-score (None when no key was given)
    watermark_detected: bool        # z > DETECTION_THRESHOLD
    ok: bool                        # manifest present, pixels match, sealed and mark found (see verify_png)
    key_given: bool = True          # False: verified with key=None, so neither HMAC nor mark was checked
    public_key: bool = False        # verified with DEFAULT_KEY, which anyone can use to seal a file
    problems: list[str] = field(default_factory=list)  # one line per failed check

    @property
    def manifest_found(self) -> bool:
        return self.manifest is not None

    @property
    def manifest_valid(self) -> bool:
        return self.pixels_match and self.signature_valid

    def summary(self) -> str:
        """The report as lines; every value read from the file goes through ``printable``."""
        m = self.manifest or {}
        verdict = "OK" if self.ok else "FAILED"
        if self.ok and self.public_key:
            verdict += (" (public demo key: anyone can seal a file with it, so this catches accidental edits, "
                        "not forgery, and does not show who made the file)")
        readable = self.manifest_found and "unreadable" not in m
        lines = [f"{printable(self.path)}: {verdict}",
                 "  manifest: " + ("missing" if not self.manifest_found else "unreadable" if not readable else
                                   f"found (format {printable(m.get('format'))}, software "
                                   f"{printable(m.get('software_version'))}, {printable(m.get('created_utc'))})")]
        if readable:
            lines += [f"    {k}: {printable(repr(m[k]) if isinstance(m[k], str) else m[k])}"
                      for k in CALLER_FIELDS if k in m]
            lines.append(f"  pixels match manifest hash: {'yes' if self.pixels_match else 'no'}")
            seal = "valid" if self.signature_valid else "invalid" if self.signed else "unsigned"
            lines.append(f"  HMAC seal: {seal if self.key_given else 'not checked (no key)'}")
        if self.watermark_score is None:
            lines.append("  watermark: not checked" + (" (no key)" if not self.key_given else ""))
        else:
            found = "detected" if self.watermark_detected else "not detected"
            lines.append(f"  watermark: {found}, z = {self.watermark_score:.2f}")
        lines += [f"  problem: {printable(p)}" for p in self.problems]
        return "\n".join(lines)


def verify_png(path: str | os.PathLike, key: bytes | str | None = DEFAULT_KEY) -> VerifyReport:
    """Check a PNG's manifest (pixel hash, HMAC with ``key``) and watermark (with ``key``).

    ``ok`` is True when the manifest is present, the pixels match its hash, and — when a key is given — its HMAC
    is valid and the mark is detected (unless the valid manifest says no mark was added). With ``key=None`` only
    the pixel hash is checked, which proves nothing about who made the file. A forged or malformed manifest gives
    a report that is not ok; a ValueError means the file is missing, not a PNG, broken or too large."""
    public = key is not None and key_bytes(key) == DEFAULT_KEY
    try:
        pixels, manifest = read_png(path)
    except ManifestTooLarge as err:
        return VerifyReport(str(path), {"unreadable": str(err)}, False, False, False, None, False, False,
                            key is not None, public, [str(err)])
    problems = []
    pixels_match = bool(manifest) and same_digest(manifest.get("pixel_sha256"), pixel_sha256(pixels))
    signed = bool(manifest) and isinstance(manifest.get("hmac_sha256"), str)
    signature_valid = False
    if manifest is None:
        problems.append("no provenance manifest in the file")
    elif "unreadable" in manifest:
        problems.append(manifest["unreadable"] if isinstance(manifest["unreadable"], str) else "unreadable manifest")
    elif not pixels_match:
        problems.append("pixels differ from the manifest's pixel_sha256 (image edited, or manifest copied)")
    if manifest is not None and "unreadable" not in manifest and key is not None:
        if not signed:
            problems.append("manifest is unsigned (no HMAC)")
        else:
            try:
                signature_valid = same_digest(manifest["hmac_sha256"], manifest_hmac(manifest, key))
            except ValueError:  # a field that is not canonical JSON (nan, a lone surrogate): not sealed by us
                signature_valid = False
            if not signature_valid:
                problems.append("HMAC does not match: a field was changed, or the key is wrong")
    score, detected = None, False
    if key is not None and min(pixels.shape[:2]) < 8:
        problems.append(f"the image is {pixels.shape[1]}x{pixels.shape[0]} pixels: too small to carry the mark")
    elif key is not None:
        score, detected = detect_watermark(from_uint8(pixels), key)
        expects_mark = not (signature_valid and manifest.get("watermark") is None)
        if expects_mark and not detected:
            problems.append("watermark not detected with this key")
    ok = manifest is not None and pixels_match and (key is None or (signature_valid and not problems))
    return VerifyReport(str(path), manifest, pixels_match, signed, signature_valid, score, detected, ok,
                        key is not None, public, problems)

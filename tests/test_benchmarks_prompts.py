"""benchmarks.prompts: the specked share per family (a measure, nothing filtered) and the table's columns."""
import shutil

import pytest
import torch

from minigptimage.benchmarks import prompts
from minigptimage.glyphs import COLORS
from minigptimage.pipeline import MiniGPTImage


def test_specked_share_counts_images_with_a_speck_away_from_the_text():
    samples = prompts.family_samples("held-out vocabulary", 4)
    clean = torch.stack([s.image for s in samples])  # (4, 3, H, W)
    assert prompts.specked_share(clean) == 0.0
    s, specked = samples[1], clean.clone()
    y = 3 if s.box[1] > 12 else 56  # a 3×3 blot of the text's colour in a corner row far from the word
    specked[1, :, y:y + 3, 3:6] = torch.tensor(COLORS[s.color]).float()[:, None, None] / 127.5 - 1
    assert prompts.specked_share(specked) == 0.25


def test_the_table_has_a_row_per_family_and_a_specked_column(tmp_path, capsys):
    path = tmp_path / "micro.pt"
    MiniGPTImage.from_preset("micro").save(path)
    assert prompts.main(["--checkpoint", str(path), "--n", "1", "--steps", "1"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("| family"))
    assert "| specked |" in header and all(f"| {name} |" in out for name in prompts.FAMILIES)
    assert "| held-out vocabulary |" in out


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="the tesseract program is not installed")
def test_tesseract_reads_two_words_with_their_space():
    from minigptimage.benchmarks.ocr_legibility import prepare, tesseract_read
    samples = prompts.family_samples("two words", 8)
    reads = tesseract_read([prepare(s.image) for s in samples])
    assert sum(r == s.text for r, s in zip(reads, samples)) >= 6, list(zip(reads, [s.text for s in samples]))

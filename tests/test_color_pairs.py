"""benchmarks.color_pairs: the redrawn renders, the legibility rule and its table (the measurement itself, 56
pairs × 200 renders read by Tesseract, takes minutes: its figures are in RESULTS.md)."""
import torch

from minigptimage.benchmarks import color_pairs
from minigptimage.glyphs import COLOR_PAIRS, GlyphDataset
from minigptimage.reader import GlyphReader


def test_a_pair_render_is_the_dataset_item_redrawn_in_other_colours():
    samples = [GlyphDataset("heldout", 6, seed=0)[i] for i in range(6)]
    for s in samples:  # in its own colours the redraw is the item itself, exactly
        assert torch.equal(color_pairs.pair_renders([s], s.color, s.background)[0], s.image)
    other = color_pairs.pair_renders(samples, "yellow", "white")  # (6, 3, H, W)
    assert other.shape == (6, 3, 64, 64)
    yellow = torch.tensor([250, 215, 30]) / 127.5 - 1
    for image, s in zip(other, samples):  # the full-ink pixels are yellow, and only inside the item's box
        ink = (image - yellow[:, None, None]).abs().amax(0) < 1e-6
        ys, xs = torch.nonzero(ink, as_tuple=True)
        x0, y0, x1, y1 = s.box
        assert len(ys) and x0 <= xs.min() and xs.max() < x1 and y0 <= ys.min() and ys.max() < y1


def test_our_reader_reads_a_pair_and_the_rule_needs_both_readers():
    samples = [GlyphDataset("heldout", 8, seed=0, text_kind="upper", lengths=(3, 5))[i] for i in range(8)]
    read = GlyphReader.pretrained().read(color_pairs.pair_renders(samples, "red", "yellow"))
    assert sum(r == s.text for r, s in zip(read, samples)) >= 7
    results = {pair: (1.0, 1.0) for pair in COLOR_PAIRS}
    results |= {("red", "blue"): (0.975, 0.08), ("red", "black"): (0.89, 1.0), ("yellow", "white"): (0.9, 0.9)}
    assert color_pairs.legible(results) == [p for p in COLOR_PAIRS if p != ("red", "black")]
    table = color_pairs.table(results)
    assert "| red on blue | 97.5% | 8.0% | 1.4 | no |" in table
    assert "| yellow on white | 90.0% | 90.0% | 1.4 | yes |" in table  # legible to both, however faint


def test_without_tesseract_the_benchmark_skips(monkeypatch, capsys):
    monkeypatch.setattr(color_pairs.shutil, "which", lambda name: None)
    assert color_pairs.main(["--n", "1"]) == 0 and "skipped" in capsys.readouterr().out

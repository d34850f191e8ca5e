"""plots.py: the grid the demo and the lessons save shows each prompt whole, and is written as a PNG."""
import torch
from PIL import Image

from minigptimage import plots

PROMPT = 'Make a poster: "SUMMER" in orange letters on a purple background, at the top of the image'


def test_image_grid_shows_every_title_whole_and_writes_a_png(tmp_path, monkeypatch):
    titles, save = [], plots.save_figure

    def keep_titles(fig, path):
        titles.extend(ax.get_title() for ax in fig.axes if ax.get_title())
        save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep_titles)
    plots.image_grid(torch.zeros(3, 3, 64, 64), tmp_path / "grid.png", titles=[PROMPT, "short", "a\nb"])
    assert [t.replace("\n", " ") for t in titles[:2]] == [PROMPT, "short"]  # wrapped at spaces, never cut
    assert max(len(line) for line in titles[0].split("\n")) <= 26 < len(PROMPT)
    assert titles[2] == "a\nb"
    assert Image.open(tmp_path / "grid.png").format == "PNG"

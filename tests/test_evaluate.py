"""Evaluation and the prompt benchmark: which items each family asks for, and colour binding scored right."""
import torch

from minigptimage import captions, layout
from minigptimage.benchmarks import prompts
from minigptimage.evaluate import evaluation_samples, score_images
from minigptimage.glyphs import is_heldout_text, load_words
from minigptimage.pipeline import TINY_DATA
from minigptimage.reader import GlyphReader


def test_evaluation_captions_name_both_colours_and_the_place():
    for s in evaluation_samples("heldout", 12):
        parsed = layout.parse_prompt(s.caption)
        assert (parsed.text_color, parsed.background, parsed.region) == (s.color, s.background, s.position)


def test_each_family_asks_for_held_out_text_in_its_phrasing():
    heldout_words = set(load_words("heldout"))
    wanted = {"training phrasings": "train", "held-out phrasings": "heldout", "held-out vocabulary": "heldout-vocab",
              "held-out connectives": "heldout-connectives"}
    for name in prompts.FAMILIES:
        samples = prompts.family_samples(name, 6)
        assert len(samples) == 6
        for s in samples:
            words = s.text.split()
            assert all(w.upper() in heldout_words for w in words) or is_heldout_text(s.text) or len(s.text) <= 2
            family = wanted.get(name, "train")
            pool = captions.forms("heldout-vocab") if family == "heldout-vocab" else captions.all_forms()
            caption_forms = {f for f in pool
                             if s.caption in {captions.fill(f, s.text, s.color, s.background, s.position, place=p,
                                                            comma=c, stop=t, capital=k)
                                              for p in range(4) for c in (0, 1) for t in (0, 1) for k in (0, 1)}}
            if family in ("train", "heldout-connectives") and not caption_forms:  # composed from parts
                parsed = layout.parse_prompt(s.caption)
                assert (parsed.text_color, parsed.background, parsed.region) == (s.color, s.background, s.position)
                continue
            assert caption_forms and (family == "heldout-vocab"  # its own forms, outside the phrasing split
                                      or all(captions.is_heldout(f) == (family == "heldout") for f in caption_forms))
        if name == "7–10 characters":
            assert all(7 <= len(s.text) <= 10 for s in samples)
        if name == "two words":
            assert all(len(s.text.split()) == 2 for s in samples)


def test_colour_binding_needs_both_colours():
    """A render scores binding 1; the same render with text and background colours swapped scores 0 on
    binding and on text colour."""
    samples = evaluation_samples("heldout", 4)
    images = torch.stack([s.image for s in samples])
    reader = GlyphReader.pretrained()
    right = score_images(images, samples, reader, "renders", 0.0)
    assert right.binding_acc == 1.0 and right.colour_acc == 1.0
    swapped = [s.__class__(**{**s.__dict__, "color": s.background, "background": s.color}) for s in samples]
    wrong = score_images(images, swapped, reader, "swapped", 0.0)
    assert wrong.binding_acc == 0.0 and wrong.colour_acc == 0.0 and wrong.word_acc == right.word_acc


def test_benchmark_runs_end_to_end_on_a_micro_model(tmp_path):
    from minigptimage.pipeline import MiniGPTImage
    model, reader = MiniGPTImage.from_preset("micro"), GlyphReader.pretrained()
    score, _ = prompts.run_family(model, reader, "two words", 2, steps=1)
    assert score.n == 2 and 0 <= score.binding_acc <= 1 and score.seconds_per_image > 0
    by_length = prompts.binding_by_length(model, reader, 1, steps=1, lengths=(3, 8))
    prompts.plot_by_length({"micro": by_length}, tmp_path / "fig.png")
    assert set(by_length) == {3, 8} and (tmp_path / "fig.png").stat().st_size > 0


def test_vae_ceiling_reads_clean_renders_and_a_broken_vae_loses_them():
    from minigptimage.vae import VAE
    reader, vae = GlyphReader.pretrained(), VAE.pretrained()
    clean, round_trip = prompts.vae_ceiling(vae, reader, "training phrasings", 8)
    assert clean >= 0.75 and round_trip >= 0.5  # the shipped reader and VAE keep short words readable
    with torch.no_grad():
        for p in vae.parameters():
            p.zero_()  # a VAE that decodes everything to one flat image
    assert prompts.vae_ceiling(vae, reader, "training phrasings", 8) == (clean, 0.0)


def test_ceiling_command_prints_a_row_per_family(capsys):
    assert prompts.main(["--ceiling", "--n", "2"]) == 0  # the shipped model's own VAE: 32×32×4
    out = capsys.readouterr().out
    assert "latent 4 × (side / 2)²" in out and all(f"| {name} |" in out for name in prompts.FAMILIES)
    assert prompts.main(["--ceiling", "--n", "2", "--vae", str(TINY_DATA / "vae.pt")]) == 0  # a VAE file
    assert "latent 8 × (side / 4)²" in capsys.readouterr().out


# ------------------------------------------------------------- the scores, on images whose right answer is known
from types import SimpleNamespace  # noqa: E402

import pytest  # noqa: E402

from minigptimage.evaluate import (SplitScore, evaluate, evaluate_layout, evaluate_reference, format_table,  # noqa: E402
                                   generate_in_batches, moved_boxes)
from minigptimage.glyphs import COLORS  # noqa: E402


def drawn(text, color, background, box):
    """``text`` in ``color`` on ``background``, its ink filling ``box`` (the glyph canvas, composited as the dataset
    composites its renders) → (3, 64, 64) in [-1, 1]."""
    canvas = layout.render_canvas(text, box, 64)  # (1, H, W) in [0, 1]
    fg, bg = (torch.tensor(COLORS[c], dtype=torch.float32)[:, None, None] / 127.5 - 1 for c in (color, background))
    return bg + canvas * (fg - bg)


class OracleModel:
    """A stand-in for MiniGPTImage that draws exactly what each prompt asks for (the quoted text, in the named
    colours — black on white when unnamed — in the given box or the planned one), or returns the reference images
    when given; it records every call and the texts it drew."""

    def __init__(self):
        self.config, self.calls, self.drawn = SimpleNamespace(image_size=64), [], []

    def generate(self, prompts, steps=30, seed=0, boxes=None, reference=None, **options):
        self.calls.append(dict(prompts=list(prompts), steps=steps, seed=seed, boxes=boxes, reference=reference,
                               options=options))
        images = []
        for k, prompt in enumerate(prompts):
            p = layout.parse_prompt(prompt)
            self.drawn.append(p.text)
            box = boxes[k] if boxes is not None and boxes[k] is not None else layout.plan_box(prompt, 64)
            images.append(reference[k] if reference is not None else
                          drawn(p.text, p.text_color or "black", p.background or "white", box))
        return torch.stack(images)  # (B, 3, 64, 64)


class ListReader:
    """A stand-in for GlyphReader that reads the texts it is given, in order."""

    def __init__(self, texts):
        self.texts = texts

    def read(self, images):
        assert len(images) == len(self.texts)
        return list(self.texts)


def test_score_images_counts_each_measure_on_known_images():
    """Four images drawn by hand, each wrong in one known way: "DOG" read as "DIG" (characters 2/3), the third
    item's caption asks for a red background where the image has black (text colour right, binding wrong), the
    fourth is drawn at the bottom left where the caption says top left and read as nothing."""
    items = [("CAT", "red", "white", "top left", "top left"), ("DOG", "blue", "yellow", "center", "center"),
             ("GO", "white", "red", "top right", "top right"), ("HI", "black", "white", "top left", "bottom left")]
    images, samples = [], []
    for text, fg, bg, asked, where in items:
        images.append(drawn(text, fg, "black" if text == "GO" else bg, layout.plan_box(text, 64, region=where)))
        samples.append(SimpleNamespace(text=text, color=fg, background=bg, position=asked))
    score = score_images(torch.stack(images), samples, ListReader(["CAT", "DIG", "GO", ""]), "hand", 1.5)
    assert (score.split, score.n, score.seconds_per_image) == ("hand", 4, 1.5)
    assert score.word_acc == pytest.approx(2 / 4) and score.char_acc == pytest.approx((1 + 2 / 3 + 1 + 0) / 4)
    assert score.colour_acc == 1 and score.binding_acc == pytest.approx(3 / 4)
    assert score.position_acc == pytest.approx(3 / 4)


def test_generate_in_batches_slices_every_input_and_seeds_batch_k_with_seed_plus_k():
    model = OracleModel()
    prompts = [f'the word "{w}"' for w in ("A", "BB", "CCC", "DD", "E")]
    boxes = [None, (0, 0, 32, 21), None, None, (32, 43, 64, 64)]
    reference = torch.rand(5, 3, 64, 64) * 2 - 1
    images = generate_in_batches(model, prompts, steps=7, seed=10, batch_size=2, boxes=boxes, reference=reference,
                                 sampler="ddpm")
    assert [c["prompts"] for c in model.calls] == [prompts[:2], prompts[2:4], prompts[4:]]
    assert [c["seed"] for c in model.calls] == [10, 12, 14] and {c["steps"] for c in model.calls} == {7}
    assert [c["boxes"] for c in model.calls] == [boxes[:2], boxes[2:4], boxes[4:]]
    assert all(c["options"] == {"sampler": "ddpm"} for c in model.calls)
    assert torch.equal(images, reference)  # the oracle returns the references: order kept across batches
    model = OracleModel()
    generate_in_batches(model, prompts, batch_size=5)
    assert len(model.calls) == 1 and model.calls[0]["boxes"] is None and model.calls[0]["reference"] is None


def test_moved_boxes_keep_the_shape_reach_every_place_and_follow_the_seed():
    """A 63-pixel-wide box in a 64-pixel image can start at x = 0 or 1 (both happen); a 10-pixel-high one at any
    y in 0..54."""
    samples = [SimpleNamespace(box=(0, 5, 63, 15))] * 60
    boxes = moved_boxes(samples, 64, seed=3)
    assert all(x1 - x0 == 63 and y1 - y0 == 10 and 0 <= x0 and x1 <= 64 and 0 <= y0 and y1 <= 64
               for x0, y0, x1, y1 in boxes)
    assert {b[0] for b in boxes} == {0, 1} and min(b[1] for b in boxes) <= 3 and max(b[3] for b in boxes) >= 62
    assert boxes == moved_boxes(samples, 64, seed=3) and boxes != moved_boxes(samples, 64, seed=4)


def test_format_table_puts_each_score_in_its_column():
    score = SplitScore("heldout", 50, 0.1, 0.2, 0.3, 0.4, 0.5, binding_acc=0.6)
    lines = format_table([score, SplitScore("train", 2, 1, 1, 1, 1, 0.25, 1)], steps=30, sampler="ddim",
                         guidance=3.0).splitlines()
    assert lines[0] == "sampler ddim, 30 steps, guidance 3"
    assert lines[1] == "| texts | n | exact word | characters | text colour | colour binding | position | s/image |"
    assert lines[3] == "| held-out (never seen) | 50 | 10.0% | 20.0% | 30.0% | 60.0% | 40.0% | 0.500 |"
    assert lines[4] == "| training vocabulary | 2 | 100.0% | 100.0% | 100.0% | 100.0% | 100.0% | 0.250 |"


def test_evaluate_scores_a_model_that_draws_every_caption_right_as_perfect():
    model = OracleModel()
    reader = SimpleNamespace(read=lambda images: model.drawn[-len(images):])
    scores = evaluate(model, n=3, steps=7, sampler="ddpm", guidance=2.5, seed=4, reader=reader)
    assert [(s.split, s.n) for s in scores] == [("train", 3), ("heldout", 3)]
    for s in scores:
        assert (s.word_acc, s.char_acc, s.colour_acc, s.binding_acc, s.position_acc) == (1, 1, 1, 1, 1)
    captions = [c["prompts"] for c in model.calls]
    assert captions == [[s.caption for s in evaluation_samples(split, 3)] for split in ("train", "heldout")]
    assert all(c["steps"] == 7 and c["seed"] == 4 and c["options"]["sampler"] == "ddpm"
               and c["options"]["guidance"] == 2.5 for c in model.calls)
    with pytest.raises(ValueError, match="n"):
        evaluate(model, n=0, reader=reader)


def test_evaluate_layout_measures_the_ink_against_the_asked_box():
    """The oracle fills each moved box with the word: IoU near 1 with the asked box (far less with the dataset's
    own box, which the prompt never asked for), every word read."""
    model = OracleModel()
    reader = SimpleNamespace(read=lambda images: model.drawn[-len(images):])
    result = evaluate_layout(model, n=6, seed=2, reader=reader)
    samples = evaluation_samples("heldout", 6)
    assert model.calls[0]["boxes"] == moved_boxes(samples, 64, 2)
    assert result["iou"] >= 0.8 and result["iou>0.5"] == 1 and result["word_acc"] == 1
    from minigptimage.scoring import box_iou, glyph_box
    images = torch.stack([drawn(s.text, s.color, s.background, b) for s, b in zip(samples, moved_boxes(samples, 64, 2))])
    assert sum(box_iou(glyph_box(im), s.box) for im, s in zip(images, samples)) / 6 < 0.5


def test_evaluate_reference_scores_agreement_with_the_reference_style():
    """With the reference, the oracle copies it: every style agrees. Without, it draws black on white in the
    center, so the agreement is the share of references in that style (counted here from the pairs)."""
    from minigptimage.glyphs import GlyphDataset
    model = OracleModel()
    reader = SimpleNamespace(read=lambda images: model.drawn[-len(images):])
    assert evaluate_reference(model, n=5, reader=reader) == {"colour": 1, "background": 1, "position": 1, "word_acc": 1}
    refs = [GlyphDataset("heldout", length=5, seed=1234, pairs=True)[i][1] for i in range(5)]
    without = evaluate_reference(model, n=5, reader=reader, use_reference=False)
    assert without["colour"] == pytest.approx(sum(r.color == "black" for r in refs) / 5)
    assert without["background"] == pytest.approx(sum(r.background == "white" for r in refs) / 5)
    assert without["position"] == pytest.approx(sum(r.position == "center" for r in refs) / 5)
    assert model.calls[-1]["reference"] is None and model.calls[0]["reference"].shape == (5, 3, 64, 64)


def test_reader_misses_lists_only_the_misread_renders():
    from minigptimage.evaluate import evaluation_samples, reader_misses
    samples = evaluation_samples("heldout", 4)

    class Reader:  # reads the first two right, the last two wrong
        def read(self, images):
            assert images.shape == (4, 3, 64, 64)
            return [s.text for s in samples[:2]] + ["", samples[3].text.lower() + "?"]

    assert reader_misses(Reader(), samples) == [(samples[2].text, ""), (samples[3].text, samples[3].text.lower() + "?")]

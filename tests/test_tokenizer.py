"""Tokenizers: the character table, round trips, padding and masks, errors, <unk>, checkpoint-safe state."""
import io
import re

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from minigptimage.tokenizer import PROMPT_WORDS, CharTokenizer, WordTokenizer, split_words, trim_padding

printable = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)


def test_char_vocabulary_is_the_documented_table():
    tok = CharTokenizer()
    assert tok.vocab_size == 99 and (tok.pad_id, tok.bos_id, tok.eos_id, tok.unk_id) == (0, 1, 2, 3)
    assert tok.vocab[:4] == ["<pad>", "<bos>", "<eos>", "<unk>"]
    assert [tok.vocab.index(chr(c)) for c in range(32, 127)] == list(range(4, 99))


@given(st.lists(printable, min_size=1, max_size=4), st.integers(0, 5))
def test_char_round_trip_padding_and_mask(texts, extra):
    tok = CharTokenizer()
    max_len = max(len(t) for t in texts) + 2 + extra
    ids, mask = tok.encode(texts, max_len)
    assert ids.shape == mask.shape == (len(texts), max_len) and ids.dtype == torch.long and mask.dtype == torch.bool
    for b, text in enumerate(texts):
        n = len(text)
        assert tok.decode(ids[b]) == text
        assert ids[b, 0] == tok.bos_id and ids[b, n + 1] == tok.eos_id and (ids[b, n + 2:] == tok.pad_id).all()
        assert ids[b, 1:n + 1].tolist() == [tok.vocab.index(ch) for ch in text]  # naive table lookup
        assert mask[b].tolist() == [True] * (n + 2) + [False] * (max_len - n - 2)


@given(st.lists(printable, min_size=1, max_size=4), st.integers(0, 30))
def test_trim_padding_keeps_every_real_token_and_drops_only_shared_padding(texts, extra):
    tok = CharTokenizer()
    ids, mask = tok.encode(texts, max(len(t) for t in texts) + 2 + extra)
    short_ids, short_mask = trim_padding(ids, mask)
    assert short_ids.shape == short_mask.shape == (len(texts), max(len(t) for t in texts) + 2)
    assert torch.equal(ids[:, :short_ids.shape[1]], short_ids) and short_mask.sum() == mask.sum()
    assert [tok.decode(row) for row in short_ids] == texts


@given(st.lists(printable | st.sampled_from(PROMPT_WORDS), min_size=1, max_size=12))
def test_prompt_words_round_trip_and_the_quoted_word_is_always_spelled(pieces):
    tok, plain = CharTokenizer(PROMPT_WORDS), CharTokenizer()
    text = " ".join(pieces)
    ids, mask = tok.encode([text], len(text) + 2)
    assert tok.decode(ids[0]) == text and mask.sum() <= len(text) + 2
    tokens, quoted = tok.tokens(ids[0][mask[0]])[1:-1], False
    for t in tokens:  # word tokens only outside quotes; inside, one token per character
        quoted ^= t == '"'
        assert len(t) == 1 or (not quoted and t in PROMPT_WORDS)
    assert tok.vocab_size == 99 + len(PROMPT_WORDS) and tok.vocab[:99] == plain.vocab


def test_prompt_words_are_whole_tokens_only_as_whole_words():
    tok = CharTokenizer(PROMPT_WORDS)
    ids, mask = tok.encode(['the word "RED" in red on reddish white'], 60)
    tokens = tok.tokens(ids[0][mask[0]])
    assert tokens[1:6] == ["the", " ", "word", " ", '"'] and tokens[6:9] == ["R", "E", "D"]
    assert "red" in tokens and "white" in tokens and "reddish" not in tokens and "d" in tokens
    quoted_red, _ = tok.encode(['"red"'], 10)
    assert tok.tokens(quoted_red[0])[1:6] == ['"', "r", "e", "d", '"']  # inside quotes: spelled
    assert CharTokenizer.from_state_dict(tok.state_dict()).vocab == tok.vocab
    with pytest.raises(ValueError, match="state"):
        CharTokenizer.from_state_dict(CharTokenizer().state_dict() | {"vocab": ["x"]})
    with pytest.raises(ValueError, match="distinct"):
        CharTokenizer(["red", "red"])


@pytest.mark.parametrize("text, position", [("héllo", 1), ("tab\there", 3), ("ok\n", 2), ("雪", 0)])
def test_unknown_characters_raise_with_character_and_position(text, position):
    with pytest.raises(ValueError, match=re.escape(f"{text[position]!r} at position {position}")):
        CharTokenizer().encode(["fine", text], 20)


def test_over_long_texts_and_bad_arguments_raise():
    tok = CharTokenizer()
    tok.encode(["abcd"], 6)  # exactly fits: <bos> a b c d <eos>
    with pytest.raises(ValueError, match="max_len 5"):
        tok.encode(["abcd"], 5)
    with pytest.raises(ValueError, match="texts"):
        tok.encode("abcd", 10)
    with pytest.raises(ValueError, match="max_len"):
        tok.encode(["a"], 1)
    with pytest.raises(ValueError, match="ids"):
        tok.decode(torch.tensor([1, 120, 2]))
    with pytest.raises(ValueError, match="1-D"):
        tok.decode(torch.zeros(2, 3, dtype=torch.long))


def test_split_words_keeps_quoted_case_and_splits_punctuation():
    assert split_words('The word "CAT" in Red, top-left.') == [
        "the", "word", '"', "CAT", '"', "in", "red", ",", "top", "-", "left", "."]


def test_word_tokenizer_maps_unseen_words_to_unk():
    captions = ['the word "CAT" in red on white, at the top', '"DOG" in blue letters on yellow, in the center']
    tok = WordTokenizer.from_texts(captions)
    ids, mask = tok.encode(['the word "ZEBRA" in red on white, at the top'], 16)
    words = tok.tokens(ids[0][mask[0]])
    assert words[:6] == ["<bos>", "the", "word", '"', "<unk>", '"'] and words[-1] == "<eos>"
    assert tok.decode(ids[0]) == 'the word "<unk>" in red on white, at the top'
    assert tok.decode(tok.encode(captions, 16)[0][1]) == captions[1]  # seen text: normalised round trip
    quote, unk = tok.index['"'], tok.unk_id  # case matters inside quotes; outside, words are lower-cased
    assert tok.encode(['"cat" CAT'], 8)[0][0, 1:5].tolist() == [quote, unk, quote, unk]
    assert tok.vocab.index('"') == 4  # the most frequent token comes first (4 quotes)
    with pytest.raises(ValueError, match="max_len 5"):
        tok.encode(captions, 5)


def test_min_count_drops_rare_words():
    tok = WordTokenizer.from_texts(["a b b c c c"], min_count=2)
    assert tok.vocab[4:] == ["c", "b"] and tok.encode(["a"], 3)[0][0, 1] == tok.unk_id


@pytest.mark.parametrize("tok", [CharTokenizer(), WordTokenizer.from_texts(['the word "CAT" in red'])])
def test_state_dict_survives_a_weights_only_checkpoint(tok):
    buffer = io.BytesIO()
    torch.save({"tokenizer": tok.state_dict()}, buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)["tokenizer"]
    again = type(tok).from_state_dict(state)
    texts = ['the word "CAT" in red']
    assert torch.equal(again.encode(texts, 30)[0], tok.encode(texts, 30)[0]) and again.vocab == tok.vocab
    other = WordTokenizer if isinstance(tok, CharTokenizer) else CharTokenizer
    with pytest.raises(ValueError, match="state"):
        other.from_state_dict(state)


def test_trim_padding_keeps_the_last_real_column_of_a_mask_that_is_not_a_prefix():
    """Commit 4e93e34: a mask with a gap (a reference row, say) keeps every column up to its last real token,
    not only as many columns as the longest row has real tokens."""
    ids = torch.arange(12).reshape(2, 6)
    mask = torch.tensor([[True, False, True, False, False, False], [True, True, False, False, False, False]])
    short_ids, short_mask = trim_padding(ids, mask)
    assert short_mask.sum() == mask.sum()  # no real token dropped
    assert torch.equal(short_ids, ids[:, :3]) and torch.equal(short_mask, mask[:, :3])
    empty_ids, empty_mask = trim_padding(ids, torch.zeros_like(mask))
    assert empty_ids.shape == (2, 0) and empty_mask.shape == (2, 0)


# ------------------------------------------------------------- how people type: normalize_prompt
from minigptimage.tokenizer import normalize_prompt, quote_marks  # noqa: E402


@pytest.mark.parametrize("typed, normal", [
    ('The Word "SKY" In White On Blue.', 'the word "SKY" in white on blue'),
    ("the word 'MOON' in white on black", 'the word "MOON" in white on black'),
    ("  write 'DON'T'   in RED\ton white !!", 'write "DON\'T" in red on white'),  # an apostrophe inside a word
    ("don't forget: 'HI' in red", 'don\'t forget: "HI" in red'),
    ('the word "It\'s" in red', 'the word "It\'s" in red'),  # double quotes: single ones are the text's own
    ('the word " Hi There " , at the top', 'the word "Hi There", at the top'),  # the text's inner spaces stay
    ('render \u201cOPEN\u201d \u2014 red on white', 'render "OPEN" - red on white'),
    ('"STOP!" ( in red ) on white?!', '"STOP!" (in red) on white'),  # the text's own "!" is drawn
    ("'A' and 'B'", "'a' and 'b'"),  # four single quotes: not one text (parse_prompt refuses it)
])
def test_normalize_prompt_reads_prompts_as_people_type_them(typed, normal):
    assert normalize_prompt(typed) == normal
    assert normalize_prompt(normal) == normal  # normalising twice changes nothing


def test_single_quotes_mark_the_text_only_without_double_quotes_and_two_marks():
    assert quote_marks("'CAT'") == '"CAT"' and quote_marks("the kids' sign 'HI'") == "the kids' sign 'HI'"
    assert quote_marks("it's 'OK'") == 'it\'s "OK"' and quote_marks('"A" it\'s') == '"A" it\'s'


@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40))
def test_normalize_prompt_is_idempotent_and_keeps_the_tokenizer_exact(prompt):
    once = normalize_prompt(prompt)
    assert normalize_prompt(once) == once
    tok = CharTokenizer(PROMPT_WORDS)
    assert tok.decode(tok.encode([prompt], len(prompt) + 2)[0][0]) == prompt  # encode never normalises

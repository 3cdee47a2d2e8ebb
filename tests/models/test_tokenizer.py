import pytest

from sole.models.tokenizer import EOS, UNK, WordTokenizer, pieces

TEXT = "<think>t=12: the gripper closed on the puck; it is 18 cm from the goal.</think><answer>46%</answer>"


def test_round_trip_is_lossless():
    tok = WordTokenizer.fit([TEXT])
    ids = tok.encode(TEXT)
    assert ids[-1] == EOS and UNK not in ids
    assert tok.decode(ids[1:]) == TEXT


def test_answers_are_single_tokens_and_always_known():
    tok = WordTokenizer.fit(["nothing numeric"])
    for n in (-100, -3, 0, 57, 100):
        ids = tok.encode(f"<answer>{n}%</answer>", bos=False, eos=False)
        assert len(ids) == 3 and UNK not in ids


def test_unknown_words_map_to_unk_and_json_round_trip():
    tok = WordTokenizer.fit([TEXT])
    assert UNK in tok.encode("a zebra")
    again = WordTokenizer.from_json(tok.to_json())
    assert again.vocab == tok.vocab


def test_bad_vocab_file():
    with pytest.raises(ValueError, match="not a word tokenizer"):
        WordTokenizer.from_json('{"kind": "bpe"}')


def test_pieces_keep_spaces():
    assert "".join(pieces("move 4 cm, then 0.5%")) == "move 4 cm, then 0.5%"

"""Bitext TSV / Moses loaders, the Bitext container and DataFormatError itself."""

from __future__ import annotations

import gzip
import pickle

import numpy as np
import pytest

from optical.data import Bitext, DataFormatError, read_bitext_tsv, read_moses, write_bitext_tsv
from optical.data.errors import iter_lines, read_text, shorten

SW = "Habari ya asubuhi, rafiki yangu."
EN = "Good morning, my friend."
HI = "सुप्रभात, मेरे दोस्त।"
AR = "صباح الخير يا صديقي."
EMOJI = "Karibu 🎉👋🏽"


def write(path, text: str):
    path.write_bytes(text.encode("utf-8"))
    return path


# --------------------------------------------------------------------- DataFormatError


def test_data_format_error_message_and_attributes():
    long_line = '{"id": 3, "body": "' + "x" * 200 + '"}'
    err = DataFormatError("corpus.jsonl", 17, 'a JSON object with "_id" and "text"', long_line)
    msg = str(err)
    assert msg.startswith(
        'corpus.jsonl, line 17: expected a JSON object with "_id" and "text"; got: '
    )
    assert "x" * 200 not in msg and "…" in msg  # the offending text is truncated
    assert (err.path, err.line, err.expected) == (
        "corpus.jsonl",
        17,
        'a JSON object with "_id" and "text"',
    )
    assert isinstance(err, ValueError)
    again = pickle.loads(pickle.dumps(err))
    assert str(again) == msg and again.line == 17


def test_shorten():
    assert shorten("abc", 5) == "abc"
    assert shorten("abcdefgh", 5) == "abcde…"


def test_iter_lines_strips_bom_and_crlf_but_keeps_unicode_separators(tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes("\ufeffa\r\nb\u2028c\nlast".encode())
    assert list(iter_lines(p, "x")) == [(1, "a"), (2, "b\u2028c"), (3, "last")]


def test_read_text_non_utf8_names_line_and_offset(tmp_path):
    p = tmp_path / "t.txt"
    p.write_bytes(b"ok\nno \xe9\n")
    with pytest.raises(DataFormatError) as exc:
        read_text(p, "text")
    assert exc.value.line == 2
    assert "not UTF-8 (byte 0xe9 at offset 6); re-save the file as UTF-8" in str(exc.value)


# --------------------------------------------------------------------- read_bitext_tsv


def test_read_three_columns_with_header_unicode_and_crlf(tmp_path):
    p = write(
        tmp_path / "sw-en.tsv",
        f"id\tsrc\ttgt\r\np1\t{SW}\t{EN}\r\np2\t{HI}\t{AR}\r\np3\t{EMOJI}\t  Welcome 🎉 \r\n",
    )
    bt = read_bitext_tsv(p, src_lang="sw", tgt_lang="en")
    assert bt.ids == ["p1", "p2", "p3"]
    assert bt.src == [SW, HI, EMOJI]
    assert bt.tgt == [EN, AR, "  Welcome 🎉 "]  # text kept as written, only \r\n removed
    assert (bt.src_lang, bt.tgt_lang, bt.skipped, len(bt)) == ("sw", "en", 0, 3)


@pytest.mark.parametrize("header", ["src\ttgt\n", "source\ttarget\n", ""])
def test_read_two_columns_header_optional(tmp_path, header):
    p = write(tmp_path / "b.tsv", f"{header}{SW}\t{EN}\n{HI}\t{AR}\n")
    bt = read_bitext_tsv(p)
    assert bt.ids is None
    assert list(bt) == [(SW, EN), (HI, AR)]


def test_wrong_column_count_names_file_line_and_expectation(tmp_path):
    p = write(tmp_path / "bad.tsv", f"{SW}\t{EN}\n{HI} {AR}\n")
    with pytest.raises(DataFormatError) as exc:
        read_bitext_tsv(p)
    msg = str(exc.value)
    assert exc.value.line == 2 and "bad.tsv, line 2" in msg
    assert "2 tab-separated fields (source, target) as on line 1, found 1" in msg
    assert HI[:10] in msg


def test_mixed_two_and_three_columns_is_an_error(tmp_path):
    p = write(tmp_path / "mix.tsv", f"id\tsrc\ttgt\na\t{SW}\t{EN}\n{HI}\t{AR}\n")
    with pytest.raises(DataFormatError, match=r"line 3: expected 3 tab-separated fields"):
        read_bitext_tsv(p)


def test_four_columns_on_first_line(tmp_path):
    p = write(tmp_path / "four.tsv", "a\tb\tc\td\n")
    with pytest.raises(DataFormatError, match=r"four.tsv, line 1: expected 2 tab-separated"):
        read_bitext_tsv(p)


def test_empty_side_errors_by_default_and_is_counted_when_skipped(tmp_path):
    p = write(tmp_path / "e.tsv", f"{SW}\t{EN}\n{HI}\t   \n\n{EMOJI}\tWelcome\n")
    with pytest.raises(DataFormatError) as exc:
        read_bitext_tsv(p)
    assert exc.value.line == 2 and "empty target sentence" in str(exc.value)
    assert "on_empty='skip'" in str(exc.value)
    bt = read_bitext_tsv(p, on_empty="skip")
    assert bt.src == [SW, EMOJI] and bt.tgt == [EN, "Welcome"]
    assert bt.skipped == 2  # the empty target and the blank line


def test_blank_line_is_an_empty_pair(tmp_path):
    p = write(tmp_path / "blank.tsv", f"{SW}\t{EN}\n\n")
    with pytest.raises(
        DataFormatError, match=r"line 2: expected a sentence pair; got an empty line"
    ):
        read_bitext_tsv(p)
    with pytest.raises(ValueError, match="on_empty"):
        read_bitext_tsv(p, on_empty="drop")


def test_duplicate_id_names_both_lines(tmp_path):
    p = write(tmp_path / "dup.tsv", f"id\tsrc\ttgt\nx\t{SW}\t{EN}\ny\t{HI}\t{AR}\nx\ta\tb\n")
    with pytest.raises(DataFormatError) as exc:
        read_bitext_tsv(p)
    assert exc.value.line == 4 and "duplicate id 'x' (first on line 2)" in str(exc.value)


def test_latin1_bitext_reports_byte_and_offset(tmp_path):
    p = tmp_path / "latin1.tsv"
    p.write_bytes(b"id\tsrc\ttgt\n1\tcaf\xe9\tcoffee\n")
    with pytest.raises(DataFormatError) as exc:
        read_bitext_tsv(p)
    msg = str(exc.value)
    assert "latin1.tsv, line 2" in msg
    assert "not UTF-8 (byte 0xe9 at offset 16)" in msg and "re-save the file as UTF-8" in msg


def test_missing_file_says_what_was_expected(tmp_path):
    with pytest.raises(FileNotFoundError) as exc:
        read_bitext_tsv(tmp_path / "nope.tsv")
    assert "nope.tsv" in str(exc.value) and "source<TAB>target" in str(exc.value)
    assert exc.value.filename == str(tmp_path / "nope.tsv")


def test_gzip_input(tmp_path):
    p = tmp_path / "b.tsv.gz"
    p.write_bytes(gzip.compress(f"src\ttgt\n{AR}\t{EN}\n".encode()))
    assert list(read_bitext_tsv(p)) == [(AR, EN)]


# --------------------------------------------------------------------- write_bitext_tsv


def test_write_read_round_trip_is_exact(tmp_path):
    tricky = 'line\u2028sep, para\u2029sep, vt\x0bff\x0c, nbsp\u00a0, quote " and \\t literal'
    bt = Bitext(
        src=[SW, HI, tricky, EMOJI],
        tgt=[EN, AR, " padded ", "👋🏽"],
        ids=["a", "b", "ç-3", "🎉"],
        src_lang="sw",
        tgt_lang="en",
    )
    out = tmp_path / "sub" / "out.tsv"
    write_bitext_tsv(bt, out)
    raw = out.read_bytes().decode("utf-8")
    assert raw.startswith("id\tsrc\ttgt\na\t") and raw.count("\n") == 5
    back = read_bitext_tsv(out)
    assert (back.ids, back.src, back.tgt) == (bt.ids, bt.src, bt.tgt)
    assert [p.name for p in out.parent.iterdir()] == ["out.tsv"]  # no temp file left


def test_write_without_ids_numbers_the_pairs(tmp_path):
    write_bitext_tsv(Bitext([SW, HI], [EN, AR]), tmp_path / "o.tsv")
    assert read_bitext_tsv(tmp_path / "o.tsv").ids == ["0", "1"]


@pytest.mark.parametrize(
    ("src", "what"), [("a\tb", r"'\\t'"), ("a\nb", r"'\\n'"), ("a\r", r"'\\r'"), ("  ", "empty")]
)
def test_write_rejects_unrepresentable_text_and_keeps_old_file(tmp_path, src, what):
    out = tmp_path / "o.tsv"
    out.write_text("old", encoding="utf-8")
    with pytest.raises(ValueError, match=what) as exc:
        write_bitext_tsv(Bitext([SW, src], [EN, "x"]), out)
    assert "pair 1" in str(exc.value) and "source" in str(exc.value)
    assert out.read_text(encoding="utf-8") == "old"
    assert len(list(tmp_path.iterdir())) == 1


# --------------------------------------------------------------------- read_moses


def test_read_moses_aligned_with_language_from_suffix(tmp_path):
    src = write(tmp_path / "corpus.sw", f"{SW}\nNina\tpaka.\n")
    tgt = write(tmp_path / "corpus.en", f"{EN}\nI have\ta cat.\n")
    bt = read_moses(src, tgt)
    assert (bt.src_lang, bt.tgt_lang) == ("sw", "en")
    assert bt.src == [SW, "Nina\tpaka."] and bt.tgt == [EN, "I have\ta cat."]


def test_read_moses_line_count_mismatch_names_both_counts(tmp_path):
    src = write(tmp_path / "corpus.sw", f"{SW}\n{SW}\n{SW}\n")
    tgt = write(tmp_path / "corpus.en", f"{EN}\n{EN}\n")
    with pytest.raises(DataFormatError) as exc:
        read_moses(src, tgt)
    msg = str(exc.value)
    assert "corpus.sw" in msg and "has 3 lines" in msg and "corpus.en has 2" in msg


def test_read_moses_empty_line(tmp_path):
    src = write(tmp_path / "c.sw", f"{SW}\n\n{SW}\n")
    tgt = write(tmp_path / "c.en", f"{EN}\nHello\n{EN}\n")
    with pytest.raises(DataFormatError) as exc:
        read_moses(src, tgt)
    assert exc.value.line == 2 and exc.value.path == str(src)
    bt = read_moses(src, tgt, on_empty="skip", src_lang="swa")
    assert len(bt) == 2 and bt.skipped == 1 and bt.src_lang == "swa"


# --------------------------------------------------------------------- Bitext


def test_bitext_indexing_slicing_and_subsets():
    bt = Bitext(["a", "b", "c", "d"], ["A", "B", "C", "D"], ["1", "2", "3", "4"], "sw", "en")
    assert bt[1] == ("b", "B")
    part = bt[1:3]
    assert isinstance(part, Bitext) and part.src == ["b", "c"] and part.ids == ["2", "3"]
    assert part.src_lang == "sw" and part.tgt_lang == "en"
    assert bt[[3, 0]].tgt == ["D", "A"]
    assert bt[np.array([True, False, False, True])].ids == ["1", "4"]
    assert len(bt.subset([])) == 0
    with pytest.raises(ValueError, match="shape"):
        bt.subset(np.array([True, False]))


def test_bitext_validation():
    with pytest.raises(ValueError, match="3 source vs 2 target"):
        Bitext(["a", "b", "c"], ["A", "B"])
    with pytest.raises(ValueError, match="2 pairs but 1 ids"):
        Bitext(["a", "b"], ["A", "B"], ids=["x"])
    with pytest.raises(ValueError, match="duplicate bitext id 'x'"):
        Bitext(["a", "b"], ["A", "B"], ids=["x", "x"])
    with pytest.raises(ValueError, match="target sentence 0 is NoneType"):
        Bitext(["a"], [None])

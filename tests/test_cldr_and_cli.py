from __future__ import annotations

import pytest

from optical.assets.cldr import build_cldr, cldr_names
from optical.cli import main
from optical.data.beir import load_beir
from optical.data.bitext import read_bitext_tsv


def test_cldr_names_parallel_and_identical_names_left_out(tmp_path):
    counts = build_cldr(["sw", "yo"], out_dir=tmp_path)
    en = cldr_names("en")
    sw = cldr_names("sw")
    test = load_beir(tmp_path / "sw", "test")
    dev = load_beir(tmp_path / "sw", "dev")
    assert set(test.queries).isdisjoint(dev.queries)
    assert len(test.queries) == counts["sw"]["queries_test"] > 100
    for qid, text in test.queries.items():
        assert test.qrels[qid] == {qid: 1} and text == sw[qid]
        assert text.casefold() != en[qid].casefold()
    assert test.corpus["territory:KE"].text == "Kenya"
    assert counts["sw"]["skipped_identical"] > 0
    pairs = read_bitext_tsv(tmp_path / "yo" / "bitext" / "test.tsv")
    assert all(en[i] == t for i, t in zip(pairs.ids, pairs.tgt, strict=True))


def test_cldr_unknown_language():
    with pytest.raises(ValueError, match="available:.*so \\(Somali\\)"):
        build_cldr(["xx"])


def test_cli_help_documents_the_cache(capsys):
    with pytest.raises(SystemExit):
        main(["assets", "build", "--help"])
    out = capsys.readouterr().out
    assert (
        "$OPTICAL_HOME" in out and "bundled:multilingual-e5-small" in out and "--languages" in out
    )


def test_cli_bad_language_is_one_clear_line(capsys):
    assert main(["assets", "build", "--skip-models", "--languages", "sw,qq"]) == 1
    err = capsys.readouterr().err
    assert "unknown language code(s) qq" in err and "Traceback" not in err


def test_cli_status_reports_missing(capsys):
    assert main(["assets", "status"]) == 1
    assert "not built" in capsys.readouterr().out

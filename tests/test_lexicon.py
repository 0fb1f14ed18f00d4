"""Lexical-translation baselines: word tables p(e|f) learned from a bitext (eflomal links or
OPTICAL transport plans), cached, and used as lexicon:/bm25+lexicon:/psq: systems."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from optical.data.bitext import write_bitext_tsv
from optical.data.types import Bitext, Document, RetrievalCollection
from optical.lexicon import (
    MIN_PAIRS,
    Lexicon,
    LexiconSpec,
    grow_diag_final_and,
    learn_counts_ot,
    learn_lexicon,
    lexicon_for,
    lexicon_queries,
    prune_table,
    training_bitext,
    words,
)
from optical.retrieval.lexical import BM25Index
from optical.systems import ZERO_SHOT, System, parse_system

# a toy language: foreign word i means English word i
FOREIGN = "baka cedo dimu fela gonu hiko jara kelu limo mapu nefi pora rusi sato tuma vika wezo yala zumi bole".split()
ENGLISH = "water light earth heaven stone fire bread wine river mountain tree house king child road seed gold night sea wind".split()
MAPPING = dict(zip(FOREIGN, ENGLISH, strict=True))


def toy_bitext(n: int = 240, seed: int = 0) -> Bitext:
    """``n`` pairs of 3-7 words; the English side maps every word, inserts ``the`` before
    some and reverses the order of every third sentence."""
    rng = random.Random(seed)
    src, tgt = [], []
    for i in range(n):
        f = [rng.choice(FOREIGN) for _ in range(rng.randint(3, 7))]
        e = [w for x in f for w in ((["the"] if rng.random() < 0.3 else []) + [MAPPING[x]])]
        src.append(" ".join(f).capitalize() + ".")
        tgt.append(" ".join(reversed(e) if i % 3 == 0 else e) + ".")
    return Bitext(src, tgt, src_lang="xx", tgt_lang="en")


@pytest.fixture(scope="module")
def eflomal_lexicon() -> Lexicon:
    return learn_lexicon(toy_bitext(), "eflomal")


def _check_table(lexicon: Lexicon, bitext: Bitext, top: int, min_p: float) -> None:
    src_words = {w for s in bitext.src for w in words(s)}
    tgt_words = {w for t in bitext.tgt for w in words(t)}
    assert lexicon.table and set(lexicon.table) <= src_words
    for options in lexicon.table.values():
        assert 1 <= len(options) <= top
        assert math.fsum(p for _, p in options) == pytest.approx(1.0)
        assert all(p >= min_p and e in tgt_words for e, p in options)
        assert [p for _, p in options] == sorted((p for _, p in options), reverse=True)


def test_words_lowercase_unicode_runs():
    assert words("Hapo mwanzo, Mungu aliziumba: 3:16!") == ["hapo", "mwanzo", "mungu", "aliziumba", "3", "16"]
    assert words("ng'ombe Müller") == ["ng", "ombe", "müller"]
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]  # combining marks stay in their word
    assert words("Cafe\u0301") == ["café"]  # NFC
    assert words(" ?! ") == []


def test_eflomal_finds_the_known_mapping(eflomal_lexicon):
    assert {f: eflomal_lexicon.translations(f)[0][0] for f in FOREIGN} == MAPPING
    _check_table(eflomal_lexicon, toy_bitext(), 10, 0.05)
    assert eflomal_lexicon.info["pairs_used"] == 240
    assert eflomal_lexicon.translate("Baka, Zorro 7 cedo!") == ("water zorro 7 light", 2)  # unknown words kept
    assert eflomal_lexicon.translate("Zorro?") == ("Zorro?", 0)  # nothing translated: the text as given


def test_grow_diag_final_and():
    fwd = {(0, 0), (1, 1), (3, 4)}
    rev = {(0, 0), (1, 2), (4, 4)}
    # intersection (0,0); (1,1) grows from it (diagonal), then (1,2) next to (1,1) aligns
    # target 2; (3,4) joins at the end (both words unaligned), (4,4) is then refused
    assert grow_diag_final_and(fwd, rev) == {(0, 0), (1, 1), (1, 2), (3, 4)}
    assert grow_diag_final_and(set(), set()) == set()


def test_prune_table_keeps_top_translations_and_renormalises():
    counts = {"f": Counter({"a": 6, "b": 3, "c": 0.5, "d": 0.5}), "g": Counter({"x": 1, "y": 1}), "h": Counter()}
    table = prune_table(counts, top=2, min_p=0.05)
    assert table["f"] == (("a", pytest.approx(6 / 9)), ("b", pytest.approx(3 / 9)))
    assert table["g"] == (("x", 0.5), ("y", 0.5))  # ties by the English word
    assert "h" not in table
    assert prune_table(counts, top=10, min_p=0.4) == {"f": (("a", 1.0),), "g": (("x", 0.5), ("y", 0.5))}


def test_ot_lexicon_from_a_tiny_model_is_a_normalised_table(tiny_model_dir):
    from optical.encoders import load_encoder

    encoder = load_encoder(str(tiny_model_dir), device="cpu")
    bitext = toy_bitext(MIN_PAIRS, seed=3)
    counts = learn_counts_ot(bitext.src[:30], bitext.tgt[:30], encoder)
    # every occurrence of a foreign word gives it one unit of plan mass
    occurrences = Counter(w for s in bitext.src[:30] for w in words(s))
    assert set(counts) == set(occurrences)
    assert all(math.fsum(c.values()) == pytest.approx(occurrences[f]) for f, c in counts.items())
    lexicon = learn_lexicon(bitext, "ot,top=3,min_p=0.1", encoder=encoder)
    _check_table(lexicon, bitext, 3, 0.1)
    assert lexicon.info["pairs_used"] == MIN_PAIRS and lexicon.info["encoder"] == str(tiny_model_dir)


def test_lexicons_are_cached_by_bitext_content(tmp_path):
    import optical.lexicon as lexicon_module

    bitext = toy_bitext(150)
    first = lexicon_for("eflomal", bitext, "xx")
    assert first.info["cached"] is False and lexicon_for("eflomal", bitext, "xx") is first
    lexicon_module._CACHE.clear()
    again = lexicon_for("eflomal", bitext, "xx")  # read from the JSON file
    assert again.info["cached"] is True and again.info["file"] == first.info["file"]
    assert set(again.table) == set(first.table)
    changed = toy_bitext(150, seed=9)
    assert lexicon_for("eflomal", changed, "xx").info["file"] != first.info["file"]  # relearned
    assert lexicon_for("eflomal,top=2", bitext, "xx").info["file"] != first.info["file"]


def test_psq_scores_are_weighted_bm25_term_scores():
    corpus = {"d1": Document("d1", "water water light"), "d2": Document("d2", "light stone"),
              "d3": Document("d3", "stone fire fire fire")}
    index = BM25Index(corpus)
    weights = {"water": 0.5, "light": 0.25, "fire": 2.0, "the": 3.0, "zorro": 1.0}  # stop word, unknown word

    def bm25(tf: int, df: int, dl: int) -> float:  # Lucene BM25, k1 1.5, b 0.75, N 3, avgdl 3
        return math.log(1 + (3 - df + 0.5) / (df + 0.5)) * tf / (tf + 1.5 * (1 - 0.75 + 0.75 * dl / 3))

    expected = {"d1": 0.5 * bm25(2, 1, 3) + 0.25 * bm25(1, 2, 3), "d2": 0.25 * bm25(1, 2, 2),
                "d3": 2.0 * bm25(3, 1, 4)}
    run = index.search_weighted({"q": weights, "none": {"zorro": 1.0}}, k=10)
    assert run["q"] == pytest.approx(expected, rel=1e-5) and list(run["q"]) == ["d3", "d1", "d2"]
    assert run["none"] == {}
    assert index.search_weighted({"q": weights}, k=1)["q"].keys() == {"d3"}
    plain = index.search({"q": "water light fire"}, k=10)["q"]
    assert index.search_weighted({"q": {"water": 1, "light": 1, "fire": 1}}, k=10)["q"] == pytest.approx(plain)
    with pytest.raises(ValueError, match="weights must be finite numbers >= 0"):
        index.search_weighted({"q": {"water": -1.0}}, k=10)


def test_psq_query_weights_from_the_lexicon():
    lexicon = Lexicon({"maji": (("water", 0.75), ("waters", 0.25)), "na": (("and", 1.0),)})
    weights, hits = lexicon.weighted("Maji na maji Yesu")
    assert hits == 3 and weights == {"water": 1.5, "waters": 0.5, "and": 1.0, "yesu": 1.0}


def test_lexicon_specs_parse():
    lex = parse_system("lexicon:eflomal")
    assert (lex.name, lex.kind, lex.query_model, lex.translator) == (
        "lexicon:eflomal", "translate", ZERO_SHOT, "lexicon:eflomal,pairs=all,top=10,min_p=0.05")
    psq = parse_system("psq:ot")
    assert (psq.kind, psq.query_model, psq.translator) == ("bm25", "bm25", "psq:ot,pairs=3000,top=10,min_p=0.05")
    both = parse_system("bm25+lexicon:ot,pairs=500,top=3,min_p=0.1")
    assert (both.name, both.kind, both.translator) == (
        "bm25+lexicon:ot,pairs=500,top=3,min_p=0.1", "bm25", "lexicon:ot,pairs=500,top=3,min_p=0.1")
    fused = parse_system("rrf:psq:eflomal|zero-shot")
    assert [p.translator for p in fused.parts] == ["psq:eflomal,pairs=all,top=10,min_p=0.05", None]
    # two lexicons never share a row key; the identity of every other system is unchanged
    assert parse_system("psq:ot").identity() != parse_system("psq:ot,pairs=5000").identity()
    assert parse_system("psq:ot").identity() != parse_system("bm25+lexicon:ot").identity()
    assert parse_system("bm25").identity() == {"name": "bm25", "query_model": "bm25", "doc_model": "bm25",
                                               "kind": "bm25", "run_dir": None}
    assert System("zero-shot", ZERO_SHOT, ZERO_SHOT).identity() == {
        "name": "zero-shot", "query_model": ZERO_SHOT, "doc_model": ZERO_SHOT, "kind": "zero-shot", "run_dir": None}
    assert LexiconSpec.parse("ot,pairs=all").pairs is None


@pytest.mark.parametrize(("spec", "message"), [
    ("lexicon:foo", "unknown lexicon source 'foo'"),
    ("psq:", "unknown lexicon source ''"),
    ("lexicon:eflomal,pairs=50", f"too few to learn a lexicon from \\(at least {MIN_PAIRS}"),
    ("lexicon:eflomal,pairs=many", "pairs must be a number"),
    ("lexicon:eflomal,size=3", "unknown option 'size=3'"),
    ("lexicon:eflomal,top=0", "top must be >= 1"),
    ("lexicon:eflomal,min_p=1.5", "min_p must be in"),
    ("lexicon:eflomal@", "give the bitext file"),
    ("lexicon:eflomal@/no/such/pairs.tsv", "no such bitext file"),
    ("bm25+psq:eflomal", "expected bm25 or bm25\\+translate:<model> \\(or bm25\\+lexicon"),
])
def test_bad_lexicon_specs_are_refused(spec, message):
    with pytest.raises(ValueError, match=message):
        parse_system(spec)


def test_too_small_a_bitext_is_refused():
    with pytest.raises(ValueError, match=f"99 usable pairs .* too small to learn a lexicon from \\(at least {MIN_PAIRS}\\)"):
        learn_lexicon(toy_bitext(99), "eflomal")
    empty_sides = Bitext(toy_bitext(150).src[:90] + ["..."] * 60, toy_bitext(150).tgt)
    with pytest.raises(ValueError, match="90 usable pairs"):
        learn_lexicon(empty_sides, "ot,pairs=150")  # refused before any model loads


def test_training_bitext_of_a_dataset():
    from optical.dataset_spec import FAMILIES

    assert training_bitext("bible:sw") == "bible:sw" and training_bitext("cldr:de") == "bible:de"
    for dataset in ("/data/beir/sw", "cldr:so"):  # a folder; a language with no Bible here
        with pytest.raises(ValueError, match="no training bitext to learn a lexicon from"):
            training_bitext(dataset)
    if "bible-xref" in FAMILIES:
        assert training_bitext("bible-xref:tl") == "bible:tl"
        with pytest.raises(ValueError, match="no training bitext"):
            training_bitext("bible-xref:en-web")


# ------------------------------------------------------------------ end to end (tiny data)


def _toy_benchmark(tmp_path, queries: dict[str, str] | None = None):
    """English docs of three toy words each; the queries are their foreign versions; the
    bitext file the lexicon learns from."""
    from optical.data.beir import write_beir

    docs = {f"d{i}": " ".join(ENGLISH[(i + 7 * j) % 20] for j in range(3)) for i in range(8)}
    reverse = {e: f for f, e in MAPPING.items()}
    if queries is None:
        queries = {f"q{i}": " ".join(reverse[w] for w in docs[f"d{i}"].split()).capitalize() for i in range(8)}
        queries["q8"] = "Zorro 2024"  # nothing to translate: kept as it is
    qrels = {q: {f"d{q[1:]}" if f"d{q[1:]}" in docs else "d0": 1} for q in queries}
    data = tmp_path / "toy"
    write_beir(RetrievalCollection({k: Document(k, v) for k, v in docs.items()}, queries, qrels), data, split="test")
    pairs = tmp_path / "pairs.tsv"
    write_bitext_tsv(toy_bitext(), pairs)
    return data, pairs


def test_psq_and_bm25_lexicon_rows(tmp_path, capsys):
    from optical.results.collect import evaluate_system

    data, pairs = _toy_benchmark(tmp_path)
    psq = evaluate_system(parse_system(f"psq:eflomal@{pairs}"), str(data), "test", k=10, progress=True)
    assert psq.kind == "bm25" and psq.translator == f"psq:eflomal,pairs=all,top=10,min_p=0.05@{pairs}"
    assert psq.metrics["R@1"] == pytest.approx(8 / 9)  # every query but the untranslatable q8 finds its doc
    assert psq.timings["untranslated_queries"] == 1 and psq.timings["lexicon_pairs"] == 240
    assert "lexicon_s" in psq.timings and "translate_s" in psq.timings
    assert "1 of 9 queries have no word in the lexicon" in capsys.readouterr().out
    one_best = evaluate_system(parse_system(f"bm25+lexicon:eflomal@{pairs}"), str(data), "test", k=10, progress=False)
    assert one_best.metrics["R@1"] == pytest.approx(8 / 9) and one_best.translator.startswith("lexicon:eflomal")
    assert one_best.key != psq.key


def test_lexicon_translate_test_with_the_zero_shot_model(tmp_path, tiny_model_dir, monkeypatch):
    import optical.systems as systems
    from optical.results.collect import evaluate_system

    monkeypatch.setattr(systems, "ZERO_SHOT", str(tiny_model_dir))
    data, pairs = _toy_benchmark(tmp_path)
    system = parse_system(f"lexicon:eflomal@{pairs}")
    assert system.kind == "translate" and system.query_model == str(tiny_model_dir)
    read = lexicon_queries(system.translator, str(data), {"q": "Baka cedo.", "r": "Zorro"})
    assert read.texts == {"q": "water light", "r": "Zorro"} and read.untranslated == ["r"] and not read.psq
    row = evaluate_system(system, str(data), "test", k=10, progress=False)
    assert row.kind == "translate" and row.timings["untranslated_queries"] == 1 and 0 <= row.metrics["R@1"] <= 1


def test_bad_inputs_in_a_benchmark(tmp_path):
    from optical.results.collect import evaluate_system

    data, pairs = _toy_benchmark(tmp_path, queries={"q0": "Zorro", "q1": "Yesu 12"})
    with pytest.raises(ValueError, match="no query of .* has a word in the eflomal lexicon"):
        evaluate_system(parse_system(f"psq:eflomal@{pairs}"), str(data), "test", k=10, progress=False)
    with pytest.raises(ValueError, match="no training bitext to learn a lexicon from"):
        evaluate_system(parse_system("lexicon:eflomal"), str(data), "test", k=10, progress=False)
    small = tmp_path / "small.tsv"
    write_bitext_tsv(toy_bitext(60), small)
    with pytest.raises(ValueError, match="too small to learn a lexicon from"):
        evaluate_system(parse_system(f"psq:eflomal@{small}"), str(data), "test", k=10, progress=False)
    with pytest.raises(ValueError, match="does not name a lexicon"):
        lexicon_queries("Helsinki-NLP/opus-mt-sw-en", str(data), {"q": "x"})


@pytest.mark.integration
@pytest.mark.slow
def test_eflomal_lexicon_of_the_swahili_bible():
    from optical.dataset_loading import load_bitext

    lexicon = lexicon_for("eflomal", load_bitext("bible:sw", "train"), "sw")
    assert lexicon.translations("mungu")[0][0] == "god" and lexicon.translations("maji")[0][0].startswith("water")

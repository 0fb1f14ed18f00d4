"""SQuAD-format CLIR, caption files, and the optional ir_datasets bridge."""

from __future__ import annotations

import json
import sys
import types

import pytest

from optical.data import (
    DataFormatError,
    DatasetUnavailableError,
    Document,
    IrDatasetsNotInstalledError,
    caption_retrieval_collection,
    load_ir_datasets,
    load_parallel_captions,
    load_squad_clir,
    load_squad_parallel,
    read_flickr_tokens,
)

# Two articles; qa ids shared across languages as in XQuAD.
ARTICLES = {
    "en": [
        (
            "Nairobi",
            [("Nairobi is the capital of Kenya.", [("q1", "What is the capital of Kenya?")])],
        ),
        (
            "Nile",
            [
                ("The Nile flows north.", [("q2", "Which way does the Nile flow?")]),
                ("Egypt depends on the Nile 🌊.", [("q3", "What does Egypt depend on?")]),
            ],
        ),
    ],
    "sw": [
        ("Nairobi", [("Nairobi ni mji mkuu wa Kenya.", [("q1", "Mji mkuu wa Kenya ni upi?")])]),
        (
            "Nile",
            [
                ("Mto Nile unatiririka kaskazini.", [("q2", "Nile inatiririka upande gani?")]),
                ("Misri inategemea Nile 🌊.", [("q3", "Misri inategemea nini?")]),
            ],
        ),
    ],
    "ar": [
        ("نيروبي", [("نيروبي عاصمة كينيا.", [("q1", "ما هي عاصمة كينيا؟")])]),
        ("النيل", [("يتدفق النيل شمالا.", [("q2", "في أي اتجاه يتدفق النيل؟")])]),
    ],
}


def squad_json(articles) -> dict:
    return {
        "version": "1.0",
        "data": [
            {
                "title": title,
                "paragraphs": [
                    {
                        "context": ctx,
                        "qas": [
                            {
                                "id": qid,
                                "question": q,
                                "answers": [{"text": "x", "answer_start": 0}],
                            }
                            for qid, q in qas
                        ],
                    }
                    for ctx, qas in paras
                ],
            }
            for title, paras in articles
        ],
    }


def write_squad(tmp_path, lang, articles=None):
    p = tmp_path / f"xquad.{lang}.json"
    p.write_text(json.dumps(squad_json(articles or ARTICLES[lang]), ensure_ascii=False), "utf-8")
    return p


# --------------------------------------------------------------------- SQuAD


def test_load_squad_clir_aligns_questions_with_other_language_contexts(tmp_path):
    coll = load_squad_clir(write_squad(tmp_path, "sw"), write_squad(tmp_path, "en"))
    assert coll.name == "squad-clir:sw->en" and coll.language == "en"
    assert coll.queries == {
        "q1": "Mji mkuu wa Kenya ni upi?",
        "q2": "Nile inatiririka upande gani?",
        "q3": "Misri inategemea nini?",
    }
    assert coll.qrels == {"q1": {"0-0": 1}, "q2": {"1-0": 1}, "q3": {"1-1": 1}}
    assert coll.corpus["1-1"] == Document("1-1", "Egypt depends on the Nile 🌊.", "Nile")
    assert coll.validate() == []


def test_load_squad_clir_mismatch_error_and_intersect(tmp_path):
    sw, ar = write_squad(tmp_path, "sw"), write_squad(tmp_path, "ar")
    with pytest.raises(DataFormatError) as exc:
        load_squad_clir(sw, ar)
    msg = str(exc.value)
    assert (
        "questions: 3 questions" in msg and "contexts: 2 questions" in msg and "2 ids in all" in msg
    )
    assert "1 only in xquad.sw.json (e.g. 'q3')" in msg and "0 only in xquad.ar.json" in msg
    coll = load_squad_clir(sw, ar, on_mismatch="intersect")
    assert list(coll.queries) == ["q1", "q2"] and coll.language == "ar"
    assert coll.qrels["q2"] == {"1-0": 1} and coll.corpus["1-0"].text == "يتدفق النيل شمالا."


def test_load_squad_parallel(tmp_path):
    files = {lang: write_squad(tmp_path, lang) for lang in ("en", "sw")}
    par = load_squad_parallel(files)
    assert par["en"][2] == "What does Egypt depend on?" and par["sw"][2] == "Misri inategemea nini?"
    files["ar"] = write_squad(tmp_path, "ar")
    with pytest.raises(DataFormatError, match=r"en: 3 questions .*ar: 2 questions .*2 ids in all"):
        load_squad_parallel(files)
    par = load_squad_parallel(files, on_mismatch="intersect")
    assert {lang: len(v) for lang, v in par.items()} == {"en": 2, "sw": 2, "ar": 2}
    assert par["ar"][0] == "ما هي عاصمة كينيا؟"


def test_squad_malformed(tmp_path):
    p = tmp_path / "xquad.hi.json"
    p.write_text('{"data": [\n  {"title": "x",\n  "paragraphs": [}\n]}', "utf-8")
    with pytest.raises(DataFormatError) as exc:
        load_squad_parallel({"hi": p})
    assert exc.value.line == 3 and "xquad.hi.json, line 3: invalid JSON" in str(exc.value)

    bad = squad_json(ARTICLES["en"])
    del bad["data"][1]["paragraphs"][1]["qas"][0]["question"]
    p.write_text(json.dumps(bad), "utf-8")
    with pytest.raises(DataFormatError) as exc:
        load_squad_parallel({"hi": p})
    assert "xquad.hi.json, data[1].paragraphs[1].qas[0]: expected a qa object" in str(exc.value)
    assert '"id": "q3"' in str(exc.value)

    dup = ARTICLES["sw"] + [("Tena", [("Tena.", [("q2", "Tena?")])])]
    with pytest.raises(
        DataFormatError, match=r"data\[2\].paragraphs\[0\].qas\[0\]: duplicate qa id 'q2'"
    ):
        load_squad_clir(write_squad(tmp_path, "sw", dup), write_squad(tmp_path, "en"))

    p.write_text(json.dumps({"version": "1"}), "utf-8")
    with pytest.raises(
        DataFormatError, match=r"top level: expected an object with a \"data\" list"
    ):
        load_squad_clir(p, p)


def test_squad_missing_and_latin1(tmp_path):
    with pytest.raises(FileNotFoundError, match="SQuAD"):
        load_squad_clir(tmp_path / "a.json", tmp_path / "b.json")
    p = tmp_path / "l.json"
    p.write_bytes(b'{"data": [{"title": "Caf' + b"\xe9" + b'", "paragraphs": []}]}')
    with pytest.raises(
        DataFormatError, match=r"l.json, line 1: not UTF-8 \(byte 0xe9 at offset 24\)"
    ):
        load_squad_clir(p, p)


# --------------------------------------------------------------------- captions

EN_CAPS = ["Two dogs play in the snow.", "A man rides a bike ❄️.", "Children laugh at a clown."]
DE_CAPS = [
    "Zwei Hunde spielen im Schnee.",
    "Ein Mann fährt Fahrrad ❄️.",
    "Kinder lachen über einen Clown.",
]
HI_CAPS = ["दो कुत्ते बर्फ में खेलते हैं।", "एक आदमी साइकिल चलाता है।", "बच्चे जोकर पर हँसते हैं।"]


def test_multi30k_parallel_captions_and_collection(tmp_path):
    for lang, caps in (("en", EN_CAPS), ("de", DE_CAPS), ("hi", HI_CAPS)):
        (tmp_path / f"test_2016_flickr.{lang}").write_text("\n".join(caps) + "\n", "utf-8")
    caps = load_parallel_captions(
        {lang: tmp_path / f"test_2016_flickr.{lang}" for lang in ("hi", "en", "de")}
    )
    assert caps == {"hi": HI_CAPS, "en": EN_CAPS, "de": DE_CAPS}
    coll = caption_retrieval_collection(caps["hi"], caps["de"], "hi", "de")
    assert coll.queries["q1"] == HI_CAPS[1] and coll.corpus["d1"].text == DE_CAPS[1]
    assert coll.qrels == {"q0": {"d0": 1}, "q1": {"d1": 1}, "q2": {"d2": 1}}
    assert coll.language == "de" and coll.name == "captions:hi->de" and coll.validate() == []
    with pytest.raises(ValueError, match="3 hi vs 2 de"):
        caption_retrieval_collection(caps["hi"], caps["de"][:2], "hi", "de")


def test_multi30k_line_count_mismatch_and_empty_line(tmp_path):
    (tmp_path / "train.en").write_text("\n".join(EN_CAPS) + "\n", "utf-8")
    (tmp_path / "train.de").write_text("\n".join(DE_CAPS[:2]) + "\n", "utf-8")
    with pytest.raises(DataFormatError) as exc:
        load_parallel_captions({"en": tmp_path / "train.en", "de": tmp_path / "train.de"})
    assert "train.en: 3" in str(exc.value) and "train.de: 2" in str(exc.value)
    (tmp_path / "train.de").write_text(f"{DE_CAPS[0]}\n\n{DE_CAPS[2]}\n", "utf-8")
    with pytest.raises(DataFormatError) as exc:
        load_parallel_captions({"en": tmp_path / "train.en", "de": tmp_path / "train.de"})
    assert exc.value.line == 2 and "train.de, line 2: empty line" in str(exc.value)


def test_flickr_token_files_align_by_key(tmp_path):
    en = tmp_path / "results_20130124.token"
    en.write_text(
        "1000092795.jpg#0\tTwo young guys with shaggy hair.\n"
        "1000092795.jpg#1\tTwo friends enjoy time outside.\n"
        "\n"
        "10002456.jpg#0\tSeveral men in hard hats.\n",
        "utf-8",
    )
    sw = tmp_path / "captions.txt"  # same keys, another order
    sw.write_text(
        "10002456.jpg#0\tWanaume kadhaa wenye kofia ngumu.\n"
        "1000092795.jpg#1\tMarafiki wawili wanafurahia nje 🌳.\n"
        "1000092795.jpg#0\tVijana wawili wenye nywele ndefu.\n",
        "utf-8",
    )
    caps = load_parallel_captions({"en": en, "sw": sw})
    assert caps["en"][1] == "Two friends enjoy time outside."
    assert caps["sw"][1] == "Marafiki wawili wanafurahia nje 🌳."
    assert caps["sw"][2] == "Wanaume kadhaa wenye kofia ngumu."
    sw.write_text("10002456.jpg#0\tWanaume.\n", "utf-8")
    with pytest.raises(
        DataFormatError, match=r"keys differ: 1 in .*captions.txt, 3 in .*token, 1 shared"
    ):
        load_parallel_captions({"en": en, "sw": sw})


def test_flickr_token_errors_and_mixed_layouts(tmp_path):
    p = tmp_path / "c.token"
    p.write_text("a.jpg#0\tone\na.jpg#1 two\n", "utf-8")
    with pytest.raises(
        DataFormatError, match=r"c.token, line 2: expected <image>#<k><TAB>non-empty caption"
    ):
        read_flickr_tokens(p)
    p.write_text("a.jpg#0\tone\nb.jpg#0\ttwo\na.jpg#0\tagain\n", "utf-8")
    with pytest.raises(
        DataFormatError, match=r"line 3: duplicate key 'a.jpg#0' \(first on line 1\)"
    ):
        read_flickr_tokens(p)
    plain = tmp_path / "train.en"
    plain.write_text("one\n", "utf-8")
    p.write_text("a.jpg#0\tone\n", "utf-8")
    with pytest.raises(ValueError, match="mix the Multi30k"):
        load_parallel_captions({"en": plain, "sw": p})


def test_captions_latin1(tmp_path):
    p = tmp_path / "train.fr"
    p.write_bytes(b"Un chien.\nUn caf\xe9.\n")
    with pytest.raises(
        DataFormatError, match=r"train.fr, line 2: not UTF-8 \(byte 0xe9 at offset 16\)"
    ):
        load_parallel_captions({"fr": p})


# --------------------------------------------------------------------- ir_datasets


def test_ir_datasets_not_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "ir_datasets", None)  # makes `import ir_datasets` fail
    with pytest.raises(IrDatasetsNotInstalledError) as exc:
        load_ir_datasets("wikiclir/sw")
    assert isinstance(exc.value, ImportError)
    assert "pip install ir_datasets" in str(exc.value) and "'wikiclir/sw'" in str(exc.value)


def _fake_ir_datasets(docs_iter):
    Doc = types.SimpleNamespace
    dataset = types.SimpleNamespace(
        has_docs=lambda: True,
        docs_iter=docs_iter,
        has_queries=lambda: True,
        queries_iter=lambda: iter([Doc(query_id="1", text="Kenya")]),
        has_qrels=lambda: True,
        qrels_iter=lambda: iter([Doc(query_id="1", doc_id="10", relevance=2, iteration="0")]),
        docs_lang=lambda: "sw",
    )
    module = types.ModuleType("ir_datasets")

    def load(dataset_id):
        if dataset_id != "wikiclir/sw":
            raise KeyError(dataset_id)
        return dataset

    module.load = load
    return module


def test_ir_datasets_conversion_with_a_fake_module(monkeypatch):
    docs = [types.SimpleNamespace(doc_id="10", title="Kenya", text="Kenya ni nchi.")]
    monkeypatch.setitem(sys.modules, "ir_datasets", _fake_ir_datasets(lambda: iter(docs)))
    coll = load_ir_datasets("wikiclir/sw")
    assert coll.corpus == {"10": Document("10", "Kenya ni nchi.", "Kenya")}
    assert coll.queries == {"1": "Kenya"} and coll.qrels == {"1": {"10": 2}}
    assert coll.language == "sw" and coll.name == "wikiclir/sw"
    with pytest.raises(ValueError, match="no dataset 'wikiclir/xx'"):
        load_ir_datasets("wikiclir/xx")


def test_ir_datasets_offline_message(monkeypatch):
    def offline():
        raise ConnectionError("Name or service not known")

    monkeypatch.setitem(sys.modules, "ir_datasets", _fake_ir_datasets(offline))
    with pytest.raises(DatasetUnavailableError) as exc:
        load_ir_datasets("wikiclir/sw")
    msg = str(exc.value)
    assert "not available offline" in msg and "IR_DATASETS_HOME" in msg and "load_beir" in msg
    assert isinstance(exc.value.__cause__, ConnectionError)

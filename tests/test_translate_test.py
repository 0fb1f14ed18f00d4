"""The translate-test baseline: queries translated by a sequence-to-sequence model, then
retrieved with the zero-shot encoder (a tiny random Marian model built here)."""

from __future__ import annotations

import pytest

from optical.data.types import RetrievalCollection
from optical.evaluation import evaluate
from optical.hf import ModelNotFoundError
from optical.results.collect import evaluate_system, load_collection_checked
from optical.retrieval import Retriever, corpus_index
from optical.systems import System, load_encoder_cached, parse_system
from optical.translation import Translator, translate_queries
from tests.train_fixtures import write_tiny_beir


def _marian(tmp_path, tiny_model_dir, word: str | None):
    """A 1-layer Marian model on the tiny encoder's tokenizer that always writes ``word``
    (``None``: always stops at once, translating everything to nothing)."""
    import torch
    from transformers import AutoTokenizer, MarianConfig, MarianMTModel

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    pad, eos = tok.pad_token_id, tok.sep_token_id if tok.sep_token_id is not None else tok.eos_token_id
    config = MarianConfig(vocab_size=len(tok), d_model=16, encoder_layers=1, decoder_layers=1,
                          encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32,
                          decoder_ffn_dim=32, max_position_embeddings=64, pad_token_id=pad, eos_token_id=eos,
                          decoder_start_token_id=pad, forced_eos_token_id=None)
    torch.manual_seed(0)
    model = MarianMTModel(config)
    target = tok.convert_tokens_to_ids(tok.tokenize(word))[0] if word else eos
    with torch.no_grad():
        model.final_logits_bias.zero_()
        model.final_logits_bias[0, target] = 1e4  # the same token at every step
    out = tmp_path / ("marian-" + (word or "empty"))
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_translate_system_translates_then_retrieves_with_the_zero_shot_model(tmp_path, tiny_model_dir, monkeypatch):
    import optical.systems as systems

    monkeypatch.setattr(systems, "ZERO_SHOT", str(tiny_model_dir))
    mt = _marian(tmp_path, tiny_model_dir, "water")
    system = parse_system(f"translate:{mt}")
    assert (system.kind, system.translator, system.query_model) == ("translate", str(mt), str(tiny_model_dir))
    data = write_tiny_beir(tmp_path / "tiny")
    translator = Translator(str(mt), "cpu", max_new_tokens=3)
    monkeypatch.setattr("optical.translation.load_translator", lambda spec, device=None: translator)
    row = evaluate_system(system, str(data), "test", k=10, progress=False)
    assert row.kind == "translate" and row.translator == str(mt) and "translate_s" in row.timings
    # the same numbers as retrieving the translations directly
    col = load_collection_checked(str(data), "test")
    translated = translate_queries(translator, col.queries)
    assert set(translated.values()) == {translator.translate(["x"])[0]}  # the model's one output
    enc = load_encoder_cached(str(tiny_model_dir))
    index = corpus_index(enc, col.corpus, name=data.name, progress=False)
    run = Retriever(enc, enc, index).search(translated, k=10)
    direct = evaluate(run, col.qrels, list(row.metrics))
    assert row.metrics == pytest.approx(dict(direct))
    # every other system keeps the identity (so the row keys) it always had
    zero = System("zero-shot", str(tiny_model_dir), str(tiny_model_dir), "zero-shot")
    assert zero.identity() == {"name": "zero-shot", "query_model": str(tiny_model_dir),
                               "doc_model": str(tiny_model_dir), "kind": "zero-shot", "run_dir": None}
    assert system.identity()["translator"] == str(mt)


def test_empty_translations_are_refused_with_the_query_ids(tmp_path, tiny_model_dir):
    translator = Translator(str(_marian(tmp_path, tiny_model_dir, None)), "cpu", max_new_tokens=3)
    with pytest.raises(ValueError, match=r"2 of 2 queries translate to nothing \('a', 'b'\)"):
        translate_queries(translator, {"a": "maji", "b": "mwanga"})


def test_a_model_that_does_not_translate_is_refused(tmp_path, tiny_model_dir):
    with pytest.raises(ValueError, match="not a sequence-to-sequence"):
        Translator(str(tiny_model_dir), "cpu")
    with pytest.raises(ValueError, match="give the translation model"):
        parse_system("translate:")
    with pytest.raises(ModelNotFoundError):
        parse_system(f"translate:{tmp_path / 'no-such-model'}")
    with pytest.raises(ValueError, match="no target-language token 'zzz_Zzzz'"):
        Translator(str(_marian(tmp_path, tiny_model_dir, "water")), "cpu", target="zzz_Zzzz")


def test_collections_are_untouched(tmp_path, tiny_model_dir):
    col = RetrievalCollection({}, {"a": "maji"}, {"a": {"d": 1}})
    translator = Translator(str(_marian(tmp_path, tiny_model_dir, "water")), "cpu", max_new_tokens=2)
    out = translate_queries(translator, col.queries)
    assert col.queries == {"a": "maji"} and list(out) == ["a"] and out["a"]

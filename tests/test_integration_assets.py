"""The real bundled model and benchmark (built by .ci/setup; built here if missing)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from optical.assets.models import model_status, resolve_model
from optical.dataset_loading import load_bitext, load_collection

pytestmark = pytest.mark.integration


def test_bundled_e5_loads_with_transformers_and_aligns_translations():
    from transformers import AutoModel, AutoTokenizer

    path = resolve_model("bundled:multilingual-e5-small")
    assert model_status("bundled:multilingual-e5-small") == (True, "ok")
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, add_pooling_layer=False).eval()
    assert model.config.hidden_size == 384 and model.config.num_hidden_layers == 12
    assert model.config.vocab_size == 250037 and len(tok) == 250002
    pairs = load_bitext("bible:sw", "test")[:24]
    texts = [f"query: {s}" for s in pairs.src] + [f"passage: {t}" for t in pairs.tgt]
    batch = tok(texts, padding=True, truncation=True, max_length=128, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    sims = emb[:24] @ emb[24:].T
    # each Swahili verse is closer to its English translation than to the average other verse
    assert np.mean(np.diag(sims) > (sims.sum(1) - np.diag(sims)) / 23) > 0.95
    assert np.mean(sims.argmax(1) == np.arange(24)) > 0.6


def test_bundled_english_teacher_loads():
    from optical.encoders import load_encoder

    enc = load_encoder("bundled:all-MiniLM-L6-v2", device="cpu")
    v = enc.encode(
        ["God loved the world.", "God loved the world very much.", "Oil prices rose."],
        is_query=True,
    )
    assert v.shape == (3, 384)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.3


def test_embedded_benchmark_collection():
    col = load_collection("bible:sw", "test")
    assert len(col.corpus) == 7957 and len(col.queries) == 500
    assert all(col.qrels[q][q] == 2 for q in col.queries)
    dev = load_collection("bible:sw", "dev")
    assert set(dev.queries).isdisjoint(col.queries)
    train = load_bitext("bible:sw", "train")
    assert len(train) > 20000 and all(int(i[:2]) <= 39 for i in train.ids)

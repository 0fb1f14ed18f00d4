"""RQ5 — does a larger model shrink the R@1 gap between high- and low-resource languages?

Models of growing size (by default the bottom 3, 6 and 12 layers of the bundled e5-small;
any Hugging Face encoders as parameters) are evaluated zero-shot (the model on both
sides) and after distillation (the model as a query-side student of the fixed teacher)
on caption-style parallel retrieval: each language's captions (or verses) as queries, the
English ones as documents. For each (method, model) the gap is the macro mean over
high-resource languages minus that over low-resource ones
(:func:`optical.analysis.variance.per_seed_spread`), with a t-interval over seeds.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from optical.analysis.variance import per_seed_spread
from optical.results.frames import seed_stats

__all__ = ["model_size", "scaling_table"]


def model_size(name_or_path: str) -> dict[str, Any]:
    """Layers, hidden size and parameter counts of a model, without loading its weights.

    ``parameters`` counts everything; ``non_embedding`` leaves out the embedding module
    (word, position and type embeddings), the part that grows with the vocabulary.
    """
    import torch
    from transformers import AutoConfig, AutoModel

    from optical.assets.models import resolve_model
    from optical.hf import quiet_transformers

    with quiet_transformers():
        config = AutoConfig.from_pretrained(resolve_model(name_or_path))
        with torch.device("meta"):
            model = AutoModel.from_config(config)
    total = sum(p.numel() for p in model.parameters())
    embeddings = getattr(model, "embeddings", None)
    emb = (
        sum(p.numel() for p in embeddings.parameters())
        if embeddings is not None
        else model.get_input_embeddings().weight.numel()
    )
    return {
        "layers": int(getattr(config, "num_hidden_layers", 0) or 0),
        "hidden": int(getattr(config, "hidden_size", 0) or 0),
        "parameters": int(total),
        "non_embedding": int(total - emb),
    }


def scaling_table(
    per_query: pd.DataFrame,
    measure: str,
    sizes: Mapping[str, Mapping[str, Any]],
    levels: Mapping[str, str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Gap and level means per (method, model), over seeds, with model sizes.

    Parameters
    ----------
    per_query : DataFrame
        :func:`optical.results.frames.per_query_frame` rows of the experiment.
    measure : str
        e.g. ``"R(rel=2)@1"``.
    sizes : mapping model label -> :func:`model_size` dict
        Rows whose model label is not in ``sizes`` are left out.

    Returns
    -------
    DataFrame
        ``method, model, layers, non_embedding, parameters, stat, mean, std, n, ci_low,
        ci_high`` with ``stat`` in ``gap``, ``low``, ``high`` and ``mean``; sorted by size.
    """
    per_seed = per_seed_spread(per_query, measure, levels)
    per_seed = per_seed[per_seed["model"].isin(list(sizes))]
    long = per_seed.melt(
        id_vars=["method", "model", "seed"],
        value_vars=["gap", "low", "high", "mean"],
        var_name="stat",
    )
    long = long[long["value"].notna()]
    out = seed_stats(long, ["method", "model", "stat"], confidence=confidence)
    size = pd.DataFrame(
        [
            {"model": m, **{k: s.get(k) for k in ("layers", "non_embedding", "parameters")}}
            for m, s in sizes.items()
        ]
    )
    out = out.merge(size, on="model", how="left")
    out = out.sort_values(["method", "non_embedding", "stat"], kind="stable").reset_index(drop=True)
    return out[
        [
            "method",
            "model",
            "layers",
            "non_embedding",
            "parameters",
            "stat",
            "mean",
            "std",
            "n",
            "ci_low",
            "ci_high",
        ]
    ]

"""Query translation with a sequence-to-sequence model: the translate-test baseline.

A ``translate:<model>`` system (:func:`optical.systems.parse_system`) translates every
query with ``<model>`` — any Hugging Face sequence-to-sequence checkpoint loaded by name or
path (MarianMT ``Helsinki-NLP/opus-mt-sw-en``, NLLB, M2M100, mT5) — and retrieves the
translations with the frozen zero-shot encoder, as the paper's NMT baseline does. Greedy
decoding (beam 1), deterministic. A translation that comes out empty is refused with the
query ids, never scored as an empty query.

NLLB and M2M100 need a target language: give ``translate:<model>@<code>`` (e.g.
``translate:facebook/nllb-200-distilled-600M@eng_Latn``); the code becomes the forced
first generated token.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

import torch

from optical.hf import load_seq2seq, load_tokenizer

__all__ = ["Translator", "load_translator", "translate_queries"]

_CACHE: dict[tuple[str, str], Translator] = {}
_LOCK = threading.Lock()


class Translator:
    """A sequence-to-sequence model and its tokenizer, on one device."""

    def __init__(self, name: str, device: str | torch.device | None = None, target: str | None = None,
                 max_new_tokens: int = 128, batch_size: int = 16) -> None:
        from optical.assets.models import resolve_model
        from optical.encoders import resolve_device

        self.name = name
        self.device = resolve_device(device)
        path = str(resolve_model(name))  # bundled names, hub ids and folders alike
        self.tokenizer = load_tokenizer(path)
        self.model = load_seq2seq(path).to(self.device).eval()
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.forced_bos = None
        if target is not None:
            ids = self.tokenizer.convert_tokens_to_ids(target)
            if ids is None or ids == self.tokenizer.unk_token_id:
                raise ValueError(f"{name}: the tokenizer has no target-language token {target!r}")
            self.forced_bos = ids

    def translate(self, texts: Sequence[str]) -> list[str]:
        """Greedy translations of ``texts``, in order."""
        out: list[str] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            inputs = self.tokenizer(batch, return_tensors="pt", padding=True, truncation=True,
                                    return_token_type_ids=False).to(self.device)
            extra = {"forced_bos_token_id": self.forced_bos} if self.forced_bos is not None else {}
            with torch.inference_mode():
                ids = self.model.generate(**inputs, max_new_tokens=self.max_new_tokens, num_beams=1,
                                          do_sample=False, **extra)
            out += [t.strip() for t in self.tokenizer.batch_decode(ids, skip_special_tokens=True)]
        return out


def load_translator(spec: str, device: str | torch.device | None = None) -> Translator:
    """One shared :class:`Translator` per (``<model>[@<target>]``, device) in this process."""
    name, _, target = spec.rpartition("@") if "@" in spec and not spec.startswith("@") else (spec, "", "")
    key = (spec, str(device))
    with _LOCK:
        if key not in _CACHE:
            _CACHE[key] = Translator(name, device, target or None)
        return _CACHE[key]


def translate_queries(translator: Translator, queries: Mapping[str, str]) -> dict[str, str]:
    """``queries`` with every text translated (same ids, same order).

    Raises
    ------
    ValueError
        Some translations are empty (the ids of up to five are named).
    """
    ids = list(queries)
    texts = translator.translate([queries[q] for q in ids])
    empty = [q for q, t in zip(ids, texts, strict=True) if not t]
    if empty:
        shown = ", ".join(map(repr, empty[:5])) + (" ..." if len(empty) > 5 else "")
        raise ValueError(f"{translator.name}: {len(empty)} of {len(ids)} queries translate to nothing "
                         f"({shown}); this model cannot translate them")
    return dict(zip(ids, texts, strict=True))

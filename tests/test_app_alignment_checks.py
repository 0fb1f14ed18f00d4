"""The alignment service refuses what it cannot align honestly (issue 11): student and teacher
with different tokenizers, and out-of-range numeric controls."""

from __future__ import annotations

import numpy as np
import pytest

from optical.app.transport_view import (
    AlignOptions,
    align,
    check_compatible,
    fit_geometry,
    plan_links,
    tokenizer_fingerprint,
)

SRC, TGT = "mungu aliupenda ulimwengu sana", "god loved the world so much"


@pytest.fixture(scope="module")
def encoder(tiny_model_dir):
    from optical.encoders import Encoder

    return Encoder(str(tiny_model_dir)).eval()


@pytest.fixture(scope="module")
def other_tokenizer_encoder(tiny_model_dir, tmp_path_factory):
    """The same weights (same width) read through a tokenizer with a permuted vocabulary."""
    from transformers import PreTrainedTokenizerFast

    from optical.encoders import Encoder
    from tests.helpers import make_tokenizer_json, tiny_vocab

    vocab = tiny_vocab()
    words = [p for p in vocab if p[0].startswith("\u2581") and len(p[0]) > 1]
    swapped = dict(zip([w for w, _ in words], [w for w, _ in reversed(words)], strict=True))
    permuted = [(swapped.get(piece, piece), score) for piece, score in vocab]
    path = make_tokenizer_json(tmp_path_factory.mktemp("tok") / "tokenizer.json", permuted)
    tok = PreTrainedTokenizerFast(
        tokenizer_file=str(path),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
    )
    base = Encoder(str(tiny_model_dir))
    return Encoder(str(tiny_model_dir), model=base.model, tokenizer=tok).eval()


def test_same_tokenizer_loaded_twice_is_compatible(encoder, tiny_model_dir):
    from optical.encoders import Encoder

    twin = Encoder(str(tiny_model_dir)).eval()
    assert twin.tokenizer is not encoder.tokenizer
    assert tokenizer_fingerprint(twin.tokenizer) == tokenizer_fingerprint(encoder.tokenizer)
    check_compatible(encoder, twin)
    out = align(encoder, twin, SRC, TGT, AlignOptions(geometry="raw"))
    assert out.plan.sum() == pytest.approx(1.0, abs=1e-4)


def test_different_tokenizers_of_equal_width_are_refused(encoder, other_tokenizer_encoder):
    assert encoder.hidden_size == other_tokenizer_encoder.hidden_size
    with pytest.raises(ValueError, match="different tokenizers"):
        align(encoder, other_tokenizer_encoder, SRC, TGT, AlignOptions(geometry="raw"))
    with pytest.raises(ValueError, match="different tokenizers"):
        align(other_tokenizer_encoder, encoder, SRC, TGT)


@pytest.mark.parametrize(
    "field, value, match",
    [
        ("max_length", -1, "max_length must be an integer in"),
        ("max_length", 0, "max_length must be an integer in"),
        ("max_length", 2.5, "max_length must be an integer in"),
        ("max_length", "64", "max_length must be an integer in"),
        ("max_length", 10**9, "max_length must be an integer in"),
        ("max_iter", 0, "max_iter must be an integer in"),
        ("max_iter", -5, "max_iter must be an integer in"),
        ("max_iter", 1.5, "max_iter must be an integer in"),
        ("eps", float("nan"), "eps must be a positive"),
        ("eps", -0.1, "eps must be a positive"),
        ("eps", float("inf"), "eps must be a positive"),
        ("eps", "0.1", "eps must be a positive"),
        ("eps", True, "eps must be a positive"),
        ("reg_m", "abc", "reg_m must be None"),
        ("reg_m", 0, "reg_m must be None"),
        ("reg_m", float("nan"), "reg_m must be None"),
        ("threshold", 0, r"threshold must be a number in \(0, 1\]"),
        ("threshold", 1.5, r"threshold must be a number in \(0, 1\]"),
        ("threshold", "x", r"threshold must be a number in \(0, 1\]"),
        ("threshold", float("nan"), r"threshold must be a number in \(0, 1\]"),
        ("special_tokens", "yes", "special_tokens must be True or False"),
    ],
)
def test_align_options_reject_bad_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        AlignOptions(**{field: value})


def test_align_keyword_overrides_are_validated(encoder):
    with pytest.raises(ValueError, match="max_length must be an integer in"):
        align(encoder, encoder, SRC, TGT, max_length=-1)
    with pytest.raises(ValueError, match="unknown alignment option"):
        align(encoder, encoder, SRC, TGT, max_lenght=64)
    out = align(encoder, encoder, SRC, TGT, AlignOptions(geometry="raw"), max_length=6)
    assert out.options.max_length == 6 and len(out.src_tokens) <= 6
    with pytest.raises(ValueError, match="geometry must be a fitted TokenGeometry"):
        align(encoder, encoder, SRC, TGT, AlignOptions(), "center")


def test_non_string_sentence_is_a_value_error(encoder):
    with pytest.raises(ValueError, match="source sentence must be a string"):
        align(encoder, encoder, 42, TGT)


def test_fit_geometry_and_plan_links_check_their_numbers(encoder):
    with pytest.raises(ValueError, match="max_length"):
        fit_geometry(encoder, [TGT], "center", max_length=-1)
    with pytest.raises(ValueError, match="batch_size"):
        fit_geometry(encoder, [TGT], "center", batch_size=0)
    with pytest.raises(ValueError, match="list of strings"):
        fit_geometry(encoder, TGT, "center")
    with pytest.raises(ValueError, match="threshold"):
        plan_links(np.eye(3) / 3, "threshold", threshold=2.0)
    with pytest.raises(ValueError, match="2-d"):
        plan_links(np.ones(3), "argmax")


def test_a_saved_copy_of_the_tokenizer_is_compatible(encoder, tmp_path):
    """A student checkpoint saves the tokenizer with its last truncation/padding state:
    that is no different tokenizer."""
    from optical.encoders import Encoder

    encoder.tokenize(["god loved the world"], True, max_length=7)  # leaves call-time state
    encoder.tokenizer.save_pretrained(tmp_path)
    from transformers import PreTrainedTokenizerFast

    copy = PreTrainedTokenizerFast.from_pretrained(str(tmp_path))
    saved = Encoder(str(encoder.name_or_path), model=encoder.model, tokenizer=copy)
    assert saved.tokenizer.backend_tokenizer.to_str() != encoder.tokenizer.backend_tokenizer.to_str()
    check_compatible(encoder, saved)

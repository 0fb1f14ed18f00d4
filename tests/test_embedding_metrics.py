"""Tests for optical.evaluation.embedding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from optical.evaluation import (
    alignment,
    bitext_mining_accuracy,
    l2_normalize,
    similarity_matrix,
    uniformity,
)


def _unit(deg):
    rad = math.radians(deg)
    return [math.cos(rad), math.sin(rad)]


def test_alignment_by_hand():
    x = np.array([[1.0, 0.0], [0.0, 2.0]])
    assert alignment(x, x) == 0.0
    assert alignment(x, 3.0 * x) == pytest.approx(0.0, abs=1e-15)  # vectors are normalised
    ortho = np.array([[0.0, 5.0], [1.0, 0.0]])
    assert alignment(x, ortho) == pytest.approx(2.0)  # ||e1 - e2||^2 = 2
    assert alignment(x, ortho, alpha=1) == pytest.approx(math.sqrt(2))
    assert alignment(x, -x) == pytest.approx(4.0)  # antipodal: ||2 e||^2
    mixed = np.array([[1.0, 0.0], [0.0, -1.0]])
    assert alignment(x, mixed) == pytest.approx((0.0 + 4.0) / 2)


def test_uniformity_by_hand():
    antipodal = np.array([[0.0, 3.0], [0.0, -1.0]])
    assert uniformity(antipodal) == pytest.approx(-8.0)  # log exp(-2 * 4)
    assert uniformity(antipodal, t=1) == pytest.approx(-4.0)
    three = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    # squared distances 2, 4, 2 over the three distinct pairs
    expected = math.log((2 * math.exp(-4) + math.exp(-8)) / 3)
    assert uniformity(three) == pytest.approx(expected)
    assert uniformity(np.ones((4, 3))) == pytest.approx(0.0, abs=1e-12)  # collapsed


def test_uniformity_matches_wang_isola_reference_across_blocks():
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(torch.randn(1500, 8, generator=gen, dtype=torch.float64))
    ref = torch.pdist(x, p=2).pow(2).mul(-2).exp().mean().log().item()
    assert uniformity(x) == pytest.approx(ref, rel=1e-10)
    y = torch.nn.functional.normalize(x + 0.1 * torch.randn(1500, 8, generator=gen).double())
    ref_align = (x - y).norm(p=2, dim=1).pow(2).mean().item()
    assert alignment(x, y) == pytest.approx(ref_align, rel=1e-10)


def test_torch_and_numpy_inputs_agree():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(20, 5)), rng.normal(size=(20, 5))
    ta = torch.tensor(a, dtype=torch.float32, requires_grad=True)
    tb = torch.tensor(b, dtype=torch.float32)
    assert alignment(ta, tb) == pytest.approx(alignment(a, b), rel=1e-5)
    assert uniformity(ta) == pytest.approx(uniformity(a), rel=1e-5)
    assert bitext_mining_accuracy(ta, tb) == bitext_mining_accuracy(a, b)
    normed = l2_normalize(a)
    np.testing.assert_allclose(np.linalg.norm(normed, axis=1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(similarity_matrix(a, b), normed @ l2_normalize(b).T, rtol=1e-12)


def test_bitext_mining_cosine_and_margin_by_hand():
    # Source angles 0 and 60 degrees; targets 20 and 105.  Cosine sends source 1 to target 0
    # (40 deg < 45 deg).  With k = 1, target 0 is a hub (its nearest source has cos 20 deg):
    # ratio margin: cos40 / ((cos40 + cos20) / 2) = 0.898 < cos45 / ((cos40 + cos45) / 2) = 0.960.
    src = np.array([_unit(0), _unit(60)])
    tgt = np.array([_unit(20), _unit(105)])
    assert bitext_mining_accuracy(src, tgt) == 0.5
    assert bitext_mining_accuracy(src, tgt, margin="ratio", k=1) == 1.0
    assert bitext_mining_accuracy(src, tgt, margin="distance", k=1) == 1.0
    assert bitext_mining_accuracy(src, src) == 1.0
    assert bitext_mining_accuracy(src, src[::-1]) == 0.0
    # Extra distractor targets after the gold rows.
    assert bitext_mining_accuracy(src, np.vstack([src, [_unit(1)]])) == 1.0
    assert bitext_mining_accuracy(src, np.vstack([tgt, [_unit(61)]])) == 0.5


def test_margin_matches_loop_reference():
    rng = np.random.default_rng(5)
    src = rng.normal(size=(30, 6))
    tgt = src + rng.normal(scale=1.2, size=(30, 6))
    k = 3
    s = l2_normalize(src)
    t = l2_normalize(tgt)
    cos = s @ t.T
    for margin in ("ratio", "distance"):
        correct = 0
        for i in range(30):
            best, best_j = -np.inf, -1
            for j in range(30):
                nn_x = sorted(cos[i, :], reverse=True)[:k]
                nn_y = sorted(cos[:, j], reverse=True)[:k]
                d = sum(nn_x) / (2 * k) + sum(nn_y) / (2 * k)
                value = cos[i, j] / d if margin == "ratio" else cos[i, j] - d
                if value > best:
                    best, best_j = value, j
            correct += best_j == i
        assert bitext_mining_accuracy(src, tgt, margin=margin, k=k) == correct / 30


def test_embedding_validation():
    with pytest.raises(ValueError, match="zero vectors"):
        alignment(np.zeros((2, 3)), np.ones((2, 3)))
    with pytest.raises(ValueError, match="same shape"):
        alignment(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(ValueError, match="at least 2"):
        uniformity(np.ones((1, 3)))
    with pytest.raises(ValueError, match="2-d"):
        uniformity(np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        uniformity(np.array([[1.0, np.nan], [1.0, 0.0]]))
    with pytest.raises(ValueError, match="fewer rows"):
        bitext_mining_accuracy(np.eye(3), np.eye(3)[:2])
    with pytest.raises(ValueError, match="k must be"):
        bitext_mining_accuracy(np.eye(3), np.eye(3), margin="ratio", k=4)
    with pytest.raises(ValueError, match="unknown margin"):
        bitext_mining_accuracy(np.eye(3), np.eye(3), margin="cosine")

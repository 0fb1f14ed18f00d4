"""Pure scoring functions: hand-computed values, brute-force agreement, edge cases."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
import torch

import optical.retrieval.scoring as scoring
from optical.ot import ot_cost, sinkhorn
from optical.retrieval.scoring import (
    cosine_matrix,
    maxsim_matches,
    maxsim_scores,
    maxsim_scores_packed,
    ot_scores,
)


def _unit(*shape: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(*shape, generator=g), dim=-1)


# Scores are exact float64 arithmetic on float16-rounded vectors (see the module docstring):
# against float32 references they agree to float16's rounding of the inputs.
F16 = 2e-3


def test_doctests_pass():
    result = doctest.testmod(scoring, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 10
    assert result.failed == 0


def test_maxsim_hand_values():
    # query tokens e1, e2; doc A = {e1, (0.6, 0.8)}, doc B = {(-1, 0)}
    q = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])
    d = torch.tensor([[[1.0, 0.0], [0.6, 0.8]], [[-1.0, 0.0], [0.0, 0.0]]])
    d_mask = torch.tensor([[True, True], [True, False]])
    # A: e1 -> max(1, 0.6) = 1; e2 -> max(0, 0.8) = 0.8  => 1.8
    # B: e1 -> -1; e2 -> 0 => -1
    assert maxsim_scores(q, d, d_mask=d_mask)[0].tolist() == pytest.approx([1.8, -1.0], abs=F16)
    # a masked query token does not count
    q_mask = torch.tensor([[True, False]])
    assert maxsim_scores(q, d, q_mask, d_mask)[0].tolist() == pytest.approx([1.0, -1.0])


def test_maxsim_matches_brute_force_loop():
    q, d = _unit(3, 5, 8, seed=1), _unit(4, 6, 8, seed=2)
    q_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    d_mask = torch.ones(4, 6, dtype=torch.bool)
    d_mask[1, 2:] = False
    d_mask[3, 5] = False
    got = maxsim_scores(q, d, q_mask, d_mask)
    expected = np.zeros((3, 4))
    for i in range(3):
        for j in range(4):
            qi = q[i][q_mask[i]].numpy()
            dj = d[j][d_mask[j]].numpy()
            expected[i, j] = (qi @ dj.T).max(axis=1).sum()
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got.numpy(), expected, atol=F16)


def test_packed_maxsim_equals_padded():
    q, d = _unit(3, 5, 8, seed=6), _unit(4, 6, 8, seed=7)
    q_mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1], [1, 0, 0, 0, 0]], dtype=torch.bool)
    lengths = [6, 2, 0, 4]
    d_mask = torch.arange(6)[None] < torch.tensor(lengths)[:, None]
    rows = d[d_mask]  # document by document
    doc = torch.repeat_interleave(torch.arange(4), torch.tensor(lengths))
    packed = maxsim_scores_packed(q, rows, doc, 4, q_mask)
    padded = maxsim_scores(q, d, q_mask, d_mask)
    np.testing.assert_allclose(packed.numpy(), padded.numpy(), rtol=1e-6, atol=1e-6)
    assert packed[:, 2].tolist() == [0.0, 0.0, 0.0]  # the empty document
    with pytest.raises(ValueError, match="d_index"):
        maxsim_scores_packed(q, rows, doc[:-1], 4)


def test_maxsim_empty_document_scores_zero_and_half_precision_works():
    q = _unit(1, 3, 4)
    d = _unit(2, 2, 4, seed=3)
    d_mask = torch.tensor([[True, True], [False, False]])
    got = maxsim_scores(q, d, None, d_mask)
    assert got[0, 1].item() == 0.0
    half = maxsim_scores(q.half(), d.half(), None, d_mask)
    assert half.dtype == torch.float32
    np.testing.assert_allclose(half.numpy(), got.numpy(), atol=5e-3)


def test_maxsim_shape_errors():
    with pytest.raises(ValueError, match="dimension mismatch"):
        maxsim_scores(_unit(1, 2, 4), _unit(1, 2, 5))
    with pytest.raises(ValueError, match="masks must have shapes"):
        maxsim_scores(_unit(1, 2, 4), _unit(1, 2, 4), torch.ones(1, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="expected q"):
        maxsim_scores(_unit(2, 4), _unit(1, 2, 4))


def test_cosine_matrix_and_matches_hand_values():
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    d = torch.tensor([[0.6, 0.8], [1.0, 0.0], [0.0, -1.0]])
    sim = cosine_matrix(q, d)
    np.testing.assert_allclose(sim.numpy(), [[0.6, 1.0, 0.0], [0.8, 0.0, -1.0]], atol=1e-7)
    idx, val = maxsim_matches(sim)
    assert idx.tolist() == [1, 0]
    assert val.tolist() == pytest.approx([1.0, 0.8])
    idx, val = maxsim_matches(torch.zeros(2, 0))
    assert idx.tolist() == [-1, -1] and val.tolist() == [0.0, 0.0]


def test_ot_scores_single_token_is_one_minus_cosine():
    q = torch.tensor([[[1.0, 0.0]], [[0.0, 1.0]]])
    d = torch.tensor([[[0.6, 0.8]], [[1.0, 0.0]]])
    got = ot_scores(q, d)
    # -(1 - cos): q0.d0 = 0.6, q0.d1 = 1, q1.d0 = 0.8, q1.d1 = 0
    np.testing.assert_allclose(got.numpy(), [[-0.4, 0.0], [-0.2, -1.0]], atol=F16)


def test_ot_scores_equal_per_pair_sinkhorn():
    q, d = _unit(2, 4, 6, seed=4), _unit(3, 5, 6, seed=5)
    q_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.bool)
    d_mask = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 1], [1, 1, 1, 1, 0]], dtype=torch.bool)
    got = ot_scores(q, d, q_mask, d_mask, eps=0.1, max_iter=50)
    for i in range(2):
        for j in range(3):
            cost = 1.0 - q[i][q_mask[i]] @ d[j][d_mask[j]].T
            plan = sinkhorn(cost, eps=0.1, max_iter=50)
            assert got[i, j].item() == pytest.approx(-ot_cost(plan, cost).item(), abs=F16)


def test_ot_scores_empty_side_is_orthogonal():
    q, d = _unit(2, 3, 4), _unit(2, 3, 4, seed=1)
    q_mask = torch.tensor([[True, True, True], [False, False, False]])
    d_mask = torch.tensor([[True, True, False], [False, False, False]])
    got = ot_scores(q, d, q_mask, d_mask)
    assert got[1].tolist() == [-1.0, -1.0]
    assert got[0, 1].item() == -1.0
    assert -2.0 <= got[0, 0].item() <= 0.0

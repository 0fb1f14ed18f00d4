"""Evaluation for OPTICAL: ranking metrics, significance tests, embedding metrics, curves, tables.

Runs and qrels are plain dictionaries (``Run = dict[qid, dict[docid, score]]``,
``Qrels = dict[qid, dict[docid, grade]]``); ranking metrics follow trec_eval (see
:mod:`optical.evaluation.metrics`).
"""

from __future__ import annotations

from optical.evaluation.comparison import Comparison
from optical.evaluation.curves import (
    BestF1,
    PRCurve,
    best_f1,
    best_f1_from_run,
    pairs_from_run,
    precision_recall_curve,
    precision_recall_curve_from_run,
)
from optical.evaluation.embedding import (
    alignment,
    bitext_mining_accuracy,
    l2_normalize,
    similarity_matrix,
    uniformity,
)
from optical.evaluation.metrics import (
    DEFAULT_MEASURES,
    EvalResult,
    MeasureLike,
    Qrels,
    Run,
    check_relevance_level,
    evaluate,
    parse_measure,
    parse_measures,
    per_query,
    trec_ranking,
    validate_qrels,
    validate_run,
)
from optical.evaluation.significance import (
    PairedTestResult,
    adjust_pvalues,
    bonferroni,
    bootstrap_test,
    check_alpha,
    compare_systems,
    holm,
    paired_test,
    paired_ttest,
    randomization_test,
)
from optical.evaluation.tables import (
    RESOURCE_LEVELS,
    language_spread,
    mean_table,
    resource_gap,
    significance_table,
)

__all__ = [
    "DEFAULT_MEASURES",
    "RESOURCE_LEVELS",
    "BestF1",
    "Comparison",
    "EvalResult",
    "MeasureLike",
    "PRCurve",
    "PairedTestResult",
    "Qrels",
    "Run",
    "adjust_pvalues",
    "alignment",
    "best_f1",
    "best_f1_from_run",
    "bitext_mining_accuracy",
    "bonferroni",
    "bootstrap_test",
    "check_alpha",
    "check_relevance_level",
    "compare_systems",
    "evaluate",
    "holm",
    "l2_normalize",
    "language_spread",
    "mean_table",
    "pairs_from_run",
    "parse_measure",
    "parse_measures",
    "paired_test",
    "paired_ttest",
    "per_query",
    "precision_recall_curve",
    "precision_recall_curve_from_run",
    "randomization_test",
    "resource_gap",
    "significance_table",
    "similarity_matrix",
    "trec_ranking",
    "uniformity",
    "validate_qrels",
    "validate_run",
]

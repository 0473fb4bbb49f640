"""Classification metrics: pure, weighted and jit-able, checked against scikit-learn.

Every metric takes ``(n,)`` arrays: labels ``y_true`` in {0, 1} (bool, int or float), and hard
predictions ``y_pred``, probabilities ``y_prob`` of class 1 or scores ``y_score`` (probabilities
or logits). With ``sample_weight`` (non-negative, shape ``(n,)``) each row counts with its
weight. Results are 0-d arrays in the floating dtype of the predictions (of ``y_true`` and
``y_pred`` together for hard predictions), at least float32; integer and boolean inputs give
JAX's default float. Shapes are static, so every metric works under ``jax.jit`` and ``jax.vmap``
(for a batch of score vectors, ``vmap`` with ``in_axes=(None, 0)``); values are never
inspected, so labels outside {0, 1} or negative weights are the caller's to avoid. A weighted
mean over zero total weight, and ``roc_auc`` without both classes, are NaN: undefined.

`roc_curve` and `calibration_curve` have value-dependent lengths: NumPy helpers for plots.
`report` gathers every metric as Python floats.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike

from jaxsig._loss import logistic_loss


def _result_dtype(*arrays: jax.Array) -> jnp.dtype:
    dtype = jnp.result_type(*arrays)
    if not jnp.issubdtype(dtype, jnp.floating):
        dtype = jnp.result_type(float)
    return jnp.promote_types(dtype, jnp.float32)


def _prepare(y_true, y, sample_weight, name: str, *, hard: bool = False):
    """``y_true``, ``y`` and the weights (ones when None) as 1-D arrays of one floating dtype:
    ``y``'s, or for hard predictions that of ``y_true`` and ``y`` together."""
    if y.ndim != 1 or y_true.shape != y.shape:
        raise ValueError(
            f"y_true and {name} must be 1-D of the same length, got shapes {y_true.shape} and "
            f"{y.shape} (jax.vmap over a batch of them)"
        )
    dtype = _result_dtype(y_true, y) if hard else _result_dtype(y)
    if sample_weight is None:
        weight = jnp.ones(y.shape, dtype)
    else:
        if sample_weight.shape != y.shape:
            raise ValueError(f"sample_weight must have shape {y.shape}, got {sample_weight.shape}")
        weight = sample_weight.astype(dtype)
    return y_true.astype(dtype), y.astype(dtype), weight


def _arrays(y_true, y, sample_weight):
    weight = None if sample_weight is None else jnp.asarray(sample_weight)
    return jnp.asarray(y_true), jnp.asarray(y), weight


def _metric(static_argnames: tuple[str, ...] = ()):
    """Compiles a metric; its arrays are converted outside, so that a Python list is one
    argument of the compiled function rather than one per element."""

    def decorate(kernel):
        compiled = jax.jit(kernel, static_argnames=static_argnames)

        @functools.wraps(kernel)
        def metric(y_true, y, *, sample_weight=None, **options):
            y_true, y, weight = _arrays(y_true, y, sample_weight)
            return compiled(y_true, y, sample_weight=weight, **options)

        return metric

    return decorate


def _ratio(num: jax.Array, den: jax.Array, undefined: float) -> jax.Array:
    positive = den > 0
    return jnp.where(positive, num / jnp.where(positive, den, 1), undefined)


def _mean(values: jax.Array, weight: jax.Array) -> jax.Array:
    return _ratio(jnp.sum(weight * values), jnp.sum(weight), jnp.nan)


def _confusion(y_true, y_pred, sample_weight):
    """Weighted true positives, false positives and false negatives."""
    t, p, w = _prepare(y_true, y_pred, sample_weight, "y_pred", hard=True)
    t, p = t != 0, p != 0
    return jnp.sum(w * (t & p)), jnp.sum(w * (~t & p)), jnp.sum(w * (t & ~p))


@_metric()
def accuracy(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """Weighted fraction of correct hard predictions, ``sum_i w_i [y_i = yhat_i] / sum_i w_i``.

    >>> from jaxsig import metrics
    >>> print(f"{metrics.accuracy([0, 1, 1, 0], [0, 1, 0, 0]):.2f}")
    0.75
    """
    t, p, w = _prepare(y_true, y_pred, sample_weight, "y_pred", hard=True)
    return _mean((t != 0) == (p != 0), w)


@_metric()
def precision(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """``TP / (TP + FP)`` with weighted counts; 0 when nothing is predicted positive."""
    tp, fp, _ = _confusion(y_true, y_pred, sample_weight)
    return _ratio(tp, tp + fp, 0.0)


@_metric()
def recall(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """``TP / (TP + FN)`` with weighted counts; 0 when no label is positive."""
    tp, _, fn = _confusion(y_true, y_pred, sample_weight)
    return _ratio(tp, tp + fn, 0.0)


@_metric()
def f1(
    y_true: ArrayLike, y_pred: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """Harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``; 0 when ``TP = 0``.

    >>> from jaxsig import metrics
    >>> y_true, y_pred = [1, 1, 0, 0], [1, 0, 1, 0]
    >>> print(f"{metrics.precision(y_true, y_pred):.2f} {metrics.f1(y_true, y_pred):.2f}")
    0.50 0.50
    """
    tp, fp, fn = _confusion(y_true, y_pred, sample_weight)
    return _ratio(2 * tp, 2 * tp + fp + fn, 0.0)


@_metric()
def log_loss(
    y_true: ArrayLike, y_prob: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """Mean negative log-likelihood of probabilities, as scikit-learn computes it.

    ``-sum_i w_i (y_i log p_i + (1 - y_i) log(1 - p_i)) / sum_i w_i`` with ``p`` and ``1 - p``
    each clipped to ``[eps, 1 - eps]`` (``eps`` of the result dtype), so a confident mistake
    costs ``-log(eps)`` (15.9 in float32, 36.0 in float64), not inf. ``1 - p`` has lost its
    digits where ``p`` is near 1: from logits, `log_loss_from_logits` is exact.

    >>> from jaxsig import metrics
    >>> print(f"{metrics.log_loss([1, 0], [0.8, 0.4]):.4f}")
    0.3670
    """
    y, p, w = _prepare(y_true, y_prob, sample_weight, "y_prob")
    eps = jnp.finfo(p.dtype).eps
    log_p = jnp.log(jnp.clip(p, eps, 1 - eps))
    log_q = jnp.log(jnp.clip(1 - p, eps, 1 - eps))
    return _mean(-(y * log_p + (1 - y) * log_q), w)


@_metric()
def log_loss_from_logits(
    y_true: ArrayLike, logits: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """Mean logistic loss of logits, ``sum_i w_i (softplus(z_i) - y_i z_i) / sum_i w_i``.

    Each term is `jaxsig.logistic_loss`, correctly rounded for every logit: nothing is
    clipped, so a logit of 1000 on the wrong side costs 1000.

    >>> from jaxsig import metrics
    >>> print(f"{metrics.log_loss_from_logits([1, 0], [1000.0, 1000.0]):.1f}")
    500.0
    """
    y, z, w = _prepare(y_true, logits, sample_weight, "logits")
    return _mean(logistic_loss(z, y), w)


@_metric()
def brier_score(
    y_true: ArrayLike, y_prob: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """Mean squared error of probabilities, ``sum_i w_i (p_i - y_i)^2 / sum_i w_i``."""
    y, p, w = _prepare(y_true, y_prob, sample_weight, "y_prob")
    return _mean((p - y) ** 2, w)


@_metric()
def roc_auc(
    y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> jax.Array:
    """Area under the ROC curve: the weighted chance that a positive outscores a negative.

    ``sum_{i pos, j neg} w_i w_j ([s_i > s_j] + [s_i = s_j] / 2) / (W_pos W_neg)``, exact with
    ties (a tie counts one half), in O(n log n): with ``N(<s)`` and ``N(<=s)`` the negative
    weight scored below and up to ``s`` (one cumulative sum in sorted order, read at both ends
    of each tie), each positive row adds ``w_i (N(<s_i) + N(<=s_i)) / 2``. NaN when either
    class has no weight or a score is NaN. Probabilities and their logits give the same value,
    except where distinct logits have rounded to equal probabilities (new ties).

    >>> from jaxsig import metrics
    >>> print(f"{metrics.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.8]):.3f}")
    0.875
    """
    y, s, w = _prepare(y_true, y_score, sample_weight, "y_score")
    positive, negative = w * y, w * (1 - y)
    order = jnp.argsort(s)
    sorted_s = s[order]
    below = jnp.concatenate([jnp.zeros(1, s.dtype), jnp.cumsum(negative[order])])
    strictly = below[jnp.searchsorted(sorted_s, s, side="left")]
    up_to = below[jnp.searchsorted(sorted_s, s, side="right")]
    num = jnp.sum(positive * (strictly + up_to)) / 2
    auc = _ratio(num, jnp.sum(positive) * jnp.sum(negative), jnp.nan)
    return jnp.where(jnp.any(jnp.isnan(s)), jnp.nan, auc)


def _bin_index(p: jax.Array, n_bins: int) -> jax.Array:
    """Bin ``b`` holds ``(e_b, e_{b+1}]`` for the float64 edges ``e = linspace(0, 1, n + 1)``,
    bin 0 also ``e_0`` and below, the last bin also above 1: ``calibration_curve``'s bins.

    In float32 each inner edge is a pair ``hi + lo`` (the float64 edge exactly), so a float32
    probability is compared with the float64 edge, as scikit-learn compares it: float32(0.1),
    0.10000000149, lies above the edge 0.1 and in the second of 10 bins.
    """
    upper = np.linspace(0.0, 1.0, n_bins + 1)[1:]
    hi = upper.astype(p.dtype)
    lo = jnp.asarray((upper - hi).astype(p.dtype))
    hi = jnp.asarray(hi)
    index = jnp.searchsorted(hi, p, side="left")  # the upper edges with hi < p
    at = jnp.minimum(index, n_bins - 1)
    index = index + ((p == hi[at]) & (lo[at] < 0))
    return jnp.minimum(index, n_bins - 1)


def _bin_sums(y_true, y_prob, sample_weight, n_bins: int):
    """Per bin: the weight, the weighted sum of probabilities and of labels."""
    if not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int, got {n_bins!r}")
    y, p, w = _prepare(y_true, y_prob, sample_weight, "y_prob")
    index = _bin_index(p, n_bins)
    sums = jax.ops.segment_sum(jnp.stack([w, w * p, w * y], axis=1), index, n_bins)
    return sums[:, 0], sums[:, 1], sums[:, 2]


_compiled_bin_sums = jax.jit(_bin_sums, static_argnames="n_bins")


@_metric(static_argnames=("n_bins",))
def expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = 10,
    sample_weight: ArrayLike | None = None,
) -> jax.Array:
    """Weighted mean gap between confidence and frequency over ``n_bins`` uniform bins.

    ``ECE = sum_b (W_b / W) |mean_b(p) - mean_b(y)| = sum_b |sum_{i in b} w_i (p_i - y_i)| / W``,
    bin ``b`` holding the probabilities in ``(b / n, (b + 1) / n]`` (bin 0 also 0), the bins of
    scikit-learn's ``calibration_curve`` exactly, with its float64 edges in every dtype (so a
    float32 probability that prints as an edge may lie just above it). Empty bins add nothing.

    >>> from jaxsig import metrics
    >>> print(f"{metrics.expected_calibration_error([0, 1, 1, 1], [0.15, 0.35, 0.85, 0.95]):.3f}")
    0.250
    """
    total, sum_p, sum_y = _bin_sums(y_true, y_prob, sample_weight, n_bins)
    return _ratio(jnp.sum(jnp.abs(sum_p - sum_y)), jnp.sum(total), jnp.nan)


def roc_curve(
    y_true: ArrayLike, y_score: ArrayLike, *, sample_weight: ArrayLike | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct score, for plotting (NumPy, float64).

    Returns ``(fpr, tpr, thresholds)``: the point ``k`` counts the rows with
    ``score >= thresholds[k]`` as predicted positive; ``thresholds`` falls from ``inf`` (the
    point (0, 0)) through the distinct scores, as scikit-learn's ``roc_curve`` with
    ``drop_intermediate=False``. Rows of zero weight are left out. The trapezoids under
    ``(fpr, tpr)`` add up to `roc_auc`.

    Raises:
      ValueError: a NaN score, mismatched shapes, or a class without weight.

    >>> from jaxsig import metrics
    >>> fpr, tpr, thresholds = metrics.roc_curve([0, 0, 1, 1], [0.25, 0.5, 0.5, 0.75])
    >>> print(fpr, tpr, thresholds)
    [0.  0.  0.5 1. ] [0.  0.5 1.  1. ] [ inf 0.75 0.5  0.25]
    """
    arrays = _arrays(y_true, y_score, sample_weight)
    y, s, w = (np.asarray(a, np.float64) for a in _prepare(*arrays, "y_score"))
    if np.isnan(s).any():
        raise ValueError("y_score contains NaN")
    keep = w != 0
    y, s, w = y[keep], s[keep], w[keep]
    order = np.argsort(-s, kind="stable")
    s = s[order]
    last_of_tie = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.size - 1]
    tps = np.r_[0.0, np.cumsum((w * y)[order])[last_of_tie]]
    fps = np.r_[0.0, np.cumsum((w * (1 - y))[order])[last_of_tie]]
    if not (tps[-1] > 0 and fps[-1] > 0):
        raise ValueError("a ROC curve needs rows of both classes with positive weight")
    return fps / fps[-1], tps / tps[-1], np.r_[np.inf, s[last_of_tie]]


def calibration_curve(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = 10,
    sample_weight: ArrayLike | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reliability diagram data over the uniform bins of `expected_calibration_error` (NumPy).

    Returns ``(mean_predicted, fraction_positive, weight)`` per bin: the weighted mean
    probability, the weighted fraction of positive labels and the bin's total weight, bins
    without weight dropped. ``sum |mean_predicted - fraction_positive| * weight / sum weight``
    is the ECE.

    >>> from jaxsig import metrics
    >>> curve = metrics.calibration_curve([0, 1, 1], [0.12, 0.18, 0.9], n_bins=5)
    >>> print(*(a.round(2) for a in curve))
    [0.15 0.9 ] [0.5 1. ] [2. 1.]
    """
    sums = _compiled_bin_sums(*_arrays(y_true, y_prob, sample_weight), n_bins=n_bins)
    total, sum_p, sum_y = (np.asarray(a, np.float64) for a in sums)
    used = total > 0
    return sum_p[used] / total[used], sum_y[used] / total[used], total[used]


REPORT_KEYS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "log_loss",
    "brier_score",
    "roc_auc",
    "expected_calibration_error",
)


@jax.jit
def _all_metrics(y_true, y_prob, sample_weight, threshold):
    y_pred = y_prob > threshold
    return (
        *(
            f(y_true, y_pred, sample_weight=sample_weight)
            for f in (accuracy, precision, recall, f1)
        ),
        *(f(y_true, y_prob, sample_weight=sample_weight) for f in (log_loss, brier_score, roc_auc)),
        expected_calibration_error(y_true, y_prob, sample_weight=sample_weight),
    )


def report(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    threshold: float = 0.5,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """Every metric of probabilities ``y_prob`` as Python floats, in one compiled call.

    The hard predictions are ``y_prob > threshold``, as `jaxsig.predict` makes them; the ECE
    uses 10 bins. Keys: accuracy, precision, recall, f1, log_loss, brier_score, roc_auc,
    expected_calibration_error.

    >>> from jaxsig import metrics
    >>> scores = metrics.report([0, 0, 1, 1], [0.3, 0.64, 0.77, 0.92])
    >>> print({k: round(v, 3) for k, v in scores.items()})  # doctest: +NORMALIZE_WHITESPACE
    {'accuracy': 0.75, 'precision': 0.667, 'recall': 1.0, 'f1': 0.8, 'log_loss': 0.431,
     'brier_score': 0.14, 'roc_auc': 1.0, 'expected_calibration_error': 0.312}
    """
    values = _all_metrics(*_arrays(y_true, y_prob, sample_weight), threshold)
    return {k: float(v) for k, v in zip(REPORT_KEYS, values, strict=True)}

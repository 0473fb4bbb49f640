"""metrics: every metric against scikit-learn or an explicit loop, weighted, tied, jit and vmap."""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.calibration
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from support import ALL_DTYPES, FULL_DTYPES, dtype_param, eps

from jaxsig import logistic_loss, metrics

# Every comparison below sums at most 100 rows of O(1) terms (a log-loss term is at most
# -log(eps) = 36) in the working dtype: a sum errs by at most n eps relative, a handful of
# element-wise operations add a few eps, so 128 eps (1.5e-5 in float32, 2.8e-14 in float64)
# bounds both sides' rounding. The same value is the absolute tolerance, for results near 0
# (a calibration gap is a difference of O(1) sums).
TOL = {np.dtype(np.float32): 128 * eps(np.float32), np.dtype(np.float64): 128 * eps(np.float64)}

HARD = {
    "accuracy": (metrics.accuracy, skm.accuracy_score, {}),
    "precision": (metrics.precision, skm.precision_score, {"zero_division": 0}),
    "recall": (metrics.recall, skm.recall_score, {"zero_division": 0}),
    "f1": (metrics.f1, skm.f1_score, {"zero_division": 0}),
}


def close(actual, expected, dtype):
    tol = TOL[np.dtype(dtype)]
    np.testing.assert_allclose(np.asarray(actual, np.float64), expected, rtol=tol, atol=tol)


def data(seed, dtype, *, n=100, ties=False, weighted=False):
    """Labels (both classes), informative probabilities in ``dtype`` and weights (some zero)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    p = 0.4 * y + 0.6 * rng.uniform(size=n)
    if ties:
        p = np.round(p, 1)  # many rows share a score, and every tie sits on a bin edge
    w = None
    if weighted:
        w = rng.uniform(0, 2, n).astype(dtype)
        w[rng.uniform(size=n) < 0.1] = 0
    return y, p.astype(dtype), w


def pairwise_auc(y, s, w):
    """The definition: the weighted share of (positive, negative) pairs ordered right, ties 1/2."""
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    num = den = 0.0
    for i in np.flatnonzero(y == 1):
        for j in np.flatnonzero(y == 0):
            num += w[i] * w[j] * ((s[i] > s[j]) + 0.5 * (s[i] == s[j]))
            den += w[i] * w[j]
    return num / den


def bin_of(p, n_bins):
    """How many of the inner float64 edges ``p`` exceeds (compared as exact rationals)."""
    return sum(Fraction(float(p)) > Fraction(e) for e in np.linspace(0, 1, n_bins + 1)[1:-1])


def loop_calibration(y, p, w, n_bins):
    """Per bin: weight, weighted mean probability, weighted fraction positive; and the ECE."""
    w = np.ones(len(y)) if w is None else np.asarray(w, np.float64)
    total, sum_p, sum_y = np.zeros(n_bins), np.zeros(n_bins), np.zeros(n_bins)
    for yi, pi, wi in zip(y, np.asarray(p, np.float64), w, strict=True):
        b = bin_of(pi, n_bins)
        total[b] += wi
        sum_p[b] += wi * pi
        sum_y[b] += wi * yi
    used = total > 0
    ece = np.sum(np.abs(sum_p - sum_y)) / np.sum(total)
    return sum_p[used] / total[used], sum_y[used] / total[used], total[used], ece


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", HARD)
def test_hard_metrics_match_sklearn(name, weighted, dtype):
    ours, theirs, options = HARD[name]
    y, p, w = data(0, dtype, weighted=weighted)
    y_pred = (p > 0.5).astype(np.int32)
    result = ours(y.astype(dtype), y_pred, sample_weight=w)
    assert result.dtype == dtype and result.shape == ()
    close(result, theirs(y, y_pred, sample_weight=w, **options), dtype)


@pytest.mark.parametrize("name", HARD)
@pytest.mark.parametrize(
    "y_true, y_pred",
    [([0, 1, 1, 0], [0, 0, 0, 0]), ([0, 0, 0], [0, 0, 0]), ([0, 0, 0], [1, 0, 1]), ([1], [1])],
)
def test_undefined_ratios_are_zero_as_sklearn_zero_division_0(name, y_true, y_pred):
    ours, theirs, options = HARD[name]
    close(ours(y_true, y_pred), theirs(y_true, y_pred, **options), jnp.result_type(float))


def test_hard_metrics_take_bool_int_and_float_labels():
    y_pred = np.array([1, 0, 1, 1])
    for y_true in ([True, False, False, True], [1, 0, 0, 1], [1.0, 0.0, 0.0, 1.0]):
        assert float(metrics.f1(y_true, y_pred)) == pytest.approx(0.8)
        assert float(metrics.accuracy(y_true, y_pred == 1)) == 0.75


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_log_loss_matches_sklearn_including_its_clipping(weighted, dtype):
    y, p, w = data(1, dtype, weighted=weighted)
    e = eps(dtype)
    # 0 and 1 are clipped to eps and 1 - eps, on the right and the wrong side; 1 - eps / 4
    # rounds 1 - p to a value below eps.
    p[:8] = np.array([0, 1, 0, 1, e / 2, 1 - e / 4, 1, 0], dtype)
    y[:8] = [0, 1, 1, 0, 1, 0, 1, 0]
    result = metrics.log_loss(y, p, sample_weight=w)
    assert result.dtype == dtype
    close(result, skm.log_loss(y, p, sample_weight=w, labels=[0, 1]), dtype)


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_log_loss_from_logits_is_the_exact_mean_loss(weighted, dtype):
    y, _, w = data(2, dtype, weighted=weighted)
    z = np.random.default_rng(2).normal(0, 3, y.size).astype(dtype)
    z[:4] = [1e30, -1e30, 1e30, -1e30]
    y[:4] = [0, 0, 1, 1]
    reference = np.average(
        np.logaddexp(0, np.where(y == 1, -z.astype(np.float64), z)), weights=w
    )  # softplus(z) - y z = softplus(-z) where y = 1
    result = metrics.log_loss_from_logits(y, z, sample_weight=w)
    assert result.dtype == dtype
    close(result, reference, dtype)


@pytest.mark.skipif(not jax.config.jax_enable_x64, reason="sklearn's clipping is inactive in f64")
def test_log_loss_from_logits_matches_sklearn_on_its_probabilities():
    y, _, w = data(3, np.float64, weighted=True)
    z = np.random.default_rng(3).normal(0, 3, y.size)
    expected = skm.log_loss(y, 1 / (1 + np.exp(-z)), sample_weight=w, labels=[0, 1])
    close(metrics.log_loss_from_logits(y, z, sample_weight=w), expected, np.float64)


def test_log_loss_from_logits_is_never_nan():
    z = jnp.array([-jnp.inf, jnp.inf, 0.0])
    assert float(metrics.log_loss_from_logits([0, 1, 1], z)) == pytest.approx(np.log(2) / 3)
    assert float(metrics.log_loss_from_logits([1, 1, 1], z)) == np.inf


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_brier_score_matches_sklearn(weighted, dtype):
    y, p, w = data(4, dtype, weighted=weighted)
    result = metrics.brier_score(y, p, sample_weight=w)
    assert result.dtype == dtype
    close(result, skm.brier_score_loss(y, p, sample_weight=w), dtype)


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_matches_sklearn_and_the_pairwise_definition(ties, weighted, dtype):
    y, p, w = data(5, dtype, ties=ties, weighted=weighted)
    result = metrics.roc_auc(y, p, sample_weight=w)
    assert result.dtype == dtype
    close(result, skm.roc_auc_score(y, p, sample_weight=w), dtype)
    close(result, pairwise_auc(y, p, w), dtype)


def test_roc_auc_counts_a_tie_as_one_half():
    assert float(metrics.roc_auc([0, 1], [0.3, 0.3])) == 0.5
    assert float(metrics.roc_auc([0, 1, 0, 1], [1.0, 1.0, 0.0, 2.0], sample_weight=[1, 3, 0, 1]))
    # positives (w 3 at 1.0, w 1 at 2.0) against the negative at 1.0: (3 / 2 + 1) / 4
    assert float(
        metrics.roc_auc([0, 1, 0, 1], [1.0, 1.0, 0.0, 2.0], sample_weight=[1, 3, 0, 1])
    ) == pytest.approx(0.625)


@pytest.mark.parametrize(
    "y_true, y_score, weight",
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], None),  # one class
        ([0, 1, 1], [0.1, 0.2, 0.3], [0.0, 1.0, 1.0]),  # negatives without weight
        ([0, 1, 1], [0.1, np.nan, 0.3], None),  # NaN score
    ],
)
def test_roc_auc_is_nan_when_undefined(y_true, y_score, weight):
    assert np.isnan(metrics.roc_auc(y_true, y_score, sample_weight=weight))


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_roc_curve_matches_sklearn_and_integrates_to_roc_auc(ties, weighted, dtype):
    y, p, w = data(6, dtype, ties=ties, weighted=weighted)
    fpr, tpr, thresholds = metrics.roc_curve(y, p, sample_weight=w)
    expected = skm.roc_curve(y, p, sample_weight=w, drop_intermediate=False)
    for ours, theirs in zip((fpr, tpr, thresholds), expected, strict=True):
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-12)
    close(metrics.roc_auc(y, p, sample_weight=w), np.trapezoid(tpr, fpr), dtype)


@pytest.mark.parametrize(
    "y_true, y_score, message",
    [([0, 1], [0.1, np.nan], "NaN"), ([1, 1], [0.1, 0.2], "both classes")],
)
def test_roc_curve_refuses_what_has_no_curve(y_true, y_score, message):
    with pytest.raises(ValueError, match=message):
        metrics.roc_curve(y_true, y_score)


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("n_bins", [5, 10, 15])
@pytest.mark.parametrize("ties", [False, True])
def test_ece_and_calibration_curve_match_sklearns_calibration_curve(ties, n_bins, dtype):
    y, p, _ = data(7, dtype, ties=ties)
    fraction, mean = sklearn.calibration.calibration_curve(y, p, n_bins=n_bins)
    # the rows per bin, by the rule calibration_curve bins with
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    counts = np.bincount(np.searchsorted(edges[1:-1], p), minlength=n_bins)
    counts = counts[counts > 0]
    result = metrics.expected_calibration_error(y, p, n_bins=n_bins)
    assert result.dtype == dtype
    close(result, np.sum(counts * np.abs(mean - fraction)) / y.size, dtype)
    curve = metrics.calibration_curve(y, p, n_bins=n_bins)
    for ours, theirs in zip(curve, (mean, fraction, counts), strict=True):
        close(ours, theirs, dtype)


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("n_bins", [1, 4, 10])
def test_weighted_ece_and_calibration_curve_match_a_loop(n_bins, dtype):
    y, p, w = data(8, dtype, ties=True, weighted=True)
    # on an edge, and one ulp either side of it
    edge = np.array(0.5, dtype)
    p[:6] = [0, 1, edge, np.nextafter(edge, 1), np.nextafter(edge, 0), 0.25]
    mean, fraction, total, ece = loop_calibration(y, p, w, n_bins)
    close(metrics.expected_calibration_error(y, p, n_bins=n_bins, sample_weight=w), ece, dtype)
    curve = metrics.calibration_curve(y, p, n_bins=n_bins, sample_weight=w)
    for ours, theirs in zip(curve, (mean, fraction, total), strict=True):
        close(ours, theirs, dtype)


def test_calibration_curve_weights_give_the_ece():
    y, p, w = data(9, np.float32, weighted=True)
    mean, fraction, total = metrics.calibration_curve(y, p, sample_weight=w)
    ece = metrics.expected_calibration_error(y, p, sample_weight=w)
    close(ece, np.sum(np.abs(mean - fraction) * total) / np.sum(total), np.float32)


@dtype_param(ALL_DTYPES)
def test_results_keep_the_floating_dtype_at_least_float32(dtype):
    y, p, w = data(10, np.float32, weighted=True)
    p = jnp.asarray(p, dtype)
    expected = jnp.promote_types(dtype, jnp.float32)
    for f in (metrics.log_loss, metrics.log_loss_from_logits, metrics.brier_score):
        assert f(y, p, sample_weight=w).dtype == expected
    assert metrics.roc_auc(y, p).dtype == expected
    assert metrics.expected_calibration_error(y, p).dtype == expected
    assert metrics.accuracy(jnp.asarray(y, dtype), p > 0.5).dtype == expected


def test_integer_and_boolean_inputs_give_the_default_float():
    default = jnp.result_type(float)
    assert metrics.accuracy([0, 1], [True, True]).dtype == default
    assert metrics.roc_auc([0, 1], [3, 4]).dtype == default


def batch_inputs(name, dtype):
    """Shared labels and weights, and a batch of 4 prediction vectors for ``name``."""
    y, _, w = data(11, dtype, ties=True, weighted=True)
    batch = np.round(np.random.default_rng(11).uniform(size=(4, y.size)), 1).astype(dtype)
    if name in HARD:
        batch = (batch > 0.5).astype(np.int32)
    return y.astype(dtype), batch, w


METRICS = {
    **{name: f for name, (f, _, _) in HARD.items()},
    "log_loss": metrics.log_loss,
    "log_loss_from_logits": metrics.log_loss_from_logits,
    "brier_score": metrics.brier_score,
    "roc_auc": metrics.roc_auc,
    "expected_calibration_error": metrics.expected_calibration_error,
}


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("name", METRICS)
def test_metrics_survive_jit_and_vmap(name, dtype):
    f = METRICS[name]
    y, batch, w = batch_inputs(name, dtype)
    loop = np.array([f(y, s, sample_weight=w) for s in batch])
    jitted = jax.jit(lambda y, s, w: f(y, s, sample_weight=w))
    close(np.array([jitted(y, s, w) for s in batch]), loop, dtype)
    close(jax.vmap(lambda s: f(y, s, sample_weight=w))(batch), loop, dtype)
    close(jax.vmap(f, in_axes=(None, 0))(y, batch), [f(y, s) for s in batch], dtype)


@pytest.mark.parametrize(
    "args, message",
    [
        (([0, 1], [0.5]), "same length"),
        (([[0, 1]], [[0.5, 0.2]]), "1-D"),
        (([0, 1], [0.5, 0.2], [1.0]), "sample_weight must have shape"),
    ],
)
@pytest.mark.parametrize("name", ["accuracy", "log_loss", "roc_auc", "expected_calibration_error"])
def test_shapes_are_checked(name, args, message):
    y_true, y, *weight = args
    with pytest.raises(ValueError, match=message):
        METRICS[name](y_true, y, sample_weight=weight[0] if weight else None)


@pytest.mark.parametrize("n_bins", [0, 2.5, None])
def test_n_bins_must_be_a_positive_int(n_bins):
    with pytest.raises(ValueError, match="n_bins"):
        metrics.expected_calibration_error([0, 1], [0.2, 0.7], n_bins=n_bins)


@pytest.mark.parametrize("weighted", [False, True])
def test_report_is_every_metric_as_floats(weighted):
    y, p, w = data(12, np.float32, weighted=weighted)
    result = metrics.report(y, p, threshold=0.6, sample_weight=w)
    assert list(result) == [
        "accuracy",
        "precision",
        "recall",
        "f1",
        "log_loss",
        "brier_score",
        "roc_auc",
        "expected_calibration_error",
    ]
    assert all(type(v) is float for v in result.values())
    y_pred = p > 0.6
    for name, (_, theirs, options) in HARD.items():
        close(result[name], theirs(y, y_pred, sample_weight=w, **options), np.float32)
    close(result["log_loss"], skm.log_loss(y, p, sample_weight=w), np.float32)
    close(result["roc_auc"], skm.roc_auc_score(y, p, sample_weight=w), np.float32)
    close(
        result["expected_calibration_error"],
        metrics.expected_calibration_error(y, p, sample_weight=w),
        np.float32,
    )


# Scores with ties and extremes: a few values drawn again and again, logits of +-1e30 included.
# No subnormals: XLA:CPU flushes them to zero, so 1e-45 ties with 0 there.
SCORES = st.sampled_from([-1e30, -20.0, -1.0, -1e-3, 0.0, 0.5, 1.0, 3.0, 1e30]) | st.floats(
    -50, 50, width=32, allow_subnormal=False
)


MAX_ROWS = 40


@st.composite
def samples(draw):
    n = draw(st.integers(1, MAX_ROWS))
    y = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    s = np.array(draw(st.lists(SCORES, min_size=n, max_size=n)), np.float32)
    counts = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    return y, s, counts


def padded(size, *arrays):
    """Zeros appended up to ``size`` rows; with the weights padded too, the rows have weight 0
    and change no metric, and one compilation serves every example."""
    return tuple(np.r_[a, np.zeros(size - a.size, a.dtype)] for a in arrays)


@settings(max_examples=60, deadline=None)
@given(samples())
def test_integer_weights_are_repeated_rows(sample):
    y, z, counts = sample
    if counts.sum() == 0:
        return
    p = np.asarray(jax.nn.sigmoid(z))
    repeated = [np.repeat(a, counts) for a in (y, z, p)]
    y_rep, z_rep, p_rep, ones = padded(3 * MAX_ROWS, *repeated, np.ones(counts.sum(), np.float32))
    y, z, p, w = padded(MAX_ROWS, y, z, p, counts.astype(np.float32))
    pairs = [
        (metrics.accuracy, p > 0.5, p_rep > 0.5),
        (metrics.f1, p > 0.5, p_rep > 0.5),
        (metrics.log_loss, p, p_rep),
        (metrics.log_loss_from_logits, z, z_rep),
        (metrics.brier_score, p, p_rep),
        (metrics.roc_auc, z, z_rep),
        (metrics.expected_calibration_error, p, p_rep),
    ]
    tol = TOL[np.dtype(np.float32)]
    for f, scores, repeated in pairs:
        # log_loss_from_logits is 1e30 times the misclassified share: relative tolerance only
        np.testing.assert_allclose(
            f(y, scores, sample_weight=w),
            f(y_rep, repeated, sample_weight=ones),
            rtol=tol,
            atol=0 if f is metrics.log_loss_from_logits else tol,
        )


@settings(max_examples=60, deadline=None)
@given(samples())
def test_roc_auc_is_the_pairwise_definition_and_flips_with_the_score(sample):
    y, z, counts = sample
    w = counts.astype(np.float32)
    auc = metrics.roc_auc(y, z, sample_weight=w)
    if not (w[y == 1].sum() > 0 and w[y == 0].sum() > 0):
        assert np.isnan(auc)
        return
    close(auc, pairwise_auc(y, z, w), np.float32)
    close(metrics.roc_auc(y, -z, sample_weight=w), 1 - float(auc), np.float32)


@settings(max_examples=60, deadline=None)
@given(samples())
def test_bounded_metrics_stay_in_the_unit_interval_and_losses_are_finite(sample):
    y, z, counts = sample
    y, z, w = padded(MAX_ROWS, y, z, counts.astype(np.float32) + 1)
    p = jax.nn.sigmoid(z)
    for f, scores in [
        (metrics.accuracy, p > 0.5),
        (metrics.precision, p > 0.5),
        (metrics.recall, p > 0.5),
        (metrics.f1, p > 0.5),
        (metrics.brier_score, p),
        (metrics.expected_calibration_error, p),
    ]:
        assert 0 <= float(f(y, scores, sample_weight=w)) <= 1
    assert 0 <= float(metrics.log_loss(y, p, sample_weight=w)) <= -np.log(eps(np.float32)) * 1.01
    loss = metrics.log_loss_from_logits(y, z, sample_weight=w)
    close(loss, np.average(logistic_loss(z, y), weights=w), np.float32)

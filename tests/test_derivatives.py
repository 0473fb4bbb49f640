"""Closed-form gradient and Hessian against jax.grad / jax.hessian of the objective."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads
from support import ALL_DTYPES, DERIVATIVE_RTOL, FULL_DTYPES, dtype_param

import jaxsig

# (n rows, d features, k outputs or None), plus a scale on the parameters: 30 drives most
# logits deep into both saturated tails.
CASES = [
    pytest.param(1, 1, None, 1.0, id="n1-d1"),
    pytest.param(7, 3, None, 1.0, id="n7-d3"),
    pytest.param(64, 5, None, 30.0, id="n64-d5-saturated"),
    pytest.param(16, 4, 3, 1.0, id="n16-d4-k3"),
    pytest.param(32, 2, 2, 30.0, id="n32-d2-k2-saturated"),
]


def problem(n, d, k, scale, dtype, weighted, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    out = () if k is None else (k,)
    y = rng.integers(0, 2, size=(n, *out)).astype(float)
    params = jaxsig.Params(
        jnp.asarray((scale * rng.normal(size=(d, *out))).astype(dtype)),
        jnp.asarray(rng.normal(size=out).astype(dtype)),
    )
    weights = rng.uniform(0, 3, n).astype(dtype) if weighted else None
    return params, jnp.asarray(X.astype(dtype)), jnp.asarray(y.astype(dtype)), weights


def assert_close(actual, expected, dtype):
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    scale = max(1.0, float(np.max(np.abs(expected))))
    assert np.max(np.abs(actual - expected)) <= DERIVATIVE_RTOL[np.dtype(dtype)] * scale


@dtype_param(ALL_DTYPES)
@pytest.mark.parametrize(("n", "d", "k", "scale"), CASES)
@pytest.mark.parametrize(
    ("weighted", "l2"), [(False, 0.0), (True, 0.3)], ids=["plain", "weighted-l2"]
)
def test_gradient_and_hessian_match_autodiff(n, d, k, scale, dtype, weighted, l2):
    params, X, y, weights = problem(n, d, k, scale, dtype, weighted)
    kwargs = dict(l2=l2, sample_weight=weights)
    closed = jaxsig.gradient(params, X, y, **kwargs)
    auto = jax.grad(jaxsig.objective)(params, X, y, **kwargs)
    assert_close(closed.w, auto.w, dtype)
    assert_close(closed.b, auto.b, dtype)
    value, _ = jaxsig.value_and_gradient(params, X, y, **kwargs)
    assert_close(value, jaxsig.objective(params, X, y, **kwargs), dtype)
    check = jaxsig.check_gradients(params, X, y, **kwargs)
    hessian_scale = max(1.0, float(jnp.max(jnp.abs(jaxsig.hessian(params, X, **kwargs)))))
    assert float(check.gradient) <= DERIVATIVE_RTOL[np.dtype(dtype)] * 10
    assert float(check.hessian) <= DERIVATIVE_RTOL[np.dtype(dtype)] * hessian_scale


@dtype_param(FULL_DTYPES)
def test_hessian_shape_and_intercept_block(dtype):
    params, X, _, _ = problem(10, 3, None, 1.0, dtype, False)
    h = jaxsig.hessian(params, X, l2=0.5)
    assert h.shape == (4, 4)
    s = np.asarray(jaxsig.sigmoid(X @ params.w + params.b), np.float64)
    c = s * (1 - s) / 10
    np.testing.assert_allclose(h[3, 3], c.sum(), rtol=1e-5)
    np.testing.assert_allclose(h[:3, 3], c @ np.asarray(X, np.float64), rtol=1e-5)
    np.testing.assert_allclose(np.diag(h)[:3] - np.diag(h - 0.5 * jnp.eye(4))[:3], 0.5)
    multi, X2, _, _ = problem(10, 3, 2, 1.0, dtype, False)
    assert jaxsig.hessian(multi, X2).shape == (2, 4, 4)


@dtype_param(FULL_DTYPES)
def test_objective_check_grads(dtype):
    params, X, y, weights = problem(12, 3, None, 1.0, dtype, True)
    tol = 2e-2 if dtype == np.float32 else 1e-6  # finite-difference error, not ours

    def f(p):
        return jaxsig.objective(p, X, y, l2=0.1, sample_weight=weights)

    check_grads(f, (params,), order=2, modes=["fwd", "rev"], atol=tol, rtol=tol)


def _gradient_without_penalty(params, X, y, *, l2=0.0, sample_weight=None):
    return jaxsig.gradient(params, X, y, sample_weight=sample_weight)


def _hessian_without_curvature(params, X, *, l2=0.0, sample_weight=None):
    return l2 * jnp.eye(X.shape[1] + 1)


def test_check_gradients_catches_a_wrong_variant():
    params, X, y, _ = problem(8, 3, None, 1.0, np.float32, False)
    wrong_gradient = jaxsig.check_gradients(
        params, X, y, l2=1.0, gradient_fn=_gradient_without_penalty
    )
    assert float(wrong_gradient.gradient) > 0.1 and float(wrong_gradient.hessian) < 1e-5
    wrong_hessian = jaxsig.check_gradients(
        params, X, y, l2=1.0, hessian_fn=_hessian_without_curvature
    )
    assert float(wrong_hessian.hessian) > 1e-2 and float(wrong_hessian.gradient) < 1e-5


def test_gradient_reads_x_untransposed():
    params, X, y, _ = problem(50, 4, None, 1.0, np.float32, False)
    jaxpr = jax.make_jaxpr(jaxsig.gradient)(params, X, y)
    transposed = [
        eqn
        for eqn in jaxpr.jaxpr.eqns
        if eqn.primitive.name == "transpose" and eqn.invars[0].aval.shape == X.shape
    ]
    assert not transposed


def test_integer_features_give_the_same_derivatives_as_floats():
    X = jnp.array([[1, 2], [3, -1], [0, 1], [-2, 1]])
    y = jnp.array([0.0, 1.0, 1.0, 0.0])
    params = jaxsig.Params(jnp.array([0.3, -0.2]), jnp.array(0.1))
    weights = jnp.array([0.5, 1.5, 1.0, 2.5])
    for kwargs in ({}, {"sample_weight": weights}):
        as_float = X.astype(jnp.result_type(float))
        np.testing.assert_allclose(
            jaxsig.objective(params, X, y, **kwargs),
            jaxsig.objective(params, as_float, y, **kwargs),
        )
        np.testing.assert_allclose(
            jaxsig.gradient(params, X, y, **kwargs).w,
            jaxsig.gradient(params, as_float, y, **kwargs).w,
        )
        np.testing.assert_allclose(
            jaxsig.hessian(params, X, **kwargs), jaxsig.hessian(params, as_float, **kwargs)
        )

"""The element-wise logistic loss and its gradient, against mpmath; the objective."""

import functools

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import support
from support import (
    ALL_DTYPES,
    CORRECTLY_ROUNDED,
    FULL_DTYPES,
    HALF_DTYPES,
    PAIRS_FLOAT32_BOUND,
    ULP_BOUND,
    dtype_param,
    eps,
    points,
)

import jaxsig
from jaxsig import _pairs, testing


@functools.cache
def labelled(dtype, soft: bool):
    z = points(dtype)
    rng = np.random.default_rng(1)
    y = rng.uniform(0, 1, z.size) if soft else rng.integers(0, 2, z.size).astype(float)
    y = y.astype(dtype)
    exact_loss = support.reference("loss", z.astype(np.float64), y.astype(np.float64))
    exact_grad = support.reference("loss_gradient", z.astype(np.float64), y.astype(np.float64))
    return jnp.asarray(z), jnp.asarray(y), exact_loss, exact_grad


@dtype_param(FULL_DTYPES)
def test_hard_label_loss_ulp_bounds(dtype):
    z, y, exact_loss, _ = labelled(dtype, soft=False)
    errors = testing.ulp_error(jaxsig.logistic_loss(z, y), exact_loss, dtype)
    assert np.nanmax(errors) <= ULP_BOUND[np.dtype(dtype)]


@dtype_param(FULL_DTYPES)
def test_soft_label_loss_ulp_bound(dtype):
    z, y, exact_loss, _ = labelled(dtype, soft=True)
    errors = testing.ulp_error(jaxsig.logistic_loss(z, y), exact_loss, dtype)
    assert np.nanmax(errors) <= ULP_BOUND[np.dtype(dtype)]


@pytest.mark.parametrize("soft", [False, True])
def test_tpu_path_float32_loss(soft):
    z, y, exact_loss, _ = labelled(np.float32, soft)
    errors = testing.ulp_error(jax.jit(_pairs.loss)(z, y), exact_loss, np.float32)
    assert np.nanmax(errors) <= PAIRS_FLOAT32_BOUND


@dtype_param(HALF_DTYPES)
@pytest.mark.parametrize("soft", [False, True])
def test_tpu_path_half_precision_loss_is_correctly_rounded(dtype, soft):
    z, y, exact_loss, _ = labelled(dtype, soft)
    values = jax.jit(_pairs.loss)(z, y)
    assert np.nanmax(testing.ulp_error(values, exact_loss, dtype)) <= CORRECTLY_ROUNDED


@dtype_param(HALF_DTYPES)
@pytest.mark.parametrize("soft", [False, True])
def test_half_precision_loss_is_correctly_rounded(dtype, soft):
    # The label times |z| is exact in float64 and the rest is within 2**-46: one rounding.
    z, y, exact_loss, _ = labelled(dtype, soft)
    values = jaxsig.logistic_loss(z, y)
    assert np.nanmax(testing.ulp_error(values, exact_loss, dtype)) <= CORRECTLY_ROUNDED
    assert testing.check_subnormal_range(values, exact_loss, dtype).size == 0


@dtype_param(ALL_DTYPES)
def test_loss_gradient_bounds(dtype):
    z, y, _, exact_grad = labelled(dtype, soft=False)
    hard = testing.ulp_error(jaxsig.loss_gradient(z, y), exact_grad, dtype)
    assert np.nanmax(hard) <= 2
    z, y, _, exact_grad = labelled(dtype, soft=True)
    soft = np.asarray(jaxsig.loss_gradient(z, y)).astype(np.float64)
    assert np.max(np.abs((soft - exact_grad[0]) - exact_grad[1])) <= eps(dtype)


@dtype_param(ALL_DTYPES)
def test_autodiff_of_the_loss_is_the_closed_form_gradient(dtype):
    z, y, _, _ = labelled(dtype, soft=True)
    auto = jax.vmap(jax.grad(jaxsig.logistic_loss))(z, y)
    np.testing.assert_array_equal(np.asarray(auto), np.asarray(jaxsig.loss_gradient(z, y)))


@dtype_param(ALL_DTYPES)
def test_no_nan_at_infinite_and_extreme_logits(dtype):
    big = float(ml_dtypes.finfo(np.dtype(dtype)).max)
    z_values = [-np.inf, -big, big, np.inf]
    z = jnp.asarray(np.repeat(z_values, 3).astype(dtype))
    y = jnp.asarray(np.tile([0.0, 0.5, 1.0], 4).astype(dtype))
    loss = np.asarray(jaxsig.logistic_loss(z, y), np.float64)
    assert not np.isnan(loss).any()
    # Agreeing infinite logits cost nothing; disagreeing ones cost inf.
    np.testing.assert_array_equal(loss[[0, 11]], [0.0, 0.0])
    np.testing.assert_array_equal(loss[[2, 9]], [np.inf, np.inf])
    for argnums in (0, 1, (0, 1)):
        grads = jax.vmap(jax.grad(jaxsig.logistic_loss, argnums=argnums))(z, y)
        for g in jax.tree.leaves(grads):
            assert not np.isnan(np.asarray(g, np.float64)).any()
    second = jax.vmap(jax.grad(jax.grad(jaxsig.logistic_loss)))(z, y)
    assert np.all(np.isfinite(np.asarray(second, np.float64)))


@dtype_param(ALL_DTYPES)
def test_loss_same_bits_with_and_without_jit(dtype):
    z, y, _, _ = labelled(dtype, soft=True)
    compiled = np.asarray(jax.jit(jaxsig.logistic_loss)(z, y))
    with jax.disable_jit():
        eager = np.asarray(jaxsig.logistic_loss(z, y))
    assert compiled.tobytes() == eager.tobytes()


def test_loss_casts_labels_and_broadcasts():
    z = jnp.asarray(np.array([[-1.0, 2.0]], np.float32))
    out = jaxsig.logistic_loss(z, np.array([1, 0]))
    assert out.dtype == jnp.float32 and out.shape == (1, 2)


@dtype_param(FULL_DTYPES)
def test_objective_weights_and_penalty(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3)).astype(dtype)
    y = np.array([0, 1, 1, 0, 1, 0], dtype)
    params = jaxsig.Params(jnp.asarray(rng.normal(size=3).astype(dtype)), jnp.asarray(dtype(0.3)))
    weights = np.array([1, 2, 0, 1, 1, 3], dtype)
    repeated = np.repeat(np.arange(6), weights.astype(int))
    weighted = jaxsig.objective(params, X, y, sample_weight=weights, l2=0.5)
    expanded = jaxsig.objective(params, X[repeated], y[repeated], l2=0.5)
    np.testing.assert_allclose(weighted, expanded, rtol=8 * eps(dtype))
    losses = np.asarray(jaxsig.logistic_loss(X @ params.w + params.b, y))
    by_hand = losses.mean() + 0.25 * float(jnp.sum(params.w**2))
    np.testing.assert_allclose(jaxsig.objective(params, X, y, l2=0.5), by_hand, rtol=8 * eps(dtype))

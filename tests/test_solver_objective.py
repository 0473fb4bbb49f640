"""The solvers' working-precision loss, residual and curvature, against mpmath."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import support
from support import FULL_DTYPES, dtype_param, points

from jaxsig import testing
from jaxsig._solvers import _objective

# One exp, one log1p and a division, each within an ulp or so, then one addition of
# non-negative terms (loss) or one subtraction that cannot cancel for hard labels (residual):
# a few ulps: at most 2.7 measured over the grids; 4 leaves room for other libm builds.
WORKING_ULPS = 4.0


@functools.cache
def labelled(dtype, soft: bool):
    z = points(dtype)
    rng = np.random.default_rng(2)
    y = (rng.uniform(0, 1, z.size) if soft else rng.integers(0, 2, z.size)).astype(dtype)
    pair = z.astype(np.float64), y.astype(np.float64)
    return jnp.asarray(z), jnp.asarray(y), pair


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("soft", [False, True])
def test_loss_within_a_few_ulps(dtype, soft):
    z, y, pair = labelled(dtype, soft)
    exact = support.reference("loss", *pair)
    assert np.nanmax(testing.ulp_error(_objective.loss(z, y), exact, dtype)) <= WORKING_ULPS


@dtype_param(FULL_DTYPES)
def test_hard_label_residual_within_a_few_ulps(dtype):
    z, y, pair = labelled(dtype, soft=False)
    exact = support.reference("loss_gradient", *pair)
    assert np.nanmax(testing.ulp_error(_objective.residual(z, y), exact, dtype)) <= WORKING_ULPS


@dtype_param(FULL_DTYPES)
def test_curvature_within_a_few_ulps(dtype):
    z, _, pair = labelled(dtype, soft=False)
    exact = support.reference("sigmoid_derivative", pair[0])
    errors = testing.ulp_error(_objective.curvature(z), exact, dtype)
    # Below the smallest normal the result is flushed on XLA:CPU; compare where it is normal.
    normal = np.abs(exact[0]) >= np.finfo(dtype).tiny
    assert np.nanmax(errors[normal]) <= WORKING_ULPS


@dtype_param(FULL_DTYPES)
def test_no_nan_at_extreme_logits(dtype):
    big = np.finfo(dtype).max
    z = jnp.asarray(np.repeat([-np.inf, -big, big, np.inf], 3), dtype)
    y = jnp.asarray(np.tile([0.0, 0.5, 1.0], 4), dtype)
    loss = _objective.loss(z, y)
    assert not np.isnan(loss).any()
    assert loss[0] == 0 and loss[-1] == 0 and np.isinf(loss[2])
    assert not np.isnan(_objective.residual(z, y)).any()
    grad = jax.vmap(jax.grad(_objective.loss, argnums=(0, 1)))(z, y)
    assert not np.isnan(np.asarray(grad)).any()


@dtype_param(FULL_DTYPES)
def test_loss_derivative_is_the_residual(dtype):
    z, y, _ = labelled(dtype, soft=True)
    z, y = z[::97], y[::97]
    dz = jax.vmap(jax.grad(_objective.loss))(z, y)
    np.testing.assert_array_equal(dz, _objective.residual(z, y))

"""sigmoid, log_sigmoid, softplus, logit: accuracy, monotonicity, special values, derivatives."""

import functools

import hypothesis.extra.numpy as hnp
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
import support
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads
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
from jaxsig import _pairs, _primitives, _widened, testing

FUNCTIONS = {"sigmoid": jaxsig.sigmoid, "log_sigmoid": jaxsig.log_sigmoid}


@functools.cache
def exact(name: str, dtype) -> tuple[np.ndarray, np.ndarray]:
    return support.reference(name, points(dtype).astype(np.float64))


def evaluate(fn, dtype) -> np.ndarray:
    return np.asarray(fn(jnp.asarray(points(dtype)))).astype(np.float64)


@dtype_param(HALF_DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_half_precision_is_correctly_rounded_everywhere(name, dtype):
    values = evaluate(FUNCTIONS[name], dtype)
    errors = testing.ulp_error(values, exact(name, dtype), dtype)
    assert np.nanmax(errors) <= CORRECTLY_ROUNDED
    assert testing.check_subnormal_range(values, exact(name, dtype), dtype).size == 0


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_full_precision_ulp_bounds(name, dtype):
    assert points(dtype).size >= 100_000
    values = evaluate(FUNCTIONS[name], dtype)
    errors = testing.ulp_error(values, exact(name, dtype), dtype)
    assert np.nanmax(errors) <= ULP_BOUND[np.dtype(dtype)]
    assert testing.check_subnormal_range(values, exact(name, dtype), dtype).size == 0


# The path TPUs take (no float64 there): double words of float32, rounded once. The CPU runs it
# here; `exact` picks it by backend when a program is lowered.
TPU_PATH = {"sigmoid": _pairs.sigmoid, "log_sigmoid": _pairs.log_sigmoid}


@dtype_param(HALF_DTYPES)
@pytest.mark.parametrize("name", TPU_PATH)
def test_tpu_path_is_correctly_rounded_in_half_precision(name, dtype):
    values = evaluate(jax.jit(TPU_PATH[name]), dtype)
    assert np.nanmax(testing.ulp_error(values, exact(name, dtype), dtype)) <= CORRECTLY_ROUNDED
    assert testing.check_subnormal_range(values, exact(name, dtype), dtype).size == 0


@dtype_param(HALF_DTYPES)
def test_half_precision_tables_build_inside_a_callers_trace(dtype):
    """A half-precision unary function is a gather from a table of every value, built on first
    use: here first inside jit(vmap(grad)), with the caches emptied."""
    _primitives._table.cache_clear()
    x = jnp.asarray(points(dtype))
    traced = jax.jit(jax.vmap(jax.grad(lambda v: jaxsig.softplus(v).astype(jnp.float32))))(x)
    expected = np.asarray(jaxsig.sigmoid(x))
    assert np.asarray(traced).astype(dtype).tobytes() == expected.tobytes()
    assert _primitives._table.cache_info().currsize == 2  # log_sigmoid and sigmoid


@dtype_param(HALF_DTYPES)
def test_tables_without_a_cpu_backend_come_from_double_words(dtype, monkeypatch):
    real = jax.devices

    def devices(backend=None):
        if backend == "cpu":
            raise RuntimeError("no cpu backend")
        return real(backend)

    monkeypatch.setattr(jax, "devices", devices)
    built = _primitives._table.__wrapped__(_widened.sigmoid, _pairs.sigmoid, dtype)
    monkeypatch.setattr(jax, "devices", real)
    usual = _primitives._table.__wrapped__(_widened.sigmoid, _pairs.sigmoid, dtype)
    every = np.arange(1 << 16, dtype=np.uint16).view(dtype)
    keep = ~np.isnan(every.astype(np.float32))
    assert built[keep].tobytes() == usual[keep].tobytes()


@dtype_param(FULL_DTYPES)
def test_tpu_path_derivative_ulp_bound(dtype):
    x = points(dtype)
    values = np.asarray(jax.jit(_pairs.sigmoid_derivative)(jnp.asarray(x)))
    reference = support.reference("sigmoid_derivative", x.astype(np.float64))
    assert np.nanmax(testing.ulp_error(values, reference, dtype)) <= 3


@pytest.mark.parametrize("name", TPU_PATH)
def test_tpu_path_float32_ulp_bound(name):
    values = evaluate(jax.jit(TPU_PATH[name]), np.float32)
    errors = testing.ulp_error(values, exact(name, np.float32), np.float32)
    assert np.nanmax(errors) <= PAIRS_FLOAT32_BOUND


@dtype_param(ALL_DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_monotone(name, dtype):
    values = evaluate(FUNCTIONS[name], dtype)  # points are sorted
    assert np.all(np.diff(values) >= 0)


@dtype_param(ALL_DTYPES)
@pytest.mark.parametrize("name", FUNCTIONS)
def test_same_bits_with_and_without_jit(name, dtype):
    fn = FUNCTIONS[name]
    x = jnp.asarray(points(dtype))
    compiled = np.asarray(jax.jit(fn)(x))
    with jax.disable_jit():
        eager = np.asarray(fn(x))
    mapped = np.asarray(jax.jit(jax.vmap(fn))(x))
    assert compiled.tobytes() == eager.tobytes()
    assert compiled.tobytes() == mapped.tobytes()


@dtype_param(ALL_DTYPES)
def test_special_values(dtype):
    x = jnp.asarray(np.array([-np.inf, np.inf, np.nan, 0.0], dtype=dtype))
    s = np.asarray(jaxsig.sigmoid(x)).astype(np.float64)
    ls = np.asarray(jaxsig.log_sigmoid(x)).astype(np.float64)
    np.testing.assert_array_equal(s[[0, 1, 3]], [0.0, 1.0, 0.5])
    np.testing.assert_array_equal(ls[[0, 1]], [-np.inf, 0.0])
    assert np.isnan(s[2]) and np.isnan(ls[2])
    assert jaxsig.sigmoid(x).dtype == x.dtype and jaxsig.log_sigmoid(x).dtype == x.dtype


@dtype_param(FULL_DTYPES)
def test_complement_is_accurate_where_one_minus_sigmoid_fails(dtype):
    x = np.linspace(12.1, 30.0, 2001).astype(dtype)
    complement = np.asarray(jaxsig.sigmoid(-jnp.asarray(x)))
    reference = support.reference("sigmoid", -x.astype(np.float64))
    assert np.nanmax(testing.ulp_error(complement, reference, dtype)) <= 1.5
    if dtype == np.float32:  # the subtraction loses hundreds of ulps, then everything
        naive = 1 - np.asarray(jaxsig.sigmoid(jnp.asarray(x)))
        assert np.all(testing.ulp_error(naive, reference, dtype) > 100)
        assert np.all(naive[x > 17.4] == 0)  # sigmoid(x) has rounded to 1


@dtype_param(ALL_DTYPES)
def test_derivatives_are_accurate_in_both_tails(dtype):
    x = jnp.asarray(points(dtype))
    d_sigmoid = np.asarray(jax.vmap(jax.grad(jaxsig.sigmoid))(x))
    d_log_sigmoid = np.asarray(jax.vmap(jax.grad(jaxsig.log_sigmoid))(x))
    ref_sigmoid = support.reference("sigmoid_derivative", np.asarray(x, np.float64))
    ref_log_sigmoid = support.reference("sigmoid", -np.asarray(x, np.float64))
    assert np.nanmax(testing.ulp_error(d_sigmoid, ref_sigmoid, dtype)) <= 4
    assert np.nanmax(testing.ulp_error(d_log_sigmoid, ref_log_sigmoid, dtype)) <= 4


@dtype_param(ALL_DTYPES)
def test_derivatives_finite_at_infinities_and_extremes(dtype):
    big = float(ml_dtypes.finfo(np.dtype(dtype)).max)
    huge = min(1e9, big)
    x = jnp.asarray(np.array([-np.inf, -big, -huge, huge, big, np.inf]).astype(dtype))
    for fn in (jaxsig.sigmoid, jaxsig.log_sigmoid, jaxsig.softplus):
        first = jax.vmap(jax.grad(fn))(x)
        second = jax.vmap(jax.grad(jax.grad(fn)))(x)
        assert np.all(np.isfinite(np.asarray(first, np.float64)))
        assert np.all(np.isfinite(np.asarray(second, np.float64)))


@jax.jit
def _properties(x):
    return (
        jaxsig.sigmoid(x),
        jaxsig.log_sigmoid(x),
        jaxsig.sigmoid(-x),
        jaxsig.softplus(x) - jaxsig.softplus(-x),
    )


@dtype_param(ALL_DTYPES)
@settings(max_examples=50, deadline=None)  # each new shape compiles
@given(data=st.data())
def test_no_nan_for_any_non_nan_input(dtype, data):
    x = data.draw(
        hnp.arrays(
            np.float32 if dtype == ml_dtypes.bfloat16 else dtype,
            hnp.array_shapes(max_dims=2, max_side=5),
            elements=st.floats(allow_nan=False, width=16 if dtype == np.float16 else 32),
        )
    ).astype(dtype)
    s, ls, complement, difference = (np.asarray(a, np.float64) for a in _properties(x))
    assert s.shape == x.shape and not np.isnan(s).any() and not np.isnan(ls).any()
    assert np.all((s >= 0) & (s <= 1)) and np.all(ls <= 0)
    np.testing.assert_allclose(s + complement, 1.0, atol=eps(dtype))
    np.testing.assert_allclose(difference, x.astype(np.float64), rtol=eps(dtype), atol=eps(dtype))


@dtype_param(FULL_DTYPES)
def test_logit_inverts_sigmoid(dtype):
    p = np.linspace(0, 1, 4097).astype(dtype)[1:-1]
    x = np.asarray(jaxsig.logit(jnp.asarray(p)), np.float64)
    # logit(p) = -logit(1 - p) exactly; reference via mpmath: log(p) - log1p(-p).
    import mpmath

    with mpmath.workprec(120):
        ref = np.array([float(mpmath.log(v) - mpmath.log1p(-v)) for v in p.astype(float)])
    errors = testing.ulp_error(x, (ref, np.zeros_like(ref)), dtype)
    assert np.nanmax(errors) <= 2.5
    roundtrip = np.asarray(jaxsig.sigmoid(jaxsig.logit(jnp.asarray(p))), np.float64)
    np.testing.assert_allclose(roundtrip, p, rtol=4 * eps(dtype))
    ends = np.asarray(jaxsig.logit(jnp.asarray(np.array([0.0, 1.0], dtype))), np.float64)
    np.testing.assert_array_equal(ends, [-np.inf, np.inf])


@dtype_param(FULL_DTYPES)
def test_check_grads(dtype):
    x = jnp.asarray(np.array([-30.0, -3.0, -0.5, 0.0, 0.7, 4.0, 25.0], dtype))
    p = jnp.asarray(np.array([0.2, 0.35, 0.5, 0.65, 0.8], dtype))
    tol = 1e-2 if dtype == np.float32 else 1e-5  # finite differences, not our error
    for fn, arg in [
        (jaxsig.sigmoid, x),
        (jaxsig.log_sigmoid, x),
        (jaxsig.softplus, x),
        (jaxsig.logit, p),
    ]:
        check_grads(fn, (arg,), order=2, modes=["fwd", "rev"], atol=tol, rtol=tol)


def test_integer_input_becomes_default_float():
    assert jaxsig.sigmoid(3).dtype == jnp.result_type(float)
    assert jaxsig.log_sigmoid(np.arange(3)).dtype == jnp.result_type(float)

"""Bad input at the public boundary: a ValueError naming the problem, before anything compiles."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsig
from jaxsig._solvers import _driver

X = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1], [0.4, 0.6]])
Y = np.array([0, 0, 1, 0])


def with_nan(a, index):
    a = np.array(a, float)
    a[index] = np.nan
    return a


BAD_FITS = [
    pytest.param(dict(X=X[:, 0]), r"X must be 2-D .* shape \(4,\)", id="X-1d"),
    pytest.param(dict(X=X[None]), r"X must be 2-D .* shape \(1, 4, 2\)", id="X-3d"),
    pytest.param(
        dict(X=np.zeros((0, 2)), y=np.zeros(0)), r"X is empty: shape \(0, 2\)", id="empty"
    ),
    pytest.param(
        dict(X=np.array([["a", "b"]] * 4)), r"X must be numeric, got dtype <U1", id="text"
    ),
    pytest.param(dict(y=Y[:3]), r"y has 3 rows but X has 4", id="y-length"),
    pytest.param(dict(y=Y[:, None, None]), r"y must be 1-D .* shape \(4, 1, 1\)", id="y-3d"),
    pytest.param(
        dict(X=with_nan(with_nan(X, (1, 1)), (2, 0))),
        r"X contains 2 NaN or infinite value\(s\) \(first at index \(1, 1\)\)",
        id="X-nan",
    ),
    pytest.param(dict(y=np.array([0, np.inf, 1, 0])), r"y contains 1 NaN or infinite", id="y-inf"),
    pytest.param(dict(y=np.array([0, 2, 1, -1])), r"2 value\(s\) are outside", id="labels"),
    pytest.param(dict(y=np.zeros(4)), r"y column 0 holds one class only", id="one-class"),
    pytest.param(dict(sample_weight=[1, -1, 1, 1]), r"1 negative value", id="negative-weight"),
    pytest.param(dict(sample_weight=[1, 1]), r"sample_weight must have shape \(4,\)", id="weights"),
    pytest.param(dict(sample_weight=[0, 0, 0, 0]), r"sums to zero", id="zero-weights"),
    pytest.param(
        dict(sample_weight=with_nan(np.ones(4), 2)), r"sample_weight contains 1 NaN", id="nan-w"
    ),
    pytest.param(dict(learning_rate=-0.1), r"learning_rate must be finite and > 0", id="lr"),
    pytest.param(dict(l2=np.nan), r"l2 must be finite and >= 0", id="l2"),
    pytest.param(dict(epochs=0), r"epochs must be a positive int", id="epochs"),
    pytest.param(dict(gradient="numeric"), r"gradient must be 'closed_form'", id="gradient-mode"),
    pytest.param(
        dict(optimizer=optax.adam(0.1), learning_rate=0.1),
        r"learning_rate is set by the optax transformation",
        id="lr-twice",
    ),
    pytest.param(
        dict(params=jaxsig.init(3)), r"params.w has shape \(3,\) but X has 2 features", id="params"
    ),
    # arguments of the wrong kind, each named with what it takes
    pytest.param(dict(l2="abc"), r"l2 must be numeric, got 'abc'", id="l2-string"),
    pytest.param(dict(learning_rate="x"), r"learning_rate must be numeric, got 'x'", id="lr-str"),
    pytest.param(
        dict(fit_intercept="no"), r"fit_intercept must be True or False, got 'no'", id="flag-str"
    ),
    pytest.param(dict(fit_intercept=2), r"fit_intercept must be True or False, got 2", id="flag"),
    pytest.param(dict(epochs=10**12), r"epochs must be at most 2147483647", id="epochs-huge"),
    pytest.param(
        dict(y=np.array(["a", "b", "a", "b"])), r"y must be numeric, got dtype <U1", id="y-str"
    ),
]


@pytest.mark.parametrize(("overrides", "message"), BAD_FITS)
def test_fit_rejects_bad_input_before_compiling(overrides, message):
    arguments = dict(X=X, y=Y) | overrides
    before = _driver.run._cache_size()
    with pytest.raises(ValueError, match=message):
        jaxsig.fit(arguments.pop("X"), arguments.pop("y"), **arguments)
    assert _driver.run._cache_size() == before


def test_predict_checks_features_and_values():
    params = jaxsig.init(2)
    with pytest.raises(ValueError, match=r"params.w has shape \(2,\) but X has 3 features"):
        jaxsig.predict(params, np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"X contains 1 NaN"):
        jaxsig.predict_proba(params, with_nan(np.ones((2, 2)), (0, 0)))
    # Finiteness is read off the logits (one pass over X): an infinity times a zero weight is
    # NaN there, so it is still found and named.
    infinite = np.ones((2, 2))
    infinite[1, 1] = np.inf
    for fn in (jaxsig.predict_proba, jaxsig.decision_function, jaxsig.predict):
        with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite value\(s\) \(first at"):
            fn(params, infinite)
    huge = jaxsig.Params(jnp.array([1e30, 1e30], jnp.float32), jnp.array(0.0, jnp.float32))
    assert np.isinf(jaxsig.decision_function(huge, np.full((1, 2), 1e20, np.float32))).all()
    with pytest.raises(ValueError, match=r"threshold must be finite"):
        jaxsig.predict(params, np.ones((2, 2)), threshold=np.inf)
    assert jaxsig.decision_function(params, [[1, 2]]).shape == (1,)


@pytest.mark.parametrize("field", ["w", "b"])
def test_non_finite_params_are_refused_naming_params(field):
    params = jaxsig.Params(jnp.array([0.5, -1.0]), jnp.array(0.25))
    params = params._replace(**{field: getattr(params, field) * jnp.nan})
    message = rf"params\.{field} holds \d+ NaN or infinite value\(s\)"
    for predict in (jaxsig.predict_proba, jaxsig.predict, jaxsig.decision_function):
        with pytest.raises(ValueError, match=message):
            predict(params, np.ones((3, 2)))
    before = _driver.run._cache_size()
    with pytest.raises(ValueError, match=message):
        jaxsig.fit(X, Y, params=params)
    assert _driver.run._cache_size() == before


@pytest.mark.parametrize("threshold", [1.5, -0.1, np.nan])
def test_thresholds_outside_the_unit_interval_are_refused(threshold):
    with pytest.raises(ValueError, match=r"threshold must be finite and in \[0, 1\]"):
        jaxsig.predict(jaxsig.init(2), np.ones((3, 2)), threshold=threshold)


def test_thresholds_at_the_ends_are_taken():
    X_ = np.ones((3, 2))
    np.testing.assert_array_equal(jaxsig.predict(jaxsig.init(2), X_, threshold=1.0), 0)
    np.testing.assert_array_equal(jaxsig.predict(jaxsig.init(2), X_, threshold=0.0), 1)


@pytest.mark.skipif(jax.config.jax_enable_x64, reason="1e300 is finite in float64")
def test_a_finite_value_that_overflows_float32_is_named_as_such():
    big = np.c_[X, np.full(len(X), 1e300)]
    with pytest.raises(ValueError, match=r"X column\(s\) \[2\] hold values up to 1e\+300, beyond"):
        jaxsig.fit(big, Y)
    with pytest.raises(ValueError, match=r"X contains 1 NaN or infinite"):
        jaxsig.fit(with_nan(np.array(X), (1, 1)), Y)


def test_inside_jit_only_shapes_are_checked():
    @jax.jit
    def fitted_weights(X, y):
        return jaxsig.fit(X, y, epochs=3).params.w

    assert fitted_weights(jnp.asarray(X), jnp.asarray(Y)).shape == (2,)
    with pytest.raises(ValueError, match="y has 3 rows"):
        fitted_weights(jnp.asarray(X), jnp.asarray(Y[:3]))

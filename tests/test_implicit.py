"""Derivatives of fits: the optimum's (implicit) with respect to X, y, weights, l2 and l1, in
forward and reverse mode, against the implicit-function answer written out by hand and against
central finite differences; and the iterates' (unrolled), on request."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import X64

import jaxsig
from jaxsig._solvers import _implicit

DTYPE = np.float64 if X64 else np.float32
TOL = 1e-11 if X64 else 5e-6
# Hand-written float64 references against float32 fits: the parameters carry the fit's
# tolerance (5e-6) through a Hessian of condition number about 30.
RTOL = 1e-9 if X64 else 2e-4

SOLVERS = {
    "gd": dict(solver="gd", learning_rate=2.0, epochs=2000),
    "sgd": dict(solver="sgd", batch_size=16, learning_rate=0.3, epochs=20),
    "lbfgs": dict(solver="lbfgs", tol=TOL, epochs=300),
    "newton": dict(solver="newton", tol=TOL, epochs=50),
    "fista": dict(solver="fista", tol=TOL, epochs=20000),
}


@functools.cache
def problem(n=60, d=4, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = (X @ rng.normal(size=d) + rng.normal(size=n) > 0).astype(float)
    v = rng.uniform(0.5, 2.0, size=n)
    return X.astype(DTYPE), y.astype(DTYPE), v.astype(DTYPE)


def options(solver, l1=None):
    chosen = dict(SOLVERS[solver])
    if solver == "fista":
        chosen["l1"] = 0.02 if l1 is None else l1
    return chosen


def fit(X, y, v, l2, solver, **extra):
    return jaxsig.fit(X, y, l2=l2, sample_weight=v, **{**options(solver), **extra}).params


def flat(params):
    return np.append(np.asarray(params.w, np.float64), np.asarray(params.b, np.float64))


def implicit_by_hand(params, X, y, v, l2, l1, dX, dy, dv, dl2, dl1):
    """``dtheta = -J^{-1} dF`` in float64 NumPy, ``F = m (grad f + l1 sign w) + (1 - m) theta``,
    ``dF`` the directional derivative of ``F`` along ``(dX, dy, dv, dl2, dl1)`` by hand."""
    X, y, v, dX, dy, dv = (np.asarray(a, np.float64) for a in (X, y, v, dX, dy, dv))
    w, b = np.asarray(params.w, np.float64), float(params.b)
    u, du = v / v.sum(), dv / v.sum() - v * dv.sum() / v.sum() ** 2
    z = X @ w + b
    s = 1 / (1 + np.exp(-z))
    c = s * (1 - s)
    r = s - y
    dr = c * (dX @ w) - dy  # d(sigma(z) - y) along the direction, theta fixed
    grad_w = dX.T @ (u * r) + X.T @ (du * r + u * dr) + dl2 * w
    grad_b = np.sum(du * r + u * dr)
    free = np.append((w != 0) | (l1 == 0), True).astype(float)
    dF = free * np.append(grad_w + dl1 * np.sign(w), grad_b)
    A = np.hstack([X, np.ones((X.shape[0], 1))])
    H = A.T @ (A * (u * c)[:, None]) + np.diag(np.append(np.full(w.size, l2), 0.0))
    J = H * np.outer(free, free) + np.diag(1 - free)
    return -np.linalg.solve(J, dF)


def directions(seed=2):
    X, y, v = problem()
    rng = np.random.default_rng(seed)
    return {
        "X": rng.normal(size=X.shape).astype(DTYPE),
        "y": (rng.uniform(-0.2, 0.2, size=y.shape)).astype(DTYPE),
        "sample_weight": rng.normal(size=v.shape).astype(DTYPE),
        # small enough that the finite-difference stencils keep l2 and l1 positive
        "l2": np.asarray(0.2, DTYPE),
        "l1": np.asarray(0.1, DTYPE),
    }


L2 = 0.05
WRT = ["X", "y", "sample_weight", "l2", "l1"]


def along(solver, wrt):
    """The fit as a function of a scalar t moving ``wrt`` along its direction."""
    X, y, v = problem()
    direction = directions()[wrt]
    if wrt == "y":  # soft labels, so that the moved ones stay in [0, 1]
        y = (0.1 + 0.8 * y).astype(DTYPE)
    base = {"X": X, "y": y, "sample_weight": v, "l2": np.asarray(L2, DTYPE)}
    base["l1"] = np.asarray(options(solver).get("l1", 0.0), DTYPE)

    def at(t):
        moved = dict(base)
        moved[wrt] = base[wrt] + t * direction
        extra = {"l1": moved["l1"]} if solver == "fista" else {}
        return jaxsig.fit(
            moved["X"],
            moved["y"],
            l2=moved["l2"],
            sample_weight=moved["sample_weight"],
            **{**options(solver), **extra},
        ).params

    return at, base, direction


def cases():
    for solver in SOLVERS:
        for wrt in WRT:
            if wrt == "l1" and solver != "fista":
                continue
            yield solver, wrt


@pytest.mark.parametrize(("solver", "wrt"), list(cases()))
def test_forward_and_reverse_equal_the_implicit_answer(solver, wrt):
    at, base, direction = along(solver, wrt)
    zero = np.asarray(0.0, DTYPE)
    params, tangent = jax.jvp(at, (zero,), (np.asarray(1.0, DTYPE),))
    pieces = {k: np.zeros_like(np.asarray(base[k])) for k in WRT}
    pieces[wrt] = direction
    expected = implicit_by_hand(
        params,
        base["X"],
        base["y"],
        base["sample_weight"],
        L2,
        float(base["l1"]),
        pieces["X"],
        pieces["y"],
        pieces["sample_weight"],
        float(pieces["l2"]),
        float(pieces["l1"]),
    )
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(flat(tangent), expected, rtol=0, atol=RTOL * scale)
    # reverse mode: <cotangent, dtheta> for every cotangent, here a random one
    cotangent = jax.tree.map(lambda a: jnp.ones_like(a) * 0.7, params)
    _, pullback = jax.vjp(at, zero)
    (reverse,) = pullback(cotangent)
    forward = sum(jnp.sum(c * t) for c, t in zip(cotangent, tangent, strict=True))
    np.testing.assert_allclose(reverse, forward, rtol=RTOL * 10)


# Central differences of fits: a fourth-order stencil. In float64, h = 1e-3: truncation about
# h**4, and the fits' own error (parameters about 1e-10 from the optimum) over h near 1e-7. In
# float32 the fits stop about 1e-5 from the optimum, so h = 3e-2 and a 2% agreement: a check of
# sign and size, which the hand-written answer above makes exact.
FD_STEP, FD_RTOL = (1e-3, 1e-6) if X64 else (3e-2, 2e-2)


@pytest.mark.parametrize(("solver", "wrt"), [c for c in cases() if c[0] != "sgd"])
def test_central_finite_differences(solver, wrt):
    """sgd's result is an estimate of the optimum, not a smooth function of the data."""
    at, *_ = along(solver, wrt)
    h = FD_STEP
    f = {k: flat(at(DTYPE(k * h))) for k in (-2, -1, 1, 2)}
    numeric = (f[-2] - 8 * f[-1] + 8 * f[1] - f[2]) / (12 * h)
    tangent = flat(jax.jvp(at, (DTYPE(0.0),), (DTYPE(1.0),))[1])
    np.testing.assert_allclose(tangent, numeric, rtol=0, atol=FD_RTOL * np.max(np.abs(numeric)))


def test_gradient_with_respect_to_every_input_at_once():
    X, y, v = problem()

    def held_out(X, y, v, l2):
        params = fit(X, y, v, l2, "newton")
        return jnp.mean(jaxsig.logistic_loss(jaxsig.logits(params, X[:10]), y[:10]))

    grads = jax.grad(held_out, argnums=(0, 1, 2, 3))(X, y, v, DTYPE(L2))
    assert [g.shape for g in grads] == [X.shape, y.shape, v.shape, ()]
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_learning_rate_and_start_do_not_move_an_optimum():
    X, y, v = problem()
    by_rate = jax.grad(lambda lr: fit(X, y, v, L2, "gd", learning_rate=lr).w.sum())(DTYPE(2.0))
    assert by_rate == 0
    start = jaxsig.init(4, dtype=DTYPE)
    by_start = jax.grad(lambda p: fit(X, y, v, L2, "newton", params=p).w.sum())(start)
    assert all(np.all(leaf == 0) for leaf in jax.tree.leaves(by_start))


def test_an_unfitted_intercept_has_no_derivative():
    X, y, v = problem()
    jacobian = jax.jacfwd(lambda l2: fit(X, y, v, l2, "newton", fit_intercept=False))(DTYPE(L2))
    assert float(jacobian.b) == 0.0 and np.any(jacobian.w != 0)


def test_fista_differentiates_on_the_support():
    X, y, v = problem()
    params = fit(X, y, v, L2, "fista", l1=0.08)
    off = np.asarray(params.w) == 0
    assert off.any() and not off.all(), "the test needs a partly sparse optimum"
    jacobian = jax.jacfwd(lambda l1: fit(X, y, v, L2, "fista", l1=l1))(DTYPE(0.08))
    assert np.all(np.asarray(jacobian.w)[off] == 0) and np.all(np.asarray(jacobian.w)[~off] != 0)


def test_several_output_columns_are_differentiated_apart():
    X, y, v = problem()
    Y = np.stack([y, 1 - y, y], axis=1)
    joint = jax.jacfwd(lambda l2: fit(X, Y, v, l2, "newton"))(DTYPE(L2))
    single = jax.jacfwd(lambda l2: fit(X, y, v, l2, "newton"))(DTYPE(L2))
    np.testing.assert_allclose(joint.w[:, 0], single.w, rtol=RTOL)
    np.testing.assert_allclose(joint.w[:, 2], single.w, rtol=RTOL)


def test_conjugate_gradients_equal_cholesky(monkeypatch):
    """Beyond DENSE_MAX_FEATURES the solve is CG on Hessian-vector products."""
    X, y, v = problem()

    def jacobian():
        return flat(jax.jacfwd(lambda l2: fit(X, y, v, l2, "lbfgs"))(DTYPE(L2)))

    dense = jacobian()
    monkeypatch.setattr(_implicit, "DENSE_MAX_FEATURES", 1)
    jax.clear_caches()
    np.testing.assert_allclose(jacobian(), dense, rtol=RTOL, atol=RTOL * np.max(np.abs(dense)))


def test_vmap_of_vjp_over_sample_weights():
    X, y, v = problem()
    rows = jnp.stack([v, v * 2, jnp.ones_like(v)])

    def loss(v):
        return fit(X, y, v, L2, "newton").w @ jnp.arange(4.0, dtype=DTYPE)

    swept = jax.vmap(jax.grad(loss))(rows)
    looped = jnp.stack([jax.grad(loss)(r) for r in rows])
    scale = float(jnp.max(jnp.abs(looped)))
    np.testing.assert_allclose(swept, looped, rtol=0, atol=(1e-5 if not X64 else 1e-12) * scale)


def test_iterates_of_lbfgs_converge_to_the_optimums_derivative():
    """Differentiating the iterates of a long fixed-epoch run: once converged, neither the
    parameters nor their tangents move (no NaN, no drift), and the tangent is the optimum's."""
    X, y, v = problem()

    def jacobian(epochs, differentiate):
        return flat(
            jax.jacfwd(
                lambda l2: fit(X, y, v, l2, "lbfgs", tol=None, epochs=epochs, **differentiate)
            )(DTYPE(L2))
        )

    optimum = jacobian(60, {})
    for epochs in (60, 400):
        unrolled = jacobian(epochs, dict(differentiate="iterates"))
        assert np.all(np.isfinite(unrolled))
        np.testing.assert_allclose(unrolled, optimum, rtol=0, atol=1e-3 * np.max(np.abs(optimum)))


@pytest.mark.skipif(not X64, reason="finite differences of fits need float64")
def test_reverse_mode_through_the_iterates_of_gd():
    """``differentiate="iterates"`` unrolls the scan: d(final iterate)/d(learning rate)."""
    X, y, v = problem()

    def after(lr):
        return fit(X, y, v, L2, "gd", learning_rate=lr, epochs=30, differentiate="iterates")

    gradient = jax.grad(lambda lr: after(lr).w.sum())(0.5)
    h = 1e-6
    numeric = (float(after(0.5 + h).w.sum()) - float(after(0.5 - h).w.sum())) / (2 * h)
    assert gradient != 0
    np.testing.assert_allclose(gradient, numeric, rtol=1e-6)


def test_early_stopping_differentiates_iterates_and_refuses_optimum():
    X, y, _ = problem()
    mask = (np.arange(60) % 3 == 0).astype(DTYPE)
    with pytest.raises(ValueError, match="early stopping returns an iterate"):
        jaxsig.fit(X, y, validation=mask, differentiate="optimum")
    with pytest.raises(ValueError, match="differentiate must be"):
        jaxsig.fit(X, y, differentiate="both")

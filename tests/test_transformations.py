"""The composability matrix: `fit` with every solver inside every JAX transformation it should
survive, each cell against an independent reference.

References: eager fits (a Python loop of them for ``vmap``, ``scan`` and ``fori_loop``), the
implicit-function derivative written out by hand from `jaxsig.hessian` in float64 NumPy, and
central finite differences of eager fits (float64 only: float32 differences of fits stopped at
a tolerance near the gradient noise floor measure that noise). ``shard_map`` with its default
checks and an 8-device mesh run in a subprocess with 8 forced CPU devices.
"""

import functools
import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import X64

import jaxsig

DTYPE = np.float64 if X64 else np.float32
# Fits stopped at a tolerance near each dtype's gradient noise floor.
TOL = 1e-10 if X64 else 5e-6
# Results of one fit compiled into different programs (eager, inside a caller's jit, vmap,
# scan) differ by rounding, which an iterative solver may carry to a different stopping iterate:
# at worst about tol / l2 apart. Relative to the largest entry; measured: at most 1.2e-7
# (float32) and 5e-10 (float64, fista).
SAME = 1e-9 if X64 else 1e-5
# The implicit derivative against the hand-written one: both solve with the same Hessian, in
# float64 for the reference; float32 parameters and Hessian err by a few hundred eps (the
# Hessian's condition number here is about 30). Measured: 1.7e-7 and 4e-16.
IMPLICIT_RTOL = 1e-10 if X64 else 1e-5
L2 = 0.1
L2S = np.array([0.05, 0.1, 0.3], DTYPE)

SOLVERS = {
    "gd": dict(solver="gd", learning_rate=2.0, epochs=400),
    "sgd": dict(solver="sgd", batch_size=16, learning_rate=0.5, epochs=30),
    "lbfgs": dict(solver="lbfgs", tol=TOL, epochs=200),
    "newton": dict(solver="newton", tol=TOL, epochs=50),
    "fista": dict(solver="fista", l1=0.02, tol=TOL, epochs=5000),
}
# Solvers whose result is the optimum to the tolerance (sgd's is an estimate).
CONVERGING = ("gd", "lbfgs", "newton", "fista")


@functools.cache
def data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = (X @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=n) > 0).astype(float)
    held = rng.normal(size=(32, 3))
    held_y = (held @ np.array([1.0, -2.0, 0.5]) + rng.normal(size=32) > 0).astype(float)
    return tuple(a.astype(DTYPE) for a in (X, y, held, held_y))


def fitted(X, y, l2, solver):
    return jaxsig.fit(X, y, l2=l2, **SOLVERS[solver]).params


def held_out(params):
    _, _, held, held_y = data()
    return jnp.mean(jaxsig.logistic_loss(jaxsig.logits(params, held), held_y))


def assert_same(actual, expected, scale=None):
    for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
        a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
        assert a.shape == e.shape
        size = np.max(np.abs(e)) if scale is None else scale
        np.testing.assert_allclose(a, e, rtol=0, atol=SAME * max(size, 1.0))


def implicit_by_hand(params, X, y, l2, l1):
    """d(params)/d(l2) of an optimum, from jaxsig.hessian in float64: ``J dtheta = -dF/dl2``
    on the free coordinates (the support, for l1 > 0), ``dF/dl2 = (w, 0)``."""
    H = np.asarray(jaxsig.hessian(params, X, l2=l2), np.float64)
    w = np.asarray(params.w, np.float64)
    free = np.append((w != 0) | (l1 == 0), True).astype(float)
    J = H * np.outer(free, free) + np.diag(1 - free)
    return -np.linalg.solve(J, free * np.append(w, 0.0))


def grad_by_hand(params, solver):
    """d held_out(optimum) / d l2, by the chain rule through `implicit_by_hand`."""
    X, y, held, held_y = data()
    g = jaxsig.gradient(params, held, held_y)
    outer = np.append(np.asarray(g.w, np.float64), float(g.b))
    return outer @ implicit_by_hand(params, X, y, L2, SOLVERS[solver].get("l1", 0.0))


def finite_difference(solver, h=1e-4):
    X, y, *_ = data()
    up, down = (float(held_out(fitted(X, y, L2 + s, solver))) for s in (h, -h))
    return (up - down) / (2 * h)


@pytest.fixture(params=list(SOLVERS))
def solver(request):
    return request.param


def eager(solver):
    X, y, *_ = data()
    return fitted(X, y, L2, solver)


def test_jit_with_arguments(solver):
    X, y, *_ = data()
    result = jax.jit(lambda X, y, l2: fitted(X, y, l2, solver))(X, y, L2)
    assert_same(result, eager(solver))


def test_jit_closing_over_numpy(solver):
    X, y, *_ = data()
    assert_same(jax.jit(lambda l2: fitted(X, y, l2, solver))(L2), eager(solver))


def test_jit_closing_over_jax_arrays(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    assert_same(jax.jit(lambda l2: fitted(X, y, l2, solver))(L2), eager(solver))


def test_closed_over_jax_arrays_are_still_validated():
    X, y = (jnp.asarray(a) for a in data()[:2])
    bad_y, bad_X = y.at[0].set(2.0), X.at[1, 1].set(jnp.nan)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 1\]"):
        jax.jit(lambda l2: fitted(X, bad_y, l2, "newton"))(L2)
    with pytest.raises(ValueError, match=r"X contains 1 NaN .* \(1, 1\)"):
        jax.jit(lambda l2: fitted(bad_X, y, l2, "newton"))(L2)


def loop_of_eager_fits(solver):
    X, y, *_ = data()
    return jax.tree.map(lambda *a: jnp.stack(a), *(fitted(X, y, l2, solver) for l2 in L2S))


def test_vmap(solver):
    X, y, *_ = data()
    swept = jax.vmap(lambda l2: fitted(X, y, l2, solver))(L2S)
    assert_same(swept, loop_of_eager_fits(solver))


def test_jit_of_vmap(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    swept = jax.jit(jax.vmap(lambda l2: fitted(X, y, l2, solver)))(L2S)
    assert_same(swept, loop_of_eager_fits(solver))


def test_scan_body(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])

    def body(carry, l2):
        params = fitted(X, y, l2, solver)
        return carry + params.b, params

    total, stacked = jax.lax.scan(body, jnp.zeros((), DTYPE), L2S)
    expected = loop_of_eager_fits(solver)
    assert_same(stacked, expected)
    np.testing.assert_allclose(total, np.sum(expected.b), rtol=10 * SAME)


def test_fori_loop_body(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    grid = jnp.asarray(L2S)

    def body(i, out):
        return out.at[i].set(fitted(X, y, grid[i], solver).w)

    result = jax.lax.fori_loop(0, 3, body, jnp.zeros((3, 3), DTYPE))
    assert_same(result, loop_of_eager_fits(solver).w)


def test_checkpoint(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    rematerialised = jax.checkpoint(lambda l2: held_out(fitted(X, y, l2, solver)))
    np.testing.assert_allclose(rematerialised(L2), held_out(eager(solver)), rtol=SAME)
    np.testing.assert_allclose(
        jax.grad(rematerialised)(L2), grad_by_hand(eager(solver), solver), rtol=IMPLICIT_RTOL
    )


def test_eval_shape(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    shapes = jax.eval_shape(lambda l2: jaxsig.fit(X, y, l2=l2, **SOLVERS[solver]), L2)
    result = jaxsig.fit(X, y, l2=L2, **SOLVERS[solver])
    assert jax.tree.structure(shapes) == jax.tree.structure(result)
    for s, r in zip(jax.tree.leaves(shapes), jax.tree.leaves(result), strict=True):
        assert (s.shape, s.dtype) == (r.shape, r.dtype)


def test_lower_and_compile(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    compiled = jax.jit(lambda l2: fitted(X, y, l2, solver)).lower(L2).compile()
    assert_same(compiled(L2), eager(solver))


def test_export_with_a_symbolic_row_count(solver):
    (n,) = jax.export.symbolic_shape("n")
    spec = (jax.ShapeDtypeStruct((n, 3), DTYPE), jax.ShapeDtypeStruct((n,), DTYPE))

    def export():
        return jax.export.export(jax.jit(lambda X, y: fitted(X, y, L2, solver)))(*spec)

    if solver == "sgd":  # its batches per epoch depend on n
        with pytest.raises(ValueError, match="static row count"):
            export()
        return
    exported = export()
    for rows in (64, 48):
        X, y, *_ = data(n=rows, seed=rows)
        assert_same(exported.call(X, y), fitted(X, y, L2, solver))


def test_grad_is_the_optimums(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    gradient = jax.grad(lambda l2: held_out(fitted(X, y, l2, solver)))
    by_hand = grad_by_hand(eager(solver), solver)
    np.testing.assert_allclose(gradient(L2), by_hand, rtol=IMPLICIT_RTOL)
    np.testing.assert_allclose(jax.jit(gradient)(L2), by_hand, rtol=IMPLICIT_RTOL)
    gradient = gradient(L2)
    if X64 and solver in CONVERGING:  # h**2 truncation: 1.3e-7 relative here
        np.testing.assert_allclose(gradient, finite_difference(solver), rtol=1e-6)


def test_jacfwd_is_the_optimums(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    jacobian = jax.jacfwd(lambda l2: fitted(X, y, l2, solver))(L2)
    expected = implicit_by_hand(eager(solver), X, y, L2, SOLVERS[solver].get("l1", 0.0))
    flat = np.append(np.asarray(jacobian.w, np.float64), float(jacobian.b))
    np.testing.assert_allclose(flat, expected, rtol=IMPLICIT_RTOL, atol=1e-12)


def test_vmap_of_grad(solver):
    X, y = (jnp.asarray(a) for a in data()[:2])
    gradient = jax.grad(lambda l2: held_out(fitted(X, y, l2, solver)))
    swept = jax.vmap(gradient)(L2S)
    looped = np.array([gradient(l2) for l2 in L2S])
    np.testing.assert_allclose(swept, looped, rtol=IMPLICIT_RTOL)


def test_sweep_and_path_with_traced_grids():
    X, y = (jnp.asarray(a) for a in data()[:2])
    options = dict(solver="newton", tol=TOL, epochs=50)
    swept = jax.jit(lambda l2s: jaxsig.sweep(X, y, l2=l2s, **options).params)(L2S)
    assert_same(swept, jaxsig.sweep(X, y, l2=L2S, **options).params)
    traced = jax.jit(lambda l2s: jaxsig.path(X, y, l2s, tol=TOL).params)(L2S)
    assert_same(traced, jaxsig.path(X, y, L2S, tol=TOL).params)
    # the path's optima carry the optimum's derivative too
    jacobian = jax.jacfwd(lambda l2s: jaxsig.path(X, y, l2s, tol=TOL).params.w)(L2S)
    middle = jaxsig.path(X, y, L2S, tol=TOL).params
    point = jaxsig.Params(middle.w[1], middle.b[1])
    expected = implicit_by_hand(point, X, y, L2S[1], 0.0)[:-1]
    np.testing.assert_allclose(jacobian[1, :, 1], expected, rtol=IMPLICIT_RTOL, atol=1e-12)
    assert np.all(np.asarray(jacobian[1, :, 0]) == 0)  # each optimum depends on its own l2


# The two cells that need several devices: one subprocess per pass, every solver in it.
DEVICES = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np, jaxsig
    from jax.sharding import AxisType, PartitionSpec as P
    solvers, X, y = json.loads(sys.stdin.read())
    dtype = np.float64 if jax.config.jax_enable_x64 else np.float32
    X, y = np.asarray(X, dtype), np.asarray(y, dtype)
    assert jax.device_count() == 8
    mesh = jax.make_mesh((8,), ("b",), axis_types=(AxisType.Auto,))
    l2s = np.linspace(0.05, 0.4, 8).astype(dtype)
    out = {}
    for name, options in solvers.items():
        def fit(l2):
            return jaxsig.fit(X, y, l2=l2, **options).params.w
        eager = np.stack([np.asarray(fit(l2)) for l2 in l2s])
        per_device = jax.shard_map(jax.vmap(fit), mesh=mesh, in_specs=P("b"), out_specs=P("b"))
        mapped = np.asarray(jax.jit(per_device)(jnp.asarray(l2s)))
        Xs, ys = jaxsig.shard_rows(mesh, X, y)
        rows = np.asarray(jaxsig.fit(Xs, ys, l2=0.1, **options).params.w)
        one = np.asarray(fit(dtype(0.1)))
        scale = max(np.max(np.abs(eager)), 1.0)
        out[name] = [float(np.max(np.abs(mapped - eager)) / scale),
                     float(np.max(np.abs(rows - one)) / scale)]
    print("RESULT" + json.dumps(out))
    """
)


@functools.cache
def on_eight_devices():
    X, y, *_ = data()
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
    env["JAX_ENABLE_X64"] = "1" if X64 else "0"
    done = subprocess.run(
        [sys.executable, "-c", DEVICES],
        input=json.dumps([SOLVERS, X.tolist(), y.tolist()]),
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def test_shard_map_with_default_checks(solver):
    """Each device fits its own slice of the l2 grid; ``check_vma`` is on (the default)."""
    assert on_eight_devices()[solver][0] <= SAME


def test_rows_on_an_eight_device_mesh(solver):
    """The rows split over 8 devices: the one-device optimum, up to the order of the sums."""
    tolerance = SAME if solver in ("gd", "sgd") else SAME + 10 * TOL
    assert on_eight_devices()[solver][1] <= tolerance

"""Progress bars: chunked runs give fit's and sweep's results, and the bar reaches the end."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
import support

import jaxsig
from jaxsig import _progress
from jaxsig._solvers import _driver

# (options, whether several output columns match bit for bit). One column runs the same body
# in a while_loop as in the scan; vmapped over columns, XLA may fuse the two loops differently,
# which moves results by a rounding (4 eps relative to the largest entry is ample).
SOLVERS = [
    dict(solver="gd"),
    dict(solver="gd", line_search=True),
    dict(solver="gd", optimizer=optax.adam, learning_rate=0.1),
    dict(solver="sgd", batch_size=16),
    dict(solver="lbfgs", l2=1e-3),
    dict(solver="lbfgs", l2=1e-3, tol=1e-5),
    dict(solver="newton", l2=1e-3, tol=1e-6),
    dict(solver="fista", l1=1e-3, tol=1e-5),
]


@pytest.fixture
def terminal(monkeypatch):
    """stderr taken for a terminal, every run worth chunking in many chunks and the bar shown at
    once; the chunk calls are recorded."""
    monkeypatch.setattr(_progress, "on_terminal", lambda: True)
    monkeypatch.setattr(_progress, "SMALL_RUN", 0.0)
    monkeypatch.setattr(_progress, "ASSUMED_RATE", 0.0)  # first chunks of one epoch
    monkeypatch.setattr(_progress, "DELAY_SECONDS", 0.0)
    limits = []
    original = _driver.in_chunks

    def recorded(advance_to, carry, epochs, epochs_run, on_progress, first_chunk=1):
        def advance(c, limit):
            limits.append(limit)
            return advance_to(c, limit)

        return original(advance, carry, epochs, epochs_run, on_progress, first_chunk)

    monkeypatch.setattr(_driver, "in_chunks", recorded)
    return limits


def _refuse(*args, **kwargs):
    raise AssertionError("chunked where no bar can show")


def _data(dtype, columns=1):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(dtype)
    y = (X[:, 0] + rng.normal(size=120) > 0).astype(dtype)
    return X, y if columns == 1 else np.stack([y, 1 - y], axis=1)


def _same(a, b, rtol=0.0):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        u, v = support.host(u), support.host(v)
        if rtol == 0.0:
            np.testing.assert_array_equal(u, v)
        else:
            # relative to the entries' size, and to 1 for the gradient norm near an optimum,
            # whose terms are O(1) however small their sum
            scale = max(float(np.nanmax(np.abs(u))), 1.0)
            np.testing.assert_allclose(u, v, rtol=0, atol=rtol * scale)


@support.dtype_param(support.FULL_DTYPES)
@pytest.mark.parametrize("options", SOLVERS, ids=lambda o: "-".join(map(str, o.values())))
def test_fit_with_progress_is_fit(terminal, options, dtype):
    X, y = _data(dtype)
    plain = jaxsig.fit(X, y, epochs=150, **options)
    shown = jaxsig.fit(X, y, epochs=150, progress=True, **options)
    assert terminal, "the run was not chunked"
    _same(plain, shown)


@pytest.mark.parametrize("options", SOLVERS[2:4], ids=["adam", "sgd"])
def test_fit_with_progress_several_columns(terminal, options):
    X, Y = _data(np.float32, columns=2)
    plain = jaxsig.fit(X, Y, epochs=100, **options)
    shown = jaxsig.fit(X, Y, epochs=100, progress=True, **options)
    assert terminal
    _same(plain, shown, rtol=4 * support.eps(np.float32))


@pytest.mark.parametrize(
    "options",
    [
        dict(solver="newton", l2=[1e-3, 1e-1, 1.0], tol=1e-6, epochs=50),
        dict(solver="gd", learning_rate=[0.1, 0.5], epochs=300),
    ],
    ids=["newton-tol", "gd-fixed"],
)
def test_sweep_with_progress_is_sweep(terminal, options):
    X, y = _data(np.float32)
    folds = jaxsig.stratified_kfold(jax.random.key(1), y, 3)
    plain = jaxsig.sweep(X, y, folds=folds, **options)
    shown = jaxsig.sweep(X, y, folds=folds, progress=True, **options)
    assert terminal
    _same(plain._replace(points=None), shown._replace(points=None))


def test_cross_validate_passes_progress_on(terminal):
    X, y = _data(np.float32)
    cv = jaxsig.cross_validate(
        X,
        y,
        key=jax.random.key(0),
        n_folds=3,
        solver="newton",
        l2=[0.01, 1.0],
        tol=1e-6,
        epochs=50,
        progress=True,
    )
    assert cv.refit is not None and len(terminal) >= 2  # the sweep's chunks and the refit's


def test_bar_reaches_the_end(terminal, capsys):
    X, y = _data(np.float32)
    jaxsig.fit(X, y, epochs=400, progress=True)
    err = capsys.readouterr().err
    assert "fit gd" in err and "/400" in err
    assert terminal[-1] == 400 and terminal == sorted(terminal) and terminal[0] == 1


def test_tolerance_stop_ends_the_chunks(terminal):
    X, y = _data(np.float32)
    result = jaxsig.fit(X, y, solver="newton", l2=1e-2, tol=1e-6, epochs=10_000, progress=True)
    assert bool(result.converged) and int(result.iterations) < 20
    assert terminal[-1] < 10_000  # stopped once converged, not run out to the limit


def test_chunks_grow_with_speed():
    """One epoch first, then chunks sized to take about CHUNK_SECONDS from the last speed."""
    limits, shown = [], []

    def advance_to(epoch, limit):
        limits.append(limit)
        return limit

    _driver.in_chunks(advance_to, 0, 10**9, lambda epoch: epoch, shown.append)
    assert limits[0] == 1 and limits[-1] == 10**9 and shown == limits
    assert all(b > a for a, b in itertools.pairwise(limits))
    assert len(limits) < 10  # chunk sizes follow the (fast) speed, not one epoch at a time


def test_no_terminal_no_chunks(monkeypatch):
    """Off a terminal there is no bar to move: the run is the single compiled call."""
    monkeypatch.setattr(_progress, "on_terminal", lambda: False)
    monkeypatch.setattr(_progress, "SMALL_RUN", 0.0)
    monkeypatch.setattr(_driver, "run_in_chunks", _refuse)
    X, y = _data(np.float32)
    jaxsig.fit(X, y, epochs=20, progress=True)


def test_the_first_chunk_takes_a_quarter_second_at_the_assumed_rate():
    assert _progress.first_chunk(_progress.ASSUMED_RATE) == 1
    assert _progress.first_chunk(_progress.ASSUMED_RATE / 1000) == 250
    assert _progress.first_chunk(1e12 * _progress.ASSUMED_RATE) == 1


def test_a_run_too_small_to_show_a_bar_is_one_call(monkeypatch):
    """A bar appears after a second; 300 epochs of 120 x 4 end long before."""
    monkeypatch.setattr(_progress, "on_terminal", lambda: True)
    monkeypatch.setattr(_driver, "run_in_chunks", _refuse)
    X, y = _data(np.float32)
    jaxsig.fit(X, y, epochs=300, progress=True)
    assert _progress.worth_chunking(10_000, _progress.epoch_work((1000, 100), "gd"))
    assert not _progress.worth_chunking(300, _progress.epoch_work(X.shape, "gd"))
    # Newton's Hessian costs d times a pass over X
    assert _progress.epoch_work((1000, 100), "newton") == 100 * _progress.epoch_work(
        (1000, 100), "lbfgs"
    )


def test_progress_needs_concrete_inputs():
    X, y = _data(np.float32)
    with pytest.raises(ValueError, match=r"progress=True .* concrete"):
        jax.jit(lambda X: jaxsig.fit(X, y, epochs=5, progress=True).params.w)(jnp.asarray(X))


def test_a_batch_writes_its_history_in_place():
    """Problems of a batch (columns, sweep points) share one epoch counter, so the history is
    written with a dynamic_update_slice; a per-problem index would make it a scatter, which
    XLA:CPU ran about twice as slow as the epochs themselves in a gd sweep."""
    from jaxsig import _setup

    X, Y = _data(np.float32, columns=2)
    setup = _setup.prepare(X, Y, None, None, True, None)
    problem = _setup.as_problem(setup, 0.1, 0.0, 0.0, _setup.as_key(None))
    solver = _setup.make_solver("gd", None, "closed_form", False, None)
    carry = _driver.begin_columns(solver, problem, setup.params, None, epochs=50)
    for until_tolerance in (False, True):
        lowered = _driver.advance_columns.lower(
            solver, problem, None, carry, jnp.float32(0), 10, until_tolerance=until_tolerance
        ).as_text()
        assert "dynamic_update_slice" in lowered and "scatter" not in lowered


@pytest.mark.parametrize("options", SOLVERS, ids=lambda o: "-".join(map(str, o.values())))
def test_every_chunk_runs_one_compiled_program(terminal, options):
    """The first chunk's carry comes from init (optax leaves some scalars weakly typed), the
    others from the loop: they must match, or the second chunk compiles a second program."""
    X, y = _data(np.float32)
    before = _driver.advance_columns._cache_size()
    jaxsig.fit(X, y, epochs=77, progress=True, **options)  # 77: a history shape of its own
    assert len(terminal) >= 2
    assert _driver.advance_columns._cache_size() == before + 1

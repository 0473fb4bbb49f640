"""Runs that resume: a fit continued from its state equals the longer fit bit for bit, from
memory or from a state file, and a state that does not fit is refused by name."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from support import FULL_DTYPES, dtype_param, host

import jaxsig
from jaxsig import io

SOLVERS = {
    "gd": dict(solver="gd", learning_rate=0.5),
    "gd-line-search": dict(solver="gd", line_search=True, learning_rate=1.0),
    "adam": dict(solver="gd", optimizer=optax.adam, learning_rate=0.05),
    "sgd-key": dict(solver="sgd", batch_size=16, key=3),
    "sgd-adam": dict(solver="sgd", batch_size=16, optimizer=optax.adam, learning_rate=0.01),
    "lbfgs": dict(solver="lbfgs", l2=1e-3),
    "lbfgs-tol": dict(solver="lbfgs", l2=1e-3, tol=1e-5),
    "newton-tol": dict(solver="newton", l2=1e-3, tol=1e-6),
    "fista": dict(solver="fista", l1=1e-3, tol=1e-6),
    "schedule-free": dict(solver="gd", optimizer=optax.contrib.schedule_free_adamw(0.05)),
}


def data(dtype, columns=1):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(90, 4)).astype(dtype)
    y = (X[:, 0] - X[:, 2] + rng.normal(size=90) > 0).astype(dtype)
    return X, y if columns == 1 else np.stack([y, 1 - y, y], axis=1)


def assert_bitwise(a, b):
    for u, v in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(host(u), host(v))


def assert_continues(first, second, whole):
    """``second`` (resumed from ``first``) is ``whole``: parameters, state and outcome bit for
    bit, and the two histories laid end to end."""
    assert_bitwise(
        (second.params, second.state, second.iterations, second.converged, second.gradient_norm),
        (whole.params, whole.state, whole.iterations, whole.converged, whole.gradient_norm),
    )
    joined = np.concatenate([host(first.history), host(second.history)])
    np.testing.assert_array_equal(joined, host(whole.history))


@pytest.mark.filterwarnings("ignore::jaxsig.ConvergenceWarning")  # the first part stops short
@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("name", SOLVERS)
def test_resumed_fit_is_the_longer_fit(name, dtype):
    X, y = data(dtype)
    options = SOLVERS[name]
    first = jaxsig.fit(X, y, epochs=30, **options)
    second = jaxsig.fit(X, y, epochs=25, resume=first.state, **options)
    assert_continues(first, second, jaxsig.fit(X, y, epochs=55, **options))


@pytest.mark.filterwarnings("ignore::jaxsig.ConvergenceWarning")
@pytest.mark.parametrize("name", ["gd", "lbfgs-tol", "sgd-key"])
def test_several_columns_resume(name):
    X, Y = data(np.float32, columns=3)
    options = SOLVERS[name]
    first = jaxsig.fit(X, Y, epochs=20, **options)
    assert first.state.params.w.shape == (3, 4)  # the column axis leads the state
    second = jaxsig.fit(X, Y, epochs=20, resume=first.state, **options)
    assert_continues(first, second, jaxsig.fit(X, Y, epochs=40, **options))


def test_a_state_file_resumes_as_the_state_does(tmp_path):
    X, y = data(np.float32)
    options = SOLVERS["sgd-adam"]
    first = jaxsig.fit(X, y, epochs=10, **options)
    path = tmp_path / "state.npz"
    io.save_state(path, first.state, {"run": "a", "epochs": [10]})
    checkpoint = io.load_state(path)
    assert checkpoint.metadata == {"run": "a", "epochs": [10]}
    from_file = jaxsig.fit(X, y, epochs=10, resume=checkpoint, **options)
    from_memory = jaxsig.fit(X, y, epochs=10, resume=first.state, **options)
    assert_bitwise(from_file, from_memory)
    assert os.listdir(tmp_path) == ["state.npz"]  # written atomically: no temporary left


def test_schedule_free_returns_its_evaluation_parameters():
    X, y = data(np.float32)
    tx = optax.contrib.schedule_free_adamw(0.05)
    result = jaxsig.fit(X, y, epochs=40, optimizer=tx)
    evaluated = optax.contrib.schedule_free_eval_params(
        result.state.solver_state, result.state.params
    )
    np.testing.assert_allclose(result.params.w, evaluated.w, rtol=1e-6)
    assert not np.allclose(result.params.w, result.state.params.w)


def test_early_stopping_resumes_its_patience():
    X, y = data(np.float32)
    mask = (np.arange(90) % 3 == 0).astype(np.float32)
    options = dict(solver="gd", learning_rate=2.0, validation=mask, patience=5)
    first = jaxsig.fit(X, y, epochs=8, **options)
    second = jaxsig.fit(X, y, epochs=300, resume=first.state, **options)
    whole = jaxsig.fit(X, y, epochs=308, **options)
    assert_bitwise(
        (second.params, second.state, second.best_epoch),
        (whole.params, whole.state, whole.best_epoch),
    )
    curve = np.concatenate([host(first.validation_history), host(second.validation_history)])
    np.testing.assert_array_equal(curve, host(whole.validation_history))
    assert int(whole.iterations) < 308  # it stopped early


def test_resume_inside_jit():
    X, y = data(np.float32)
    first = jaxsig.fit(X, y, epochs=10, **SOLVERS["lbfgs"])
    resumed = jax.jit(
        lambda state: jaxsig.fit(X, y, epochs=10, resume=state, **SOLVERS["lbfgs"]).params
    )(first.state)
    whole = jaxsig.fit(X, y, epochs=20, **SOLVERS["lbfgs"]).params
    np.testing.assert_allclose(resumed.w, whole.w, rtol=1e-6)


@pytest.mark.parametrize(
    ("other", "match"),
    [
        (dict(solver="newton", l2=1e-3), r"resume does not fit .* lacks \.solver_state"),
        (
            dict(solver="lbfgs", l2=1e-3, features=5),
            r"resume \.params\.w is float32\[4\] but .* float32\[5\]",
        ),
        (dict(solver="lbfgs", l2=1e-3, validation=True), r"resume does not fit .* lacks \.best"),
    ],
    ids=["solver", "features", "held-out"],
)
def test_a_state_of_another_fit_is_refused(other, match):
    X, y = data(np.float32)
    state = jaxsig.fit(X, y, epochs=5, **SOLVERS["lbfgs"]).state
    other = dict(other)
    if other.pop("features", None):
        X = np.hstack([X, X[:, :1]])
    if other.pop("validation", None):
        other["validation"] = (np.arange(90) % 2).astype(np.float32)
    with pytest.raises(ValueError, match=match):
        jaxsig.fit(X, y, epochs=5, resume=state, **other)


def test_bad_state_files_are_refused(tmp_path):
    X, y = data(np.float32)
    result = jaxsig.fit(X, y, epochs=5, solver="lbfgs")
    path = str(tmp_path / "state.npz")
    io.save_state(path, result.state)
    with open(path, "rb") as f:
        whole = f.read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(io.ModelFileError, match=r"truncated\.npz: not a jaxsig state file"):
        io.load_state(truncated)
    model = tmp_path / "model.npz"
    io.save(model, io.SavedModel(result.params, ("a", "b", "c", "d")))
    with pytest.raises(io.ModelFileError, match=r"not a jaxsig state file \(a model file\)"):
        io.load_state(model)
    with np.load(path) as stored:
        arrays = dict(stored)
    del arrays["leaf_3"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(io.ModelFileError, match=r"do not match the metadata \(array leaf_3\)"):
        io.load_state(tmp_path / "missing.npz")
    with pytest.raises(io.ModelFileError, match="no such state file"):
        io.load_state(tmp_path / "absent.npz")
    with pytest.raises(ValueError, match=r"state must be a jaxsig\.FitState"):
        io.save_state(path, result)
    with pytest.raises(ValueError, match="metadata must be a JSON object"):
        io.save_state(path, result.state, {"x": jnp.ones(2)})


def test_a_state_of_another_dtype_is_refused(tmp_path):
    """A state written with x64 on (float64 leaves) does not resume a float32 fit."""
    X, y = data(np.float32)
    state = jaxsig.fit(X, y, epochs=5, solver="gd").state
    path = tmp_path / "state.npz"
    io.save_state(path, state)
    with np.load(path) as stored:
        arrays = dict(stored)
    described = json.loads(str(arrays["jaxsig_metadata"]))
    index = next(i for i, leaf in enumerate(described["leaves"]) if leaf["path"] == ".params.w")
    arrays[f"leaf_{index}"] = arrays[f"leaf_{index}"].astype(np.float64)
    described["leaves"][index]["dtype"] = "float64"
    arrays["jaxsig_metadata"] = np.array(json.dumps(described))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"resume \.params\.w is float64\[4\] but .* float32\[4\]"):
        jaxsig.fit(X, y, epochs=5, resume=io.load_state(path))

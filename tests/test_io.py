"""Model files: exact round trips (hypothesis too), every refusal, atomic saves, prediction."""

import json
import os

import hypothesis.extra.numpy as hnp
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import ALL_DTYPES, X64, dtype_param

import jaxsig
from jaxsig import io
from jaxsig.data import DataError, Standardization


def model(dtype=np.float32, d=3, **changes):
    rng = np.random.default_rng(0)
    base = io.SavedModel(
        params=jaxsig.Params(
            jnp.asarray(rng.normal(size=d).astype(dtype)), jnp.asarray(dtype(0.25))
        ),
        feature_names=tuple(f"x{j}" for j in range(d)),
        threshold=0.3,
        scaling=Standardization(
            jnp.asarray(rng.normal(size=d).astype(dtype)),
            jnp.asarray(rng.uniform(0.5, 2, size=d).astype(dtype)),
        ),
        target="label",
        classes=("ham", "spam"),
        categories={},
        history=np.linspace(0.7, 0.2, 5),
        solver_options={"solver": "lbfgs", "l2": 1e-3, "epochs": 100, "fit_intercept": True},
    )
    return base._replace(**changes)


def assert_same(loaded, saved):
    for a, b in [*zip(loaded.params, saved.params, strict=True)]:
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert (loaded.scaling is None) == (saved.scaling is None)
    if saved.scaling is not None:
        for a, b in zip(loaded.scaling, saved.scaling, strict=True):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)
    assert (loaded.history is None) == (saved.history is None)
    if saved.history is not None:
        np.testing.assert_array_equal(loaded.history, saved.history)
        assert loaded.history.dtype == np.asarray(saved.history).dtype
    for field in (
        "feature_names",
        "threshold",
        "target",
        "classes",
        "categories",
        "solver_options",
    ):
        assert getattr(loaded, field) == getattr(saved, field), field
    assert [type(c) for c in loaded.classes] == [type(c) for c in saved.classes]
    assert [type(v) for v in loaded.solver_options.values()] == [
        type(v) for v in saved.solver_options.values()
    ]


@dtype_param(ALL_DTYPES)
def test_round_trip_is_exact(tmp_path, dtype):
    saved = model(dtype)
    io.save(tmp_path / "m.npz", saved)
    assert os.listdir(tmp_path) == ["m.npz"]
    loaded = io.load(tmp_path / "m.npz")
    assert loaded.params.w.dtype == dtype
    assert_same(loaded, saved)


def test_a_float64_file_loads_in_jaxs_default_precision(tmp_path):
    w64 = np.array([0.1, 1 / 3, 2.0**-40])  # none of them a float32
    arrays = with_metadata(
        arrays_of(model(scaling=None, history=None), tmp_path),
        dtypes={"w": "float64", "b": "float64"},
    )
    path = tmp_path / "m.npz"
    np.savez(path, **{**arrays, "w": w64, "b": np.array(0.5)})
    loaded = io.load(path)
    assert loaded.params.w.dtype == (np.float64 if X64 else np.float32)
    np.testing.assert_array_equal(loaded.params.w, w64.astype(loaded.params.w.dtype))


def test_round_trip_without_optional_parts(tmp_path):
    saved = model(
        scaling=None, history=None, target=None, classes=(), solver_options={}, threshold=1
    )
    io.save(tmp_path / "m.npz", saved)
    loaded = io.load(tmp_path / "m.npz")
    assert_same(loaded, saved._replace(threshold=1.0))
    assert isinstance(loaded.threshold, float)
    with np.load(tmp_path / "m.npz") as stored:
        assert sorted(stored.files) == ["b", "jaxsig_metadata", "w"]


def test_metadata_records_versions_and_dtype(tmp_path):
    io.save(tmp_path / "m.npz", model(np.float16))
    with np.load(tmp_path / "m.npz", allow_pickle=False) as stored:
        metadata = json.loads(str(stored["jaxsig_metadata"]))
        assert stored["jaxsig_metadata"].dtype.kind == "U"
    assert metadata["jaxsig_format"] == io.FORMAT_VERSION == 1
    assert metadata["jaxsig_version"] == jaxsig.__version__
    assert metadata["dtypes"] == dict.fromkeys(
        ["w", "b", "scaling_mean", "scaling_scale"], "float16"
    ) | {"history": "float64"}


def test_numpy_scalars_in_metadata_are_stored_as_python_values(tmp_path):
    saved = model(
        classes=(np.int64(-1), np.int64(1)),
        threshold=np.float32(0.5),
        solver_options={"l2": np.float64(0.5), "epochs": np.int32(3)},
    )
    io.save(tmp_path / "m.npz", saved)
    loaded = io.load(tmp_path / "m.npz")
    assert loaded.classes == (-1, 1) and type(loaded.classes[0]) is int
    assert loaded.solver_options == {"l2": 0.5, "epochs": 3}


names = st.text(min_size=0, max_size=12)  # any unicode, lone surrogates included


@st.composite
def saved_models(draw):
    dtype = draw(st.sampled_from([np.float32, np.float64] if X64 else [np.float32]))
    d = draw(st.integers(1, 6))
    finite = {"allow_nan": False, "allow_infinity": False, "width": 32}
    w = draw(hnp.arrays(dtype, d, elements=st.floats(**finite)))
    b = draw(hnp.arrays(dtype, (), elements=st.floats(**finite)))
    n_categories = draw(st.integers(0, min(d, 3)))
    column = draw(names)
    levels = draw(st.lists(names, min_size=n_categories, max_size=n_categories, unique=True))
    plain = draw(
        st.lists(
            names.filter(lambda s: "=" not in s),
            min_size=d - n_categories,
            max_size=d - n_categories,
            unique=True,
        )
    )
    feature_names = tuple(plain + [f"{column}={v}" for v in levels])
    scaling = None
    if draw(st.booleans()):
        scaling = Standardization(
            jnp.asarray(draw(hnp.arrays(dtype, d, elements=st.floats(**finite)))),
            jnp.asarray(
                draw(hnp.arrays(dtype, d, elements=st.floats(2.0**-100, 2.0**100, width=32)))
            ),
        )
    history = draw(st.none() | hnp.arrays(dtype, st.integers(0, 5), elements=st.floats(width=32)))
    label = (
        st.text(max_size=5)
        | st.integers(-(2**60), 2**60)
        | st.floats(allow_nan=False, allow_infinity=False)
    )
    classes = draw(st.just(()) | st.lists(label, min_size=2, max_size=2, unique=True).map(tuple))
    options = draw(
        st.dictionaries(
            names,
            st.none()
            | st.booleans()
            | st.integers(-(2**60), 2**60)
            | st.floats(allow_nan=False)
            | names,
            max_size=3,
        )
    )
    return io.SavedModel(
        params=jaxsig.Params(jnp.asarray(w), jnp.asarray(b)),
        feature_names=feature_names,
        threshold=draw(st.floats(0, 1)),
        scaling=scaling,
        target=draw(st.none() | names),
        classes=classes,
        categories={column: tuple(levels)} if levels else {},
        history=history,
        solver_options=options,
    )


@settings(max_examples=60, deadline=None)
@given(saved_models())
def test_hypothesis_round_trip(tmp_path_factory, saved):
    if any(isinstance(c, float) for c in saved.classes) and saved.classes[0] == saved.classes[1]:
        return  # 0.0 and -0.0 are "unique" to hypothesis but one label
    path = tmp_path_factory.mktemp("round") / "m.npz"
    io.save(path, saved)
    loaded = io.load(path)
    assert_same(loaded, saved)


# -- refusals ---------------------------------------------------------------------------------


def arrays_of(saved, tmp_path):
    """The arrays of a real model file, to corrupt one at a time."""
    path = tmp_path / "real.npz"
    io.save(path, saved)
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    path.unlink()
    return arrays


def with_metadata(arrays, **changes):
    metadata = json.loads(str(arrays["jaxsig_metadata"]))
    metadata.update(changes)
    for key in [k for k, v in changes.items() if v is KeyError]:
        del metadata[key]
    return {**arrays, "jaxsig_metadata": np.array(json.dumps(metadata))}


def refused(path, message):
    with pytest.raises(io.ModelFileError, match=message) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_refuses_a_missing_file_and_random_bytes(tmp_path):
    refused(tmp_path / "none.npz", "no such model file")
    path = tmp_path / "random.npz"
    path.write_bytes(np.random.default_rng(0).bytes(300))
    refused(path, "not a jaxsig model file")
    path.write_bytes(b"")
    refused(path, "not a jaxsig model file")
    np.save(tmp_path / "one.npy", np.ones(3))
    refused(tmp_path / "one.npy", r"one \.npy array")
    csv = tmp_path / "data.csv"
    csv.write_text("a,b\n1,2\n")
    refused(csv, r"data\.csv: not a jaxsig model file \(not an \.npz archive\)$")


def test_refuses_a_plain_npz_without_the_marker(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, w=np.ones(2), b=np.zeros(()))
    refused(path, r"not a jaxsig model file \(no jaxsig_metadata; holds w, b\)")
    np.savez(path, jaxsig_metadata=np.array(json.dumps({"hello": 1})))
    refused(path, r"not a jaxsig model file \(no key 'jaxsig_format'\)")


def test_refuses_a_newer_format_version(tmp_path):
    path = tmp_path / "new.npz"
    np.savez(path, **with_metadata(arrays_of(model(), tmp_path), jaxsig_format=2))
    refused(path, r"format version 2 .* newer than .* reads \(1\): upgrade jaxsig")


@pytest.mark.parametrize("keep", [0.5, 0.9, 0.99])
def test_refuses_a_truncated_file(tmp_path, keep):
    path = tmp_path / "m.npz"
    io.save(path, model(history=np.linspace(1, 0, 2000)))
    content = path.read_bytes()
    path.write_bytes(content[: int(len(content) * keep)])
    refused(path, "not a jaxsig model file|corrupt or truncated")


def test_refuses_a_corrupted_member(tmp_path):
    path = tmp_path / "m.npz"
    io.save(path, model(history=np.linspace(1, 0, 2000)))
    content = bytearray(path.read_bytes())
    middle = content.find(b"history.npy") + 2000  # inside the history array's data
    content[middle : middle + 8] = b"\xff" * 8
    path.write_bytes(bytes(content))
    refused(path, "corrupt or truncated.*CRC")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"w": np.ones((3, 1), np.float32)}, r"w must be \(d,\) and b \(\)"),
        ({"b": np.ones(1, np.float32)}, r"w must be \(d,\) and b \(\)"),
        ({"w": np.ones(4, np.float32)}, r"feature_names must be 4 strings"),
        ({"scaling_mean": np.ones(2, np.float32)}, r"scaling mean and scale must be \(3,\)"),
        ({"scaling_scale": np.zeros(3, np.float32)}, "positive scale"),
        ({"w": np.array([1, np.nan, 0], np.float32)}, "NaN or infinite"),
        ({"b": np.array(np.inf, np.float32)}, "NaN or infinite"),
        ({"w": np.ones(3, np.int32)}, "array w is int32 but the metadata says float32"),
        ({"w": np.ones(3, np.float64)}, "array w is float64 but the metadata says float32"),
        ({"history": np.ones(3, np.float16)}, "array history is float16 but the metadata"),
        ({"history": np.ones((2, 2))}, "history must be 1-D"),
        ({"w": None}, r"missing array\(s\) w"),
        ({"scaling_scale": None}, r"missing array\(s\) scaling_scale"),
        ({"jaxsig_metadata": np.array(b"{}")}, "must be a 0-d string array"),
        ({"jaxsig_metadata": np.array(["{}", "{}"])}, "must be a 0-d string array"),
        ({"jaxsig_metadata": np.array("{not json")}, "not valid JSON"),
    ],
)
def test_refuses_wrong_arrays(tmp_path, change, message):
    arrays = {**arrays_of(model(), tmp_path), **change}
    path = tmp_path / "bad.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    refused(path, message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"threshold": 1.5}, r"threshold must be in \[0, 1\]"),
        ({"threshold": -0.1}, r"threshold must be in \[0, 1\]"),
        ({"threshold": float("nan")}, r"threshold must be in \[0, 1\]"),
        ({"threshold": True}, "'threshold' has the wrong type"),
        ({"feature_names": ["a", "b"]}, "feature_names must be 3 strings"),
        ({"feature_names": ["a", "a", "b"]}, "distinct"),
        ({"feature_names": ["a", 1, "b"]}, "feature_names must be 3 strings"),
        ({"dtypes": {"w": "int8", "b": "float32"}}, r"unknown dtype\(s\) \{'w': 'int8'\}"),
        ({"dtypes": {"w": "float32", "b": "float32"}}, "no dtype recorded for array scaling_mean"),
        (
            {"dtypes": {"w": "float32", "b": "float32", "extra": "float32"}},
            r"missing array\(s\) extra",
        ),
        ({"classes": ["a"]}, "classes must be"),
        ({"classes": ["a", "a"]}, "classes must be"),
        ({"classes": [[1], 2]}, "classes must be"),
        ({"categories": {"c": "x"}}, "map columns to lists"),
        ({"categories": {"c": ["x"]}}, "categories of 'c' lack features c=x"),
        ({"solver_options": {"l2": [1]}}, "solver_options must map str to JSON scalars"),
        ({"jaxsig_format": 0}, "jaxsig_format must be a positive int"),
        ({"jaxsig_format": "1"}, "jaxsig_format must be a positive int"),
        ({"target": 3}, "'target' has the wrong type"),
        ({"feature_names": KeyError, "dtypes": KeyError}, "metadata lacks dtypes, feature_names"),
    ],
)
def test_refuses_wrong_metadata(tmp_path, change, message):
    path = tmp_path / "bad.npz"
    np.savez(path, **with_metadata(arrays_of(model(), tmp_path), **change))
    refused(path, message)


def test_refuses_pickled_metadata(tmp_path):
    path = tmp_path / "pickled.npz"
    arrays = arrays_of(model(), tmp_path)
    arrays["jaxsig_metadata"] = np.array({"jaxsig_format": 1}, dtype=object)
    np.savez(path, **arrays)
    refused(path, "corrupt or truncated model file: it holds pickled objects, which jaxsig never")
    with pytest.raises(io.ModelFileError) as refusal:
        io.load(path)
    assert "allow_pickle" not in str(refusal.value)


# -- saving -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"params": jaxsig.Params(jnp.ones((2, 2)), jnp.zeros(2))}, "single-output"),
        ({"params": jaxsig.Params(jnp.array([1.0, jnp.nan, 0.0]), jnp.array(0.0))}, "NaN"),
        ({"feature_names": ("a", "b")}, "feature_names must be 3 strings"),
        ({"threshold": 2.0}, "threshold"),
        ({"solver_options": {"f": [1, 2]}}, "JSON scalars"),
    ],
)
def test_an_invalid_model_is_refused_and_the_old_file_kept(tmp_path, changes, message):
    path = tmp_path / "m.npz"
    io.save(path, model())
    before = path.read_bytes()
    with pytest.raises(ValueError, match=message):
        io.save(path, model(**changes))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_a_failure_while_writing_leaves_no_half_written_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    io.save(path, model())
    before = path.read_bytes()
    real_savez = np.savez

    def failing_savez(f, **arrays):
        real_savez(f, **arrays)
        f.truncate(f.tell() // 2)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.np, "savez", failing_savez)
    with pytest.raises(OSError, match="No space left"):
        io.save(path, model(threshold=0.9))
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_writes_exactly_the_given_name(tmp_path):
    io.save(tmp_path / "model", model())
    assert os.listdir(tmp_path) == ["model"]
    assert io.load(tmp_path / "model").feature_names == ("x0", "x1", "x2")


# -- prediction -------------------------------------------------------------------------------


def test_predict_is_scaling_then_sigmoid_and_maps_classes(tmp_path):
    saved = model()
    io.save(tmp_path / "m.npz", saved)
    loaded = io.load(tmp_path / "m.npz")
    X = np.random.default_rng(2).normal(size=(40, 3)).astype(np.float32)
    mean, scale = (np.asarray(a, np.float64) for a in saved.scaling)
    z = ((X - mean) / scale) @ np.asarray(saved.params.w, np.float64) + float(saved.params.b)
    expected = 1 / (1 + np.exp(-z))
    p = io.predict_proba(loaded, X)
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, expected, rtol=1e-5)
    labels = io.predict(loaded, X)
    assert labels.tolist() == np.where(np.asarray(p) > 0.3, "spam", "ham").tolist()
    assert {"ham", "spam"} == set(labels.tolist())  # the threshold splits this sample


def test_predict_without_scaling_or_classes_gives_0_1():
    saved = model(scaling=None, classes=())
    X = np.eye(3, dtype=np.float32)
    np.testing.assert_array_equal(
        io.predict_proba(saved, X), jaxsig.sigmoid(X @ saved.params.w + saved.params.b)
    )
    hard = io.predict(saved, X)
    assert hard.dtype == np.int32
    assert hard.tolist() == (np.asarray(io.predict_proba(saved, X)) > 0.3).astype(int).tolist()


def test_predict_with_number_classes():
    saved = model(classes=(-1, 1), threshold=0.0)
    labels = io.predict(saved, np.ones((2, 3), np.float32))
    assert labels.tolist() == [1, 1] and labels.dtype.kind == "i"


def test_feature_count_mismatch_names_both_counts():
    with pytest.raises(
        DataError, match=r"X has 2 feature\(s\) but the model expects 3 \(x0, x1, x2\)"
    ):
        io.predict_proba(model(), np.ones((4, 2)))
    with pytest.raises(ValueError, match="must be 2-D"):
        io.predict(model(), np.ones(3))


def test_bfloat16_is_stored_exactly_as_float32(tmp_path):
    saved = model(ml_dtypes.bfloat16)
    io.save(tmp_path / "m.npz", saved)
    with np.load(tmp_path / "m.npz") as stored:
        assert stored["w"].dtype == np.float32
        np.testing.assert_array_equal(stored["w"], np.asarray(saved.params.w, np.float32))

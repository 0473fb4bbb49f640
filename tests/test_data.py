"""data: standardisation against NumPy, the split, labels, and the CSV / LIBSVM / NPZ readers."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from support import FULL_DTYPES, dtype_param

from jaxsig import data
from jaxsig.data import DataError


def write(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- standardisation -------------------------------------------------------------------------


def numpy_standardization(X, w=None):
    w = np.ones(X.shape[0]) if w is None else np.asarray(w, np.float64)
    mean = np.average(X, axis=0, weights=w)
    std = np.sqrt(np.average((X - mean) ** 2, axis=0, weights=w))
    return mean, std


@dtype_param(FULL_DTYPES)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("jit", [False, True])
def test_standardization_matches_numpy(dtype, weighted, jit):
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, [1.0, 10.0, 0.01], size=(50, 3)).astype(dtype)
    w = rng.uniform(0, 2, 50) if weighted else None
    mean, std = numpy_standardization(X.astype(np.float64), w)
    fit = jax.jit(data.fit_standardization) if jit else data.fit_standardization
    apply = jax.jit(data.standardize) if jit else data.standardize
    stats = fit(jnp.asarray(X), sample_weight=w)
    assert stats.mean.dtype == stats.scale.dtype == dtype
    rtol = 1e-5 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(stats.mean, mean, rtol=rtol)
    np.testing.assert_allclose(stats.scale, std, rtol=rtol)
    Z = apply(stats, jnp.asarray(X))
    assert Z.dtype == dtype
    Z = np.asarray(Z, np.float64)
    # an error of a few ulps of |x| becomes |x| / std ulps of z: the third column is ill-conditioned
    atol = 64 * np.finfo(dtype).eps * np.abs(X).max(axis=0) / std
    assert np.all(np.abs(Z - (X - mean) / std) <= atol)
    np.testing.assert_allclose(np.average(Z, axis=0, weights=w), 0, atol=atol.max())


def test_constant_columns_get_scale_one_and_standardize_to_zero():
    X = np.array([[0.1, 1.0], [0.1, 2.0], [0.1, 4.0]], np.float32)
    stats = data.fit_standardization(X)
    assert stats.scale[0] == 1 and stats.mean[0] == np.float32(0.1)
    assert np.all(data.standardize(stats, X)[:, 0] == 0)


def test_constant_among_weighted_rows_ignores_zero_weight_rows():
    X = np.array([[0.3], [0.3], [7.0]], np.float32)
    stats = data.fit_standardization(X, sample_weight=np.array([1.0, 2.0, 0.0]))
    assert stats.scale[0] == 1 and stats.mean[0] == np.float32(0.3)


def test_integer_features_become_the_default_float():
    stats = data.fit_standardization(np.array([[1, 2], [3, 2]]))
    assert stats.mean.dtype == jnp.result_type(float)
    np.testing.assert_array_equal(stats.mean, [2, 2])
    np.testing.assert_array_equal(stats.scale, [1, 1])


@pytest.mark.parametrize("size", [1e30, 1e-30])
def test_standardization_of_huge_and_tiny_columns_in_float32(size):
    """The squares of 1e30 overflow float32 (and those of 1e-30 underflow): the moments are
    taken of the column scaled by a power of two."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2)) * np.array([size, 1.0])
    stats = data.fit_standardization(X.astype(np.float32))
    np.testing.assert_allclose(stats.mean, X.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(stats.scale, X.std(axis=0), rtol=1e-5)
    scaled = np.asarray(data.standardize(stats, X.astype(np.float32)))
    np.testing.assert_allclose(scaled, (X - X.mean(0)) / X.std(0), rtol=1e-4, atol=1e-5)


def test_standardization_near_the_largest_float32():
    X = np.array([[2e38], [1e38], [-1e38]], np.float32)
    stats = data.fit_standardization(X)
    np.testing.assert_allclose(stats.mean, X.astype(np.float64).mean(0), rtol=1e-6)
    np.testing.assert_allclose(stats.scale, X.astype(np.float64).std(0), rtol=1e-6)


def test_standardization_shape_errors():
    with pytest.raises(ValueError, match="2-D"):
        data.fit_standardization(np.ones(3))
    with pytest.raises(ValueError, match=r"sample_weight must have shape \(3,\)"):
        data.fit_standardization(np.ones((3, 2)), sample_weight=np.ones(2))
    stats = data.fit_standardization(np.ones((3, 2)))
    with pytest.raises(ValueError, match="3 features but the standardization has 2"):
        data.standardize(stats, np.ones((3, 3)))


# -- split ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stratify", [True, False])
def test_split_is_disjoint_complete_and_deterministic(stratify):
    y = np.array([0] * 30 + [1] * 10)
    train, test = data.train_test_split(jax.random.key(3), y, stratify=stratify)
    assert train.dtype == test.dtype == np.int64
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(40))
    assert test.size == 10
    again = data.train_test_split(jax.random.key(3), y, stratify=stratify)
    np.testing.assert_array_equal(again[0], train)
    np.testing.assert_array_equal(again[1], test)
    other = data.train_test_split(jax.random.key(4), y, stratify=stratify)
    assert not np.array_equal(other[1], test)


@pytest.mark.parametrize("test_size", [0.1, 0.25, 0.5, 0.8])
def test_stratified_split_keeps_each_class_in_proportion(test_size):
    y = np.array(["a"] * 37 + ["b"] * 11 + ["c"] * 3)
    train, test = data.train_test_split(jax.random.key(0), y, test_size=test_size)
    assert abs(test.size - test_size * 51) <= 1
    for label, count in (("a", 37), ("b", 11), ("c", 3)):
        in_test = np.sum(y[test] == label)
        assert 1 <= in_test <= count - 1
        assert abs(in_test - test.size * count / 51) < 1 or in_test in (1, count - 1)
        assert np.sum(y[train] == label) == count - in_test


def test_stratified_split_puts_every_class_on_both_sides_when_possible():
    y = np.array([1, 1] + [0] * 98)  # 2% positives: 0.25 * 2 rounds to 1 test row
    train, test = data.train_test_split(jax.random.key(0), y, test_size=0.1)
    assert y[test].sum() == 1 and y[train].sum() == 1


def test_a_single_row_class_goes_to_training():
    y = np.array([0, 0, 0, 0, 1])
    train, test = data.train_test_split(jax.random.key(0), y)
    assert 4 in train and y[test].tolist() == [0]


def test_split_errors():
    with pytest.raises(DataError, match="each class has one row"):
        data.train_test_split(jax.random.key(0), np.array([0, 1, 2]))
    assert data.train_test_split(jax.random.key(0), np.array([0, 1]), stratify=False)[1].size == 1
    with pytest.raises(DataError, match=r"cannot split 1 row\(s\)"):
        data.train_test_split(jax.random.key(0), np.array([1]), stratify=False)
    with pytest.raises(ValueError, match=r"fraction in \(0, 1\)"):
        data.train_test_split(jax.random.key(0), np.array([0, 1, 0, 1]), test_size=1.0)
    with pytest.raises(ValueError, match="1-D"):
        data.train_test_split(jax.random.key(0), np.zeros((4, 1)))


# -- labels -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "classes", "y"),
    [
        (["spam", "ham", "spam"], ("ham", "spam"), [1, 0, 1]),
        (["1", "0", "0"], (0, 1), [1, 0, 0]),
        (["-1", "1"], (-1, 1), [0, 1]),
        (["2.5", "1"], (1.0, 2.5), [1, 0]),
        (np.array([3, 7, 7]), (3, 7), [0, 1, 1]),
        (np.array([True, False]), (False, True), [1, 0]),
        (np.array([0.0, 1.0]), (0.0, 1.0), [0, 1]),
    ],
)
def test_encode_labels(values, classes, y):
    encoded, found = data.encode_labels(values)
    assert found == classes
    assert [type(c) for c in found] == [type(c) for c in classes]
    assert encoded.dtype == np.float64 and encoded.tolist() == y


def test_encode_labels_with_given_classes():
    y, classes = data.encode_labels(["yes", "yes"], classes=("no", "yes"))
    assert y.tolist() == [1, 1] and classes == ("no", "yes")
    with pytest.raises(DataError, match=r"label 2: label 'maybe' is not one of.*\('no', 'yes'\)"):
        data.encode_labels(["yes", "no", "maybe"], classes=("no", "yes"))
    with pytest.raises(DataError, match="two label values"):
        data.encode_labels(["a"], classes=("a",))


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["a", "a"], r"one class only \('a'\)"),
        (["a", "b", "c"], r"3 classes \('a', 'b', 'c'\)"),
        ([], "no labels"),
        (np.array([0.0, np.nan]), "NaN or infinite"),
        (np.zeros((2, 2)), "1-D"),
    ],
)
def test_encode_labels_refuses(values, message):
    with pytest.raises(DataError, match=message):
        data.encode_labels(values)


# -- CSV --------------------------------------------------------------------------------------


def test_csv_numeric_with_string_target(tmp_path):
    path = write(tmp_path, "a,b,label\n1,2.5,spam\n-3,4e-1,ham\n0.5, 7 ,spam\n")
    ds = data.read_csv(path, target="label")
    np.testing.assert_array_equal(ds.X, [[1, 2.5], [-3, 0.4], [0.5, 7]])
    assert ds.X.dtype == np.float64
    assert ds.y.tolist() == [1, 0, 1]
    assert ds.feature_names == ("a", "b")
    assert (ds.target, ds.classes, ds.categories) == ("label", ("ham", "spam"), {})


@pytest.mark.parametrize("target", [0, "0"])
def test_csv_target_by_index_with_number_labels(tmp_path, target):
    path = write(tmp_path, "y,x\n1,0.5\n0,1.5\n1,2.5\n")
    ds = data.read_csv(path, target=target)
    assert ds.classes == (0, 1) and isinstance(ds.classes[0], int)
    assert ds.y.tolist() == [1, 0, 1] and ds.target == "y"
    np.testing.assert_array_equal(ds.X, [[0.5], [1.5], [2.5]])


def test_csv_a_column_named_like_a_number_is_found_by_name(tmp_path):
    path = write(tmp_path, "x,1\n5,a\n6,b\n")
    assert data.read_csv(path, target="1").target == "1"


def test_csv_categorical_one_hot_in_column_order(tmp_path):
    text = 'size,color,w,y\n1,red,2,a\n2,"blue",3,b\n3,green,4,a\n4,red,5,b\n'
    ds = data.read_csv(write(tmp_path, text), target="y")
    assert ds.feature_names == ("size", "color=blue", "color=green", "color=red", "w")
    assert ds.categories == {"color": ("blue", "green", "red")}
    np.testing.assert_array_equal(
        ds.X, [[1, 0, 0, 1, 2], [2, 1, 0, 0, 3], [3, 0, 1, 0, 4], [4, 0, 0, 1, 5]]
    )


def test_csv_a_column_of_text_is_categorical(tmp_path):
    ds = data.read_csv(write(tmp_path, "code\nb\na\nb\n"))
    assert ds.feature_names == ("code=a", "code=b")
    assert ds.y is None and ds.target is None and ds.classes == ()


def test_csv_with_a_models_encoding(tmp_path):
    train = data.read_csv(
        write(tmp_path, "n,c,y\n1,x,no\n2,y,yes\n3,z,no\n", "train.csv"), target="y"
    )
    path = write(tmp_path, "n,c,y\n5,z,yes\n6,z,yes\n", "new.csv")
    ds = data.read_csv(path, target="y", categories=train.categories, classes=train.classes)
    assert ds.feature_names == train.feature_names
    np.testing.assert_array_equal(ds.X, [[5, 0, 0, 1], [6, 0, 0, 1]])
    assert ds.y.tolist() == [1, 1] and ds.classes == ("no", "yes")
    # a categorical column whose new values all look like numbers stays categorical
    ds = data.read_csv(write(tmp_path, "c\n2\n", "digits.csv"), categories={"c": ("1", "2")})
    np.testing.assert_array_equal(ds.X, [[0, 1]])


def test_csv_target_optional(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n")
    ds = data.read_csv(path, target="y", optional_target=True)
    assert ds.y is None and ds.feature_names == ("a", "b")
    labelled = write(tmp_path, "a,y\n1,no\n", "l.csv")
    ds = data.read_csv(labelled, target="y", classes=("no", "yes"), optional_target=True)
    assert ds.y.tolist() == [0] and ds.feature_names == ("a",)


def test_csv_tsv_bom_blank_lines_and_quoted_newlines(tmp_path):
    path = tmp_path / "d.tsv"
    path.write_bytes('\ufeffa\tb\n1\t"x\ny"\n\n2\tz\n'.encode())
    ds = data.read(path)
    assert ds.feature_names == ("a", "b=x\ny", "b=z")
    np.testing.assert_array_equal(ds.X, [[1, 1, 0], [2, 0, 1]])


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("", {}, r"data\.csv: the file is empty"),
        ("a,b\n", {}, "a header but no data rows"),
        ("a,b\n1,2\n3\n", {}, r"line 3: 1 field\(s\), but the header has 2"),
        ("a,b\n1,2,3\n", {}, r"line 2: 3 field\(s\)"),
        ("a,b\n1,2\n\n3,\n", {}, r"line 4, column 'b': missing value ''"),
        ("a,b\n1,nan\n", {}, r"line 2, column 'b': missing value 'nan'"),
        ("a,b\n1,2\nNaN,3\n", {}, r"line 3, column 'a': missing value 'NaN'"),
        ("a,b\n1,-inf\n", {}, "missing value '-inf'"),
        ("a,y\n1,inf\n", {"target": "y"}, r"column 'y': missing value 'inf'"),
        ("a,,b\n1,2,3\n", {}, "line 1: column 1 has no name"),
        ("a,b,a\n1,2,3\n", {}, "column name 'a' appears twice"),
        ("a,b\n1,2\n", {"target": "c"}, r"no target column 'c'; the columns are a, b"),
        ("a,b\n1,2\n", {"target": 2}, "an index from 0 to 1"),
        ("a,b\n1,x\n2,x\n", {"target": "b"}, r"column 'b': the target holds one class only"),
        ("a,b\n1,x\n2,y\n3,z\n", {"target": 1}, "the target holds 3 classes"),
        ("y\n1\n0\n", {"target": "y"}, "no feature columns"),
        ('a\n"1\n', {}, "line 2: unexpected end of data"),
        (
            "a,y\n1,no\n2,maybe\n",
            {"target": "y", "classes": ("no", "yes")},
            r"data\.csv, line 3, column 'y': label 'maybe' is not one of the model's classes",
        ),
        (
            "a,c\n1,x\n2,w\n",
            {"categories": {"c": ("x", "y")}},
            r"line 3, column 'c': category 'w' was not seen in training \(known: x, y\)",
        ),
        ("a\n1\n", {"categories": {"c": ("x",)}}, r"expects column\(s\) c, absent"),
        (
            "a,b\n1,2\nNA,3\n4,5\n",
            {},
            r"line 3, column 'a': 'NA' in a column of numbers \(2 of 3 cells are numbers\); "
            "impute or drop missing values first",
        ),
        (
            "a,b\n1,2\n3,oops\n",
            {"categories": {}},
            r"line 3, column 'b': 'oops' is not a number, and the model has this column numeric",
        ),
    ],
)
def test_csv_refusals_name_the_file_line_and_column(tmp_path, text, kwargs, message):
    with pytest.raises(DataError, match=message) as info:
        data.read_csv(write(tmp_path, text), **kwargs)
    assert str(info.value).count("data.csv") == 1


def test_csv_missing_unreadable_and_not_utf8(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        data.read_csv(tmp_path / "nope.csv")
    with pytest.raises(DataError, match="cannot read"):
        data.read_csv(tmp_path)  # a folder
    path = tmp_path / "latin1.csv"
    path.write_bytes("a\n\xe9\n".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        data.read_csv(path)


# -- LIBSVM -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("labels", "classes"), [([-1, 1], (-1, 1)), ([0, 1], (0, 1))])
@pytest.mark.parametrize("zero_based", [True, False])
def test_libsvm_round_trip_through_sklearn(tmp_path, labels, classes, zero_based):
    from sklearn.datasets import dump_svmlight_file

    rng = np.random.default_rng(1)
    X = rng.normal(size=(20, 4)) * (rng.uniform(size=(20, 4)) < 0.5)
    X[:, 3] = 0.0  # an all-zero last column: absent from the file
    X[0, 2] = 1.5
    y01 = np.arange(20) % 2
    path = tmp_path / "d.svm"
    dump_svmlight_file(X, np.array(labels)[y01], str(path), zero_based=zero_based)
    ds = data.read_libsvm(path, n_features=4)
    np.testing.assert_allclose(ds.X, X, rtol=1e-15)
    assert ds.y.tolist() == y01.tolist()
    assert ds.classes == classes and all(type(c) is int for c in ds.classes)
    assert ds.feature_names == ("f0", "f1", "f2", "f3")
    assert data.read(path).X.shape == (20, 3)  # without n_features the zero column is absent


def test_libsvm_refusals(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        data.read_libsvm(tmp_path / "none.svm")
    with pytest.raises(DataError, match="not a LIBSVM file"):
        data.read_libsvm(write(tmp_path, "1 a:b\n", "bad.svm"))
    with pytest.raises(DataError, match="3 classes"):
        data.read_libsvm(write(tmp_path, "1 1:1\n2 1:2\n3 1:3\n", "multi.svm"))
    with pytest.raises(DataError, match=r"line 2: label -1 is not one of"):
        data.read_libsvm(write(tmp_path, "1 1:1\n-1 1:2\n", "new.svm"), classes=(0, 1))
    with pytest.raises(DataError, match=r"row 1, feature f0: value nan"):
        data.read_libsvm(write(tmp_path, "1 1:nan\n0 1:2\n", "nan.svm"))


def test_libsvm_without_sklearn_names_the_extra(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "sklearn.datasets", None)
    with pytest.raises(DataError, match=r"jaxsig\[sklearn\]"):
        data.read_libsvm(write(tmp_path, "1 1:1\n", "d.svm"))


# -- NPZ --------------------------------------------------------------------------------------


def test_npz_with_names_and_labels(tmp_path):
    path = tmp_path / "d.npz"
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    np.savez(path, X=X, y=np.array(["b", "a", "b"]), feature_names=np.array(["p", "q"]))
    ds = data.read(path)
    assert ds.X.dtype == np.float32
    np.testing.assert_array_equal(ds.X, X)
    assert ds.y.tolist() == [1, 0, 1] and ds.classes == ("a", "b")
    assert ds.feature_names == ("p", "q") and ds.target == "y"


def test_npz_features_only_and_integer_X(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, X=np.array([[1, 2]]), label=np.array([1]))
    ds = data.read_npz(path, target=None)
    assert ds.X.dtype == np.float64 and ds.feature_names == ("f0", "f1") and ds.y is None
    assert data.read(path, optional_target=True).y is None
    ds = data.read(path, target="label", classes=(0, 1))
    assert ds.y.tolist() == [1.0]


@pytest.mark.parametrize(
    ("arrays", "kwargs", "message"),
    [
        ({"Z": np.ones((2, 2))}, {}, r"no array named 'X' \(the file holds Z\)"),
        ({"X": np.ones(3)}, {}, "non-empty 2-D numeric"),
        ({"X": np.array([["a"]])}, {}, "non-empty 2-D numeric"),
        ({"X": np.array([[1.0, np.inf]])}, {}, r"X\[0, 1\] is inf"),
        ({"X": np.ones((2, 1))}, {}, r"no label array 'y' \(the file holds X\)"),
        ({"X": np.ones((2, 1)), "y": np.ones(3)}, {}, r"y must have shape \(2,\)"),
        ({"X": np.ones((2, 1)), "y": np.ones(2)}, {}, "one class only"),
        ({"X": np.ones((2, 2)), "feature_names": np.array(["a", "a"])}, {}, "2 distinct"),
    ],
)
def test_npz_refusals(tmp_path, arrays, kwargs, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=message):
        data.read_npz(path, **kwargs)


def test_npz_not_an_archive_or_pickled(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"\x00junk" * 10)
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        data.read_npz(path)
    np.savez(path, X=np.ones((100, 3)))
    path.write_bytes(path.read_bytes()[:1000])  # truncated: no zip directory
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        data.read_npz(path)
    np.save(tmp_path / "one.npy", np.ones(2))
    with pytest.raises(DataError, match=r"one \.npy array"):
        data.read_npz(tmp_path / "one.npy")
    np.savez(path, X=np.array([[object()]], dtype=object))
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        data.read_npz(path)
    with pytest.raises(DataError, match="no such file"):
        data.read_npz(tmp_path / "none.npz")


def test_read_refuses_unknown_extensions(tmp_path):
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'; expected .csv"):
        data.read(tmp_path / "book.xlsx")

"""Data helpers: standardisation, a stratified split, labels, and readers for CSV, LIBSVM, NPZ.

Standardisation is a pure, jit-able pair of functions; its statistics are what a model file
keeps so that prediction scales new data the same way. The readers return a `Dataset` of NumPy
arrays and refuse bad input with a `DataError` that names the file, the line and the column.
"""

from __future__ import annotations

import csv
import math
import os
import zipfile
from collections.abc import Callable, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax.typing import ArrayLike


class DataError(ValueError):
    """Bad input data: a file that cannot be read, or values that cannot be encoded."""


# -- standardisation ------------------------------------------------------------------------


class Standardization(NamedTuple):
    """Column statistics: ``standardize`` maps ``x`` to ``(x - mean) / scale``.

    ``scale`` is the (weighted, population) standard deviation, and 1 where a column is constant.
    """

    mean: jax.Array
    scale: jax.Array


def _float_features(X: ArrayLike) -> jax.Array:
    X = jnp.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (n_samples, n_features), got shape {X.shape}")
    if not jnp.issubdtype(X.dtype, jnp.floating):
        X = X.astype(jnp.result_type(float))
    return X


def fit_standardization(X: ArrayLike, *, sample_weight: ArrayLike | None = None) -> Standardization:
    """Weighted column means and standard deviations of ``X`` (n, d); pure and jit-able.

    .. math:: \\mu_j = \\sum_i v_i x_{ij} / \\sum_i v_i, \\quad
              \\sigma_j = \\sqrt{\\sum_i v_i (x_{ij} - \\mu_j)^2 / \\sum_i v_i}

    with ``v = sample_weight`` (ones by default; the sum must be positive). A column that is
    constant over the rows of positive weight gets ``mean`` equal to that constant and ``scale``
    1, so it standardizes to exactly 0. The statistics have ``X``'s floating dtype (integers
    give JAX's default float); half precision is accumulated in float32. Each column is scaled
    by a power of two near its largest magnitude before the moments are taken (exactly), so no
    finite column overflows.

    >>> import jax.numpy as jnp
    >>> stats = fit_standardization(jnp.array([[1.0, 5.0], [3.0, 5.0]]))
    >>> print(stats.mean, stats.scale)
    [2. 5.] [1. 1.]
    >>> print(standardize(stats, jnp.array([[3.0, 5.0]])))
    [[1. 0.]]
    """
    X = _float_features(X)
    work = X.astype(jnp.promote_types(X.dtype, jnp.float32))
    if sample_weight is None:
        v = jnp.ones(X.shape[0], work.dtype)
    else:
        v = jnp.asarray(sample_weight)
        if v.shape != (X.shape[0],):
            raise ValueError(
                f"sample_weight must have shape ({X.shape[0]},) to match X {X.shape}, got {v.shape}"
            )
        v = v.astype(work.dtype)
    total = jnp.sum(v)
    used = (v > 0)[:, None]
    high = jnp.max(jnp.where(used, work, -jnp.inf), axis=0)
    low = jnp.min(jnp.where(used, work, jnp.inf), axis=0)
    # Each column divided by a power of two near its largest magnitude first (exactly: the same
    # roundings): squares of large features (1e30 in float32) would overflow, scaled ones cannot.
    # The power and its reciprocal stay normal (XLA divides by multiplying by the reciprocal).
    magnitude = jnp.maximum(jnp.abs(high), jnp.abs(low))
    info = jnp.finfo(work.dtype)
    exponent = jnp.clip(jnp.frexp(magnitude)[1] - 2, info.minexp + 1, info.maxexp - 2)
    power = jnp.ldexp(jnp.ones_like(magnitude), exponent)
    unit = jnp.where((magnitude > 0) & jnp.isfinite(magnitude), power, 1)
    scaled = work / unit
    mean = v @ scaled / total
    var = v @ jnp.square(scaled - mean) / total
    constant = high == low
    mean = jnp.where(constant, high, mean * unit)
    scale = jnp.where(constant, 1, jnp.sqrt(var) * unit)
    return Standardization(mean.astype(X.dtype), scale.astype(X.dtype))


def standardize(stats: Standardization, X: ArrayLike) -> jax.Array:
    """``(X - mean) / scale`` in ``X``'s floating dtype; pure and jit-able."""
    X = _float_features(X)
    if X.shape[1:] != jnp.shape(stats.mean):
        raise ValueError(
            f"X has {X.shape[1]} features but the standardization has {jnp.shape(stats.mean)[0]}"
        )
    return (X - stats.mean.astype(X.dtype)) / stats.scale.astype(X.dtype)


# -- split ----------------------------------------------------------------------------------


def train_test_split(
    key: jax.Array, y: ArrayLike, *, test_size: float = 0.25, stratify: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of a random train/test split, the same for the same ``key``.

    ``round(test_size * n)`` of the ``n`` rows go to the test side (at least one, at most
    ``n - 1``). Stratified (the default), they are shared among the classes of ``y`` in
    proportion to the classes' sizes (largest remainders), so the class proportions are kept,
    and every class with two rows or more has at least one row on each side; a class of one
    row goes to training. ``y`` may hold any labels (strings too).

    Returns:
        ``(train_index, test_index)``: sorted int64 NumPy arrays, disjoint, covering all rows.

    Raises:
        DataError: when a side would be empty (too few rows).

    >>> import jax, numpy as np
    >>> train, test = train_test_split(jax.random.key(0), np.array([0, 0, 0, 0, 1, 1, 1, 1]))
    >>> len(train), len(test)
    (6, 2)
    """
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {y.shape}")
    n = y.shape[0]
    if n < 2:
        raise DataError(f"cannot split {n} row(s) into two non-empty sets")
    order = np.asarray(jax.random.permutation(key, n))
    n_test = min(max(math.floor(test_size * n + 0.5), 1), n - 1)
    groups = [order[y[order] == c] for c in np.unique(y)] if stratify else [order]
    counts = np.array([rows.size for rows in groups])
    ideal = n_test * counts / n
    take = np.floor(ideal).astype(np.int64)
    take[np.argsort(take - ideal, kind="stable")[: n_test - take.sum()]] += 1
    take = np.clip(take, np.minimum(1, counts - 1), counts - 1)
    test = np.sort(np.concatenate([rows[:k] for rows, k in zip(groups, take, strict=True)]))
    if test.size == 0:
        raise DataError(
            f"cannot split {n} rows with every class on the training side and a test row: "
            "each class has one row"
        )
    return np.setdiff1d(np.arange(n), test).astype(np.int64), test.astype(np.int64)


# -- labels ---------------------------------------------------------------------------------


def _label_array(values) -> np.ndarray:
    """Labels as a 1-D array of numbers or strings; text that reads as numbers becomes numbers
    (ints when every label is an integer), as a CSV column of ``0``/``1`` should."""
    labels = np.asarray(values)
    if labels.ndim != 1:
        raise DataError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.dtype.kind in "OSU":
        text = [str(v) for v in labels.tolist()]
        for parse in (int, float):
            try:
                labels = np.array([parse(v) for v in text])
                break
            except (ValueError, OverflowError):
                continue
        else:
            labels = np.array(text, dtype=str)
    if labels.dtype.kind not in "biufU":
        raise DataError(f"labels must be numbers or strings, got dtype {labels.dtype}")
    if labels.dtype.kind == "f" and not np.all(np.isfinite(labels)):
        raise DataError("labels contain NaN or infinite values")
    return labels


def _encode(
    labels: np.ndarray, classes: Sequence | None, where: Callable[[int | None], str]
) -> tuple[np.ndarray, tuple]:
    """0/1 labels and the classes; errors start with ``where(row)`` for one row's label, and
    ``where(None)`` (when not empty) for the labels as a whole."""
    whole = where(None)
    whole = f"{whole}: " if whole else ""
    if labels.size == 0:
        raise DataError(f"{whole}there are no labels")
    if classes is None:
        classes = tuple(v.item() for v in np.unique(labels))
        if len(classes) != 2:
            shown = ", ".join(repr(c) for c in classes[:10]) + (", ..." * (len(classes) > 10))
            kind = "one class only" if len(classes) == 1 else f"{len(classes)} classes"
            raise DataError(
                f"{whole}the target holds {kind} ({shown}); a logistic model needs exactly two"
            )
    else:
        classes = tuple(classes)
        if len(classes) != 2:
            raise DataError(f"classes must be two label values, got {classes!r}")
        known = np.isin(labels, np.array(classes))
        if not known.all():
            first = int(np.argmin(known))
            raise DataError(
                f"{where(first)}: label {labels[first].item()!r} is not one of the model's "
                f"classes {classes!r}"
            )
    return (labels == classes[1]).astype(np.float64), classes


def encode_labels(
    values: ArrayLike, *, classes: Sequence | None = None
) -> tuple[np.ndarray, tuple]:
    """Two-class labels of any type as 0/1 floats, and the two original values.

    Without ``classes`` the two distinct values, sorted, become 0 and 1; one value or more
    than two is a ``DataError``. Text that reads as numbers is taken as numbers (``"0"``/``"1"``
    give the classes ``(0, 1)``). With ``classes`` (e.g. a saved model's), labels map onto
    them, and a label outside them is a ``DataError``; one class alone is then allowed.

    >>> y, classes = encode_labels(["spam", "ham", "spam"])
    >>> y.tolist(), classes
    ([1.0, 0.0, 1.0], ('ham', 'spam'))
    >>> encode_labels(["1", "0"])[1]
    (0, 1)
    """
    return _encode(_label_array(values), classes, lambda i: "" if i is None else f"label {i}")


# -- datasets -------------------------------------------------------------------------------


class Dataset(NamedTuple):
    """Features, labels and how they were encoded.

    Attributes:
        X: float array (n, d).
        y: 0/1 float array (n,), or None without a target.
        feature_names: the d column names; one-hot columns are named ``"column=category"``.
        target: the target column's name, or None.
        classes: the two original label values, sorted (label 0 first); () without a target.
        categories: each one-hot encoded source column and its categories, in column order.
    """

    X: np.ndarray
    y: np.ndarray | None
    feature_names: tuple[str, ...]
    target: str | None
    classes: tuple
    categories: dict[str, tuple[str, ...]]


def _open_text(path: str, newline: str | None = None):
    try:
        return open(path, encoding="utf-8-sig", newline=newline)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def _numbers(path: str, name: str, cells: list[str], lines: list[int]) -> list[float | None]:
    """Each cell as a float, or None where it is text; a missing value (an empty cell, ``nan``,
    ``inf``) is refused."""
    values = []
    for cell, line in zip(cells, lines, strict=True):
        try:
            value = float(cell)
        except ValueError:
            value = None
        if not cell or (value is not None and not math.isfinite(value)):
            raise DataError(
                f"{path}, line {line}, column {name!r}: missing value {cell!r}; "
                "impute or drop missing values first"
            )
        values.append(value)
    return values


def _refuse_mixed(
    path: str, name: str, cells: list[str], values: list[float | None], lines: list[int]
) -> None:
    """A column of numbers with some text (``NA``, ``?``) is missing values, not categories."""
    numbers = sum(value is not None for value in values)
    if 0 < numbers < len(values):
        text = values.index(None)
        raise DataError(
            f"{path}, line {lines[text]}, column {name!r}: {cells[text]!r} in a column of "
            f"numbers ({numbers} of {len(values)} cells are numbers); impute or drop missing "
            "values first"
        )


def _read_rows(path: str, delimiter: str) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, stripped cells and each row's line number; blank lines are skipped."""
    with _open_text(path, newline="") as f:
        reader = csv.reader(f, delimiter=delimiter, strict=True)
        rows, lines = [], []
        try:
            header = next(reader, None)
            header_line = reader.line_num
            for row in reader:
                if row:
                    rows.append([cell.strip() for cell in row])
                    lines.append(reader.line_num)
        except csv.Error as e:
            raise DataError(f"{path}, line {reader.line_num}: {e}") from None
        except UnicodeDecodeError:
            raise DataError(f"{path}: not UTF-8 text") from None
    if header is None:
        raise DataError(f"{path}: the file is empty; expected a header row of column names")
    header = [name.strip() for name in header]
    for column, name in enumerate(header):
        if not name:
            raise DataError(f"{path}, line {header_line}: column {column} has no name")
        if header.index(name) != column:
            raise DataError(f"{path}, line {header_line}: column name {name!r} appears twice")
    if not rows:
        raise DataError(f"{path}: a header but no data rows")
    for row, line in zip(rows, lines, strict=True):
        if len(row) != len(header):
            raise DataError(
                f"{path}, line {line}: {len(row)} field(s), but the header has {len(header)}"
            )
    return header, rows, lines


def _target_column(path: str, header: list[str], target: str | int) -> int:
    if isinstance(target, str) and target in header:
        return header.index(target)
    index = target if isinstance(target, int) else int(target) if target.isdigit() else None
    if index is None or not 0 <= index < len(header):
        raise DataError(
            f"{path}: no target column {target!r}; the columns are {', '.join(header)} "
            f"(give a name, or an index from 0 to {len(header) - 1})"
        )
    return index


def read_csv(
    path: str | os.PathLike[str],
    *,
    target: str | int | None = None,
    categories: dict[str, Sequence[str]] | None = None,
    classes: Sequence | None = None,
    optional_target: bool = False,
    delimiter: str = ",",
    labels: bool = True,
) -> Dataset:
    """Read a delimited text file with a header row (UTF-8, ``csv`` module quoting).

    Columns of numbers become float features, in file order. A column of text is categorical:
    one-hot encoded into one feature per category, sorted, named ``"column=category"``. A
    column of numbers with some text in it (``NA``, ``?``) is refused as holding missing values,
    and so are empty, ``nan`` and ``inf`` cells: impute missing values first. Cells are stripped
    of surrounding spaces.

    Args:
        path: the file.
        target: the label column, by name or 0-based index (an int or a digit string); None
            for a file of features only. Labels are encoded with `encode_labels`.
        categories: a saved model's encoding: these columns are one-hot encoded with exactly
            these categories (an unseen one is an error) and every other column must be numeric.
        classes: a saved model's classes, to map labels onto (see `encode_labels`).
        optional_target: when the target column is absent, read features only instead of
            refusing (for prediction on data with or without labels).
        labels: False leaves the target column out unread (``y`` None): prediction ignores
            labels, so their values cannot make it fail.
        delimiter: the field separator (``"\\t"`` for TSV).

    Raises:
        DataError: naming the file, and where it applies the line (1-based, as an editor counts)
            and the column: a missing or unreadable file, an empty file or a header without
            rows, an unnamed or repeated column, a row with the wrong number of fields, an
            empty or non-finite cell, an unknown target column, a target with one class or
            more than two, an unseen category or label, a missing or non-numeric column that
            the model expects.
    """
    path = os.fspath(path)
    header, rows, lines = _read_rows(path, delimiter)
    target_index = None
    if target is not None:
        try:
            target_index = _target_column(path, header, target)
        except DataError:
            if not optional_target:
                raise
    if categories is not None:
        absent = [column for column in categories if column not in header]
        if absent:
            raise DataError(f"{path}: the model expects column(s) {', '.join(absent)}, absent")
    features, names, encoded = [], [], {}
    for column, name in enumerate(header):
        if column == target_index and not labels:
            continue  # unread: an empty or odd label cannot fail a prediction
        cells = [row[column] for row in rows]
        values = _numbers(path, name, cells, lines)
        if column == target_index:
            continue
        if categories is None:
            _refuse_mixed(path, name, cells, values, lines)
            levels = tuple(sorted(set(cells))) if None in values else None
        else:
            levels = tuple(categories[name]) if name in categories else None
            if levels is None and None in values:
                text = values.index(None)
                raise DataError(
                    f"{path}, line {lines[text]}, column {name!r}: {cells[text]!r} is not a "
                    "number, and the model has this column numeric"
                )
        if levels is None:
            features.append(np.array(values, dtype=np.float64)[:, None])
            names.append(name)
            continue
        unseen = next((i for i, cell in enumerate(cells) if cell not in levels), None)
        if unseen is not None:
            raise DataError(
                f"{path}, line {lines[unseen]}, column {name!r}: category {cells[unseen]!r} "
                f"was not seen in training (known: {', '.join(levels)})"
            )
        features.append(np.array(cells)[:, None] == np.array(levels)[None, :])
        names.extend(f"{name}={level}" for level in levels)
        encoded[name] = levels
    if not names:
        raise DataError(f"{path}: no feature columns besides the target")
    X = np.concatenate(features, axis=1).astype(np.float64)
    if target_index is None:
        return Dataset(X, None, tuple(names), None, (), encoded)
    target_name = header[target_index]
    if not labels:
        return Dataset(X, None, tuple(names), target_name, (), encoded)
    values = _label_array([row[target_index] for row in rows])
    y, classes = _encode(
        values,
        classes,
        lambda i: (
            f"{path}, " + ("" if i is None else f"line {lines[i]}, ") + f"column {target_name!r}"
        ),
    )
    return Dataset(X, y, tuple(names), target_name, classes, encoded)


def _integral(labels: np.ndarray) -> np.ndarray:
    """LIBSVM labels are written as numbers; keep whole ones as ints (``-1``, not ``-1.0``)."""
    whole = labels.dtype.kind == "f" and np.all(labels == np.round(labels))
    return labels.astype(np.int64) if whole and np.all(np.abs(labels) < 2**53) else labels


def read_libsvm(
    path: str | os.PathLike[str],
    *,
    n_features: int | None = None,
    classes: Sequence | None = None,
    labels: bool = True,
) -> Dataset:
    """Read a LIBSVM / svmlight text file with scikit-learn's parser (the ``sklearn`` extra).

    The rows come back dense. Indexes may be 1-based (LIBSVM's convention) or 0-based, as
    ``sklearn.datasets.load_svmlight_file`` detects; feature ``j`` is named ``f"f{j}"`` after
    its column of ``X`` (``f0`` holds index 1 of a 1-based file). Give ``n_features`` (a model's)
    when a file may lack the last columns: sparse rows do not write zeros. Labels (e.g. -1/+1 or
    0/1) are encoded with `encode_labels`; whole numbers stay ints in ``classes``;
    ``labels=False`` leaves them unread (``y`` None).
    """
    path = os.fspath(path)
    try:
        from sklearn.datasets import load_svmlight_file
    except ImportError:
        raise DataError(
            f"{path}: reading LIBSVM files needs scikit-learn: pip install 'jaxsig[sklearn]'"
        ) from None
    try:
        with open(path, "rb") as f:
            X, values = load_svmlight_file(f, n_features=n_features)
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not a LIBSVM file: {e}") from None
    X = X.toarray()
    if X.shape[0] == 0:
        raise DataError(f"{path}: no data rows")
    if not np.all(np.isfinite(X)):
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{path}: row {row + 1}, feature f{column}: value {X[row, column]}")
    names = tuple(f"f{j}" for j in range(X.shape[1]))
    if not labels:
        return Dataset(X, None, names, None, (), {})
    y, classes = _encode(
        _integral(values), classes, lambda i: path if i is None else f"{path}, line {i + 1}"
    )
    return Dataset(X, y, names, None, classes, {})


def read_npz(
    path: str | os.PathLike[str],
    *,
    target: str | None = "y",
    classes: Sequence | None = None,
    optional_target: bool = False,
) -> Dataset:
    """Read arrays ``X`` (n, d) and the labels ``target`` from a NumPy ``.npz`` file.

    Loaded with ``allow_pickle=False``: object arrays are refused. An optional string array
    ``feature_names`` (d,) names the columns, else they are ``f0``, ``f1``, ... Labels are
    encoded with `encode_labels`; ``target=None`` reads features only, and so does
    ``optional_target=True`` when the file has no ``target`` array.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:  # np.load leaks the file it opens when the zip is bad
            stored = np.load(f, allow_pickle=False)
            if not isinstance(stored, np.lib.npyio.NpzFile):
                raise DataError(f"{path}: one .npy array, not an .npz of named arrays")
            arrays = {name: stored[name] for name in stored.files}
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except DataError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise DataError(f"{path}: not a readable .npz file: {e}") from None
    held = ", ".join(arrays) or "nothing"
    if "X" not in arrays:
        raise DataError(f"{path}: no array named 'X' (the file holds {held})")
    X = arrays["X"]
    if X.ndim != 2 or X.dtype.kind not in "biuf" or 0 in X.shape:
        raise DataError(f"{path}: X must be a non-empty 2-D numeric array, got {X.dtype} {X.shape}")
    if not np.all(np.isfinite(X)):
        row, column = np.argwhere(~np.isfinite(X))[0]
        raise DataError(f"{path}: X[{row}, {column}] is {X[row, column]}; impute it first")
    X = X if X.dtype.kind == "f" else X.astype(np.float64)
    names = arrays.get("feature_names")
    if names is None:
        names = tuple(f"f{j}" for j in range(X.shape[1]))
    elif names.shape != (X.shape[1],) or names.dtype.kind != "U" or len(set(names)) < names.size:
        raise DataError(
            f"{path}: feature_names must be {X.shape[1]} distinct strings, got {names.dtype} "
            f"{names.shape}"
        )
    else:
        names = tuple(str(name) for name in names)
    if target is None or (optional_target and target not in arrays):
        return Dataset(X, None, names, None, (), {})
    if target not in arrays:
        raise DataError(f"{path}: no label array {target!r} (the file holds {held})")
    labels = arrays[target]
    if labels.shape != (X.shape[0],):
        raise DataError(f"{path}: {target} must have shape ({X.shape[0]},), got {labels.shape}")
    y, classes = _encode(
        _label_array(labels), classes, lambda i: path if i is None else f"{path}: {target}[{i}]"
    )
    return Dataset(X, y, names, target, classes, {})


_LIBSVM_SUFFIXES = (".svm", ".libsvm", ".svmlight", ".txt")


def read(
    path: str | os.PathLike[str],
    *,
    target: str | int | None = None,
    categories: dict[str, Sequence[str]] | None = None,
    classes: Sequence | None = None,
    n_features: int | None = None,
    optional_target: bool = False,
    labels: bool = True,
) -> Dataset:
    """Read a data file by its extension: ``.csv``/``.tsv`` (`read_csv`), ``.svm``,
    ``.libsvm``, ``.svmlight``, ``.txt`` (`read_libsvm`: labels always in the file), ``.npz``
    (`read_npz`; ``target`` defaults to ``"y"``). Arguments that do not apply to the format
    are ignored, so one call serves a saved model's ``categories``, ``classes`` and feature
    count whatever the file. ``labels=False`` reads features only, leaving a target unread.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix in (".csv", ".tsv"):
        return read_csv(
            path,
            target=target,
            categories=categories,
            classes=classes,
            optional_target=optional_target,
            delimiter="\t" if suffix == ".tsv" else ",",
            labels=labels,
        )
    if suffix in _LIBSVM_SUFFIXES:
        return read_libsvm(path, n_features=n_features, classes=classes, labels=labels)
    if suffix == ".npz":
        name = None if not labels else "y" if target is None else str(target)
        return read_npz(path, target=name, classes=classes, optional_target=optional_target)
    raise DataError(
        f"{os.fspath(path)}: unknown file type {suffix or '(no extension)'!r}; expected .csv, "
        f".tsv, {', '.join(_LIBSVM_SUFFIXES)} or .npz"
    )

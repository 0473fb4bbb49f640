"""The commands behind ``jaxsig fit | predict | evaluate | sweep | plot`` (parser in `jaxsig.cli`).

Each command returns an `Outcome`: the text a person reads and the object ``--json`` prints.
Problems with the input raise ``ValueError`` (or ``OSError``), which `jaxsig.cli` turns into one
line on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

import jaxsig
from jaxsig import _budget, _degenerate, _summary, data, io, metrics
from jaxsig import _cli_format as fmt
from jaxsig._files import atomic_path

# One fit's default: Newton (a d x d solve per epoch) up to this many features, L-BFGS beyond;
# a sweep chooses by its estimated work instead (`_budget`).
NEWTON_MAX_FEATURES = 256
DEFAULT_EPOCHS = {"newton": 100, "lbfgs": 1000, "fista": 5000, "gd": 1000, "sgd": 100}
DEFAULT_TOL = 1e-6  # newton, lbfgs and fista; gd and sgd run a fixed number of epochs
DEFAULT_BATCH_SIZE = 32


class Outcome(NamedTuple):
    text: str  # for people; "" prints nothing
    data: dict  # for --json


def run(args: argparse.Namespace) -> int:
    """Runs the parsed command; warnings (a missed tolerance) go to stderr unless ``--quiet``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.simplefilter("ignore", DeprecationWarning)
        outcome = COMMANDS[args.command](args)
    if not args.quiet:
        for warning in caught:
            print(f"jaxsig: warning: {warning.message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(fmt.as_json(outcome.data))
    elif not args.quiet and outcome.text:
        print(outcome.text)
    return 0


@contextlib.contextmanager
def feature_names_in_warnings(names: Sequence[str]) -> Iterator[None]:
    """Re-issues the degenerate-data warnings raised inside with the columns' feature names
    (``feature 'colour=red' is``) where the library can only say ``X column 3 is``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for warning in caught:
        message = warning.message
        if isinstance(message, jaxsig.DegenerateDataWarning) and message.columns:
            columns = message.columns
            named = (
                f"feature{'s' * (len(columns) > 1)} {', '.join(repr(names[c]) for c in columns)}"
            )
            text = str(message).replace(_degenerate.named_columns(columns), named)
            message = jaxsig.DegenerateDataWarning(text, columns)
        warnings.warn_explicit(message, warning.category, warning.filename, warning.lineno)


def writable(path: str) -> None:
    """Checks an output path before any work: its folder exists and it is not a folder."""
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"cannot write {path}: it is a folder")
    if not os.path.isdir(folder):
        raise ValueError(f"cannot write {path}: no folder {folder}")


def parse_grid(spec: str) -> np.ndarray:
    """``"LO:HI:N"``: N log-spaced values from LO to HI; else a comma list of values >= 0.

    >>> parse_grid("1e-2:1e2:5").tolist(), parse_grid("0, 0.5").tolist()
    ([0.01, 0.1, 1.0, 10.0, 100.0], [0.0, 0.5])
    """
    problem = (
        f"bad grid {spec!r}: give LO:HI:N (N log-spaced values, 0 < LO <= HI, N >= 1) or a "
        "comma list of values >= 0"
    )
    try:
        if ":" in spec:
            low, high, count = spec.split(":")
            low, high, count = float(low), float(high), int(count)
            if not (0 < low <= high < np.inf and count >= 1):
                raise ValueError(problem)
            return np.geomspace(low, high, count)
        values = np.array([float(value) for value in spec.split(",")])
    except ValueError:
        raise ValueError(problem) from None
    if not (np.isfinite(values) & (values >= 0)).all():
        raise ValueError(problem)
    return values


def solver_options(
    args: argparse.Namespace, n_features: int, l1: bool, default: str | None = None
) -> dict:
    """`jaxsig.fit`'s solver, epochs, tol, learning_rate and batch_size from the options;
    ``default`` replaces the fit's default solver (a sweep chooses its own)."""
    if default is None:
        default = "fista" if l1 else "newton" if n_features <= NEWTON_MAX_FEATURES else "lbfgs"
    solver = args.solver or default
    if l1 and solver != "fista":
        raise ValueError(f"--l1-ratio > 0 needs --solver fista (l1 is not smooth), not {solver}")
    options = {"solver": solver, "epochs": args.epochs or DEFAULT_EPOCHS[solver]}
    if args.tol is not None or solver not in ("gd", "sgd"):
        options["tol"] = DEFAULT_TOL if args.tol is None else args.tol
    if args.lr is not None:
        options["learning_rate"] = args.lr
    if args.batch_size is not None or solver == "sgd":
        options["batch_size"] = args.batch_size or DEFAULT_BATCH_SIZE
    return options


def _progress(args: argparse.Namespace) -> bool:
    return not (args.quiet or args.json)


def _standardized(scaling: data.Standardization | None, X: np.ndarray):
    return X if scaling is None else data.standardize(scaling, X)


def fingerprint(X: np.ndarray, y: np.ndarray) -> str:
    """A digest of the training rows, so that a resumed fit is refused on other data."""
    digest = hashlib.sha256()
    for a in (X, y):
        a = np.ascontiguousarray(a)
        digest.update(f"{a.dtype}{a.shape}".encode())
        digest.update(a.tobytes())
    return digest.hexdigest()


def resumable(path: str, run: dict):
    """The state ``--checkpoint`` wrote to ``path`` and the history so far, once its recorded
    data and options are this run's."""
    checkpoint = io.load_state(path)
    recorded = {k: v for k, v in checkpoint.metadata.items() if k != "history"}
    differ = sorted(k for k in set(recorded) | set(run) if recorded.get(k) != run.get(k))
    if differ:
        what = "the training data" if differ == ["data"] else ", ".join(differ)
        raise ValueError(
            f"{path} continues another fit: {what} differ(s) from this run; resume with the "
            "data and options of the run that wrote it"
        )
    history = checkpoint.metadata.get("history", [])
    if not isinstance(history, list) or not all(isinstance(h, float | int) for h in history):
        raise ValueError(f"{path}: its history is not a list of numbers")
    return checkpoint, history


def saved_model(result, dataset, scaling, threshold: float, options: dict) -> io.SavedModel:
    """What `io.save` keeps of a fit: parameters, encoding, scaling and the objective per epoch
    run (a tolerance stop leaves NaN after the last); ``options`` gain the outcome."""
    iterations = int(result.iterations)
    return io.SavedModel(
        params=result.params,
        feature_names=dataset.feature_names,
        threshold=threshold,
        scaling=scaling,
        target=dataset.target,
        classes=dataset.classes,
        categories=dataset.categories,
        history=np.asarray(result.history)[:iterations],
        solver_options={
            **options,
            "iterations": iterations,
            "converged": bool(result.converged),
        },
    )


def training_data(args: argparse.Namespace) -> data.Dataset:
    dataset = data.read(args.data, target=args.target)
    if dataset.y is None:
        raise ValueError(f"{args.data}: name the label column with --target COLUMN")
    return dataset


def _report(
    model: io.SavedModel, X: np.ndarray, y: np.ndarray, proba: np.ndarray | None = None
) -> dict[str, float]:
    """The metrics of the model's probabilities on ``y``; a warning where one is undefined."""
    proba = io.predict_proba(model, X) if proba is None else proba
    classes = np.unique(np.asarray(y) > 0.5)
    if classes.size < 2:
        warnings.warn(
            f"roc_auc is undefined (nan): every label is {int(classes[0])}, and it needs both "
            "classes",
            stacklevel=2,
        )
    return metrics.report(y, proba, threshold=model.threshold)


def _statistics(params, scaling, dataset, train) -> tuple[str, dict]:
    """The summary table of a fit on the training rows, on the features' own scale (the
    standardisation undone: ``w / scale``, ``b - sum(w mean / scale)``), and its numbers."""
    w, b = np.asarray(params.w, np.float64), float(params.b)
    if scaling is not None:
        mean, scale = (np.asarray(a, np.float64) for a in (scaling.mean, scaling.scale))
        w = w / scale
        b = b - float(w @ mean)
    X, y = dataset.X[train], dataset.y[train]
    with jax.enable_x64(True):  # raw feature scales: float32 would lose the covariance
        return _statistics_table(jaxsig.Params(jnp.asarray(w), jnp.asarray(b)), X, y, dataset)


def _statistics_table(params, X, y, dataset) -> tuple[str, dict]:
    """`_statistics` in float64: the table and its numbers for the JSON output."""
    names = _summary.coefficient_names(X.shape[1], dataset.feature_names)
    found = _summary.checked_separation(X, y, None, True, names)
    inference = jax.device_get(jaxsig.inference(params, X, y))
    table = _summary.format_summary(inference, names, cov_type="nonrobust", alpha=0.05, found=found)
    unidentified = set(found.columns) if found.separated else set()
    coefficients = {
        name: {
            field: (
                None if j in unidentified and field != "coef" else float(getattr(inference, key)[j])
            )
            for field, key in (
                ("coef", "coef"),
                ("std_err", "se"),
                ("z", "z"),
                ("p_value", "p_value"),
                ("ci_low", "ci_low"),
                ("ci_high", "ci_high"),
            )
        }
        for j, name in enumerate(names)
    }
    scalars = (
        "log_likelihood",
        "null_log_likelihood",
        "deviance",
        "null_deviance",
        "aic",
        "bic",
        "pseudo_r2",
        "lr_statistic",
        "lr_p_value",
        "df_model",
        "nobs",
    )
    numbers = {name: float(getattr(inference, name)) for name in scalars}
    return table, {
        "summary": {
            "coefficients": coefficients,
            **numbers,
            "separated": [names[j] for j in sorted(unidentified)],
        }
    }


def fit(args: argparse.Namespace) -> Outcome:
    writable(args.output)
    if not 0 <= args.test_size < 1:
        raise ValueError(f"--test-size must be at least 0 and below 1, got {args.test_size}")
    if not 0 <= args.l1_ratio <= 1:
        raise ValueError(f"--l1-ratio must be between 0 and 1, got {args.l1_ratio}")
    if not 0 < args.threshold < 1:
        raise ValueError(f"--threshold must be between 0 and 1, got {args.threshold}")
    if args.l2 is None:
        args.l2 = 0.0 if args.summary else 1e-4
    if args.summary and args.l2 != 0:
        raise ValueError(
            f"--summary needs an unpenalised fit (--l2 0), got --l2 {args.l2:g}: standard "
            "errors and tests of a penalised estimate would not mean what they say"
        )
    dataset = training_data(args)
    key = jax.random.key(args.seed)
    if args.test_size:
        train, test = data.train_test_split(key, dataset.y, test_size=args.test_size)
    else:
        train, test = np.arange(len(dataset.y)), np.arange(0)
    scaling = data.fit_standardization(dataset.X[train]) if args.standardize else None
    X = _standardized(scaling, dataset.X)
    l1, l2 = args.l1_ratio * args.l2, (1 - args.l1_ratio) * args.l2
    options = solver_options(args, X.shape[1], l1 > 0)
    if args.checkpoint:
        writable(args.checkpoint)
    run = {
        "options": {k: v for k, v in options.items() if k != "epochs"},
        "l2": l2,
        "l1": l1,
        "standardize": args.standardize,
        "test_size": args.test_size,
        "seed": args.seed,
        "data": fingerprint(X[train], dataset.y[train]),
    }
    resume, earlier = None, []
    if args.resume:
        resume, earlier = resumable(args.resume, run)
    with feature_names_in_warnings(dataset.feature_names):
        result = jaxsig.fit(
            X[train],
            dataset.y[train],
            l2=l2,
            **({"l1": l1} if l1 > 0 else {}),
            key=jax.random.fold_in(key, 1),
            progress=_progress(args),
            resume=resume,
            **options,
        )
    ran = int(result.iterations) - len(earlier)
    history = [*earlier, *(float(h) for h in np.asarray(result.history)[:ran])]
    if args.checkpoint:
        io.save_state(args.checkpoint, result.state, {**run, "history": history})
    model = saved_model(
        result._replace(history=np.asarray(history)),
        dataset,
        scaling,
        args.threshold,
        {
            **options,
            "l2": l2,
            "l1": l1,
            "standardize": args.standardize,
            "test_size": args.test_size,
            "seed": args.seed,
        },
    )
    io.save(args.output, model)
    columns = {"train": _report(model, dataset.X[train], dataset.y[train])}
    if test.size:
        columns["held-out"] = _report(model, dataset.X[test], dataset.y[test])
    recorded = model.solver_options
    state = "converged" if recorded["converged"] else "stopped"
    summary = (
        f"{options['solver']} on {train.size} rows x {X.shape[1]} features "
        f"(l2={l2:g}, l1={l1:g}): {state} after {recorded['iterations']} epochs"
    )
    text = f"{summary}\n{fmt.metrics_table(columns)}\nmodel written to {args.output}"
    statistics = {}
    if args.summary:
        table, statistics = _statistics(result.params, scaling, dataset, train)
        text = f"{text}\n\n{table}"
    return Outcome(
        text,
        {
            "model": args.output,
            "rows": {"train": int(train.size), "held-out": int(test.size)},
            "features": list(dataset.feature_names),
            "classes": list(dataset.classes),
            "options": recorded,
            "metrics": columns,
            **statistics,
        },
    )


def features(model: io.SavedModel, dataset: data.Dataset, path: str) -> np.ndarray:
    """The model's feature columns of ``dataset``, in its order: the same set, or an error."""
    names, expected = dataset.feature_names, model.feature_names
    if set(names) != set(expected):
        differ = [
            f"{which} {', '.join(columns[:5])}{', ...' * (len(columns) > 5)}"
            for which, columns in (
                ("missing", [name for name in expected if name not in names]),
                ("unknown", [name for name in names if name not in expected]),
            )
            if columns
        ]
        raise ValueError(
            f"{path} has {len(names)} feature(s), the model {len(expected)}: {'; '.join(differ)}"
        )
    return dataset.X[:, [names.index(name) for name in expected]]


def model_data(model: io.SavedModel, path: str, *, labels: bool):
    """Features and 0/1 labels of ``path``, encoded as the model's training data was; with
    ``labels=False`` the labels may be absent (None)."""
    dataset = data.read(
        path,
        target=model.target,
        categories=model.categories,
        classes=model.classes,
        n_features=len(model.feature_names),
        optional_target=not labels,
        labels=labels,
    )
    if labels and dataset.y is None:
        raise ValueError(f"{path} holds no labels to measure the model against")
    return features(model, dataset, path), dataset.y


def predict(args: argparse.Namespace) -> Outcome:
    if args.output:
        writable(args.output)
    model = io.load(args.model)
    X, _ = model_data(model, args.data, labels=False)
    columns = [[str(label) for label in io.predict(model, X).tolist()]]
    header = ["prediction"]
    if args.proba:
        columns.append([str(p) for p in np.asarray(io.predict_proba(model, X))])
        header.append("probability")
    rows = [header, *zip(*columns, strict=True)]
    if not args.output:
        csv.writer(sys.stdout, lineterminator="\n").writerows(rows)
        return Outcome("", {})
    with atomic_path(args.output) as tmp, open(tmp, "w", newline="") as file:
        csv.writer(file, lineterminator="\n").writerows(rows)
    return Outcome(f"{len(X)} predictions written to {args.output}", {})


def evaluate(args: argparse.Namespace) -> Outcome:
    if args.plots:
        from jaxsig import plot  # before the work: a missing plot extra fails fast
    model = io.load(args.model)
    X, y = model_data(model, args.data, labels=True)
    proba = io.predict_proba(model, X)
    report = _report(model, X, y, proba)
    written = []
    if args.plots:
        os.makedirs(args.plots, exist_ok=True)
        figures = [
            ("roc.png", plot.roc, (y, proba)),
            ("calibration.png", plot.calibration, (y, proba)),
        ]
        if model.history is not None:
            figures.append(("loss_curve.png", plot.loss_curve, (model.history,)))
        for name, draw, inputs in figures:
            written.append(os.path.join(args.plots, name))
            plot.save(draw(*inputs), written[-1])
    text = f"{args.model} on {len(y)} rows of {args.data}\n{fmt.metrics_table({'value': report})}"
    if written:
        text += "\nplots written: " + ", ".join(written)
    return Outcome(text, {"rows": len(y), "metrics": report, "plots": written})


def sweep(args: argparse.Namespace) -> Outcome:
    for path in (args.output, args.plot):
        if path:
            writable(path)
    grid = parse_grid(args.l2)
    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    if args.plot:
        from jaxsig import plot  # before the work: a missing plot extra fails fast
    dataset = training_data(args)
    scaling = data.fit_standardization(dataset.X) if args.standardize else None
    X = _standardized(scaling, dataset.X)
    n, d = X.shape
    points = grid.size * args.cv
    itemsize = np.dtype(jax.dtypes.canonicalize_dtype(np.float64)).itemsize
    options = solver_options(
        args, d, l1=False, default=_budget.default_solver(n, d, points, itemsize)
    )
    _budget.check_fits(options["solver"], n, d, points, itemsize)
    with feature_names_in_warnings(dataset.feature_names):
        cv = jaxsig.cross_validate(
            X,
            dataset.y,
            key=jax.random.key(args.seed),
            n_folds=args.cv,
            scoring=args.scoring,
            refit=args.output is not None,
            l2=grid,
            progress=_progress(args),
            **options,
        )
    values = cv.points["l2"]
    mean = {name: np.asarray(m) for name, m in cv.mean.items()}
    std = {name: np.asarray(s) for name, s in cv.std.items()}
    # the stable sort keeps the first of equal points first, as cross_validate's best; points
    # that diverged come last
    score = -mean[args.scoring] if args.scoring == "accuracy" else mean[args.scoring]
    ranking = np.lexsort((score, cv.diverged))
    rows = [
        [str(rank), f"{values[i]:.4g}"]
        + [
            fmt.number(float(m[i]))
            for name in ("log_loss", "accuracy")
            for m in (mean[name], std[name])
        ]
        for rank, i in enumerate(ranking[: args.top], 1)
    ]
    outputs = []
    if cv.diverged.any():
        outputs.append(
            "diverged (stopped early, ranked last): l2 = "
            + ", ".join(f"{v:.4g}" for v in values[cv.diverged])
        )
    if args.plot:
        ax = plot.validation_curve(
            values,
            mean[args.scoring],
            std[args.scoring],
            name="l2",
            metric=args.scoring,
            best=cv.best["l2"],
            diverged=cv.diverged,
        )
        plot.save(ax, args.plot)
        outputs.append(f"validation curve written to {args.plot}")
    if args.output:
        model = saved_model(
            cv.refit,
            dataset,
            scaling,
            0.5,
            {
                **options,
                "l2": cv.best["l2"],
                "l1": 0.0,
                "standardize": args.standardize,
                "cv": args.cv,
                "scoring": args.scoring,
                "seed": args.seed,
            },
        )
        io.save(args.output, model)
        outputs.append(f"model (refit at l2={cv.best['l2']:.4g}) written to {args.output}")
    header = ["rank", "l2", "log_loss", "sd", "accuracy", "sd"]
    summary = (
        f"{args.cv}-fold cross-validation of {len(values)} l2 values with {options['solver']} "
        f"on {len(dataset.y)} rows x {X.shape[1]} features, best by {args.scoring}"
    )
    text = "\n".join([summary, fmt.table(header, rows), *outputs])
    points = [
        {
            "l2": float(values[i]),
            **{name: {"mean": float(mean[name][i]), "std": float(std[name][i])} for name in mean},
            "diverged": bool(cv.diverged[i]),
        }
        for i in range(len(values))
    ]
    return Outcome(
        text,
        {
            "best": {
                "l2": cv.best["l2"],
                **{name: float(mean[name][cv.best_index]) for name in mean},
            },
            "points": points,
            "model": args.output,
            "plot": args.plot,
        },
    )


def raw_params(model: io.SavedModel) -> jaxsig.Params:
    """The parameters on unscaled features: ``w / scale`` and ``b - sum(w mean / scale)``."""
    w, b = np.asarray(model.params.w), np.asarray(model.params.b)
    if model.scaling is None:
        return jaxsig.Params(w, b)
    mean, scale = np.asarray(model.scaling.mean), np.asarray(model.scaling.scale)
    return jaxsig.Params(w / scale, b - np.sum(w * mean / scale))


def plot_figure(args: argparse.Namespace) -> Outcome:
    writable(args.output)
    from jaxsig import plot

    if args.figure == "sigmoid":
        ax = plot.sigmoid()
    else:
        model = io.load(args.model)
        if args.figure == "loss":
            if model.history is None or not len(model.history):
                raise ValueError(f"{args.model} holds no loss history to plot")
            ax = plot.loss_curve(model.history)
        else:
            X, y = model_data(model, args.data, labels=True)
            if args.figure == "boundary":
                if X.shape[1] != 2:
                    raise ValueError(
                        f"a decision boundary needs a model of two features; {args.model} has "
                        f"{X.shape[1]}"
                    )
                ax = plot.decision_boundary(raw_params(model), X, y)
                ax.set(xlabel=model.feature_names[0], ylabel=model.feature_names[1])
            else:
                proba = io.predict_proba(model, X)
                draw = plot.roc if args.figure == "roc" else plot.calibration
                ax = draw(y, proba)
    plot.save(ax, args.output)
    return Outcome(f"{args.figure} plot written to {args.output}", {})


COMMANDS = {
    "fit": fit,
    "predict": predict,
    "evaluate": evaluate,
    "sweep": sweep,
    "plot": plot_figure,
}

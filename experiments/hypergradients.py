"""Hypergradients on real data: tuning l2 by gradient against a grid, and the influence of
training rows against leave-one-out refits. A table on stdout, JSON with --json.

  tune       UCI Spambase (4601 x 57, standardised; 75% to tune on, 25% held back): jaxsig's
             cross_validate over a grid of l2 against tune_l2 with one strength and with one
             per feature, on the same five stratified folds: fits, cross-validated log-loss,
             the held-back rows' log-loss after a refit, seconds (first call, compile included)
  influence  scikit-learn's breast cancer (569 x 30, small) and UCI default of credit card
             clients (30000 x 23, ID dropped), standardised, 80% to fit on: the derivative of
             the held-back rows' log-loss with respect to each training row's weight
             (influence) and the exact change on removing a row (leave_one_out), against
             leave-one-out refits of the 20 rows influence ranks highest (float64)

    python experiments/hypergradients.py --spambase ../shared/datasets/spambase.data \\
        --credit ../shared/datasets/UCI_Credit_Card.csv [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402

import jaxsig  # noqa: E402
from jaxsig import data  # noqa: E402


def standardised(X_train, X_test):
    stats = data.fit_standardization(X_train)
    return np.asarray(data.standardize(stats, X_train)), np.asarray(data.standardize(stats, X_test))


def split(key, y, test_size):
    train, test = data.train_test_split(jax.random.key(key), y, test_size=test_size)
    return np.asarray(train), np.asarray(test)


def tune_section(path: str) -> list[dict]:
    table = np.loadtxt(path, delimiter=",", skiprows=1)  # the first line is a junk header
    X, y = table[:, :-1], table[:, -1]
    train, test = split(0, y, 0.25)
    X_train, X_test = standardised(X[train], X[test])
    y_train, y_test = y[train], y[test]
    held_back = jaxsig.held_out_loss(X_test, y_test)
    key, options = jax.random.key(1), dict(solver="newton", tol=1e-8, epochs=100)
    rows = []

    start = time.perf_counter()
    grid = np.geomspace(1e-6, 1.0, 32)
    cv = jaxsig.cross_validate(X_train, y_train, key=key, n_folds=5, l2=grid, **options)
    seconds = time.perf_counter() - start
    rows.append(
        dict(
            section="tune",
            case="cross_validate, 32-value grid",
            fits=grid.size * 5,
            cv_log_loss=float(np.min(cv.mean["log_loss"])),
            held_back_log_loss=float(held_back(cv.refit.params)),
            l2=cv.best["l2"],
            seconds=seconds,
        )
    )
    for name, extra in (
        ("tune_l2, one strength, 15 steps", dict(steps=15)),
        ("tune_l2, one per feature, 30 steps", dict(steps=30, per_feature=True)),
    ):
        start = time.perf_counter()
        tuned = jaxsig.tune_l2(X_train, y_train, key=key, n_folds=5, tol=1e-8, **extra)
        seconds = time.perf_counter() - start
        l2 = np.asarray(tuned.l2)
        rows.append(
            dict(
                section="tune",
                case=name,
                fits=tuned.fits,
                cv_log_loss=float(tuned.loss),
                held_back_log_loss=float(held_back(tuned.refit.params)),
                l2=float(l2) if l2.ndim == 0 else f"{l2.min():.3g}..{l2.max():.3g}",
                seconds=seconds,
            )
        )
    return rows


def influence_case(case: str, X, y) -> dict:
    """influence (first order) and leave_one_out (exact) for the 20 rows influence ranks
    highest, each against leave-one-out refits by fit."""
    train, test = split(2, y, 0.2)
    X_train, X_test = standardised(X[train], X[test])
    y_train = y[train]
    target = jaxsig.held_out_loss(X_test, y[test])
    options = dict(solver="newton", l2=1e-4, tol=1e-12, epochs=100)
    params = jaxsig.fit(X_train, y_train, **options).params
    start = time.perf_counter()
    influence = np.asarray(
        jax.block_until_ready(jaxsig.influence(params, X_train, y_train, target, l2=1e-4))
    )
    seconds = time.perf_counter() - start
    top = np.argsort(-np.abs(influence))[:20]
    start = time.perf_counter()
    exact = np.asarray(
        jax.block_until_ready(jaxsig.leave_one_out(params, X_train, y_train, target, top, l2=1e-4))
    )
    seconds_exact = time.perf_counter() - start
    base = float(target(params))
    first_order, errors = [], []
    for i, change_exact in zip(top, exact, strict=True):
        weights = np.ones(len(y_train))
        weights[i] = 0.0
        refit = jaxsig.fit(X_train, y_train, sample_weight=weights, **options).params
        change = float(target(refit)) - base
        first_order.append(abs(-influence[i] - change) / abs(change))
        errors.append(abs(change_exact - change) / abs(change))
    return dict(
        section="influence",
        case=f"{case}, {len(y_train)} training rows x {X_train.shape[1]}",
        influence_seconds_all_rows=seconds,
        influence_median_error_top20=float(np.median(first_order)),
        influence_largest_error_top20=float(np.max(first_order)),
        leave_one_out_seconds_top20=seconds_exact,
        leave_one_out_largest_error_top20=float(np.max(errors)),
    )


def influence_section(path: str) -> list[dict]:
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer()
    dataset = data.read_csv(path, target="Y")
    keep = [i for i, name in enumerate(dataset.feature_names) if name != "ID"]
    return [
        influence_case("breast cancer", cancer.data, cancer.target.astype(float)),
        influence_case("credit card", dataset.X[:, keep], dataset.y),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spambase", required=True, metavar="PATH")
    parser.add_argument("--credit", required=True, metavar="PATH")
    parser.add_argument("--json", metavar="PATH")
    args = parser.parse_args()
    rows = tune_section(args.spambase) + influence_section(args.credit)
    for row in rows:
        shown = {k: f"{v:.4g}" if isinstance(v, float) else v for k, v in row.items()}
        print("  ".join(f"{k}={v}" for k, v in shown.items()), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

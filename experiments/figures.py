"""The README's figures: small PNGs drawn by jaxsig.plot from scikit-learn's breast-cancer data.

python experiments/figures.py [--out-dir docs]

Writes sigmoid.png, loss_curve.png, decision_boundary.png, roc.png, calibration.png and
validation_curve.png (4 x 3 inches at 80 dpi). The model: the 569 tumours x 30 features,
standardised on a stratified 75/25 split from jax.random.key(0); the ROC and calibration curves
are the held-out rows'.
"""

import argparse
import pathlib

import jax
import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.datasets import load_breast_cancer

import jaxsig
from jaxsig import data, metrics, plot


def small_axes():
    figure = Figure(figsize=(4, 3), dpi=80, layout="constrained")
    FigureCanvasAgg(figure)
    return figure.add_subplot()


def main(out_dir: pathlib.Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    X, y = load_breast_cancer(return_X_y=True)
    train, test = data.train_test_split(jax.random.key(0), y)
    stats = data.fit_standardization(X[train])
    X_train, X_test = data.standardize(stats, X[train]), data.standardize(stats, X[test])
    y_train, y_test = y[train], y[test]

    def save(ax, name: str) -> None:
        path = out_dir / name
        plot.save(ax, path)
        print(f"{path}: {path.stat().st_size / 1024:.1f} KB")

    save(plot.sigmoid(ax=small_axes()), "sigmoid.png")

    # the tutorial's full-batch gradient descent, with a larger step than its 0.01
    fitted = jaxsig.fit(X_train, y_train, learning_rate=0.5, epochs=200, l2=1e-3)
    ax = plot.loss_curve(fitted.history, ax=small_axes())
    ax.set_title("Training objective, gradient descent")
    save(ax, "loss_curve.png")

    two = X_train[:, :2]  # mean radius and mean texture
    params = jaxsig.fit(two, y_train, solver="newton", l2=1e-3, tol=1e-8).params
    ax = plot.decision_boundary(params, two, y_train, ax=small_axes())
    ax.set(xlabel="mean radius (standardised)", ylabel="mean texture (standardised)")
    save(ax, "decision_boundary.png")

    p_test = jaxsig.predict_proba(fitted.params, X_test)
    save(plot.roc(y_test, p_test, ax=small_axes()), "roc.png")
    save(plot.calibration(y_test, p_test, n_bins=5, ax=small_axes()), "calibration.png")

    l2 = np.logspace(-4, 1, 16)
    cv = jaxsig.cross_validate(
        X_train, y_train, key=jax.random.key(1), solver="newton", l2=l2, tol=1e-8, refit=False
    )
    ax = plot.validation_curve(
        cv.points["l2"],
        cv.mean["log_loss"],
        cv.std["log_loss"],
        best=cv.best["l2"],
        ax=small_axes(),
    )
    save(ax, "validation_curve.png")
    scores = {k: round(v, 3) for k, v in metrics.report(y_test, p_test).items()}
    print(f"held-out metrics of the gradient-descent model: {scores}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=pathlib.Path, default=pathlib.Path("docs"))
    with matplotlib.rc_context({"font.size": 7}):
        main(parser.parse_args().out_dir)

"""The origin tutorial reproduced through jaxsig, corrected where it goes wrong, plus real data.

``jaxsig demo`` runs `main`. Each section prints the tutorial's own numbers (from its NumPy code,
run here) beside jaxsig's. The plot needs the ``plot`` extra and the real data set the
``sklearn`` extra; without them the demo says how to get them and goes on.
"""

from __future__ import annotations

import pathlib
import warnings

import jax
import numpy as np

import jaxsig
from jaxsig import data, metrics

CREDIT_SCORES = np.array([650, 720, 580, 810, 690])
SPAM_X = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1], [0.4, 0.6]])
SPAM_Y = np.array([0, 0, 1, 0])
SPAM_TEST = np.array([[0.6, 0.3], [0.1, 0.9]])
# Loan example: approval probability follows this rule in the generated applicants.
APPROVAL_MIDPOINT, APPROVAL_SPREAD = 650.0, 25.0


def tutorial_sigmoid(x):
    """The tutorial's formula: overflows in ``exp`` for large negative inputs."""
    return 1 / (1 + np.exp(-x))


def tutorial_logistic_regression(X, y, lr=0.01, epochs=1000):
    """The tutorial's training loop (float64 NumPy)."""
    m, n = X.shape
    weights = np.zeros(n)
    bias = 0
    for _ in range(epochs):
        y_pred = tutorial_sigmoid(np.dot(X, weights) + bias)
        dw = (1 / m) * np.dot(X.T, (y_pred - y))
        db = (1 / m) * np.sum(y_pred - y)
        weights -= lr * dw
        bias -= lr * db
    return weights, bias


def _standardize(train: np.ndarray, *others: np.ndarray) -> list[jax.Array]:
    """``train`` and ``others`` scaled by ``train``'s statistics."""
    stats = data.fit_standardization(train)
    return [data.standardize(stats, a) for a in (train, *others)]


def loan_approval(key: jax.Array) -> None:
    print("== Loan approval from credit scores ==")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tutorial = tutorial_sigmoid(CREDIT_SCORES)
        overflow = tutorial_sigmoid(np.array([-1000.0]))
    print(f"tutorial  sigmoid(raw scores) = {tutorial}")
    print(f"jaxsig    sigmoid(raw scores) = {np.asarray(jaxsig.sigmoid(CREDIT_SCORES))}")
    kinds = sorted({type(w.message).__name__ + ": " + str(w.message) for w in caught})
    print(f"tutorial  sigmoid(-1000) = {overflow[0]} with {kinds or 'no warning'}")
    print(f"jaxsig    sigmoid(-1000) = {float(jaxsig.sigmoid(-1000.0))} with no warning")

    n = 400
    score_key, label_key = jax.random.split(key)
    scores = np.clip(np.asarray(680 + 70 * jax.random.normal(score_key, (n,))), 300, 850)
    rule = jaxsig.sigmoid((scores - APPROVAL_MIDPOINT) / APPROVAL_SPREAD)
    approved = np.asarray(jax.random.bernoulli(label_key, rule)).astype(float)
    print(
        f"Fix: fit on {n} generated applicants (scores ~ N(680, 70) clipped to [300, 850]; "
        f"approved with probability sigmoid((score - {APPROVAL_MIDPOINT:g}) / "
        f"{APPROVAL_SPREAD:g})), with the scores standardised:"
    )
    train, queried = _standardize(scores[:, None], CREDIT_SCORES[:, None].astype(float))
    fitted = jaxsig.fit(train, approved, learning_rate=0.5, epochs=2000)
    probabilities = np.asarray(jaxsig.predict_proba(fitted.params, queried))
    truth = np.asarray(jaxsig.sigmoid((CREDIT_SCORES - APPROVAL_MIDPOINT) / APPROVAL_SPREAD))
    print(f"jaxsig    P(approved | {CREDIT_SCORES.tolist()}) = {np.round(probabilities, 3)}")
    print(f"          generating rule gives               {np.round(truth, 3)}")
    print(
        "Why: raw scores of 580 to 810 sit so deep in the sigmoid's tail that every probability "
        "rounds to 1; standardised scores with a fitted weight and bias land where the sigmoid "
        "still discriminates.\n"
    )


def sigmoid_plot(out_dir: pathlib.Path) -> None:
    print("== The sigmoid and its derivative ==")
    try:
        from jaxsig import plot

        ax = plot.sigmoid()
    except ImportError:
        print("matplotlib is missing: pip install 'jaxsig[plot]' to draw the plot.\n")
        return
    # Saturated where the derivative has fallen below 1% of its peak of 1/4 (|x| > 5.99).
    edge = float(jaxsig.logit(0.5 + 0.5 * np.sqrt(0.99)))
    low, high = ax.get_xlim()
    for lo, hi in [(low, -edge), (edge, high)]:
        ax.axvspan(lo, hi, color="grey", alpha=0.2)
    ax.set_xlim(low, high)
    ax.text(low + 0.1, 0.35, "saturated:\noutput near 0,\ngradient\nvanishes", fontsize=7)
    ax.text(edge + 0.1, 0.35, "saturated:\noutput near 1,\ngradient\nvanishes", fontsize=7)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "sigmoid.png"
    plot.save(ax, path)
    print(f"saturated where sigmoid' < 1% of its peak: |x| > {edge:.2f}; plot written to {path}\n")


def spam_classification() -> None:
    print("== Spam classification by gradient descent (lr 0.01, 1000 epochs) ==")
    weights, bias = tutorial_logistic_regression(SPAM_X, SPAM_Y)
    fitted = jaxsig.fit(SPAM_X, SPAM_Y, learning_rate=0.01, epochs=1000)
    w, b = np.asarray(fitted.params.w), float(fitted.params.b)
    tutorial_predictions = (tutorial_sigmoid(SPAM_TEST @ weights + bias) > 0.5).astype(int)
    ours = np.asarray(jaxsig.predict(fitted.params, SPAM_TEST))
    print(f"tutorial  weights {np.array2string(weights, precision=8)}  bias {bias:.8f}")
    print(f"jaxsig    weights {np.array2string(w, precision=8)}  bias {b:.8f}  ({w.dtype})")
    print(f"largest difference {max(np.max(np.abs(w - weights)), abs(b - bias)):.1e}")
    print(
        f"predictions for {SPAM_TEST.tolist()}: tutorial {tutorial_predictions.tolist()}, "
        f"jaxsig {ours.tolist()}\n"
    )


def breast_cancer(key: jax.Array) -> None:
    print("== A real data set: Wisconsin breast cancer (bundled with scikit-learn) ==")
    try:
        from sklearn.datasets import load_breast_cancer
    except ImportError:
        print("scikit-learn is missing: pip install 'jaxsig[sklearn]' for this section.\n")
        return
    X, y = load_breast_cancer(return_X_y=True)
    order = np.asarray(jax.random.permutation(key, len(y)))
    n_train = int(0.8 * len(y))
    train, test = order[:n_train], order[n_train:]
    X_train, X_test = _standardize(X[train], X[test])
    fitted = jaxsig.fit(X_train, y[train], learning_rate=0.1, epochs=1000, l2=1e-3)
    z = jaxsig.decision_function(fitted.params, X_test)
    accuracy = float(metrics.accuracy(y[test], jaxsig.predict(fitted.params, X_test)))
    log_loss = float(metrics.log_loss_from_logits(y[test], z))
    print(
        f"{X.shape[0]} tumours x {X.shape[1]} features, standardised; split 80/20 with "
        f"jax.random.key(0); gradient descent, lr 0.1, 1000 epochs, l2 1e-3"
    )
    print(f"held-out accuracy {accuracy:.3f}, log-loss {log_loss:.3f} on {len(test)} tumours\n")


def main(out_dir: str | pathlib.Path = "jaxsig-demo") -> None:
    """Runs every section; the plot goes to ``out_dir``."""
    key = jax.random.key(0)
    loan_approval(key)
    sigmoid_plot(pathlib.Path(out_dir))
    spam_classification()
    breast_cancer(key)

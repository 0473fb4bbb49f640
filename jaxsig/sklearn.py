"""scikit-learn adapter: `LogisticClassifier`, a binary classifier fitted by `jaxsig.fit`.

This is the one module that imports scikit-learn (the ``sklearn`` extra); ``import jaxsig``
never does.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import jax
import numpy as np

try:
    from scipy.special import expit
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils._param_validation import Interval, StrOptions
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "jaxsig.sklearn needs scikit-learn >= 1.6: pip install 'jaxsig[sklearn]'"
    ) from error

import jaxsig
from jaxsig import _summary

_FLOATS = [np.float64, np.float32]


class LogisticClassifier(ClassifierMixin, BaseEstimator):
    """Binary logistic regression fitted by `jaxsig.fit`, as a scikit-learn classifier.

    Minimises scikit-learn's objective ``C * sum_i v_i loss(x_i w + b, y_i) + penalty(w)``
    with ``penalty = l1_ratio |w|_1 + (1 - l1_ratio) |w|^2 / 2``, so its optimum is
    ``LogisticRegression(C=C, l1_ratio=l1_ratio)``'s. jaxsig fits the mean loss, so the
    strengths passed on are ``l2 = (1 - l1_ratio) / (C sum_i v_i)`` and
    ``l1 = l1_ratio / (C sum_i v_i)``, ``v`` the sample weights times the class weights
    (ones by default). The intercept is not penalised.

    Precision follows the data, as in scikit-learn: float64 input (NumPy's default) is fitted
    in float64 under ``jax.enable_x64(True)``, whatever ``jax_enable_x64`` says outside the
    call; float32 input is fitted in float32 (faster on accelerators). Other input is
    converted to float64. Predictions are NumPy products ``X @ coef_.T + intercept_``, so new
    batch shapes compile nothing; each new training shape compiles one program.

    Args:
      C: inverse penalty strength, > 0; ``np.inf`` fits without a penalty (separable data
        then have no optimum).
      l1_ratio: share of the penalty that is L1, in [0, 1]; above 0 it needs
        ``solver="fista"``.
      solver: ``"newton"`` (default: closed-form Hessian and Cholesky; quadratic convergence,
        so the optimum barely depends on ``tol``; an iteration costs ``O(n d^2 + d^3)``),
        ``"lbfgs"`` (for thousands of features) or ``"fista"`` (L1 and elastic net).
      tol: stop once the largest entry of the mean objective's gradient (``fista``: of the
        proximal gradient mapping) is at most ``tol``. The default ``1e-4`` is
        scikit-learn's and is reachable in float32.
      max_iter: most iterations (static: each value compiles once), scikit-learn's 100.
      fit_intercept: whether to fit ``b``; otherwise it is 0.
      class_weight: ``None``, ``"balanced"`` (``sum v / (2 sum_{class} v)`` per class, with
        sample weights) or a dict from class label to weight, as in scikit-learn.

    Attributes:
      classes_: the two labels, sorted; ``classes_[1]`` is the positive class.
      coef_: (1, n_features), in the training data's floating dtype.
      intercept_: (1,).
      n_iter_: (1,) iterations run.
      cov_, bse_: unpenalised fits only (``C=np.inf``, ``l1_ratio=0``): the inverse Fisher
        information of ``(coef_, intercept_)``, intercept last (``jaxsig.inference``, with the
        sample times class weights as frequency weights), and the standard errors, its
        diagonal's square roots. Under (quasi-)complete separation (``jaxsig.separation``)
        the coefficients without a finite estimate get infinite variance, with a
        ``jaxsig.PerfectSeparationWarning``. A penalised fit has neither attribute.
      n_features_in_, feature_names_in_: scikit-learn's (the latter for data frames whose
        column names are all strings).

    Raises on fit:
      ValueError: multiclass or one-class ``y`` (naming the classes), a class whose sample
        weights sum to zero, ``l1_ratio > 0`` with a smooth solver, and scikit-learn's
        checks of ``X``, ``y``, ``sample_weight`` and the hyperparameters.

    Warns on fit:
      sklearn.exceptions.ConvergenceWarning: ``tol`` not reached in ``max_iter`` iterations.

    >>> import numpy as np
    >>> from jaxsig.sklearn import LogisticClassifier
    >>> X = np.array([[0.2, 0.8], [0.5, 0.4], [0.9, 0.1], [0.4, 0.6], [0.8, 0.3]])
    >>> y = np.array(["ham", "ham", "spam", "ham", "spam"])
    >>> model = LogisticClassifier(C=10.0).fit(X, y)
    >>> model.classes_.tolist(), model.predict([[0.9, 0.2], [0.1, 0.9]]).tolist()
    (['ham', 'spam'], ['spam', 'ham'])
    >>> model.predict_proba(X).shape, model.coef_.shape
    ((5, 2), (1, 2))
    """

    _parameter_constraints: dict = {  # noqa: RUF012 (scikit-learn's convention)
        "C": [Interval(Real, 0, None, closed="right")],
        "l1_ratio": [Interval(Real, 0, 1, closed="both")],
        "solver": [StrOptions({"newton", "lbfgs", "fista"})],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "fit_intercept": ["boolean"],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        C=1.0,
        l1_ratio=0.0,
        solver="newton",
        tol=1e-4,
        max_iter=100,
        fit_intercept=True,
        class_weight=None,
    ):
        self.C = C
        self.l1_ratio = l1_ratio
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter
        self.fit_intercept = fit_intercept
        self.class_weight = class_weight

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def fit(self, X, y, sample_weight=None, offset=None) -> LogisticClassifier:
        """Fits the model; ``y`` holds any two labels, ``sample_weight`` non-negative weights,
        ``offset`` (n,) a known term added to every logit (fit metadata: inside a pipeline or
        a search, request it with ``set_fit_request(offset=True)``; give the same term to
        ``predict_proba``)."""
        self._validate_params()
        if self.l1_ratio > 0 and self.solver != "fista":
            raise ValueError(
                f"l1_ratio={self.l1_ratio} adds an L1 penalty, which needs solver='fista'; "
                f"solver={self.solver!r} handles the L2 penalty only"
            )
        X, y = validate_data(self, X, y, dtype=_FLOATS)
        check_classification_targets(y)
        encoder = LabelEncoder().fit(y)
        self.classes_ = encoder.classes_
        _check_binary(y, self.classes_)
        y01 = encoder.transform(y)
        weights = self._weights(sample_weight, X, y, y01)
        totals = np.bincount(y01, weights=weights, minlength=2)
        if not totals.sum() > 0:
            raise ValueError("sample_weight sums to zero: no sample would count")
        if not (totals > 0).all():
            missing = _label(self.classes_, int(np.argmin(totals)))
            raise ValueError(
                f"the sample weights of class {missing!r} sum to zero, which leaves one class; "
                "a logistic model needs both classes with positive weight"
            )
        strength = 1.0 / (self.C * float(weights.sum()))
        with warnings.catch_warnings():
            # Reported below as scikit-learn's warning, which is what its users filter.
            warnings.filterwarnings("ignore", category=jaxsig.ConvergenceWarning)
            with jax.enable_x64(X.dtype == np.float64):
                result = jax.device_get(
                    jaxsig.fit(
                        X,
                        y01.astype(X.dtype),
                        solver=self.solver,
                        epochs=self.max_iter,
                        tol=self.tol,
                        l2=(1 - self.l1_ratio) * strength,
                        l1=self.l1_ratio * strength if self.solver == "fista" else None,
                        sample_weight=weights,
                        offset=self._offset(offset, X),
                        fit_intercept=self.fit_intercept,
                    )
                )
        if np.isnan(result.gradient_norm):
            warnings.warn(
                f"{type(self).__name__}(solver={self.solver!r}): the objective became "
                f"non-finite after {int(result.iterations)} iterations and the fit stopped with "
                "the last parameters of finite objective; standardise the features or lower C",
                ConvergenceWarning,
                stacklevel=2,
            )
        elif not result.converged:
            warnings.warn(
                f"{type(self).__name__}(solver={self.solver!r}) did not reach tol={self.tol:g} "
                f"in max_iter={self.max_iter} iterations (largest gradient entry "
                f"{float(result.gradient_norm):.3g}); raise max_iter, loosen tol or lower C",
                ConvergenceWarning,
                stacklevel=2,
            )
        self.coef_ = np.asarray(result.params.w, X.dtype).reshape(1, -1)
        self.intercept_ = np.asarray(result.params.b, X.dtype).reshape(1)
        self.n_iter_ = np.asarray(result.iterations, np.int32).reshape(1)
        for name in ("cov_", "bse_"):
            self.__dict__.pop(name, None)
        if np.isinf(self.C) and self.l1_ratio == 0:
            self._set_covariance(X, y01, weights, result.params, self._offset(offset, X))
        return self

    @staticmethod
    def _offset(offset, X: np.ndarray) -> np.ndarray | None:
        if offset is None:
            return None
        offset = check_array(offset, ensure_2d=False, dtype=X.dtype, input_name="offset")
        if offset.shape != (X.shape[0],):
            raise ValueError(
                f"offset must have shape ({X.shape[0]},) to match X, got {offset.shape}"
            )
        return offset

    def _set_covariance(self, X, y01, weights, params, offset) -> None:
        """``cov_`` and ``bse_`` of an unpenalised fit; infinite where separation leaves a
        coefficient without a finite estimate."""
        names = _summary.coefficient_names(X.shape[1], None, self.fit_intercept)
        found = _summary.checked_separation(X, y01, weights, self.fit_intercept, names)
        with jax.enable_x64(X.dtype == np.float64):
            inference = jaxsig.inference(
                params,
                X,
                y01.astype(X.dtype),
                sample_weight=weights,
                offset=offset,
                fit_intercept=self.fit_intercept,
            )
            cov = np.array(inference.cov, X.dtype)
        if found.separated:
            cov[list(found.columns), :] = np.inf
            cov[:, list(found.columns)] = np.inf
        self.cov_ = cov
        self.bse_ = np.sqrt(np.diagonal(cov))

    def _weights(self, sample_weight, X: np.ndarray, y: np.ndarray, y01: np.ndarray):
        """Sample weights (ones by default) times class weights, in ``X``'s dtype."""
        if sample_weight is None:
            weights = np.ones(X.shape[0], X.dtype)
        else:
            weights = check_array(
                sample_weight, ensure_2d=False, dtype=X.dtype, input_name="sample_weight"
            )
            if weights.shape != (X.shape[0],):
                raise ValueError(
                    f"sample_weight must have shape ({X.shape[0]},) to match X, got {weights.shape}"
                )
            if (weights < 0).any():
                raise ValueError(f"sample_weight has {int((weights < 0).sum())} negative value(s)")
        if self.class_weight is None:
            return weights
        per_class = compute_class_weight(
            self.class_weight, classes=self.classes_, y=y, sample_weight=weights
        )
        return weights * per_class[y01].astype(X.dtype)

    def decision_function(self, X, offset=None) -> np.ndarray:
        """Logits ``X w + b (+ offset)`` of the positive class ``classes_[1]``, (n,)."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=_FLOATS, reset=False)
        z = X @ self.coef_[0] + self.intercept_[0]
        return z if offset is None else z + self._offset(offset, X)

    def predict_proba(self, X, offset=None) -> np.ndarray:
        """Probabilities of ``classes_``, (n, 2): ``[sigmoid(-z), sigmoid(z)]``.

        The first column is ``sigmoid(-z)``, not ``1 - sigmoid(z)``, which would lose every
        digit once ``sigmoid(z)`` rounds to 1.
        """
        z = self.decision_function(X, offset)
        return np.stack([expit(-z), expit(z)], axis=1)

    def predict(self, X, offset=None) -> np.ndarray:
        """``classes_[1]`` where the logit is positive, else ``classes_[0]``."""
        positive = self.decision_function(X, offset) > 0
        return self.classes_[positive.astype(np.intp)]


def _label(classes: np.ndarray, i: int):
    """``classes[i]`` as a Python value (a NumPy or object array's), for messages."""
    return classes[i : i + 1].tolist()[0]


def _check_binary(y: np.ndarray, classes: np.ndarray) -> None:
    if len(classes) == 1:
        raise ValueError(
            f"y holds one class only ({_label(classes, 0)!r}); a binary classifier needs two"
        )
    target = type_of_target(y, input_name="y")
    if target != "binary":
        shown = ", ".join(map(repr, classes[:5].tolist())) + (", ..." if len(classes) > 5 else "")
        raise ValueError(
            f"Only binary classification is supported. The type of the target is {target}: "
            f"y holds {len(classes)} classes ({shown}); for more, wrap this estimator in "
            "sklearn.multiclass.OneVsRestClassifier"
        )

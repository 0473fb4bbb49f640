"""jaxsig: exact sigmoid primitives, closed-form derivatives and compiled logistic training.

Sub-modules on the core dependencies load with the package: ``jaxsig.metrics``, ``jaxsig.data``
and ``jaxsig.io``. Those needing an extra are imported by name: ``jaxsig.plot`` (matplotlib)
and ``jaxsig.sklearn`` (scikit-learn).
"""

from jaxsig import _interrupt

_interrupt.for_the_command_line()  # before JAX loads: Ctrl-C while it does ends cleanly

from jaxsig import _compilation_cache
from jaxsig import data as data
from jaxsig import io as io
from jaxsig import metrics as metrics
from jaxsig._bootstrap import BootstrapResult as BootstrapResult
from jaxsig._bootstrap import bootstrap as bootstrap
from jaxsig._convergence import ConvergenceWarning as ConvergenceWarning
from jaxsig._cv import CrossValidation as CrossValidation
from jaxsig._cv import cross_validate as cross_validate
from jaxsig._degenerate import DegenerateDataWarning as DegenerateDataWarning
from jaxsig._derivatives import GradientCheck as GradientCheck
from jaxsig._derivatives import check_gradients as check_gradients
from jaxsig._derivatives import gradient as gradient
from jaxsig._derivatives import hessian as hessian
from jaxsig._derivatives import value_and_gradient as value_and_gradient
from jaxsig._distributed import shard_rows as shard_rows
from jaxsig._fit import FitResult as FitResult
from jaxsig._fit import fit as fit
from jaxsig._folds import kfold as kfold
from jaxsig._folds import stratified_kfold as stratified_kfold
from jaxsig._inference import Inference as Inference
from jaxsig._inference import inference as inference
from jaxsig._influence import held_out_loss as held_out_loss
from jaxsig._influence import influence as influence
from jaxsig._influence import leave_one_out as leave_one_out
from jaxsig._loss import logistic_loss as logistic_loss
from jaxsig._loss import loss_gradient as loss_gradient
from jaxsig._loss import objective as objective
from jaxsig._model import Params as Params
from jaxsig._model import init as init
from jaxsig._model import logits as logits
from jaxsig._path import PathResult as PathResult
from jaxsig._path import path as path
from jaxsig._predict import decision_function as decision_function
from jaxsig._predict import predict as predict
from jaxsig._predict import predict_proba as predict_proba
from jaxsig._primitives import log_sigmoid as log_sigmoid
from jaxsig._primitives import logit as logit
from jaxsig._primitives import sigmoid as sigmoid
from jaxsig._primitives import softplus as softplus
from jaxsig._separation import PerfectSeparationWarning as PerfectSeparationWarning
from jaxsig._separation import Separation as Separation
from jaxsig._separation import separation as separation
from jaxsig._solvers._driver import Best as Best
from jaxsig._solvers._driver import FitState as FitState
from jaxsig._summary import summary as summary
from jaxsig._sweep import SweepResult as SweepResult
from jaxsig._sweep import sweep as sweep
from jaxsig._tune import TuneResult as TuneResult
from jaxsig._tune import tune_l2 as tune_l2

__version__ = "0.1.0"

_compilation_cache.enable()

__all__ = [
    "Best",
    "BootstrapResult",
    "ConvergenceWarning",
    "CrossValidation",
    "DegenerateDataWarning",
    "FitResult",
    "FitState",
    "GradientCheck",
    "Inference",
    "Params",
    "PathResult",
    "PerfectSeparationWarning",
    "Separation",
    "SweepResult",
    "TuneResult",
    "bootstrap",
    "check_gradients",
    "cross_validate",
    "decision_function",
    "fit",
    "gradient",
    "held_out_loss",
    "hessian",
    "inference",
    "influence",
    "init",
    "kfold",
    "leave_one_out",
    "log_sigmoid",
    "logistic_loss",
    "logit",
    "logits",
    "loss_gradient",
    "objective",
    "path",
    "predict",
    "predict_proba",
    "separation",
    "shard_rows",
    "sigmoid",
    "softplus",
    "stratified_kfold",
    "summary",
    "sweep",
    "tune_l2",
    "value_and_gradient",
]

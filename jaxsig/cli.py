"""The ``jaxsig`` command line: fit, predict, evaluate, sweep and plot from data files.

Every command has ``--help``. Bad input (a missing file, an unknown column, a model file that is
not ours, ...) ends with one line ``jaxsig: error: ...`` on stderr and exit status 2, never a
traceback; an output file is either written completely or left as it was. The commands live in
``jaxsig._cli_commands``; this module holds the parser and the error handling.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

SOLVERS = ("newton", "lbfgs", "gd", "sgd", "fista")

_FORMATS = "CSV (.csv, header row), LIBSVM/svmlight (.svm, .libsvm, .svmlight, .txt) or NumPy .npz"


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line starting ``jaxsig: error:`` like every other
    error (exit status 2, as argparse's)."""

    def error(self, message: str):
        self.exit(2, f"jaxsig: error: {message} (see '{self.prog} --help')\n")


# The longest loop a compiled fit runs (its epoch counter is an int32).
MAX_EPOCHS = 2**31 - 1


def _count(limit: int):
    """An argparse type: an integer from 1 to ``limit``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be from 1 to {limit}, got {value}")
        return value

    return parse


def _command(commands, name: str, summary: str, description: str, examples: str):
    return commands.add_parser(
        name,
        help=summary,
        description=textwrap.fill(description, 79),  # the raw formatter keeps the examples' lines
        epilog="examples:\n" + examples,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _output_options(parser: argparse.ArgumentParser, *, json: bool = True) -> None:
    quiet = "print nothing but errors"
    if json:
        chatter = parser.add_mutually_exclusive_group()
        chatter.add_argument("--json", action="store_true", help="print one JSON object instead")
        chatter.add_argument("-q", "--quiet", action="store_true", help=quiet)
    else:
        parser.add_argument("-q", "--quiet", action="store_true", help=quiet)


def _solver_options(parser: argparse.ArgumentParser, *, l1: bool) -> None:
    group = parser.add_argument_group("solver")
    group.add_argument(
        "--solver",
        choices=SOLVERS,
        help=(
            "default: fista with --l1-ratio > 0, else newton up to 256 features and lbfgs beyond"
            if l1
            else "default: newton or lbfgs, whichever an estimate of the sweep's work makes "
            "cheaper among those that fit in memory (break-even near 60 features)"
        ),
    )
    group.add_argument(
        "--epochs",
        type=_count(MAX_EPOCHS),
        metavar="N",
        help="most epochs (default per solver: newton 100, lbfgs 1000, fista 5000, gd 1000, "
        "sgd 100)",
    )
    group.add_argument(
        "--tol",
        type=float,
        metavar="T",
        help="stop once the largest gradient entry is at most T (default 1e-6 for newton, "
        "lbfgs and fista; gd and sgd run every epoch unless given, sgd always does)",
    )
    group.add_argument(
        "--lr", type=float, metavar="LR", help="learning rate of gd and sgd (default 0.01)"
    )
    group.add_argument(
        "--batch-size",
        type=_count(MAX_EPOCHS),
        metavar="B",
        help="rows per mini-batch of sgd (default 32)",
    )


def _data_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help=f"training data: {_FORMATS}")
    parser.add_argument(
        "-t",
        "--target",
        metavar="COLUMN",
        help="the label column of a CSV file, by name or 0-based index (its two values become "
        "classes 0 and 1, sorted); the label array of an .npz (default y); LIBSVM files hold "
        "their labels",
    )
    parser.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale features to mean 0 and standard deviation 1 (statistics from the training "
        "rows, kept in the model file; default: on)",
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="PRNG seed (default 0)")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="jaxsig",
        description="Exact sigmoid models in JAX: fit, predict, evaluate and sweep logistic "
        "models on CSV, LIBSVM or NPZ files, plot them, or run the tutorial demo.",
        epilog="Run 'jaxsig COMMAND --help' for a command's options and examples.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="reproduce the origin tutorial and fit a real data set",
        description="Reproduce the origin tutorial through jaxsig, fix what it gets wrong, and "
        "fit the breast-cancer data set bundled with scikit-learn.",
    )
    demo.add_argument(
        "--out-dir", default="jaxsig-demo", help="folder for the plot (default: %(default)s)"
    )

    fit = _command(
        commands,
        "fit",
        "fit a model to a data file and save it",
        "Fit a logistic model on a stratified training split of DATA, print accuracy, log-loss, "
        "ROC AUC, Brier score and more on the training and held-out rows, and save the model "
        "(parameters, scaling, feature names, classes, threshold, loss history) to an .npz file.",
        "  jaxsig fit train.csv --target approved -o model.npz\n"
        "  jaxsig fit train.csv -t 0 --l2 0.1 --l1-ratio 0.5 -o sparse.npz   # elastic net, fista\n"
        "  jaxsig fit a9a.svm --solver lbfgs --test-size 0.2 --json -o a9a.npz\n"
        "  jaxsig fit lbw.csv -t low --test-size 0 --summary -o lbw.npz   # statsmodels' table\n"
        "  jaxsig fit big.csv -t y --epochs 100 --checkpoint run.npz -o model.npz\n"
        "  jaxsig fit big.csv -t y --epochs 100 --resume run.npz --checkpoint run.npz -o model.npz",
    )
    _data_options(fit)
    fit.add_argument("-o", "--output", required=True, metavar="MODEL", help="model file (.npz)")
    fit.add_argument(
        "--l2",
        type=float,
        default=None,
        metavar="A",
        help="penalty strength on the mean loss: A/2 |w|^2 (default 1e-4, 0 with --summary; "
        "scikit-learn's C is 1 / (A n))",
    )
    fit.add_argument(
        "--l1-ratio",
        type=float,
        default=0.0,
        metavar="R",
        help="elastic net: l1 = R A, l2 = (1 - R) A; R > 0 needs fista (default 0)",
    )
    fit.add_argument(
        "--test-size",
        type=float,
        default=0.25,
        metavar="F",
        help="fraction of rows held out, stratified by class; 0 trains on all (default 0.25)",
    )
    fit.add_argument(
        "--threshold",
        type=float,
        metavar="P",
        default=0.5,
        help="decision threshold on the probability, kept in the model (default 0.5)",
    )
    fit.add_argument(
        "--checkpoint",
        metavar="STATE",
        help="also write the solver's state here (.npz, atomically) when the fit ends, to "
        "continue it later with --resume",
    )
    fit.add_argument(
        "--resume",
        metavar="STATE",
        help="continue the fit whose state --checkpoint wrote, for --epochs more epochs, bit "
        "for bit as one longer run: the data, split and options must be the same",
    )
    fit.add_argument(
        "--summary",
        action="store_true",
        help="also print the statistics of the unpenalised fit on the training rows, on the "
        "features' own scale: coef, std err, z, P>|z|, 95%% interval, likelihood, AIC, BIC, "
        "the likelihood-ratio test (needs --l2 0, its default here); --json carries them",
    )
    _solver_options(fit, l1=True)
    _output_options(fit)

    predict = _command(
        commands,
        "predict",
        "predict the class of every row of a data file",
        "Predict every row of DATA with a saved model, as CSV with a header: the original class "
        "labels, and with --proba the probability of the second class (the larger label). "
        "DATA needs the model's feature columns; its label column, if present, is ignored.",
        "  jaxsig predict model.npz new.csv\n  jaxsig predict model.npz new.csv --proba -o out.csv",
    )
    predict.add_argument("model", metavar="MODEL", help="a model file written by 'jaxsig fit'")
    predict.add_argument("data", metavar="DATA", help=_FORMATS)
    predict.add_argument(
        "--proba", action="store_true", help="add a column with the probability of the class"
    )
    predict.add_argument(
        "-o", "--output", metavar="CSV", help="write here (atomically) instead of to stdout"
    )
    _output_options(predict, json=False)

    evaluate = _command(
        commands,
        "evaluate",
        "measure a saved model on labelled data",
        "Print accuracy, precision, recall, F1, log-loss, ROC AUC, Brier score and expected "
        "calibration error of a saved model on DATA, which must hold the model's label column.",
        "  jaxsig evaluate model.npz test.csv\n  jaxsig evaluate model.npz test.csv --plots figs",
    )
    evaluate.add_argument("model", metavar="MODEL", help="a model file written by 'jaxsig fit'")
    evaluate.add_argument("data", metavar="DATA", help=_FORMATS)
    evaluate.add_argument(
        "--plots",
        metavar="DIR",
        help="write roc.png, calibration.png and (when the model has one) loss_curve.png here "
        "(needs the plot extra)",
    )
    _output_options(evaluate)

    sweep = _command(
        commands,
        "sweep",
        "cross-validate a grid of l2 strengths in one compiled sweep",
        "Cross-validate every l2 strength of a grid on stratified folds, all folds and points "
        "in one compiled sweep, and print the best points by mean held-out log-loss (or "
        "accuracy). Features are standardised with statistics of all rows.",
        "  jaxsig sweep train.csv --target approved --l2 1e-4:1e4:64 --cv 5\n"
        "  jaxsig sweep train.csv -t approved --l2 0.01,0.1,1 --plot curve.png -o best.npz",
    )
    _data_options(sweep)
    sweep.add_argument(
        "--l2",
        default="1e-4:1e4:64",
        metavar="GRID",
        help="LO:HI:N for N log-spaced values, or a comma list (default %(default)s)",
    )
    sweep.add_argument("--cv", type=int, default=5, metavar="K", help="folds (default 5)")
    sweep.add_argument(
        "--scoring",
        choices=("log_loss", "accuracy"),
        default="log_loss",
        help="what picks the best point (default log_loss)",
    )
    sweep.add_argument("--top", type=int, default=5, metavar="K", help="rows shown (default 5)")
    sweep.add_argument(
        "--plot", metavar="FILE", help="write the validation curve here (needs the plot extra)"
    )
    sweep.add_argument(
        "-o", "--output", metavar="MODEL", help="refit on all rows at the best point, save it"
    )
    _solver_options(sweep, l1=False)
    _output_options(sweep)

    plot = _command(
        commands,
        "plot",
        "draw a figure to a PNG file (needs the plot extra)",
        "Draw the sigmoid, or a saved model's ROC curve, calibration curve, decision boundary "
        "(two features) or training loss curve, to a PNG file.",
        "  jaxsig plot sigmoid -o sigmoid.png\n"
        "  jaxsig plot roc model.npz test.csv -o roc.png\n"
        "  jaxsig plot loss model.npz -o loss.png",
    )
    figures = plot.add_subparsers(dest="figure", required=True, metavar="FIGURE")
    for name, summary, needs in (
        ("sigmoid", "the sigmoid and its derivative", ()),
        ("roc", "ROC curve of a model on labelled data", ("model", "data")),
        ("calibration", "calibration curve of a model on labelled data", ("model", "data")),
        ("boundary", "decision boundary of a two-feature model over its data", ("model", "data")),
        ("loss", "training objective per epoch, from the model file", ("model",)),
    ):
        figure = figures.add_parser(
            name, help=summary, description=summary[0].upper() + summary[1:]
        )
        if "model" in needs:
            figure.add_argument("model", metavar="MODEL", help="a model file from 'jaxsig fit'")
        if "data" in needs:
            figure.add_argument("data", metavar="DATA", help=f"labelled data: {_FORMATS}")
        figure.add_argument("-o", "--output", required=True, metavar="PNG", help="image file")
        _output_options(figure, json=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Runs ``jaxsig`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    if argv is None:  # the command itself, not a caller in-process: Ctrl-C ends it at once
        from jaxsig import _interrupt

        _interrupt.exit_on_interrupt()
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from jaxsig import demo

        demo.main(args.out_dir)
        return 0
    try:
        from jaxsig import _cli_commands

        return _cli_commands.run(args)
    except ImportError as error:
        return _fail(_missing_extra(error))
    except OSError as error:
        problem = error.strerror or str(error)
        return _fail(f"{error.filename}: {problem}" if error.filename else problem)
    except ValueError as error:  # the library's DataError, ModelFileError and validation
        return _fail(str(error))
    except KeyboardInterrupt:
        return _fail("interrupted", status=130)


# The extras that bring each optional module (pyproject's [project.optional-dependencies]).
_EXTRAS = {"matplotlib": "plot", "sklearn": "sklearn"}


def _missing_extra(error: ImportError) -> str:
    # the module that was missing, also where a library re-raised with its own message
    names = [e.name for e in (error, error.__cause__) if isinstance(e, ImportError) and e.name]
    module = names[0].partition(".")[0] if names else ""
    if module in _EXTRAS:
        return f"this needs {module}: pip install 'jaxsig[{_EXTRAS[module]}]'"
    return str(error)


def _fail(message: str, status: int = 2) -> int:
    """One line on stderr (a message's own line breaks folded), and the exit status."""
    print(f"jaxsig: error: {' '.join(message.splitlines())}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())

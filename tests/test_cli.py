"""`jaxsig fit | predict | evaluate | sweep | plot`: results equal the library's, bad input is
one line on stderr with exit status 2, and no output file is ever half-written."""

import contextlib
import csv
import errno
import io as stdio
import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import jaxsig
from jaxsig import cli, data, io, metrics

SCRIPT = os.path.join(os.path.dirname(sys.executable), "jaxsig")
COMMANDS = ["fit", "predict", "evaluate", "sweep", "plot", "plot sigmoid", "plot boundary"]


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    return str(path)


def synthetic_rows(n, seed=0):
    """Two numeric features, a categorical colour, and yes/no labels from a logistic model."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2))
    colour = rng.choice(["red", "green", "blue"], n)
    z = 1.5 * x[:, 0] - x[:, 1] + (colour == "red")
    label = np.where(rng.random(n) < 1 / (1 + np.exp(-z)), "yes", "no")
    return [[f"{a:.3f}", f"{b:.3f}", c, t] for (a, b), c, t in zip(x, colour, label, strict=True)]


HEADER = ["x1", "x2", "colour", "label"]


def run(*argv):
    """``cli.main`` in-process: (status, stdout)."""
    out = stdio.StringIO()
    with contextlib.redirect_stdout(out):
        status = cli.main([str(a) for a in argv])
    return status, out.getvalue()


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("cli")


@pytest.fixture(scope="module")
def train_csv(folder):
    return write_csv(folder / "train.csv", HEADER, synthetic_rows(160))


@pytest.fixture(scope="module")
def fitted(folder, train_csv):
    """A model fitted through the command line, and what ``--json`` printed."""
    model = str(folder / "model.npz")
    status, out = run("fit", train_csv, "--target", "label", "--seed", "3", "-o", model, "--json")
    assert status == 0
    return model, json.loads(out)


def test_fit_metrics_are_the_librarys_on_the_same_split(fitted, train_csv):
    model_path, printed = fitted
    model = io.load(model_path)
    dataset = data.read(train_csv, target="label")
    train, test = data.train_test_split(jax.random.key(3), dataset.y, test_size=0.25)
    assert printed["rows"] == {"train": train.size, "held-out": test.size}
    assert printed["options"]["solver"] == "newton"
    assert model.classes == ("no", "yes") and model.target == "label"
    assert model.feature_names == dataset.feature_names
    assert model.categories == {"colour": ("blue", "green", "red")}
    stats = data.fit_standardization(dataset.X[train])
    np.testing.assert_array_equal(model.scaling.mean, stats.mean)
    expected = jaxsig.fit(
        data.standardize(stats, dataset.X[train]),
        dataset.y[train],
        solver="newton",
        l2=1e-4,
        tol=1e-6,
        epochs=100,
    )
    np.testing.assert_allclose(model.params.w, expected.params.w, rtol=1e-6, atol=1e-7)
    assert len(model.history) == int(expected.iterations)
    for name, rows in (("train", train), ("held-out", test)):
        proba = io.predict_proba(model, dataset.X[rows])
        reference = metrics.report(dataset.y[rows], proba)
        assert printed["metrics"][name] == pytest.approx(reference, rel=1e-6)


def test_fit_prints_a_table_and_quiet_prints_nothing(folder, train_csv, capsys):
    assert cli.main(["fit", train_csv, "-t", "label", "-o", str(folder / "a.npz")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("newton on 120 rows x 5 features (l2=0.0001, l1=0): converged")
    assert out[1].split() == ["metric", "train", "held-out"]
    assert [line.split()[0] for line in out[2:6]] == [
        "accuracy",
        "log_loss",
        "roc_auc",
        "brier_score",
    ]
    assert out[-1] == f"model written to {folder / 'a.npz'}"
    assert cli.main(["fit", train_csv, "-t", "3", "-q", "-o", str(folder / "b.npz")]) == 0
    assert capsys.readouterr() == ("", "")
    assert os.path.getsize(folder / "b.npz") > 0


def test_evaluate_on_one_class_says_roc_auc_is_undefined(fitted, folder, capsys):
    rows = [[*r[:3], "yes"] for r in synthetic_rows(30, seed=2)]
    one_class = write_csv(folder / "one_class.csv", HEADER, rows)
    capsys.readouterr()
    assert cli.main(["evaluate", fitted[0], str(one_class)]) == 0
    err = capsys.readouterr().err
    assert "jaxsig: warning: roc_auc is undefined (nan): every label is 1" in err


def test_predict_and_evaluate_equal_the_library(fitted, folder, capsys):
    model_path, _ = fitted
    model = io.load(model_path)
    new_csv = write_csv(folder / "new.csv", HEADER, synthetic_rows(40, seed=1))
    labelled = data.read(
        new_csv, target="label", categories=model.categories, classes=model.classes
    )
    proba = np.asarray(io.predict_proba(model, labelled.X))
    # with its label column, to a file
    out_csv = folder / "predictions.csv"
    assert cli.main(["predict", model_path, new_csv, "-o", str(out_csv)]) == 0
    assert capsys.readouterr().out == f"40 predictions written to {out_csv}\n"
    with open(out_csv, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["prediction"]
    assert [r[0] for r in rows[1:]] == io.predict(model, labelled.X).tolist()
    # without it, with probabilities, to stdout
    features_csv = write_csv(
        folder / "features.csv", HEADER[:3], [r[:3] for r in synthetic_rows(40, seed=1)]
    )
    assert cli.main(["predict", model_path, features_csv, "--proba"]) == 0
    rows = list(csv.reader(stdio.StringIO(capsys.readouterr().out)))
    assert rows[0] == ["prediction", "probability"]
    printed = np.array([r[1] for r in rows[1:]], float).astype(proba.dtype)
    np.testing.assert_array_equal(printed, proba)  # shortest round-trip digits: exact
    assert [r[0] for r in rows[1:]] == np.where(proba > 0.5, "yes", "no").tolist()
    # evaluate
    assert cli.main(["evaluate", model_path, new_csv, "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"] == 40
    assert printed["metrics"] == pytest.approx(metrics.report(labelled.y, proba), rel=1e-6)
    assert cli.main(["evaluate", model_path, new_csv]) == 0
    lines = capsys.readouterr().out.splitlines()
    accuracy = next(line for line in lines if line.startswith("accuracy")).split()[1]
    assert float(accuracy) == pytest.approx(printed["metrics"]["accuracy"], abs=5e-5)


def test_fit_standardises_a_feature_near_1e30(folder):
    """Its variance overflows float32; the scaling statistics do not, and the fit is that of
    the same column at unit size."""
    rows = synthetic_rows(120, seed=3)
    big = [[f"{float(r[0]) * 1e30:.6g}", *r[1:]] for r in rows]
    status, out = run(
        "fit", write_csv(folder / "big.csv", HEADER, big), "-t", "label", "--test-size", "0",
        "-o", folder / "big.npz", "--json",
    )  # fmt: skip
    assert status == 0
    status, plain = run(
        "fit", write_csv(folder / "plain.csv", HEADER, rows), "-t", "label", "--test-size", "0",
        "-o", folder / "plain.npz", "--json",
    )  # fmt: skip
    metrics_big, metrics_plain = json.loads(out)["metrics"], json.loads(plain)["metrics"]
    assert metrics_big["train"]["log_loss"] == pytest.approx(
        metrics_plain["train"]["log_loss"], rel=1e-4
    )


def test_degenerate_data_warnings_name_the_features(folder, capsys):
    rows = [[*r[:3], "5", r[3]] for r in synthetic_rows(120, seed=4)]
    path = write_csv(folder / "degenerate.csv", [*HEADER[:3], "const", "label"], rows)
    status = cli.main(["fit", path, "-t", "label", "--l2", "0", "--no-standardize",
                       "-o", str(folder / "degenerate.npz")])  # fmt: skip
    assert status == 0
    error = capsys.readouterr().err
    assert "jaxsig: warning: feature 'const' is constant" in error
    assert (
        "jaxsig: warning: features 'colour=blue', 'colour=green', 'colour=red' are collinear "
        "with the intercept"
    ) in error
    assert "X column" not in error


@pytest.mark.parametrize("after", [0.5, 8.0], ids=["while JAX loads", "in a compiled loop"])
def test_ctrl_c_ends_the_command_at_once_and_keeps_the_old_output(folder, after):
    """SIGINT while the package imports JAX (an extension's initialisation used to fail with an
    ImportError traceback) and while XLA runs a long loop (Python would see it only when the
    loop ends)."""
    import signal
    import time

    out = folder / "interrupted.npz"
    out.write_text("old")
    data_csv = write_csv(folder / "long.csv", HEADER, synthetic_rows(400))
    command = [SCRIPT, "fit", data_csv, "-t", "label", "--solver", "gd", "--epochs", "2000000000",
               "-o", str(out)]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(after)  # after 8 s start-up, reading and compiling are done: the loop runs
    assert process.poll() is None
    sent = time.perf_counter()
    process.send_signal(signal.SIGINT)
    _, error = process.communicate(timeout=30)
    assert time.perf_counter() - sent < 2
    assert process.returncode == 130
    assert error.decode().strip().splitlines()[-1] == "jaxsig: error: interrupted"
    assert out.read_text() == "old"
    assert not [name for name in os.listdir(folder) if name.startswith(".interrupted.npz")]


def test_predict_ignores_labels_it_does_not_use(fitted, folder, capsys):
    """A label the model never saw ("maybe") cannot stop prediction; evaluate, which uses the
    labels, refuses it, naming the file once with the line and column."""
    model_path, _ = fitted
    rows = synthetic_rows(5, seed=2)
    rows[1][3] = "maybe"
    rows[3][3] = ""  # a row awaiting its label
    odd_csv = write_csv(folder / "odd_labels.csv", HEADER, rows)
    assert cli.main(["predict", model_path, odd_csv]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6
    assert cli.main(["evaluate", model_path, odd_csv]) == 2
    error = capsys.readouterr().err
    assert error.count("odd_labels.csv") == 1
    assert "odd_labels.csv, line " in error and "column 'label'" in error


def test_elastic_net_picks_fista_and_splits_the_strength(folder, train_csv):
    model_path = str(folder / "sparse.npz")
    status, out = run(
        "fit", train_csv, "-t", "label", "--l2", "0.2", "--l1-ratio", "0.5", "--test-size", "0",
        "--no-standardize", "-o", model_path, "--json",
    )  # fmt: skip
    assert status == 0
    printed = json.loads(out)
    assert printed["options"]["solver"] == "fista"
    assert (printed["options"]["l1"], printed["options"]["l2"]) == (0.1, 0.1)
    assert printed["rows"] == {"train": 160, "held-out": 0}
    assert list(printed["metrics"]) == ["train"]
    dataset = data.read(train_csv, target="label")
    expected = jaxsig.fit(
        dataset.X, dataset.y, solver="fista", l1=0.1, l2=0.1, tol=1e-6, epochs=5000
    )
    model = io.load(model_path)
    assert model.scaling is None
    np.testing.assert_allclose(model.params.w, expected.params.w, rtol=1e-5, atol=1e-6)
    assert np.sum(np.asarray(model.params.w) == 0) >= 1  # l1 zeroes some weights


def test_sweep_picks_the_best_l2_of_cross_validate(folder, train_csv):
    plot_path, model_path = folder / "curve.png", folder / "best.npz"
    status, out = run(
        "sweep", train_csv, "-t", "label", "--l2", "1e-3:1e2:6", "--cv", "3", "--json",
        "--plot", plot_path, "-o", model_path,
    )  # fmt: skip
    assert status == 0
    printed = json.loads(out)
    dataset = data.read(train_csv, target="label")
    X = data.standardize(data.fit_standardization(dataset.X), dataset.X)
    grid = np.geomspace(1e-3, 1e2, 6)
    cv = jaxsig.cross_validate(
        X, dataset.y, key=jax.random.key(0), n_folds=3, solver="newton", l2=grid, tol=1e-6,
        epochs=100,
    )  # fmt: skip
    assert printed["best"]["l2"] == cv.best["l2"]
    assert [p["l2"] for p in printed["points"]] == pytest.approx(grid.tolist())
    means = [p["log_loss"]["mean"] for p in printed["points"]]
    assert means == pytest.approx(np.asarray(cv.mean["log_loss"]).tolist(), rel=1e-6)
    assert plot_path.read_bytes().startswith(b"\x89PNG")
    model = io.load(str(model_path))
    assert model.solver_options["l2"] == cv.best["l2"]
    np.testing.assert_allclose(model.params.w, cv.refit.params.w, rtol=1e-6, atol=1e-7)


def test_sweep_table_lists_the_top_points_best_first(train_csv, capsys):
    assert cli.main(["sweep", train_csv, "-t", "label", "--l2", "0.001,1,100", "--cv", "3",
                     "--top", "2"]) == 0  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("3-fold cross-validation of 3 l2 values with newton on 160 rows")
    assert lines[1].split() == ["rank", "l2", "log_loss", "sd", "accuracy", "sd"]
    ranks = [line.split() for line in lines[2:]]
    assert [r[0] for r in ranks] == ["1", "2"]
    assert float(ranks[0][2]) <= float(ranks[1][2])
    assert ranks[-1][1] != "100"  # so strong a penalty is not among the best two here


def test_plots_are_written(fitted, folder, train_csv):
    pytest.importorskip("matplotlib")
    model_path, _ = fitted
    figures = folder / "figures"
    assert run("evaluate", model_path, train_csv, "--plots", figures, "-q") == (0, "")
    assert sorted(os.listdir(figures)) == ["calibration.png", "loss_curve.png", "roc.png"]
    two = write_csv(
        folder / "two.csv", ["x1", "x2", "label"], [r[:2] + r[3:] for r in synthetic_rows(60)]
    )
    two_model = folder / "two.npz"
    assert run("fit", two, "-t", "label", "-q", "-o", two_model) == (0, "")
    for figure, inputs in (
        ("sigmoid", []), ("roc", [model_path, train_csv]), ("calibration", [model_path, train_csv]),
        ("boundary", [two_model, two]), ("loss", [model_path]),
    ):  # fmt: skip
        png = figures / f"{figure}.png"
        assert run("plot", figure, *inputs, "-o", png) == (0, f"{figure} plot written to {png}\n")
        assert png.read_bytes().startswith(b"\x89PNG")
    for png in figures.iterdir():
        assert png.read_bytes().startswith(b"\x89PNG")


def test_raw_params_undo_the_scaling(fitted, train_csv):
    from jaxsig import _cli_commands

    model = io.load(fitted[0])
    X = data.read(train_csv, target="label").X
    raw = _cli_commands.raw_params(model)
    np.testing.assert_allclose(
        jaxsig.predict_proba(raw, X), io.predict_proba(model, X), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main([*command.split(), "--help"])
    assert exit_info.value.code == 0
    assert "usage: jaxsig " + command in capsys.readouterr().out


def bad_inputs(folder, model, train_csv):
    """(name, argv, the problem's words) for every kind of bad input."""
    rows = synthetic_rows(20)
    ragged = write_csv(folder / "ragged.csv", HEADER, [*rows[:5], rows[5][:3], *rows[6:]])
    nan = write_csv(folder / "nan.csv", HEADER, [*rows[:5], ["nan", *rows[5][1:]], *rows[6:]])
    one = write_csv(folder / "one.csv", HEADER, [[*r[:3], "yes"] for r in rows])
    text = write_csv(folder / "text.csv", HEADER, [*rows[:5], ["1.0", "oops", *rows[5][2:]]])
    extra = write_csv(folder / "extra.csv", ["x0", *HEADER], [["1", *r] for r in rows])
    os.makedirs(folder / "folder.csv", exist_ok=True)
    foreign = folder / "foreign.npz"
    np.savez(foreign, w=np.ones(3))
    out = str(folder / "out")
    return [
        ("missing file", ["fit", folder / "absent.csv", "-t", "label", "-o", out], "no such file"),
        ("unreadable", ["fit", folder / "folder.csv", "-t", "label", "-o", out], "cannot read"),
        ("no target", ["fit", train_csv, "-t", "colour2", "-o", out], "no target column"),
        ("no --target", ["fit", train_csv, "-o", out], "--target"),
        ("non-numeric", ["predict", model, text, "-o", out], "not a number"),
        ("nan", ["fit", nan, "-t", "label", "-o", out], "missing value"),
        ("ragged", ["fit", ragged, "-t", "label", "-o", out], "3 field(s)"),
        ("one class", ["fit", one, "-t", "label", "-o", out], "one class only"),
        ("feature count", ["predict", model, extra, "-o", out], "unknown x0"),
        ("not our model", ["predict", foreign, train_csv, "-o", out], "foreign.npz"),
        ("data as model", ["evaluate", train_csv, train_csv], "train.csv"),
        ("grid", ["sweep", train_csv, "-t", "label", "--l2", "1:0.1:3", "-o", out], "bad grid"),
        ("grid list", ["sweep", train_csv, "-t", "label", "--l2", "1,x", "-o", out], "bad grid"),
        (
            "no folder",
            ["fit", train_csv, "-t", "label", "-o", folder / "no" / "m.npz"],
            "no folder",
        ),
        (
            "l1 solver",
            ["fit", train_csv, "-t", "label", "--l1-ratio", "0.5", "--solver", "newton", "-o", out],
            "needs --solver fista",
        ),
        (
            "test size",
            ["fit", train_csv, "-t", "label", "--test-size", "1", "-o", out],
            "test-size",
        ),
        ("argparse", ["fit", train_csv, "--solver", "adam", "-o", out], "invalid choice"),
        ("epochs 0", ["fit", train_csv, "-t", "label", "--epochs", "0", "-o", out], "from 1 to"),
        (
            "epochs huge",
            ["fit", train_csv, "-t", "label", "--epochs", "1000000000000", "-o", out],
            "must be from 1 to 2147483647",
        ),
        (
            "batch 0",
            ["fit", train_csv, "-t", "label", "--solver", "sgd", "--batch-size", "0", "-o", out],
            "--batch-size: must be from 1",
        ),
    ]


def test_bad_input_is_one_line_exit_2_and_leaves_outputs_alone(fitted, folder, train_csv, capsys):
    capsys.readouterr()
    for name, argv, problem in bad_inputs(folder, fitted[0], train_csv):
        with open(folder / "out", "wb") as f:
            f.write(b"old content")
        try:
            status = cli.main([str(a) for a in argv])
        except SystemExit as exit_info:  # argparse's own errors
            status = exit_info.code
        out, err = capsys.readouterr()
        assert status == 2, name
        assert out == "", name
        assert err.count("\n") == 1 and err.startswith("jaxsig: error: "), (name, err)
        assert ": error: " in err and problem in err, (name, err)
        assert (folder / "out").read_bytes() == b"old content", name
        assert not [f for f in os.listdir(folder) if ".tmp-" in f], name  # no temporary left


def test_a_missing_extra_is_named(folder, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    assert cli.main(["plot", "sigmoid", "-o", str(folder / "s.png")]) == 2
    assert capsys.readouterr().err == (
        "jaxsig: error: this needs matplotlib: pip install 'jaxsig[plot]'\n"
    )
    assert not (folder / "s.png").exists()


def test_installed_script_exits_2_without_a_traceback(tmp_path):
    model = tmp_path / "model.npz"
    model.write_bytes(b"not a model")
    done = subprocess.run(
        [SCRIPT, "predict", str(model), str(tmp_path / "data.csv")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("jaxsig: error: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_fit_and_predict_import_neither_matplotlib_nor_sklearn(train_csv, folder):
    model = str(folder / "lean.npz")
    commands = [
        ["fit", train_csv, "-t", "label", "-q", "-o", model],
        ["predict", model, train_csv, "-q", "-o", model + ".csv"],
    ]
    program = (
        f"import sys; from jaxsig import cli\nfor argv in {commands!r}:\n"
        "    assert cli.main(argv) == 0\n"
        "print(sorted(m for m in ('matplotlib', 'sklearn') if m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    assert done.stdout == "[]\n"


def test_a_missed_tolerance_is_a_warning_line_not_an_error(folder, train_csv, capsys):
    model = str(folder / "gd.npz")
    argv = ["fit", train_csv, "-t", "label", "--solver", "gd", "--epochs", "3", "--tol", "1e-9"]
    assert cli.main([*argv, "-o", model]) == 0
    out, err = capsys.readouterr()
    assert "gd on 120 rows x 5 features (l2=0.0001, l1=0): stopped after 3 epochs" in out
    assert err.startswith("jaxsig: warning: gd did not reach tol=1e-09 in 3 epochs")
    assert err.count("\n") == 1
    assert len(io.load(model).history) == 3
    assert cli.main([*argv, "-q", "-o", model]) == 0
    assert capsys.readouterr() == ("", "")


@pytest.mark.parametrize("suffix", [".npz", ".svm"])
def test_npz_and_libsvm_files(suffix, folder):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(80, 3))
    labels = np.where(X @ [1.0, -2.0, 0.5] + rng.normal(size=80) > 0, 1, -1)
    path = str(folder / f"signs{suffix}")
    if suffix == ".npz":
        np.savez(path, X=X, y=labels)
    else:
        from sklearn.datasets import dump_svmlight_file

        dump_svmlight_file(X, labels, path)
    model_path = str(folder / f"signs{suffix}.model.npz")
    status, out = run("fit", path, "--test-size", "0", "--json", "-o", model_path)
    assert status == 0
    model = io.load(model_path)
    assert model.classes == (-1, 1) and model.feature_names == ("f0", "f1", "f2")
    dataset = data.read(path)
    reference = metrics.report(dataset.y, io.predict_proba(model, dataset.X))
    assert json.loads(out)["metrics"]["train"] == pytest.approx(reference, rel=1e-6)
    status, out = run("predict", model_path, path)
    assert [int(v) for v in out.split()[1:]] == io.predict(model, dataset.X).tolist()


def test_a_write_that_fails_midway_leaves_the_old_file(folder, train_csv, monkeypatch, capsys):
    model = folder / "kept.npz"
    model.write_bytes(b"old model")

    def disk_full(file, **arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", disk_full)
    assert cli.main(["fit", train_csv, "-t", "label", "-o", str(model)]) == 2
    assert capsys.readouterr() == ("", f"jaxsig: error: {os.strerror(errno.ENOSPC)}\n")
    assert model.read_bytes() == b"old model"
    assert not [f for f in os.listdir(folder) if ".tmp-" in f]


@pytest.mark.parametrize(("flags", "shown"), [((), True), (("--quiet",), False)])
def test_progress_bar_on_a_terminal_unless_quiet(
    monkeypatch, capsys, folder, train_csv, flags, shown
):
    """On a terminal a long fit draws its bar on stderr; --quiet (and --json) draw none."""
    from jaxsig import _progress

    monkeypatch.setattr(_progress, "on_terminal", lambda: True)
    monkeypatch.setattr(_progress, "SMALL_RUN", 0.0)  # take this small fit for a long one
    monkeypatch.setattr(_progress, "ASSUMED_RATE", 0.0)
    monkeypatch.setattr(_progress, "DELAY_SECONDS", 0.0)
    model = str(folder / "progress.npz")
    argv = ["fit", train_csv, "-t", "label", "--solver", "gd", "--epochs", "300", "-o", model]
    assert run(*argv, *flags)[0] == 0
    err = capsys.readouterr().err
    assert ("fit gd" in err and "/300" in err) == shown


@pytest.mark.filterwarnings("ignore::jaxsig.ConvergenceWarning")
def test_fit_resumes_from_its_checkpoint_bit_for_bit(folder, train_csv):
    common = ["fit", train_csv, "-t", "label", "--solver", "lbfgs", "-q"]
    state = folder / "state.npz"
    assert run(*common, "--epochs", "4", "--checkpoint", state, "-o", folder / "a.npz")[0] == 0
    resumed = [*common, "--epochs", "5", "--resume", state, "--checkpoint", state]
    assert run(*resumed, "-o", folder / "b.npz")[0] == 0
    assert run(*common, "--epochs", "9", "-o", folder / "whole.npz")[0] == 0
    b, whole = io.load(folder / "b.npz"), io.load(folder / "whole.npz")
    np.testing.assert_array_equal(b.params.w, whole.params.w)
    np.testing.assert_array_equal(b.history, whole.history)
    assert b.solver_options["iterations"] == 9
    assert io.load_state(state).metadata["history"] == whole.history.tolist()


def test_resume_refuses_other_options_and_files(folder, train_csv, capsys):
    state = folder / "refused-state.npz"
    common = ["fit", train_csv, "-t", "label", "--solver", "lbfgs", "-q", "-o", folder / "r.npz"]
    assert run(*common, "--epochs", "3", "--checkpoint", state)[0] == 0
    model_before = (folder / "r.npz").read_bytes()
    assert run(*common, "--epochs", "3", "--l2", "0.5", "--resume", state)[0] == 2
    assert "continues another fit: l2 differ(s)" in capsys.readouterr().err
    assert run(*common, "--epochs", "3", "--seed", "4", "--resume", state)[0] == 2
    assert "differ(s) from this run" in capsys.readouterr().err
    assert run(*common, "--epochs", "3", "--resume", folder / "r.npz")[0] == 2
    assert "not a jaxsig state file (a model file)" in capsys.readouterr().err
    assert (folder / "r.npz").read_bytes() == model_before  # nothing was overwritten


def test_fit_summary_is_the_unpenalised_inference_on_the_features_own_scale(folder):
    """Against statsmodels, with a column far from 0 (a year): the command line fits standardised
    columns in float32 and must still give float64 statistics on the columns' own scale."""
    sm = pytest.importorskip("statsmodels.api")
    synthetic = synthetic_rows(300, seed=4)
    rows = [[f"{2000 + float(a):.3f}", b, t] for a, b, _, t in synthetic]
    path = write_csv(folder / "numeric.csv", ["x1", "x2", "label"], rows)
    status, out = run(
        "fit",
        path,
        "-t",
        "label",
        "--test-size",
        "0",
        "--summary",
        "--json",
        "-o",
        folder / "summary.npz",
    )
    assert status == 0
    summary = json.loads(out)["summary"]
    X = np.array([[float(a), float(b)] for a, b, _ in rows])
    y = np.array([t == "yes" for *_, t in rows], float)
    expected = sm.GLM(y, sm.add_constant(X), family=sm.families.Binomial()).fit(tol=1e-13)
    for j, name in enumerate(["intercept", "x1", "x2"]):
        got = summary["coefficients"][name]
        np.testing.assert_allclose(
            [got["coef"], got["std_err"], got["p_value"]],
            [expected.params[j], expected.bse[j], expected.pvalues[j]],
            rtol=2e-3,
        )
    np.testing.assert_allclose(summary["aic"], expected.aic, rtol=1e-5)
    status, text = run("fit", path, "-t", "label", "--summary", "-o", folder / "summary.npz")
    assert status == 0 and "std err" in text and "P>|z|" in text and "x2" in text


def test_fit_summary_refuses_a_penalty(folder, train_csv, capsys):
    status, _ = run(
        "fit", train_csv, "-t", "label", "--summary", "--l2", "0.1", "-o", folder / "summary.npz"
    )
    assert status == 2
    assert "--summary needs an unpenalised fit" in capsys.readouterr().err

"""plot: every function renders a PNG, and draws the data it is given."""

import struct
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.figure import Figure

import jaxsig
from jaxsig import metrics, plot


def assert_png(path):
    """A PNG signature, then the IHDR chunk with a non-empty image."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def render(ax, tmp_path):
    path = tmp_path / "figure.png"
    plot.save(ax, path)
    assert_png(path)


def scores(seed=0, n=200):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    return y, np.round(np.clip(0.3 * y + 0.7 * rng.uniform(size=n), 0, 1), 2).astype(np.float32)


def test_sigmoid_draws_sigmoid_and_its_derivative(tmp_path):
    ax = plot.sigmoid()
    value, slope = ax.get_lines()
    x = jnp.asarray(value.get_xdata())
    np.testing.assert_array_equal(value.get_ydata(), jaxsig.sigmoid(x))
    np.testing.assert_allclose(slope.get_ydata(), jax.vmap(jax.grad(jaxsig.sigmoid))(x), rtol=1e-6)
    render(ax, tmp_path)


def test_loss_curve_draws_the_history_of_a_fit(tmp_path):
    X, y = np.linspace(-2, 2, 40)[:, None], (np.arange(40) % 3 == 0) * 1.0
    result = jaxsig.fit(X, y, solver="newton", tol=1e-6, epochs=50)
    ax = plot.loss_curve(result.history)
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_xdata(), np.arange(50))
    np.testing.assert_array_equal(line.get_ydata(), result.history)  # NaN after the stop
    render(ax, tmp_path)


def test_loss_curve_draws_one_line_per_output():
    history = np.stack([np.linspace(1, 0.1, 10), np.linspace(2, 0.5, 10)], axis=1)
    lines = plot.loss_curve(history).get_lines()
    assert [line.get_label() for line in lines] == ["output 0", "output 1"]
    np.testing.assert_array_equal(lines[1].get_ydata(), history[:, 1])
    with pytest.raises(ValueError, match="history"):
        plot.loss_curve(np.zeros((2, 2, 2)))


def test_decision_boundary_draws_the_points_and_the_line_w_x_plus_b_zero(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0]) + 0.3 + rng.normal(0, 0.5, 80) > 0) * 1.0
    params = jaxsig.fit(X, y, solver="newton", l2=0.01, tol=1e-6).params
    ax = plot.decision_boundary(params, X, y)
    np.testing.assert_array_equal(ax.collections[-1].get_offsets(), X)
    boundary = ax.collections[1].get_paths()[0].vertices  # the contour at p = 1/2
    w, b = np.asarray(params.w, np.float64), float(params.b)
    distance = np.abs(boundary @ w + b) / np.linalg.norm(w)
    spacing = np.ptp(X, axis=0).max() * 1.2 / 199  # the probability grid's step
    assert boundary.shape[0] > 10 and distance.max() < spacing
    render(ax, tmp_path)


def test_decision_boundary_needs_two_features():
    params = jaxsig.Params(jnp.zeros(3), jnp.zeros(()))
    with pytest.raises(ValueError, match=r"need \(n, 2\) and \(2,\)"):
        plot.decision_boundary(params, np.zeros((4, 3)), np.array([0, 1, 0, 1]))


def test_roc_draws_metrics_roc_curve_and_its_area(tmp_path):
    y, p = scores()
    w = np.random.default_rng(2).uniform(0, 2, y.size)
    ax = plot.roc(y, p, sample_weight=w)
    curve, chance = ax.get_lines()
    fpr, tpr, _ = metrics.roc_curve(y, p, sample_weight=w)
    np.testing.assert_array_equal(curve.get_xdata(), fpr)
    np.testing.assert_array_equal(curve.get_ydata(), tpr)
    auc = float(metrics.roc_auc(y, p, sample_weight=w))
    assert curve.get_label() == f"ROC (AUC = {auc:.3f})"
    np.testing.assert_array_equal(chance.get_xydata(), [[0, 0], [1, 1]])
    render(ax, tmp_path)


def test_calibration_draws_metrics_calibration_curve(tmp_path):
    y, p = scores(3)
    ax = plot.calibration(y, p, n_bins=8)
    curve = ax.get_lines()[0]
    mean, fraction, _ = metrics.calibration_curve(y, p, n_bins=8)
    np.testing.assert_array_equal(curve.get_xdata(), mean)
    np.testing.assert_array_equal(curve.get_ydata(), fraction)
    ece = float(metrics.expected_calibration_error(y, p, n_bins=8))
    assert curve.get_label() == f"model (ECE = {ece:.3f})"
    render(ax, tmp_path)


def test_validation_curve_draws_a_cross_validation(tmp_path):
    Xc = np.linspace(-2, 2, 60)[:, None]
    yc = (Xc[:, 0] + np.sin(5 * Xc[:, 0]) > 0) * 1.0
    l2 = np.array([10.0, 1e-3, 1e-1, 1.0])  # unsorted: drawn in order
    cv = jaxsig.cross_validate(
        Xc, yc, key=jax.random.key(0), n_folds=3, solver="newton", l2=l2, tol=1e-6, refit=False
    )
    values, mean, std = cv.points["l2"], cv.mean["log_loss"], cv.std["log_loss"]
    ax = plot.validation_curve(values, mean, std, best=cv.best["l2"])
    line, best = ax.get_lines()
    order = np.argsort(values)
    np.testing.assert_array_equal(line.get_xdata(), np.sort(l2))
    np.testing.assert_allclose(line.get_ydata(), np.asarray(mean)[order])
    band = ax.collections[0].get_paths()[0].vertices
    np.testing.assert_allclose(band[:, 1].max(), np.max(np.asarray(mean + std)), rtol=1e-6)
    np.testing.assert_allclose(band[:, 1].min(), np.min(np.asarray(mean - std)), rtol=1e-6)
    assert best.get_xdata()[0] == cv.best["l2"]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "l2"
    render(ax, tmp_path)


def test_validation_curve_marks_diverged_points_rather_than_dropping_them(tmp_path):
    values = np.array([1e-6, 1e-3, 1.0])
    mean = np.array([np.nan, 0.4, 0.5])  # a point whose metric is not even finite
    ax = plot.validation_curve(values, mean, diverged=[True, False, False])
    _, crosses = ax.get_lines()
    assert crosses.get_label() == "diverged (stopped early)" and crosses.get_marker() == "x"
    np.testing.assert_array_equal(crosses.get_xdata(), [1e-6])
    np.testing.assert_array_equal(crosses.get_ydata(), [0.5])  # the top of the finite ones
    render(ax, tmp_path)
    with pytest.raises(ValueError, match="diverged must be a mask of the 3 values"):
        plot.validation_curve(values, mean, diverged=[True])


@pytest.mark.parametrize(
    "values, mean, message",
    [([0.0, 1.0], [0.5, 0.4], "log axis"), ([1.0, 2.0], [0.5], "one length")],
)
def test_validation_curve_refuses_what_it_cannot_draw(values, mean, message):
    with pytest.raises(ValueError, match=message):
        plot.validation_curve(values, mean)


def test_functions_draw_on_the_axes_given(tmp_path):
    figure = Figure()
    left, right = figure.subplots(1, 2)
    y, p = scores(4)
    assert plot.roc(y, p, ax=left) is left
    assert plot.calibration(y, p, ax=right) is right
    assert plot.sigmoid(ax=left) is left
    path = tmp_path / "both.png"
    plot.save(figure, path)
    assert_png(path)


def test_save_closes_a_pyplot_figure(tmp_path):
    plt = pytest.importorskip("matplotlib.pyplot")
    figure, ax = plt.subplots()
    plot.sigmoid(ax=ax)
    render(ax, tmp_path)
    assert not plt.fignum_exists(figure.number)


def test_save_leaves_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    path = tmp_path / "figure.png"
    path.write_bytes(b"old")
    ax = plot.sigmoid()

    def fail(target, **kwargs):
        with open(target, "wb") as f:
            f.write(b"half a PNG")
        raise OSError("disk full")

    monkeypatch.setattr(ax.figure, "savefig", fail)
    with pytest.raises(OSError, match="disk full"):
        plot.save(ax, path)
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]


def test_imports_without_matplotlib_and_names_the_extra():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from jaxsig import plot\n"
        "try:\n    plot.sigmoid()\nexcept ImportError as error:\n    print(error)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "pip install 'jaxsig[plot]'" in result.stdout

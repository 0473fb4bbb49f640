"""The sweep's estimates: the default solver by work among those that fit in memory, and a
refusal before compiling when nothing fits, saying how many points would."""

import numpy as np
import pytest

from jaxsig import _budget, cli


def test_the_cheaper_solver_by_work_breaks_even_near_60_features():
    # measured in cross_validate sweeps (the module's docstring): newton 1.5x faster at 40
    # features, lbfgs 2.7x at 120 and 7x at 300
    assert _budget.default_solver(50_000, 40, 80, 4) == "newton"
    assert _budget.default_solver(20_000, 120, 80, 4) == "lbfgs"
    assert _budget.default_solver(49_749, 300, 80, 4) == "lbfgs"


def test_a_solver_that_does_not_fit_is_not_the_default(monkeypatch):
    newton = _budget.sweep_bytes("newton", 50_000, 40, 80, 4)
    assert _budget.sweep_bytes("lbfgs", 50_000, 40, 80, 4) < newton
    monkeypatch.setattr(_budget, "available_bytes", lambda: newton - 1)
    assert _budget.default_solver(50_000, 40, 80, 4) == "lbfgs"


def test_memory_grows_with_points_and_newton_holds_its_hessians():
    one, many = (_budget.sweep_bytes("newton", 1000, 500, p, 4) for p in (1, 11))
    assert many - one == 10 * _budget.point_bytes("newton", 1000, 500, 4)
    assert _budget.point_bytes("newton", 1000, 500, 4) > 3 * 501**2 * 4
    assert _budget.available_bytes() is None or _budget.available_bytes() > 0


def test_a_sweep_that_cannot_fit_is_refused_with_how_many_points_would(monkeypatch):
    per_point = _budget.point_bytes("newton", 10_000, 20, 4)
    monkeypatch.setattr(_budget, "available_bytes", lambda: 10_000 * 20 * 4 + 7 * per_point)
    _budget.check_fits("newton", 10_000, 20, 7, 4)
    with pytest.raises(ValueError, match=r"this sweep of 8 points with newton needs about .* "
                                         r"free: use at most 7 points"):  # fmt: skip
        _budget.check_fits("newton", 10_000, 20, 8, 4)


def test_jaxsig_sweep_refuses_before_compiling(monkeypatch, tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 2))
    y = (X[:, 0] > 0).astype(int)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="a,b,y", comments="", fmt="%g")
    monkeypatch.setattr(_budget, "available_bytes", lambda: 1000)
    assert cli.main(["sweep", str(path), "-t", "y", "--l2", "1e-3:1:4"]) == 2
    error = capsys.readouterr().err
    # nothing fits, so the default is the leaner lbfgs, and it is refused too
    assert error.startswith("jaxsig: error: this sweep of 20 points with lbfgs needs about")
    assert "but 1000 bytes is free: use at most 0 points" in error

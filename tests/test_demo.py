"""`jaxsig demo`: every tutorial example runs and prints its numbers beside the tutorial's."""

import re
import warnings

import numpy as np
import pytest

from jaxsig import cli, demo


def test_demo_reproduces_and_corrects_the_tutorial(tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # jaxsig itself must not warn; the tutorial's is caught
        assert cli.main(["demo", "--out-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "tutorial  sigmoid(raw scores) = [1. 1. 1. 1. 1.]" in out
    assert "RuntimeWarning: overflow encountered in exp" in out
    assert "jaxsig    sigmoid(-1000) = 0.0 with no warning" in out
    fitted = re.search(r"P\(approved \| .*\) = \[([^\]]*)\]", out).group(1)
    probabilities = np.array(fitted.split(), float)
    assert np.all((probabilities > 0.01) & (probabilities < 0.999))  # no longer saturated
    assert "tutorial  weights [ 0.50878747 -1.17233704]  bias -0.74667040" in out
    assert "tutorial [0, 0], jaxsig [0, 0]" in out
    accuracy = float(re.search(r"held-out accuracy ([0-9.]+)", out).group(1))
    assert accuracy > 0.95
    png = (tmp_path / "sigmoid.png").read_bytes()
    assert png.startswith(b"\x89PNG")


def test_help_lists_the_demo(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    assert "demo" in capsys.readouterr().out


def test_tutorial_formula_overflows_where_jaxsig_does_not():
    with pytest.warns(RuntimeWarning, match="overflow"):
        demo.tutorial_sigmoid(np.array([-1000.0]))

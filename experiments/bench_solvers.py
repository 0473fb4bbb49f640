"""Solver speed, measured side by side in one process: a table on stdout, JSON with --json.

Every figure is a median of --repeats runs after a first call; compile time (first call minus a
steady run) is reported apart, with jaxsig's persistent compilation cache off. Sections:
  epoch   one full-batch gradient, exact (value_and_gradient) and as solvers evaluate it, vs a
          jitted single read of X (X @ w)
  optimum time to scikit-learn's optimum within 1e-6 relative objective (float64, C = 1)
  small   breast cancer: newton steady state vs scikit-learn's newton-cholesky
  toy     the tutorial's 1000 epochs vs its NumPy loop
  memory  peak resident memory of a --rows x 100 float32 fit, in units of X's size (subprocess)
  progress  fits with progress=True as on a terminal (the loop in chunks behind a tqdm bar,
          drawn to /dev/null) against the same fits with it off, calls alternated

    python experiments/bench_solvers.py [--rows 1000000] [--optimum-rows 200000] [--json out]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
import warnings

# Measure real compilations: jaxsig's persistent cache would otherwise serve a rerun.
os.environ["JAXSIG_COMPILATION_CACHE"] = "0"

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_breast_cancer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import jaxsig  # noqa: E402
from jaxsig import _progress, demo  # noqa: E402
from jaxsig._solvers import _objective  # noqa: E402


def timed(fn, repeats: int) -> tuple[float, float]:
    """(first call, median of steady calls) in seconds; results are blocked on."""
    start = time.perf_counter()
    jax.block_until_ready(fn())
    first = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return first, float(np.median(times))


def measured(section, case, first, steady, baseline, baseline_s) -> dict:
    """A table row: jaxsig's steady time against a baseline's, compile time apart."""
    return dict(
        section=section,
        case=case,
        jaxsig_s=steady,
        baseline=baseline,
        baseline_s=baseline_s,
        ratio=steady / baseline_s,
        compile_s=first - steady,
        ratio_with_compile=first / baseline_s,
    )


def synthetic(n: int, d: int, dtype, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)).astype(dtype)
    logits = X @ rng.normal(size=d).astype(dtype) / np.sqrt(d) + 0.2
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logits))).astype(dtype)
    return X, y


def epoch_case(rows: int, dtype, repeats: int) -> list[dict]:
    """The public, correctly rounded value_and_gradient and the solvers' working-precision one
    (what a training epoch evaluates), each against a read of X."""
    X, y = synthetic(rows, 100, dtype)
    X, y = jnp.asarray(X), jnp.asarray(y)
    params = jaxsig.init(100, dtype=dtype)
    u = jnp.full(rows, 1 / rows, dtype)
    read = jax.jit(lambda X, w: X @ w)
    variants = {
        "exact value_and_gradient": jax.jit(lambda p, X, y: jaxsig.value_and_gradient(p, X, y)),
        "training epoch (working precision)": jax.jit(
            lambda p, X, y: _objective.value_and_gradient(p, X, y, u, 0.0)
        ),
    }
    _, t_read = timed(lambda: read(X, params.w), repeats)
    out = []
    for name, grad in variants.items():
        first, t_grad = timed(lambda grad=grad: grad(params, X, y), repeats)
        case = f"{rows}x100 {np.dtype(dtype).name} {name}"
        out.append(measured("epoch", case, first, t_grad, "X @ w", t_read))
    return out


def epoch_section(rows: int, repeats: int, rows_out: list) -> None:
    for dtype in (np.float32, np.float64):
        rows_out.extend(epoch_case(rows, dtype, repeats))


# Both sides stop on the largest entry of the mean-loss gradient; 1e-7 puts every run well
# inside the 1e-6 relative objective gap that is the target (the gap is printed per run).
GRADIENT_TOL = 1e-7


def sklearn_optimum(X, y, C, solver, threads):
    with threadpool_limits(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model = LogisticRegression(C=C, solver=solver, tol=GRADIENT_TOL, max_iter=100_000)
        model.fit(X, y)
        return time.perf_counter() - start, model


def optimum_section(rows: int, repeats: int, rows_out: list) -> None:
    X, y = synthetic(rows, 100, np.float64, seed=1)
    C = 1.0
    l2 = 1 / (C * rows)

    def relative_objective(w, b):
        return float(jaxsig.objective(jaxsig.Params(jnp.asarray(w), jnp.asarray(b)), X, y, l2=l2))

    sklearn_runs = {}
    for solver in ("lbfgs", "newton-cholesky", "saga"):
        for threads in (1, None):
            seconds, model = sklearn_optimum(X, y, C, solver, threads)
            value = relative_objective(model.coef_[0], model.intercept_[0])
            sklearn_runs[f"sklearn {solver} threads={threads or 'default'}"] = (seconds, value)
    Xj, yj = jnp.asarray(X), jnp.asarray(y)
    ours = {}
    for solver in ("newton", "lbfgs"):

        def run(solver=solver):
            return jaxsig.fit(Xj, yj, solver=solver, l2=l2, tol=GRADIENT_TOL, epochs=1000).params

        first, steady = timed(run, max(2, repeats // 2))
        params = run()
        ours[solver] = (first, steady, relative_objective(params.w, params.b))
    best_value = min(v for _, v in [*sklearn_runs.values(), *((s, v) for _, s, v in ours.values())])
    best_name = min(sklearn_runs, key=lambda k: sklearn_runs[k][0])
    best = sklearn_runs[best_name][0]
    for name, (seconds, value) in sklearn_runs.items():
        rows_out.append(
            dict(
                section="optimum",
                case=f"{rows}x100 float64 {name} (gap {(value - best_value) / best_value:.1e})",
                jaxsig_s=float("nan"),
                baseline=name,
                baseline_s=seconds,
                ratio=float("nan"),
                compile_s=float("nan"),
            )
        )
    for solver, (first, steady, value) in ours.items():
        gap = (value - best_value) / best_value
        case = f"{rows}x100 float64 jaxsig {solver} (gap {gap:.1e})"
        rows_out.append(measured("optimum", case, first, steady, f"best: {best_name}", best))


def small_section(repeats: int, rows_out: list) -> None:
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(0)) / X.std(0)
    l2 = 1 / len(y)
    times = [sklearn_optimum(X, y, 1.0, "newton-cholesky", None)[0] for _ in range(repeats)]
    baseline = float(np.median(times))
    first, steady = timed(
        lambda: jaxsig.fit(X, y, solver="newton", l2=l2, tol=1e-8).params, repeats
    )
    case = "breast cancer float64 newton"
    rows_out.append(measured("small", case, first, steady, "sklearn newton-cholesky", baseline))


def toy_section(repeats: int, rows_out: list) -> None:
    X, y = demo.SPAM_X, demo.SPAM_Y
    numpy_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        demo.tutorial_logistic_regression(X, y)
        numpy_times.append(time.perf_counter() - start)
    first, steady = timed(lambda: jaxsig.fit(X, y).params, repeats)
    baseline = float(np.median(numpy_times))
    case = "tutorial spam, 1000 epochs float64"
    rows_out.append(measured("toy", case, first, steady, "tutorial NumPy loop", baseline))


@contextlib.contextmanager
def bar_as_on_a_terminal():
    """progress=True as on a terminal: the loop runs in chunks; the bar, drawn to /dev/null,
    appears after its usual delay (so only in runs longer than that, as for a user)."""
    on_terminal, stderr = _progress.on_terminal, sys.stderr
    with open(os.devnull, "w") as sink:
        _progress.on_terminal, sys.stderr = (lambda: True), sink
        try:
            yield
        finally:
            _progress.on_terminal, sys.stderr = on_terminal, stderr


def progress_section(rows: int, optimum_rows: int, repeats: int, rows_out: list) -> None:
    """Each fit with the bar on and off, alternated so that both see the same machine."""
    big_X, big_y = (jnp.asarray(a) for a in synthetic(rows, 100, np.float32))
    opt_X, opt_y = (jnp.asarray(a) for a in synthetic(optimum_rows, 100, np.float64, seed=1))
    cancer_X, cancer_y = load_breast_cancer(return_X_y=True)
    cancer_X = (cancer_X - cancer_X.mean(0)) / cancer_X.std(0)
    cases = {
        "toy: tutorial spam, 1000 epochs gd": lambda progress: jaxsig.fit(
            demo.SPAM_X, demo.SPAM_Y, progress=progress
        ),
        "breast cancer newton to 1e-8": lambda progress: jaxsig.fit(
            cancer_X, cancer_y, solver="newton", l2=1 / len(cancer_y), tol=1e-8, progress=progress
        ),
        f"{optimum_rows}x100 float64 lbfgs to {GRADIENT_TOL:g}": lambda progress: jaxsig.fit(
            opt_X,
            opt_y,
            solver="lbfgs",
            l2=1 / optimum_rows,
            tol=GRADIENT_TOL,
            epochs=1000,
            progress=progress,
        ),
        f"{rows}x100 float32 gd, 20 epochs": lambda progress: jaxsig.fit(
            big_X, big_y, epochs=20, learning_rate=0.1, progress=progress
        ),
    }
    with bar_as_on_a_terminal():
        for case, fit in cases.items():
            timings = {False: [], True: []}
            firsts = {}
            for progress in (False, True):  # compile both: their first calls
                start = time.perf_counter()
                jax.block_until_ready(fit(progress).params)
                firsts[progress] = time.perf_counter() - start
            for _ in range(max(repeats, 5)):
                for progress in (False, True):
                    start = time.perf_counter()
                    jax.block_until_ready(fit(progress).params)
                    timings[progress].append(time.perf_counter() - start)
            on, off = (float(np.median(timings[p])) for p in (True, False))
            row = measured("progress", case, firsts[True], on, "progress off", off)
            rows_out.append(row | dict(baseline_compile_s=firsts[False] - off))


_MEMORY_PROBE = """
import pathlib, sys, jax, jaxsig


def status(field):
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024


rows = int(sys.argv[1])
jax.block_until_ready(jaxsig.sigmoid(1.0))
baseline = status("VmRSS")
X = jax.random.normal(jax.random.key(0), (rows, 100), "float32")
y = (X[:, 0] > 0).astype("float32")
jax.block_until_ready((X, y))
pathlib.Path("/proc/self/clear_refs").write_text("5")  # restart the peak (VmHWM) here
jax.block_until_ready(jaxsig.fit(X, y, epochs=5, learning_rate=0.1).params)
print(status("VmHWM") - baseline)
"""


def memory_section(rows: int, rows_out: list) -> None:
    """Peak resident memory while fitting, above the process before X existed, over X's bytes
    (X itself included, so 1.0 is the floor). Linux only: it reads /proc/self/status."""
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(rows)], capture_output=True, text=True, check=True
    )
    x_bytes = rows * 100 * 4
    rows_out.append(
        dict(
            section="memory",
            case=f"{rows}x100 float32 gd fit: peak / size of X",
            jaxsig_s=float("nan"),
            baseline=f"X = {x_bytes / 2**20:.0f} MiB",
            baseline_s=float("nan"),
            ratio=int(done.stdout) / x_bytes,
            compile_s=float("nan"),
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--optimum-rows", type=int, default=200_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows: list[dict] = []
    epoch_section(args.rows, args.repeats, rows)
    optimum_section(args.optimum_rows, args.repeats, rows)
    small_section(args.repeats, rows)
    toy_section(args.repeats, rows)
    memory_section(args.rows, rows)
    progress_section(args.rows, args.optimum_rows, args.repeats, rows)
    print("| section | case | jaxsig s | baseline | baseline s | ratio | compile s |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['section']} | {r['case']} | {r['jaxsig_s']:.4g} | {r['baseline']} | "
            f"{r['baseline_s']:.4g} | {r['ratio']:.3g} | {r['compile_s']:.3g} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()

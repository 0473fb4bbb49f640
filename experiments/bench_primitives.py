"""What exactness costs: jaxsig's primitives against jax.nn, optax and scipy, time and accuracy
side by side, in one process. A markdown table on stdout, JSON with --json.

Each row times one function (forward, or the gradient of its sum) on --size elements of one
dtype, jitted; the calls alternate (jaxsig, the baseline) --repeats times, and each cell is a
median, so that a shared machine's noise falls on both alike; scipy, on the host where it has
the function, is timed after them. Compilation is kept apart (a first call before timing).
The ratio is jaxsig's median over the baseline's. Beside it, the max ulp error of both over
experiments/accuracy.py's points (every float16 and bfloat16 value, >= 100,000 float32 and
float64 points, mpmath at 160 bits). A last section times predict_proba and
decision_function on 1,000,000 x 100 float32 against ``jax.nn.sigmoid(X @ w + b)`` and
``X @ w + b``.

    python experiments/bench_primitives.py [--size 4000000] [--repeats 15] [--json out.json]
        [--no-accuracy]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(__file__))
import accuracy  # turns x64 on, for the float64 rows
import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import optax
import scipy.special
from _timing import interleaved

import jaxsig
from jaxsig import _primitives
from jaxsig._solvers import _objective

DTYPES = [np.float32, ml_dtypes.bfloat16, np.float16, np.float64]


def grad_of_sum(fn):
    return jax.grad(lambda *a: jnp.sum(fn(*a).astype(jnp.float32)))


def textbook_loss(z, y):
    return jax.nn.softplus(z) - y * z


# name -> (uses labels, hard labels, jaxsig, baseline name, baseline, scipy, accuracy row)
ROWS = {
    "sigmoid": (False, None, jaxsig.sigmoid, "jax.nn", jax.nn.sigmoid,
                scipy.special.expit, "sigmoid"),
    "log_sigmoid": (False, None, jaxsig.log_sigmoid, "jax.nn", jax.nn.log_sigmoid,
                    scipy.special.log_expit, "log_sigmoid"),
    "softplus": (False, None, jaxsig.softplus, "jax.nn", jax.nn.softplus, None, None),
    "loss, hard labels": (True, True, jaxsig.logistic_loss, "optax",
                          optax.sigmoid_binary_cross_entropy, None, "loss, hard labels"),
    "loss, soft labels": (True, False, jaxsig.logistic_loss, "optax",
                          optax.sigmoid_binary_cross_entropy, None, "loss, soft labels"),
    "d sigmoid": (False, None, grad_of_sum(jaxsig.sigmoid), "jax.nn",
                  grad_of_sum(jax.nn.sigmoid), None, "d sigmoid / dx"),
    "d log_sigmoid": (False, None, grad_of_sum(jaxsig.log_sigmoid), "jax.nn",
                      grad_of_sum(jax.nn.log_sigmoid), None, "d log_sigmoid / dx"),
    "d softplus": (False, None, grad_of_sum(jaxsig.softplus), "jax.nn",
                   grad_of_sum(jax.nn.softplus), None, None),
    "d loss, hard labels": (True, True, grad_of_sum(jaxsig.logistic_loss), "optax",
                            grad_of_sum(optax.sigmoid_binary_cross_entropy), None,
                            "d loss / dz, hard"),
    "d loss, soft labels": (True, False, grad_of_sum(jaxsig.logistic_loss), "optax",
                            grad_of_sum(optax.sigmoid_binary_cross_entropy), None, None),
    # What the solvers evaluate: the exact functions against their working-precision ones
    # (jaxsig/_solvers/_objective.py), which they keep while these ratios exceed 1.1.
    "solver loss": (True, True, jaxsig.logistic_loss, "working precision", _objective.loss,
                    None, None),
    "solver residual": (True, True, jaxsig.loss_gradient, "working precision",
                        _objective.residual, None, None),
    "solver curvature": (False, None, _primitives.sigmoid_derivative, "working precision",
                         _objective.curvature, None, None),
}  # fmt: skip


def inputs(size: int, dtype, with_labels: bool, hard: bool | None):
    rng = np.random.default_rng(0)
    z = (rng.standard_normal(size) * 8).astype(dtype)
    if not with_labels:
        return (z,)
    y = rng.integers(0, 2, size) if hard else rng.uniform(0, 1, size)
    return z, y.astype(dtype)


def median_times(calls: dict, repeats: int) -> dict[str, float]:
    return interleaved(calls, repeats)[1]


def timing_row(name: str, dtype, size: int, repeats: int) -> dict:
    with_labels, hard, ours, baseline_name, baseline, host, _ = ROWS[name]
    args = inputs(size, dtype, with_labels, hard)
    device_args = [jnp.asarray(a) for a in args]
    ours_jit, baseline_jit = jax.jit(ours), jax.jit(baseline)
    calls = {
        "jaxsig": lambda: ours_jit(*device_args),
        baseline_name: lambda: baseline_jit(*device_args),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seconds = median_times(calls, repeats)
        # Apart: NumPy's large temporaries, freed between JAX's calls, would hand JAX fresh
        # pages to fault in and blur the ratio.
        if host is not None and dtype != ml_dtypes.bfloat16:
            seconds |= median_times({"scipy": lambda: host(*args)}, repeats)
    return {
        "function": name,
        "dtype": np.dtype(dtype).name,
        "baseline": baseline_name,
        "seconds": seconds,
        "ratio": seconds["jaxsig"] / seconds[baseline_name],
    }


def accuracy_cells(name: str, dtype) -> dict:
    row = ROWS[name][-1]
    if row is None:
        return {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return accuracy.measure(row, dtype)


def predict_rows(repeats: int) -> list[dict]:
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal((1_000_000, 100), dtype=np.float32))
    params = jaxsig.Params(jnp.asarray(rng.standard_normal(100, dtype=np.float32) / 10), 0.1)
    inline_proba = jax.jit(lambda p, X: jax.nn.sigmoid(X @ p.w + p.b))
    inline_logits = jax.jit(lambda p, X: X @ p.w + p.b)
    seconds = median_times(
        {
            "predict_proba": lambda: jaxsig.predict_proba(params, X),
            "jax.nn.sigmoid(X @ w + b)": lambda: inline_proba(params, X),
            "decision_function": lambda: jaxsig.decision_function(params, X),
            "X @ w + b": lambda: inline_logits(params, X),
        },
        repeats,
    )
    return [
        {
            "function": "predict_proba 1e6 x 100",
            "dtype": "float32",
            "baseline": "jax.nn.sigmoid(X @ w + b)",
            "seconds": seconds,
            "ratio": seconds["predict_proba"] / seconds["jax.nn.sigmoid(X @ w + b)"],
        },
        {
            "function": "decision_function 1e6 x 100",
            "dtype": "float32",
            "baseline": "X @ w + b",
            "seconds": seconds,
            "ratio": seconds["decision_function"] / seconds["X @ w + b"],
        },
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--no-accuracy", action="store_true", help="times only")
    parser.add_argument("--functions", help="comma-separated subset of the rows")
    parser.add_argument("--dtypes", help="comma-separated subset, e.g. float32,float64")
    args = parser.parse_args()
    names = args.functions.split(",") if args.functions else list(ROWS)
    dtypes = [d for d in DTYPES if not args.dtypes or np.dtype(d).name in args.dtypes.split(",")]
    print(f"devices: {jax.devices()}; {args.size} elements; medians of {args.repeats}")
    print("| function | dtype | jaxsig ms | base ms | ratio | scipy ms | max ulp jaxsig / base |")
    print("|---|---|---|---|---|---|---|")
    results = []
    for name in names:
        for dtype in dtypes:
            row = timing_row(name, dtype, args.size, args.repeats)
            cells = {} if args.no_accuracy else accuracy_cells(name, dtype)
            row["max_ulp"] = {tool: cell["max_ulp"] for tool, cell in cells.items()}
            ulp = " / ".join(
                f"{row['max_ulp'][t]:.3g}" for t in ("jaxsig", row["baseline"]) if t in cells
            )
            s = row["seconds"]
            scipy_ms = f"{s['scipy'] * 1e3:.1f}" if "scipy" in s else "-"
            print(
                f"| {name} | {row['dtype']} | {s['jaxsig'] * 1e3:.2f} | "
                f"{s[row['baseline']] * 1e3:.2f} | {row['ratio']:.2f} | {scipy_ms} | "
                f"{ulp or '-'} |",
                flush=True,
            )
            results.append(row)
    for row in predict_rows(args.repeats):
        s = row["seconds"]
        ours = s[row["function"].split()[0]]
        print(
            f"| {row['function']} | float32 | {ours * 1e3:.2f} | {s[row['baseline']] * 1e3:.2f} "
            f"| {row['ratio']:.2f} | - | - |"
        )
        results.append(row)
    if args.json:
        os.makedirs(os.path.dirname(args.json) or ".", exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

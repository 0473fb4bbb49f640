"""Max ulp error per function x dtype: jaxsig next to jax.nn, optax and scipy, measured alike.

Points: every finite value for float16 and bfloat16; jaxsig.testing.grid (>= 100,000 points:
log-spaced over the whole range, uniform on [-50, 50], dense around thresholds, random bit
patterns) for float32 and float64. Loss rows pair each point with a random label (hard: 0 or 1;
soft: uniform in [0, 1]). Reference: mpmath at 160 bits. Cells show the max ulp error and, in
parentheses, the 99.9th percentile; "NaN k" counts NaN results for non-NaN inputs. The jax.nn
column's loss is the textbook ``softplus(z) - y * z`` built from jax.nn. A second table counts
NaN losses and gradients at logits of +-inf and +-largest finite.

    python experiments/accuracy.py [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import warnings

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import ml_dtypes  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import scipy.special  # noqa: E402

import jaxsig  # noqa: E402
from jaxsig import testing  # noqa: E402

DTYPES = [np.float16, ml_dtypes.bfloat16, np.float32, np.float64]


def per_point(fn):
    return jax.jit(jax.vmap(fn))


def naive_loss(z, y):
    return jax.nn.softplus(z) - y * z


# name -> (reference name, uses labels, hard labels, {tool: function or None})
ROWS = {
    "sigmoid": ("sigmoid", False, None, {
        "jaxsig": jaxsig.sigmoid, "jax.nn": jax.nn.sigmoid, "scipy": scipy.special.expit,
    }),
    "log_sigmoid": ("log_sigmoid", False, None, {
        "jaxsig": jaxsig.log_sigmoid, "jax.nn": jax.nn.log_sigmoid,
        "scipy": scipy.special.log_expit,
    }),
    "loss, hard labels": ("loss", True, True, {
        "jaxsig": jaxsig.logistic_loss, "jax.nn": naive_loss,
        "optax": optax.sigmoid_binary_cross_entropy,
    }),
    "loss, soft labels": ("loss", True, False, {
        "jaxsig": jaxsig.logistic_loss, "jax.nn": naive_loss,
        "optax": optax.sigmoid_binary_cross_entropy,
    }),
    "d sigmoid / dx": ("sigmoid_derivative", False, None, {
        "jaxsig": per_point(jax.grad(jaxsig.sigmoid)),
        "jax.nn": per_point(jax.grad(jax.nn.sigmoid)),
    }),
    "d log_sigmoid / dx": ("sigmoid", False, None, {  # = sigmoid(-x): negated input below
        "jaxsig": per_point(jax.grad(jaxsig.log_sigmoid)),
        "jax.nn": per_point(jax.grad(jax.nn.log_sigmoid)),
    }),
    "d loss / dz, hard": ("loss_gradient", True, True, {
        "jaxsig": per_point(jax.grad(jaxsig.logistic_loss)),
        "jax.nn": per_point(jax.grad(naive_loss)),
        "optax": per_point(jax.grad(optax.sigmoid_binary_cross_entropy)),
    }),
}  # fmt: skip
TOOLS = ["jaxsig", "jax.nn", "optax", "scipy"]


def inputs(dtype, with_labels: bool, hard: bool | None):
    z = testing.every_finite(dtype) if np.dtype(dtype).itemsize == 2 else testing.grid(dtype)
    if not with_labels:
        return (z,)
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, z.size).astype(float) if hard else rng.uniform(0, 1, z.size)
    return z, y.astype(dtype)


def evaluate(fn, args, tool: str):
    if tool == "scipy":
        if args[0].dtype == ml_dtypes.bfloat16:
            return None
        with np.errstate(all="ignore"):  # scipy computes half precision wider: round it back
            return np.asarray(fn(*args)).astype(args[0].dtype)
    return np.asarray(fn(*(jnp.asarray(a) for a in args)))


def measure(name: str, dtype) -> dict[str, dict]:
    reference_name, with_labels, hard, tools = ROWS[name]
    args = inputs(dtype, with_labels, hard)
    wide = [a.astype(np.float64) for a in args]
    if name == "d log_sigmoid / dx":
        wide[0] = -wide[0]
    exact = testing.reference(reference_name, *wide)
    cells = {}
    for tool, fn in tools.items():
        values = evaluate(fn, args, tool)
        if values is None:
            continue
        values = values.astype(np.float64)
        errors = testing.ulp_error(values, exact, dtype)
        nan = int(np.isnan(values).sum())
        finite_errors = errors[~np.isnan(values)]
        cells[tool] = {
            "max_ulp": float(np.nanmax(finite_errors)),
            "p999_ulp": float(np.nanpercentile(finite_errors, 99.9)),
            "nan": nan,
        }
    return cells


def format_cell(cell: dict | None) -> str:
    if cell is None:
        return "n/a"
    text = f"{cell['max_ulp']:.3g} ({cell['p999_ulp']:.2g})"
    return text + (f" NaN {cell['nan']}" if cell["nan"] else "")


def special_values() -> None:
    big = float(np.finfo(np.float32).max)
    z = jnp.asarray(np.repeat([-np.inf, -big, big, np.inf], 3), jnp.float32)
    y = jnp.asarray(np.tile([0.0, 0.5, 1.0], 4), jnp.float32)
    print("\nNaN count at z in {-inf, -max, +max, +inf} x y in {0, 0.5, 1} (float32, 12 points):")
    print("| tool | loss | d loss / dz | d loss / dy |")
    print("|---|---|---|---|")
    for tool, fn in ROWS["loss, soft labels"][3].items():
        values = np.asarray(fn(z, y))
        dz = np.asarray(jax.vmap(jax.grad(fn, argnums=0))(z, y))
        dy = np.asarray(jax.vmap(jax.grad(fn, argnums=1))(z, y))
        counts = [int(np.isnan(a).sum()) for a in (values, dz, dy)]
        print(f"| {tool} | " + " | ".join(map(str, counts)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="also write the table as JSON here")
    args = parser.parse_args()
    results = []
    header = "| function | dtype | points | " + " | ".join(TOOLS) + " |"
    print(header)
    print("|" + "---|" * (3 + len(TOOLS)))
    for name in ROWS:
        for dtype in DTYPES:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                cells = measure(name, dtype)
            points = inputs(dtype, False, None)[0].size
            dtype_name = np.dtype(dtype).name
            row = [name, dtype_name, str(points)] + [format_cell(cells.get(t)) for t in TOOLS]
            print("| " + " | ".join(row) + " |", flush=True)
            results.append({"function": name, "dtype": dtype_name, "points": points, **cells})
    special_values()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()

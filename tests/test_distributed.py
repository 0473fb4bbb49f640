"""Rows and sweep points across devices (8 forced CPU devices) and hosts (2 local processes).

Each case runs in a fresh interpreter: the device count is fixed when JAX starts.
"""

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jaxsig

DATA = """
import numpy as np
rng = np.random.default_rng(0)
X = rng.normal(size=(64, 3)).astype(np.float32)
y = (X[:, 0] + rng.normal(size=64) > 0).astype(np.float32)
"""

SINGLE_HOST = (
    DATA
    + """
import json, jax, jaxsig
from jax.sharding import AxisType, NamedSharding, PartitionSpec
assert jax.device_count() == 8
out = {}
mesh = jax.make_mesh((8,), ("rows",))  # Explicit axes by default: shard_rows handles them
Xs, ys = jaxsig.shard_rows(mesh, X, y)
for solver, options in {"newton": dict(tol=1e-6), "lbfgs": dict(tol=1e-6),
                        "gd": dict(epochs=200, learning_rate=0.5)}.items():
    one = jaxsig.fit(X, y, solver=solver, l2=1e-2, **options).params
    many = jaxsig.fit(Xs, ys, solver=solver, l2=1e-2, **options).params
    out[solver] = float(np.max(np.abs(np.asarray(one.w) - np.asarray(many.w))))
l2 = np.logspace(-3, 0, 16)
points = jax.make_mesh((8,), ("points",), axis_types=(AxisType.Auto,))
one = jaxsig.sweep(X, y, solver="newton", l2=l2, tol=1e-6)
many = jaxsig.sweep(X, y, solver="newton", l2=l2, tol=1e-6, mesh=points)
out["sweep"] = float(np.max(np.abs(np.asarray(one.params.w) - np.asarray(many.params.w))))
out["sweep_spec"] = list(many.params.w.sharding.spec)
errors = {}
explicit = NamedSharding(mesh, PartitionSpec("rows"))
for name, call in {
    "rows": lambda: jaxsig.shard_rows(mesh, X[:60]),
    "points": lambda: jaxsig.sweep(X, y, l2=l2[:12], mesh=points),
    "explicit": lambda: jaxsig.fit(jax.device_put(X, explicit), y),
}.items():
    try:
        call()
    except ValueError as error:
        errors[name] = str(error)
out["errors"] = errors
print("RESULT" + json.dumps(out))
"""
)

HOST = (
    DATA
    + """
import json, sys, jax
jax.config.update("jax_cpu_collectives_implementation", "gloo")
jax.distributed.initialize(f"127.0.0.1:{sys.argv[1]}", num_processes=2, process_id=int(sys.argv[2]))
import jaxsig
mine = slice(32 * jax.process_index(), 32 * (jax.process_index() + 1))
Xg, yg = jaxsig.shard_rows(jax.make_mesh((4,), ("rows",)), X[mine], y[mine])
fitted = jaxsig.fit(Xg, yg, solver="newton", l2=1e-2, tol=1e-6).params
print("RESULT" + json.dumps([np.asarray(fitted.w).tolist(), float(fitted.b)]))
"""
)


def run_python(code, devices, *args, background=False):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    env.pop("JAX_ENABLE_X64", None)
    command = [sys.executable, "-c", textwrap.dedent(code), *map(str, args)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return process if background else finish(process)


def finish(process):
    stdout, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()[-3000:]
    line = next(x for x in stdout.decode().splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def test_rows_and_points_sharded_over_eight_devices_equal_one_device():
    out = run_python(SINGLE_HOST, 8)
    for solver in ("newton", "lbfgs", "gd"):
        # The same float32 iterations with the row sums reduced in another order.
        assert out[solver] < 1e-5, (solver, out[solver])
    assert out["sweep"] < 1e-5 and out["sweep_spec"] == ["points"]
    errors = out["errors"]
    assert "60 rows" in errors["rows"] and "8 devices" in errors["rows"]
    assert "12 points" in errors["points"]
    assert "Explicit" in errors["explicit"] and "shard_rows" in errors["explicit"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(sys.platform != "linux", reason="gloo CPU collectives: Linux")
def test_two_processes_on_loopback_equal_one_process():
    port = free_port()
    workers = [run_python(HOST, 2, port, rank, background=True) for rank in (0, 1)]
    results = [finish(w) for w in workers]
    assert results[0] == results[1]
    namespace = {}
    exec(DATA, namespace)
    fitted = jaxsig.fit(namespace["X"], namespace["y"], solver="newton", l2=1e-2, tol=1e-6)
    np.testing.assert_allclose(results[0][0], np.asarray(fitted.params.w, np.float64), atol=1e-5)
    np.testing.assert_allclose(results[0][1], float(fitted.params.b), atol=1e-5)

"""The BLAS behind the matrix kernels (kernels.blas): SciPy's OpenBLAS, or MKL with FASTBP_BLAS=mkl.

The backend is bound when fastbp is imported, so each one runs in a process of its own here.
"""
import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastbp import kernels
from fastbp.machine import machine_info

ROOT = Path(__file__).resolve().parents[1]
try:
    importlib.metadata.distribution("mkl")
    HAVE_MKL = True
except importlib.metadata.PackageNotFoundError:
    HAVE_MKL = False

# Gradients and forward passes on 1 and 2 threads, over one block of rows, several, and more than OUTER.
PROBE = """
import json, numpy as np, fastbp
from fastbp import kernels
out = {"backend": kernels.BLAS_BACKEND}
rng = np.random.default_rng(0)
for dtype in ("float64", "float32"):
    net = fastbp.MLP([50, 40, 30, 6], hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=1)
    for n in (100, 700, 5000):
        X = rng.standard_normal((n, 50)); labels = rng.integers(0, 6, n)
        g1, g2 = net.gradient(X, labels, n_threads=1), net.gradient(X, labels, n_threads=2)
        out[f"{dtype}-{n}"] = {"same_bits": bool(np.array_equal(g1, g2)), "gradient": g1.astype(float).tolist(),
                               "forward": net.forward(X[:300]).astype(float).ravel().tolist()}
print(json.dumps(out))
"""


def probe(backend):
    env = dict(os.environ, FASTBP_BLAS=backend)
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_openblas_unless_mkl_is_asked_for():
    assert kernels.BLAS_BACKEND == (os.environ.get("FASTBP_BLAS") or "openblas")
    assert machine_info()["kernel_blas"] == kernels.BLAS_BACKEND


@pytest.mark.skipif(not HAVE_MKL, reason="the mkl package is not installed (pip install fastbp[mkl])")
def test_mkl_and_openblas_agree_and_neither_depends_on_the_thread_count():
    runs = {backend: probe(backend) for backend in ("openblas", "mkl")}
    assert [runs[b]["backend"] for b in runs] == ["openblas", "mkl"]
    for key in runs["mkl"]:
        if key == "backend":
            continue
        tol = dict(rtol=1e-4, atol=1e-6) if key.startswith("float32") else dict(rtol=1e-10, atol=1e-14)
        for backend in runs:
            assert runs[backend][key]["same_bits"], (backend, key)
        for part in ("gradient", "forward"):
            np.testing.assert_allclose(runs["mkl"][key][part], runs["openblas"][key][part], **tol)


def test_openblas_alone_keeps_thread_count_independence():
    run = probe("openblas")
    assert run["backend"] == "openblas"
    assert all(v["same_bits"] for k, v in run.items() if k != "backend")


@pytest.mark.parametrize("value, error", [("bogus", "FASTBP_BLAS must be one of mkl, openblas, got 'bogus'"),
                                          ("mkl", None)])
def test_a_backend_that_cannot_be_had_is_named(value, error):
    if value == "mkl":
        if HAVE_MKL:
            pytest.skip("MKL is installed here")
        error = "FASTBP_BLAS=mkl, but the mkl package is not installed"
    env = dict(os.environ, FASTBP_BLAS=value)
    done = subprocess.run([sys.executable, "-c", "import fastbp; fastbp.MLP"], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)  # the kernels load on first use
    assert done.returncode != 0
    assert error in done.stderr


@pytest.mark.skipif(not HAVE_MKL, reason="the mkl package is not installed (pip install fastbp[mkl])")
def test_mkl_loaded_by_something_else_first_is_left_alone():
    code = ("import ctypes, importlib.metadata as m\n"
            "f = [p for p in m.distribution('mkl').files if p.name.startswith('libmkl_rt.so')][0]\n"
            "ctypes.CDLL(str(f.locate()))\n"
            "import fastbp")
    done = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTBP_BLAS="mkl"), cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "FASTBP_BLAS=mkl, but MKL was already loaded by something else in this process" in done.stderr

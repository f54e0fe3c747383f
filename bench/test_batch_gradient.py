"""Mean batch gradient (softmax + cross-entropy) per shape, batch size and dtype: fastbp on 1 and 2
threads against NumPy (matrix products, 2 BLAS threads), PyTorch (loss.backward, 2 threads) and JAX
(jit(grad), in a process of 2 cores: problems.jax_on); and the 2-thread matrix-product ceiling of this
machine (NumPy's BLAS and the kernels'), measured in the same run.
Every answer is checked against the float64 NumPy gradient."""
import numba
import numpy as np
import pytest
from fastbp.kernels.blas import gemm
from threadpoolctl import threadpool_limits

from bench import peers
from bench.problems import classification, edges, jax_on, rounds_filling, softmax_net
from fastbp import engine, kernels
from fastbp.threads import using_threads

SHAPES = ["64-32-10", "784-128-10", "784-256-256-10"]
BATCHES = [1, 32, 256, 4096]
IMPLEMENTATIONS = ["fastbp-1-thread", "fastbp-2-threads", "numpy", "torch", "jax"]
DTYPES = ["float64", "float32"]
TOLERANCE = {"float64": dict(rtol=1e-8, atol=1e-12), "float32": dict(rtol=2e-3, atol=2e-5)}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)  # the slowest-varying: each implementation's
# runs together, fastbp's before any peer has started a thread pool (a peer's pool still busy made
# a 2-thread fastbp run 40x slower once, 64-32-10 at B = 256)
def test_batch_gradient(benchmark, record, quick, shape, batch, implementation, dtype):
    if quick and batch == 4096 and shape == "784-256-256-10":
        pytest.skip("quick mode")
    if implementation == "jax":
        jax_on(2)
    sizes = [int(v) for v in shape.split("-")]
    net = softmax_net(sizes, dtype=np.dtype(dtype))
    X64, labels, Y64 = classification(sizes, batch)
    X, Y = X64.astype(dtype), Y64.astype(dtype)
    layers = peers.layers_of(net, dtype)
    benchmark.group = f"batch gradient {shape} B={batch} {dtype}"
    threads = 1 if implementation == "fastbp-1-thread" else 2
    if implementation.startswith("fastbp"):
        def run():  # the flat gradient (a new array each call), split into layers below, outside the timing
            return net.gradient(X, labels, n_threads=threads)
    elif implementation == "numpy":
        def run():
            return peers.numpy_batch_gradient(layers, X, Y)
    elif implementation == "torch":
        run = peers.torch_batch_gradient(layers, X, labels, n_threads=2)
    else:
        run = peers.jax_batch_gradient(layers, X, Y)
    if run is None:
        pytest.skip(f"{implementation} is not installed")
    expected = peers.numpy_batch_gradient(peers.layers_of(net), X.astype(np.float64), Y64)
    answer = run()
    if implementation.startswith("fastbp"):
        answer = zip(*net.layer_views(answer))
    for (gW, gb), (eW, eb) in zip(answer, expected):
        assert gW.dtype == gb.dtype == np.dtype(dtype)
        np.testing.assert_allclose(gW, eW, **TOLERANCE[dtype])
        np.testing.assert_allclose(gb, eb, **TOLERANCE[dtype])
    record(implementation=implementation, shape=shape, edges=edges(sizes), samples=batch, batch=batch,
           threads=threads, dtype=dtype, kind="batch_gradient")
    with threadpool_limits(2, user_api="blas"):  # NumPy's BLAS on both cores, outside the timed call
        rounds = 5 if quick else rounds_filling(run, 0.5, 15)
        benchmark.pedantic(run, rounds=rounds, iterations=1, warmup_rounds=1)


@numba.njit(parallel=True)
def _halves_product(a, b, out, n):
    """out = a @ b for (n, n) matrices held flat, as two column halves, each one call of the kernels'
    gemm on a thread of its own: the way fastbp's kernels run their products."""
    half = n // 2
    for t in numba.prange(2):
        gemm(False, False, n, half, n, 1.0, a, 0, n, b, t * half, n, 0.0, out, t * half, n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("blas", ["numpy", "kernels"])
def test_two_thread_matrix_product_ceiling(benchmark, record, dtype, blas):
    """The most multiply-adds per second two cores reach here, against which fastbp's batch gradients
    at B = 4096 are set: a 1024^3 product on 2 threads, by NumPy (its OpenBLAS, 2 BLAS threads) and
    by the BLAS of fastbp's kernels (two one-thread calls side by side); the report takes the higher."""
    rng = np.random.default_rng(0)
    a, b = rng.random((1024, 1024)).astype(dtype), rng.random((1024, 1024)).astype(dtype)
    out = np.empty((1024, 1024), dtype)
    benchmark.group = f"matrix-product ceiling, 2 threads, {dtype}"
    if blas == "numpy":
        def run():
            np.dot(a, b, out=out)
        name = f"numpy-gemm-{dtype}"
    else:
        def run():
            with engine.matrix_call(True), using_threads(2):
                _halves_product(a.reshape(-1), b.reshape(-1), out.reshape(-1), 1024)
        name = f"kernels-gemm-{kernels.BLAS_BACKEND}-{dtype}"
    with threadpool_limits(2, user_api="blas"):
        run()
        np.testing.assert_allclose(out[:3, :3], a[:3].astype(float) @ b[:, :3], rtol=1e-4)
        record(implementation=name, multiply_adds=1024 ** 3, threads=2, dtype=dtype, kind="ceiling2")
        benchmark(run)

"""Single kernels: forward only, and one sample's gradient by backprop against finite differences
(the cost experiment's measurement, in pytest-benchmark form), and the FMA ceiling of this core."""
import numba
import numpy as np
import pytest

from bench import peers
from bench.problems import classification, edges, softmax_net
from fastbp import costs


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("rows", [1000, 10000])
@pytest.mark.parametrize("implementation", ["fastbp", "numpy"])
@pytest.mark.parametrize("shape", ["64-32-10", "784-128-10"])
def test_forward(benchmark, record, shape, implementation, rows, dtype):
    """net.forward against NumPy's matrix products (2 BLAS threads), outputs checked against float64."""
    from threadpoolctl import threadpool_limits
    sizes = [int(v) for v in shape.split("-")]
    net = softmax_net(sizes, dtype=np.dtype(dtype))
    X64, _, _ = classification(sizes, rows)
    X = X64.astype(dtype)
    layers = peers.layers_of(net, dtype)
    benchmark.group = f"forward {shape} B={rows} {dtype}"

    def numpy_forward(layers=layers, X=X):
        a = X
        for l, (W, b) in enumerate(layers):
            z = a @ W.T + b
            a = peers._softmax(z) if l == len(layers) - 1 else peers._sigmoid(z)
        return a

    run = (lambda: net.forward(X)) if implementation == "fastbp" else numpy_forward
    expected = numpy_forward(peers.layers_of(net), X.astype(np.float64))
    tol = dict(rtol=1e-10, atol=1e-14) if dtype == "float64" else dict(rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(run(), expected, **tol)
    record(implementation=implementation, shape=shape, edges=edges(sizes), samples=rows, batch=rows,
           threads=numba.get_num_threads(), dtype=dtype, kind="forward")
    with threadpool_limits(2, user_api="blas"):
        benchmark(run)


@pytest.mark.parametrize("method", ["backprop", "central", "forward"])
@pytest.mark.parametrize("hidden", [4, 32])
def test_single_sample_gradient(benchmark, record, hidden, method):
    sizes = costs.swept_sizes(hidden)
    probe = costs.Probe(sizes)
    costs.warm_up()
    benchmark.group = f"one-sample gradient E={edges(sizes)}"
    if method == "backprop":
        run = lambda: probe.backprop(1)  # noqa: E731
    else:
        run = lambda: probe.numerical(1, method)  # noqa: E731
    run()
    backprop = probe.net.gradient(probe.X, probe.Y)
    np.testing.assert_allclose(probe.grad, backprop, rtol=1e-4 if method == "forward" else 1e-7,
                               atol=1e-6 if method == "forward" else 1e-9)
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        record(implementation=method, shape="-".join(map(str, sizes)), edges=edges(sizes), samples=1, batch=1,
               threads=1, dtype="float64", kind="one_sample_gradient",
               multiply_adds=costs.multiply_adds(sizes, method))
        benchmark(run)
    finally:
        numba.set_num_threads(previous)


def test_fma_ceiling(benchmark, record):
    """The multiply-add ceiling of one core, measured in the same run as the other benchmarks:
    a one-thread float64 matrix product (OpenBLAS DGEMM), the most that tuned code reaches here."""
    from threadpoolctl import threadpool_limits
    benchmark.group = "fma ceiling, 1 thread"
    a = np.random.default_rng(0).random((768, 768))
    b = np.random.default_rng(1).random((768, 768))
    out = np.empty((768, 768))
    np.testing.assert_allclose(np.dot(a, b, out=out)[:3, :3], a[:3] @ b[:, :3], rtol=1e-12)
    record(implementation="numpy-dgemm", multiply_adds=768 ** 3, threads=1, dtype="float64", kind="ceiling")
    with threadpool_limits(1, user_api="blas"):
        benchmark(lambda: np.dot(a, b, out=out))

"""Mean batch gradient (softmax + cross-entropy) per shape and batch size: fastbp on 1 and 2 threads
against NumPy (matrix products), PyTorch (loss.backward, 2 threads) and JAX (jit(grad)).
Every answer is checked against the NumPy gradient."""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bench import peers
from bench.problems import classification, edges, softmax_net

SHAPES = ["64-32-10", "784-128-10", "784-256-256-10"]
BATCHES = [1, 32, 256, 4096]
IMPLEMENTATIONS = ["fastbp-1-thread", "fastbp-2-threads", "numpy", "torch", "jax"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_gradient(benchmark, record, quick, shape, batch, implementation):
    if quick and batch == 4096 and shape == "784-256-256-10":
        pytest.skip("quick mode")
    sizes = [int(v) for v in shape.split("-")]
    net = softmax_net(sizes)
    X, labels, Y = classification(sizes, batch)
    layers = peers.layers_of(net)
    benchmark.group = f"batch gradient {shape} B={batch}"
    threads = 1 if implementation == "fastbp-1-thread" else 2
    if implementation.startswith("fastbp"):
        def run():
            g = net.gradient(X, labels, n_threads=threads)
            return [(W.copy(), b.copy()) for W, b in zip(*net.layer_views(g))]
    elif implementation == "numpy":
        def run():
            return peers.numpy_batch_gradient(layers, X, Y)
    elif implementation == "torch":
        run = peers.torch_batch_gradient(layers, X, labels, n_threads=2)
    else:
        run = peers.jax_batch_gradient(layers, X, Y)
    if run is None:
        pytest.skip(f"{implementation} is not installed")
    expected = peers.numpy_batch_gradient(layers, X, Y)
    for (gW, gb), (eW, eb) in zip(run(), expected):
        np.testing.assert_allclose(gW, eW, rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(gb, eb, rtol=1e-8, atol=1e-12)
    record(implementation=implementation, shape=shape, edges=edges(sizes), samples=batch, batch=batch,
           threads=threads, dtype="float64", kind="batch_gradient")
    with threadpool_limits(2, user_api="blas"):  # NumPy's BLAS on both cores, outside the timed call
        benchmark.pedantic(run, rounds=5 if quick else 15, iterations=1, warmup_rounds=1)

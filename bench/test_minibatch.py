"""A minibatch epoch through ``net.fit`` against the same epoch in NumPy, PyTorch and JAX.

784-128-10, tanh hidden, softmax + mean cross-entropy, plain SGD (lr 0.01), 4,096 samples in
order (shuffle off), batch 32 and 128, float32 and float64, 1 and 2 threads (JAX, whose thread
pool is sized to the process's cores when it starts, only in a process pinned to as many cores as
the cell's threads: problems.jax_on). Every peer starts from fastbp's weights and must end the
epoch with fastbp's weights.
"""
import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from bench import peers
from bench.problems import classification, edges, jax_on, rounds_filling, run_pedantic

SIZES = [784, 128, 10]
N = 4096
LR = 0.01
TOLERANCE = {"float64": dict(rtol=1e-7, atol=1e-10), "float32": dict(rtol=2e-3, atol=2e-5)}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch", [32, 128])
@pytest.mark.parametrize("implementation", ["fastbp", "numpy", "torch", "jax-scan"])
def test_minibatch_epoch(benchmark, record, quick, implementation, batch, dtype, threads):
    import fastbp
    if implementation == "jax-scan":
        jax_on(threads)
    net = fastbp.MLP(SIZES, hidden="tanh", output="softmax", loss="cross_entropy", dtype=np.dtype(dtype), seed=0)
    X, labels, Y = classification(SIZES, N)
    X, Y = X.astype(dtype), Y.astype(dtype)
    start = peers.layers_of(net, dtype)
    first = net.params.copy()
    fitted = {}

    def fastbp_setup():
        net.params[:] = first

    def fastbp_run():
        fitted["history"] = net.fit(X, labels, mode="minibatch", batch_size=batch, epochs=1, lr=LR, shuffle=False,
                                    n_threads=threads)

    reference = fastbp.MLP(SIZES, hidden="tanh", output="softmax", loss="cross_entropy", dtype=np.dtype(dtype),
                           seed=0)
    reference.fit(X, labels, mode="minibatch", batch_size=batch, epochs=1, lr=LR, shuffle=False)
    if implementation == "fastbp":
        setup, run, result = fastbp_setup, fastbp_run, lambda: list(zip(net.weights, net.biases))
    elif implementation == "torch":
        made = peers.torch_minibatch(start, X, Y, batch, LR, n_threads=threads)
        if made is None:
            pytest.skip("torch is not installed")
        setup, run, result = made
    else:
        made = peers.MINIBATCH_PEERS[implementation](start, X, Y, batch, LR)
        if made is None:
            pytest.skip(f"{implementation} is not installed")
        setup, run, result = made
    setup()
    with threadpool_limits(threads, user_api="blas"):
        run()
    for (W, b), W_ref, b_ref in zip(result(), reference.weights, reference.biases):
        np.testing.assert_allclose(W, W_ref, **TOLERANCE[dtype])
        np.testing.assert_allclose(b, b_ref, **TOLERANCE[dtype])
    benchmark.group = f"minibatch epoch {'-'.join(map(str, SIZES))} B={batch} {dtype} {threads} thread(s)"
    record(implementation=implementation, shape="-".join(map(str, SIZES)), edges=edges(SIZES), samples=N,
           batch=batch, threads=threads, dtype=dtype, kind="minibatch_epoch")
    with threadpool_limits(threads, user_api="blas"):
        # rounds filling about a second, as the batch gradients' do: 11 rounds of 7-60 ms were as little as
        # a tenth of a second of a shared machine
        rounds = 3 if quick else rounds_filling(lambda: (setup(), run()), 1.0, 11)
        run_pedantic(benchmark, run, setup, rounds=rounds)

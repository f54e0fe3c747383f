"""Chunked batch gradients: the same bits on 1 and N threads, serial and parallel builds alike."""
import numba
import numpy as np
import pytest

import fastbp
import kernels
from conftest import random_problem

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 cores")


@two_threads
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradient_is_bit_identical_on_one_and_two_threads(rng, dtype):
    sizes = [20, 64, 32, 5]
    net = fastbp.MLP(sizes, hidden="relu", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
    X, Y = random_problem(rng, sizes, "softmax", n=1000)  # 16 chunks, above the threading threshold
    assert kernels.chunk_count(1000, net.n_params) > 1
    assert 1000 * net.n_edges >= fastbp.model.PARALLEL_MIN_WORK
    one = net.gradient(X, Y, l2=0.01, n_threads=1)
    two = net.gradient(X, Y, l2=0.01, n_threads=2)
    assert one.dtype == two.dtype == dtype
    np.testing.assert_array_equal(one, two)


def test_serial_and_parallel_builds_agree_bit_for_bit(rng):
    sizes = [7, 9, 3]
    net = fastbp.MLP(sizes, hidden="tanh", seed=1)
    X, Y = random_problem(rng, sizes, n=333)
    rows = rng.permutation(333)
    n_chunks = kernels.chunk_count(333, net.n_params)
    grads = []
    for kernel in (kernels.gradient_serial, kernels.gradient_parallel):
        partial, work = net._buffers(n_chunks)
        grad = np.empty(net.n_params)
        loss = kernel(params=net.params, sizes=net._sizes, acts=net._acts, loss=net._loss_code, X=X, Y=Y,
                      rows=rows, grad=grad, partial=partial, work=work)
        grads.append((grad, loss))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    assert grads[0][1] == grads[1][1]
    np.testing.assert_allclose(grads[0][0] / 333, net.gradient(X, Y), rtol=1e-12, atol=1e-15)


@two_threads
def test_minibatch_loss_curve_is_the_same_on_one_and_two_threads(rng):
    sizes = [30, 48, 4]
    X, Y = random_problem(rng, sizes, "softmax", n=2048)
    curves = []
    for n_threads in (1, 2):
        net = fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", seed=2)
        history = net.fit(X, Y, mode="minibatch", batch_size=512, epochs=3, lr=0.2, momentum=0.5, seed=3,
                          n_threads=n_threads)
        curves.append((history.loss, net.params.copy()))
    assert curves[0][0] == curves[1][0]
    np.testing.assert_array_equal(curves[0][1], curves[1][1])


def test_chunk_count_depends_on_the_work_only():
    assert kernels.chunk_count(1, 10) == 1
    assert kernels.chunk_count(32, 10) == 1
    assert kernels.chunk_count(33, 10) == 2
    assert kernels.chunk_count(10_000, 10) == kernels.gradient.MAX_CHUNKS
    assert kernels.chunk_count(10_000, 1 << 24) == 2  # the partial buffers stay within MAX_PARTIAL
    previous = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        assert kernels.chunk_count(5000, 1000) == kernels.gradient.MAX_CHUNKS
    finally:
        numba.set_num_threads(previous)

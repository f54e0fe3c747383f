"""Chunked batch gradients: the same bits on 1 and N threads, serial and parallel builds alike."""
import numba
import numpy as np
import pytest
from conftest import HEADS, HIDDEN, random_problem

import fastbp
from fastbp import kernels
from fastbp.engine import PARALLEL_MIN_WORK, Workspace, uses_matrices

two_threads = pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs 2 cores")


@two_threads
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sizes", [[9, 8, 3], [120, 100, 5]])  # sample by sample; as matrices
def test_gradient_is_bit_identical_on_one_and_two_threads(rng, dtype, sizes):
    net = fastbp.MLP(sizes, hidden="relu", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
    X, Y = random_problem(rng, sizes, "softmax", n=2000)  # 16 chunks or 8 row blocks, on threads
    assert 2000 * net.n_edges >= PARALLEL_MIN_WORK
    assert uses_matrices(net, 2000) == (sizes[0] == 120)
    one = net.gradient(X, Y, l2=0.01, n_threads=1)
    two = net.gradient(X, Y, l2=0.01, n_threads=2)
    assert one.dtype == two.dtype == dtype
    np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("blocked", [False, True])
def test_serial_and_parallel_builds_agree_bit_for_bit(rng, blocked):
    sizes = [7, 9, 3]
    net = fastbp.MLP(sizes, hidden="tanh", seed=1)
    n = 5000 if blocked else 333  # blocked: more than OUTER rows, so the parts are added up too
    X, Y = random_problem(rng, sizes, n=n)
    rows = rng.permutation(n)
    grads = []
    for serial in (True, False):
        grad = np.empty(net.n_params)
        args = dict(net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows, grad=grad)
        if blocked:
            kernel = kernels.matrix_serial if serial else kernels.matrix_parallel
            loss = kernel(out=np.empty((0, sizes[-1])), work=Workspace(net).matrix(n), scale=1.0, check=False,
                          update=False, decay=0.0, **args)
        else:
            n_chunks = kernels.chunk_count(n, net.n_params)
            assert n_chunks > 1
            partial, work = Workspace(net).chunks(n)
            kernel = kernels.gradient_serial if serial else kernels.gradient_parallel
            loss = kernel(partial=partial, work=work, **args)
        grads.append((grad, loss))
    np.testing.assert_array_equal(grads[0][0], grads[1][0])
    assert grads[0][1] == grads[1][1]
    np.testing.assert_allclose(grads[0][0] / n, net.gradient(X, Y), rtol=1e-11, atol=1e-15)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", HEADS)
def test_blocked_chunks_match_the_reference(rng, hidden, head):
    """The matrix (BLAS) path against the NumPy reference of the seed equations."""
    import reference as ref
    from conftest import acts_of
    output, loss = head
    sizes = [100, 80, 40, 4]
    net = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=5)
    X, Y = random_problem(rng, sizes, output, n=300)
    assert uses_matrices(net, 300)
    expected = ref.batch_gradient(ref.unflatten(net.params, sizes), X, Y, acts_of(net), loss, l2=0.01)
    np.testing.assert_allclose(net.gradient(X, Y, l2=0.01), ref.flatten(expected), rtol=1e-9, atol=1e-13)


@two_threads
@pytest.mark.parametrize("momentum", [0.5, 0.0])  # 0: plain SGD on the matrix path steps inside the products
@pytest.mark.parametrize("sizes, batch", [([9, 8, 3], 2048), ([120, 100, 4], 32), ([120, 100, 4], 128),
                                         ([120, 100, 4], 512)])
def test_minibatch_loss_curve_is_the_same_on_one_and_two_threads(rng, sizes, batch, momentum):
    """Sample by sample in chunks; as matrices by columns (one block of rows); by two half blocks; by blocks
    of rows."""
    X, Y = random_problem(rng, sizes, "softmax", n=4096)
    curves = []
    for n_threads in (1, 2):
        net = fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", seed=2)
        assert batch * net.n_edges >= PARALLEL_MIN_WORK
        history = net.fit(X, Y, mode="minibatch", batch_size=batch, epochs=2, lr=0.2, momentum=momentum, seed=3,
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


@two_threads
@pytest.mark.parametrize("n", [8, 50, 128, 200, 3000, 5000])  # one block; two halves; several; more than OUTER
def test_matrix_path_is_bit_identical_on_one_and_two_threads(rng, n):
    sizes = [300, 200, 10]
    net = fastbp.MLP(sizes, hidden="sigmoid", output="softmax", loss="cross_entropy", seed=6)
    X, Y = random_problem(rng, sizes, "softmax", n=n)
    assert uses_matrices(net, n)
    np.testing.assert_array_equal(net.gradient(X, Y, n_threads=1), net.gradient(X, Y, n_threads=2))
    rows = rng.permutation(n)  # gathered rows, not X in place
    np.testing.assert_array_equal(net.gradient(X[rows], Y[rows], n_threads=1),
                                  net.gradient(X[rows], Y[rows], n_threads=2))
    before = numba.get_num_threads()
    try:
        outputs = []
        for n_threads in (1, 2):
            numba.set_num_threads(n_threads)
            outputs.append(net.forward(X))
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(*outputs)


@pytest.mark.parametrize("sizes", [[9, 8, 3], [120, 100, 5]])  # sample by sample; as matrices
def test_concurrent_gradient_calls_on_one_network_give_the_serial_result(rng, sizes):
    """Every call has its own buffers, and BLAS is held to one thread per calling thread, so calls
    from two threads never write each other's sums and give the main thread's bits."""
    from concurrent.futures import ThreadPoolExecutor
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    X, Y = random_problem(rng, sizes, "softmax", n=500)
    expected = net.gradient(X, Y)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: net.gradient(X, Y), range(100)))
    assert all(np.array_equal(g, expected) for g in results)


def test_concurrent_fit_on_different_networks_and_predict_give_the_serial_results(rng):
    from concurrent.futures import ThreadPoolExecutor
    sizes = [120, 100, 5]
    X, Y = random_problem(rng, sizes, "softmax", n=400)

    def train(seed):
        net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=seed)
        net.fit(X, Y, mode="minibatch", batch_size=100, epochs=2, lr=0.1, seed=seed)
        return net.params.copy(), net.predict(X)

    expected = [train(s) for s in range(4)]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(train, list(range(4)) * 25))  # 100 fits
    for i, (params, predicted) in enumerate(results):
        np.testing.assert_array_equal(params, expected[i % 4][0])
        np.testing.assert_array_equal(predicted, expected[i % 4][1])


def test_concurrent_fit_on_one_network_is_an_error_that_says_why(rng):
    import threading
    sizes = [4, 8, 3]
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    X, Y = random_problem(rng, sizes, "softmax", n=50)
    started, release, errors = threading.Event(), threading.Event(), []

    def slow_callback(history):
        started.set()
        release.wait(10)

    worker = threading.Thread(target=lambda: net.fit(X, Y, epochs=1, callback=slow_callback))
    worker.start()
    assert started.wait(30)
    before = net.params.copy()
    try:
        net.fit(X, Y, epochs=1)
    except RuntimeError as exc:
        errors.append(str(exc))
    release.set()
    worker.join()
    assert errors and "fit is already running on this network" in errors[0]
    np.testing.assert_array_equal(net.params, before)  # the refused call changed nothing
    net.fit(X, Y, epochs=1)  # and the network is free again afterwards

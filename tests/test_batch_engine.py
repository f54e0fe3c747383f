"""The batch engine: gemm on parts of flat buffers, the matrix forward pass and gradient, and the
minibatch epoch in one call, against NumPy and the per-sample kernels."""
import numba
import numpy as np
import pytest
import reference as ref
from conftest import HEADS, HIDDEN, acts_of, random_problem
from fastbp.kernels.blas import gemm

import fastbp
from fastbp import engine, kernels


@numba.njit
def _gemm(trans_a, trans_b, m, n, k, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc):
    gemm(trans_a, trans_b, m, n, k, alpha, A, a_off, lda, B, b_off, ldb, beta, C, c_off, ldc)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_on_blocks_of_flat_buffers(rng, dtype, trans_a, trans_b):
    """C[2:5, 1:4] = 0.5 op(A block) op(B block) + 2 C[2:5, 1:4], every operand a block inside a larger matrix."""
    big_a = rng.normal(size=(9, 11)).astype(dtype)
    big_b = rng.normal(size=(10, 12)).astype(dtype)
    C = rng.normal(size=(7, 6)).astype(dtype)
    m, n, k = 3, 3, 4
    a = big_a[1:1 + (k if trans_a else m), 2:2 + (m if trans_a else k)]
    b = big_b[3:3 + (n if trans_b else k), 1:1 + (k if trans_b else n)]
    expected = C.copy()
    expected[2:5, 1:4] = 0.5 * ((a.T if trans_a else a) @ (b.T if trans_b else b)) + 2 * C[2:5, 1:4]
    _gemm(trans_a, trans_b, m, n, k, 0.5, big_a.ravel(), 1 * 11 + 2, 11, big_b.ravel(), 3 * 12 + 1, 12,
          2.0, C.ravel(), 2 * 6 + 1, 6)
    np.testing.assert_allclose(C, expected, rtol=1e-5 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n", [8, 100, 700, 5000])  # one block by columns; blocks of rows; more than OUTER
def test_matrix_forward_matches_the_per_sample_pass(rng, dtype, n):
    sizes = [50, 40, 30, 6]
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=1)
    X, Y = random_problem(rng, sizes, "softmax", n=n)
    X, Y = X.astype(dtype), Y.astype(dtype)
    rows = rng.permutation(n)
    out = np.empty((n, sizes[-1]), dtype)
    expected = np.empty((n, sizes[-1]), dtype)
    space = engine.Workspace(net)
    for rows_used in (np.arange(n), rows):  # X read in place; rows gathered
        loss = kernels.matrix_serial(**net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows_used, out=out,
                                     grad=None, work=space.matrix(n), scale=dtype(1), check=False,
                                     update=False, decay=dtype(0))
        per_sample = kernels.forward_rows(**net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows_used,
                                          out=expected, work=space.sample)
        tol = dict(rtol=2e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out, expected, **tol)
        assert loss == pytest.approx(per_sample, rel=1e-4 if dtype == np.float32 else 1e-12)
    np.testing.assert_allclose(net.forward(X), expected[np.argsort(rows)], **tol)
    assert net.loss(X, Y) == pytest.approx(per_sample / n, rel=1e-4 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", HEADS)
def test_matrix_forward_against_the_reference(rng, hidden, head):
    output, loss = head
    sizes = [30, 20, 4]
    net = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=3)
    X, Y = random_problem(rng, sizes, output, n=200)
    assert engine.uses_matrices(net, 200)
    network = ref.unflatten(net.params, sizes)
    expected = np.array([ref.feedforward(network, x, acts_of(net))[-1] for x in X])
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-12, atol=1e-14)
    assert net.loss(X, Y) == pytest.approx(ref.mean_loss(network, X, Y, acts_of(net), loss), rel=1e-12)


@pytest.mark.parametrize("n", [100, 200, 300])  # one block by columns; the first layer in two halves; blocks of rows
def test_matrix_outputs_and_gradient_against_the_reference(rng, n):
    """The cut first layer (SPLIT_ROWS) and the transposed narrow product (NARROW), rows in place and
    gathered: the gathered rows' mean gradient is the same sum in another order."""
    sizes = [70, 40, 30, 6]
    blocked = kernels.blocked
    assert sizes[0] >= blocked.SPLIT_MIN_INPUTS and sizes[-1] <= blocked.NARROW < min(sizes[1:-1])
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=4)
    X, Y = random_problem(rng, sizes, "softmax", n=n)
    network = ref.unflatten(net.params, sizes)
    expected = ref.flatten(ref.batch_gradient(network, X, Y, acts_of(net), "cross_entropy"))
    outputs = np.array([ref.feedforward(network, x, acts_of(net))[-1] for x in X])
    space = engine.Workspace(net)
    for rows in (np.arange(n), rng.permutation(n)):
        grad = np.empty(net.n_params)
        out = np.empty((n, sizes[-1]))
        kernels.matrix_serial(**net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows, out=out, grad=grad,
                              work=space.matrix(n), scale=1.0 / n, check=False, update=False, decay=0.0)
        np.testing.assert_allclose(out, outputs[rows], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad, expected, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize("momentum, l2", [(0.0, 0.0), (0.0, 0.01), (0.9, 0.01)])  # momentum 0: the fused step
@pytest.mark.parametrize("batch", [32, 128, 300])  # by columns; two half blocks; blocks of rows (a shorter last batch)
def test_minibatch_epoch_on_the_matrix_path_matches_the_reference(rng, momentum, l2, batch):
    sizes = [40, 30, 4]
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=2)
    X, Y = random_problem(rng, sizes, "softmax", n=640)
    assert engine.uses_matrices(net, batch)
    network = ref.unflatten(net.params, sizes)
    velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in network]
    seen = []
    for s in range(0, 640, batch):
        Xb, Yb = X[s:s + batch], Y[s:s + batch]
        seen += [ref.mean_loss(network, Xb, Yb, acts_of(net), "cross_entropy")] * len(Xb)
        grads = ref.batch_gradient(network, Xb, Yb, acts_of(net), "cross_entropy", l2=l2)
        velocity = [(momentum * vW - 0.1 * gW, momentum * vb - 0.1 * gb) for (vW, vb), (gW, gb) in zip(velocity, grads)]
        network = [(W + vW, b + vb) for (W, b), (vW, vb) in zip(network, velocity)]
    history = net.fit(X, Y, mode="minibatch", batch_size=batch, epochs=1, lr=0.1, momentum=momentum, l2=l2,
                      shuffle=False)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-9, atol=1e-12)
    assert history.loss[0] == pytest.approx(np.mean(seen) + ref.penalty(network, l2), rel=1e-11)

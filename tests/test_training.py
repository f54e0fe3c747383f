"""Training loops against the NumPy reference: sgd, minibatch and batch modes."""
import numpy as np
import pytest
import reference as ref
from conftest import HEADS, HIDDEN, acts_of, random_problem

import fastbp
from fastbp import kernels


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("momentum, l2", [(0.0, 0.0), (0.5, 0.0), (0.3, 0.01)])
def test_sgd_epochs_match_reference(rng, hidden, head, momentum, l2):
    output, loss = head
    sizes = [5, 8, 6, 3]
    net = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=3)
    X, Y = random_problem(rng, sizes, output, n=20)
    network = ref.unflatten(net.params, sizes)
    velocity = None
    for _ in range(2):  # the velocity carries over between epochs
        network, velocity = ref.sgd_nn(network, X, Y, range(20), acts_of(net), loss, eta=0.02,
                                       momentum=momentum, l2=l2, velocity=velocity)
    net.fit(X, Y, mode="sgd", epochs=2, lr=0.02, momentum=momentum, l2=l2, shuffle=False)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-10, atol=1e-12)


def test_sgd_kernel_visits_rows_in_the_given_order(rng):
    sizes = [3, 4, 2]
    net = fastbp.MLP(sizes, hidden="tanh", seed=4)
    X, Y = random_problem(rng, sizes, n=10)
    order = rng.permutation(10)
    network, _ = ref.sgd_nn(ref.unflatten(net.params, sizes), X, Y, order, acts_of(net), "squared", eta=0.1)
    kernels.sgd_epoch(**net.kernel_args(), velocity=np.zeros_like(net.params), loss=net.loss_code, X=X, Y=Y,
                      rows=order, lr=0.1, momentum=0.0, nesterov=False, l2=0.0,
                      work=fastbp.engine.Workspace(net).sample)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-10, atol=1e-12)


def test_minibatch_matches_reference_batches(rng):
    sizes = [4, 5, 2]
    net = fastbp.MLP(sizes, hidden="sigmoid", seed=5)
    X, Y = random_problem(rng, sizes, n=10)
    network = ref.unflatten(net.params, sizes)
    for start in (0, 4, 8):  # batches of 4, 4 and the remaining 2
        rows = slice(start, start + 4)
        grads = ref.batch_gradient(network, X[rows], Y[rows], acts_of(net), "squared", l2=0.01)
        network = ref.batch_update_nn(network, grads, eta=0.3)
    net.fit(X, Y, mode="minibatch", batch_size=4, epochs=1, lr=0.3, l2=0.01, shuffle=False)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shuffle", [False, True])
def test_minibatch_of_everything_equals_batch(rng, shuffle):
    sizes = [4, 6, 3]
    X, Y = random_problem(rng, sizes, "softmax", n=25)
    runs = []
    for mode in ("minibatch", "batch"):
        net = fastbp.MLP(sizes, hidden="relu", output="softmax", loss="cross_entropy", seed=6)
        history = net.fit(X, Y, mode=mode, batch_size=25, epochs=5, lr=0.5, momentum=0.5,
                          shuffle=shuffle, seed=7)
        runs.append((net.params.copy(), history.loss))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]


def test_batch_mode_is_gradient_descent_on_the_mean_loss(rng):
    sizes = [3, 4, 1]
    net = fastbp.MLP(sizes, hidden="tanh", seed=8)
    X, Y = random_problem(rng, sizes, n=12)
    network = ref.unflatten(net.params, sizes)
    seen = []  # an epoch's loss is the mean loss its step's forward pass saw: before the step
    for _ in range(3):
        seen.append(ref.mean_loss(network, X, Y, acts_of(net), "squared"))
        network = ref.batch_update_nn(network, ref.batch_gradient(network, X, Y, acts_of(net), "squared"), 0.2)
    history = net.fit(X, Y, mode="batch", epochs=3, lr=0.2)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history.loss, seen, rtol=1e-12)


def test_history_records_every_epoch(rng):
    sizes = [2, 3, 1]
    X, Y = random_problem(rng, sizes, n=8)
    net = fastbp.MLP(sizes, seed=0)
    history = net.fit(X, Y, epochs=4, lr=0.05)
    assert len(history) == 4 and len(history.seconds) == 4
    assert history.samples == [8, 16, 24, 32]
    assert all(s > 0 for s in history.seconds)
    assert history.stopped == "completed"


@pytest.mark.parametrize("mode, batch_size", [("sgd", 1), ("minibatch", 5), ("minibatch", 16)])
def test_history_loss_is_the_mean_loss_seen_during_the_epoch(rng, mode, batch_size):
    """Each sample's loss from the forward pass of its own update (before it), averaged over the
    epoch, plus the L2 penalty at the epoch's end; the same for every mode."""
    sizes = [3, 5, 2]
    net = fastbp.MLP(sizes, hidden="tanh", seed=4)
    X, Y = random_problem(rng, sizes, n=16)
    network = ref.unflatten(net.params, sizes)
    expected = []
    for _ in range(2):
        seen = []
        if mode == "sgd":
            network, _ = ref.sgd_nn(network, X, Y, range(16), acts_of(net), "squared", eta=0.05, l2=0.01,
                                    seen=seen)
        else:
            for s in range(0, 16, batch_size):
                rows = slice(s, s + batch_size)
                seen += [ref.mean_loss(network, X[rows], Y[rows], acts_of(net), "squared")] * len(X[rows])
                grads = ref.batch_gradient(network, X[rows], Y[rows], acts_of(net), "squared", l2=0.01)
                network = ref.batch_update_nn(network, grads, 0.05)
        expected.append(np.mean(seen) + ref.penalty(network, 0.01))
    history = net.fit(X, Y, mode=mode, batch_size=batch_size, epochs=2, lr=0.05, l2=0.01, shuffle=False)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(history.loss, expected, rtol=1e-11)


def test_same_seed_same_model(rng):
    X, Y = random_problem(rng, [3, 4, 2], n=16)
    params = []
    for _ in range(2):
        net = fastbp.MLP([3, 4, 2], seed=11)
        net.fit(X, Y, epochs=3, seed=12)
        params.append(net.params.copy())
    np.testing.assert_array_equal(params[0], params[1])


def test_weights_and_biases_are_views_of_params():
    net = fastbp.MLP([3, 4, 2], seed=0)
    net.weights[1][0, 2] = 7.5
    net.biases[0][3] = -2.5
    assert net.params[3 * 4 + 4 + 2] == 7.5
    assert net.params[3 * 4 + 3] == -2.5
    assert net.n_edges == 3 * 4 + 4 * 2 and net.n_params == net.n_edges + 4 + 2
    assert net.params.ctypes.data % 64 == 0


@pytest.mark.parametrize("momentum, l2", [(0.0, 0.0), (0.5, 0.01)])
def test_sgd_with_the_fused_next_forward_matches_reference(rng, momentum, l2):
    """From FUSE_MIN_WEIGHTS layer-0 weights up, the layer-0 update also computes the next
    sample's layer-0 forward; the epoch must still equal the reference."""
    from fastbp.kernels.sgd import FUSE_MIN_WEIGHTS
    sizes = [128, 128, 3]
    assert sizes[0] * sizes[1] >= FUSE_MIN_WEIGHTS
    net = fastbp.MLP(sizes, hidden="tanh", seed=9)
    X, Y = random_problem(rng, sizes, n=12)
    seen = []
    network, _ = ref.sgd_nn(ref.unflatten(net.params, sizes), X, Y, range(12), acts_of(net), "squared",
                            eta=0.002, momentum=momentum, l2=l2, seen=seen)
    history = net.fit(X, Y, mode="sgd", epochs=1, lr=0.002, momentum=momentum, l2=l2, shuffle=False)
    np.testing.assert_allclose(net.params, ref.flatten(network), rtol=1e-10, atol=1e-12)
    assert history.loss[-1] == pytest.approx(np.mean(seen) + ref.penalty(network, l2), rel=1e-10)

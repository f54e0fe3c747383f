"""net.gradient against float64 central differences of the NumPy reference loss, and against reference backprop."""
import numpy as np
import pytest
import reference as ref
from conftest import HEADS, HIDDEN, acts_of, random_problem, rel_error
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import fastbp


def central_differences(net, X, Y, l2, eps=1e-5):
    """dJ/dp_i ~ (J(p + eps e_i) - J(p - eps e_i)) / (2 eps), J the reference mean loss."""
    p0 = net.params.astype(np.float64)
    acts = acts_of(net)
    grad = np.empty_like(p0)
    for i in range(p0.size):
        p = p0.copy()
        p[i] = p0[i] + eps
        up = ref.mean_loss(ref.unflatten(p, net.sizes), X, Y, acts, net.loss_name, l2)
        p[i] = p0[i] - eps
        down = ref.mean_loss(ref.unflatten(p, net.sizes), X, Y, acts, net.loss_name, l2)
        grad[i] = (up - down) / (2 * eps)
    return grad


def min_hidden_preactivation(net, X):
    """Smallest |z| over hidden units and samples (relu's kink is at z = 0)."""
    network = ref.unflatten(net.params, net.sizes)
    smallest = np.inf
    for x in X:
        a = x
        for (W, b), name in zip(network[:-1], net.hidden):
            z = W @ a + b
            smallest = min(smallest, np.abs(z).min())
            a = ref.f(name, z)
    return smallest


@settings(max_examples=60, deadline=None)
@given(widths=st.lists(st.integers(1, 5), min_size=2, max_size=4), seed=st.integers(0, 2**32 - 1),
       hidden=st.sampled_from(HIDDEN), head=st.sampled_from(HEADS), l2=st.sampled_from([0.0, 0.03]))
def test_gradient_matches_central_differences(widths, seed, hidden, head, l2):
    output, loss = head
    if output == "softmax":
        widths[-1] = max(widths[-1], 2)
    rng = np.random.default_rng(seed)
    net = fastbp.MLP(widths, hidden=hidden, output=output, loss=loss, seed=seed)
    for b in net.biases:
        b[:] = rng.normal(scale=0.5, size=b.shape)
    X, Y = random_problem(rng, widths, output, n=5)
    if hidden == "relu" and len(widths) > 2:
        assume(min_hidden_preactivation(net, X) > 1e-3)
    g = net.gradient(X, Y, l2=l2)
    g_num = central_differences(net, X, Y, l2)
    assume(np.linalg.norm(g_num) > 1e-8)  # a flat spot has no direction to compare
    assert rel_error(g, g_num) <= 1e-6


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", HEADS)
def test_gradient_matches_reference_backprop(rng, hidden, head):
    output, loss = head
    sizes = [4, 6, 5, 3]
    net = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, seed=1)
    X, Y = random_problem(rng, sizes, output, n=9)
    expected = ref.batch_gradient(ref.unflatten(net.params, sizes), X, Y, acts_of(net), loss, l2=0.1)
    np.testing.assert_allclose(net.gradient(X, Y, l2=0.1), ref.flatten(expected), rtol=1e-10, atol=1e-13)
    assert net.loss(X, Y, l2=0.1) == pytest.approx(
        ref.mean_loss(ref.unflatten(net.params, sizes), X, Y, acts_of(net), loss, l2=0.1), rel=1e-12)


@pytest.mark.parametrize("hidden", HIDDEN)
def test_forward_matches_reference(rng, hidden):
    sizes = [3, 7, 4, 2]
    net = fastbp.MLP(sizes, hidden=hidden, output="sigmoid", seed=2)
    X = rng.normal(size=(6, 3))
    network = ref.unflatten(net.params, sizes)
    expected = np.array([ref.feedforward(network, x, acts_of(net))[-1] for x in X])
    np.testing.assert_allclose(net.forward(X), expected, rtol=1e-12)


def test_cross_entropy_is_stable_for_extreme_scores():
    """softmax + cross-entropy from z via log-sum-exp: finite where exp(z) overflows or underflows."""
    net = fastbp.MLP([1, 3], output="softmax", loss="cross_entropy")
    net.weights[0][:] = 0
    net.biases[0][:] = [1000.0, 0.0, -1000.0]
    # true class 2 has score -1000 below the max 1000: loss = 2000 (+ log(1 + e^-1000 + ...)).
    assert net.loss([[0.0]], [2]) == pytest.approx(2000.0, rel=1e-12)
    assert net.loss([[0.0]], [0]) == pytest.approx(0.0, abs=1e-300)
    g = net.gradient([[0.0]], [2])
    np.testing.assert_allclose(g[-3:], [1.0, 0.0, -1.0], atol=1e-300)


def test_sigmoid_cross_entropy_is_stable_for_extreme_scores():
    net = fastbp.MLP([1, 1], output="sigmoid", loss="cross_entropy")
    net.weights[0][:] = 0
    net.biases[0][:] = -800.0  # a = sigmoid(-800) underflows to 0; loss for y = 1 is 800.
    assert net.loss([[0.0]], [1]) == pytest.approx(800.0, rel=1e-12)


def test_counts_and_penalty_gradient_by_hand():
    """3-5-2: 3*5 + 5*2 = 25 weights, 25 + 5 + 2 = 32 parameters; the penalty's gradient is l2 W on the
    weights and nothing on the biases, and its value 0.5 l2 |W|^2 (the same W)."""
    assert fastbp.kernels.edge_count([3, 5, 2]) == 25 and fastbp.kernels.param_count([3, 5, 2]) == 32
    assert fastbp.kernels.param_count([3, 5, 2]) == int(fastbp.kernels.layer_offsets([3, 5, 2])[-1])
    net = fastbp.MLP([3, 5, 2], seed=0)
    assert (net.n_params, net.n_edges) == (32, 25)
    grad = np.ones(net.n_params)
    net.add_penalty_gradient(grad, 0.5)
    weights, biases = net.layer_views(grad)
    for gW, gb, W in zip(weights, biases, net.weights):
        np.testing.assert_array_equal(gW, 1 + 0.5 * W)
        np.testing.assert_array_equal(gb, 1)
    assert net.penalty(0.5) == pytest.approx(0.25 * sum(float(np.sum(W * W)) for W in net.weights), rel=1e-15)

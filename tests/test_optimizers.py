"""Optimizers against the NumPy reference (tests/reference.py) and, where installed, torch.optim.

Every mode (per-sample with the update fused into backpropagation, minibatch on the matrix and
the chunked paths, full batch, numerical gradients) with SGD, Nesterov's momentum and Adam.
"""
import numpy as np
import pytest
import reference as ref
from conftest import acts_of, random_problem

import fastbp
from fastbp import engine

HEAD = ("softmax", "cross_entropy")


def reference_run(network, X, Y, acts, batches, l2, optimizer, lr):
    """The NumPy reference of `optimizer` over `batches` (lists of rows): one step per batch."""
    state = [ref.optimizer_state(network), ref.optimizer_state(network)]
    for t, rows in enumerate(batches, start=1):
        grads = ref.batch_gradient(network, X[rows], Y[rows], acts, HEAD[1], l2=l2)
        if isinstance(optimizer, fastbp.Adam):
            network, state[0], state[1] = ref.adam_update(network, grads, state[0], state[1], t, lr, optimizer.beta1,
                                                          optimizer.beta2, optimizer.epsilon, optimizer.epsilon_hat)
        else:
            network, state[0] = ref.sgd_update(network, grads, state[0], lr, optimizer.momentum, optimizer.nesterov)
    return network


def batches_of(mode, n, batch):
    if mode == "sgd":
        return [[r] for r in range(n)]
    if mode == "batch":
        return [list(range(n))]
    return [list(range(s, min(n, s + batch))) for s in range(0, n, batch)]


OPTIMIZERS = {
    "adam": lambda: fastbp.Adam(),
    "adam-hat": lambda: fastbp.Adam(beta1=0.8, beta2=0.99, epsilon=1e-3, epsilon_hat=True),
    "nesterov": lambda: fastbp.SGD(momentum=0.9, nesterov=True),
    "momentum": lambda: fastbp.SGD(momentum=0.5),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("mode, sizes, n, batch", [
    ("sgd", [5, 6, 3], 40, 1),            # per-sample, fused into backpropagation
    ("minibatch", [5, 6, 3], 70, 16),     # chunked samples, a short last batch
    ("minibatch", [40, 30, 4], 300, 64),  # the matrix path
    ("batch", [5, 6, 3], 40, 40),
])
def test_optimizer_matches_the_reference_in_every_mode(rng, name, mode, sizes, n, batch):
    net = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=5)
    X, Y = random_problem(rng, sizes, HEAD[0], n=n)
    if mode == "minibatch":
        assert engine.uses_matrices(net, batch) == (sizes[0] == 40)
    optimizer = OPTIMIZERS[name]()
    lr = 0.01
    expected = reference_run(ref.unflatten(net.params, sizes), X, Y, acts_of(net), batches_of(mode, n, batch) * 2,
                             1e-3, optimizer, lr)
    net.fit(X, Y, mode=mode, batch_size=batch, epochs=2, lr=lr, l2=1e-3, optimizer=optimizer, shuffle=False)
    np.testing.assert_allclose(net.params, ref.flatten(expected), rtol=1e-9, atol=1e-12)
    if isinstance(optimizer, fastbp.Adam):
        assert optimizer.t == 2 * len(batches_of(mode, n, batch))


@pytest.mark.parametrize("name", ["adam", "nesterov"])
def test_optimizer_on_numerical_gradients_matches_the_reference(rng, name):
    sizes = [3, 4, 3]
    net = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=1)
    X, Y = random_problem(rng, sizes, HEAD[0], n=20)
    optimizer = OPTIMIZERS[name]()
    expected = reference_run(ref.unflatten(net.params, sizes), X, Y, acts_of(net), batches_of("minibatch", 20, 8),
                             0.0, optimizer, 0.01)
    net.fit(X, Y, mode="minibatch", batch_size=8, epochs=1, lr=0.01, optimizer=optimizer, shuffle=False,
            gradient="numerical")
    np.testing.assert_allclose(net.params, ref.flatten(expected), rtol=1e-7, atol=1e-9)


def test_a_second_fit_with_the_same_optimizer_goes_on(rng):
    sizes = [5, 6, 3]
    X, Y = random_problem(rng, sizes, HEAD[0], n=50)
    once = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=2)
    once.fit(X, Y, mode="minibatch", batch_size=16, epochs=2, lr=0.01, optimizer=fastbp.Adam(), shuffle=False)
    twice = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=2)
    adam = fastbp.Adam()
    for _ in range(2):
        twice.fit(X, Y, mode="minibatch", batch_size=16, epochs=1, lr=0.01, optimizer=adam, shuffle=False)
    np.testing.assert_array_equal(once.params, twice.params)
    fresh = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=2)
    fresh.fit(X, Y, mode="minibatch", batch_size=16, epochs=1, lr=0.01, optimizer="adam", shuffle=False)
    fresh.fit(X, Y, mode="minibatch", batch_size=16, epochs=1, lr=0.01, optimizer="adam", shuffle=False)
    assert not np.array_equal(once.params, fresh.params)  # a name starts a new optimizer each time


@pytest.mark.parametrize("mode", ["sgd", "minibatch"])
def test_adam_in_float32_stays_float32_and_near_float64(rng, mode):
    sizes = [6, 8, 3]
    X, Y = random_problem(rng, sizes, HEAD[0], n=64)
    nets = {dt: fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], dtype=dt, seed=3)
            for dt in (np.float64, np.float32)}
    adams = {dt: fastbp.Adam() for dt in nets}
    for dt, net in nets.items():
        net.fit(X, Y, mode=mode, batch_size=16, epochs=2, lr=0.01, optimizer=adams[dt], shuffle=False)
    assert nets[np.float32].params.dtype == np.float32 and adams[np.float32].m.dtype == np.float32
    np.testing.assert_allclose(nets[np.float32].params, nets[np.float64].params, rtol=1e-3, atol=1e-4)


@pytest.mark.parametrize("mode, batch", [("sgd", 1), ("minibatch", 16), ("minibatch", 64)])
def test_adam_equals_torch_step_for_step(rng, mode, batch):
    torch = pytest.importorskip("torch")
    sizes = [40, 30, 4]
    n = 64 if mode == "sgd" else 200
    net = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=6)
    X, Y = random_problem(rng, sizes, HEAD[0], n=n)
    layers = [torch.nn.Linear(a, b).double() for a, b in zip(sizes[:-1], sizes[1:])]
    with torch.no_grad():
        for layer, W, b in zip(layers, net.weights, net.biases):
            layer.weight.copy_(torch.from_numpy(W))
            layer.bias.copy_(torch.from_numpy(b))
    model = torch.nn.Sequential(layers[0], torch.nn.Tanh(), layers[1])
    # torch's weight_decay adds l2 w to the gradient (as fastbp's l2), on the weights only as fastbp
    opt = torch.optim.Adam([{"params": [layer.weight for layer in layers], "weight_decay": 1e-3},
                            {"params": [layer.bias for layer in layers], "weight_decay": 0.0}],
                           lr=0.005, betas=(0.9, 0.99), eps=1e-7)
    Xt, labels = torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1))
    for _ in range(2):
        for s in range(0, n, batch):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(Xt[s:s + batch]), labels[s:s + batch]).backward()
            opt.step()
    net.fit(X, Y, mode=mode, batch_size=batch, epochs=2, lr=0.005, l2=1e-3, shuffle=False,
            optimizer=fastbp.Adam(beta1=0.9, beta2=0.99, epsilon=1e-7))
    for layer, W, b in zip(layers, net.weights, net.biases):
        np.testing.assert_allclose(W, layer.weight.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(b, layer.bias.detach().numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kwargs, message", [
    (dict(optimizer="rmsprop"), "optimizer"),
    (dict(optimizer=3), "optimizer"),
    (dict(optimizer="adam", momentum=0.9), "momentum"),
    (dict(optimizer=fastbp.SGD(0.5), momentum=0.9), "momentum"),
])
def test_bad_optimizer_arguments_are_named_and_change_nothing(rng, kwargs, message):
    sizes = [3, 4, 3]
    net = fastbp.MLP(sizes, hidden="tanh", output=HEAD[0], loss=HEAD[1], seed=1)
    X, Y = random_problem(rng, sizes, HEAD[0], n=10)
    before = net.params.copy()
    with pytest.raises((TypeError, ValueError), match=message):
        net.fit(X, Y, **kwargs)
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("make, message", [
    (lambda: fastbp.Adam(beta1=1.0), "beta1"), (lambda: fastbp.Adam(beta2=-0.1), "beta2"),
    (lambda: fastbp.Adam(epsilon=0.0), "epsilon"), (lambda: fastbp.Adam(epsilon_hat="yes"), "epsilon_hat"),
    (lambda: fastbp.SGD(momentum=1.0), "momentum"), (lambda: fastbp.SGD(nesterov=1), "nesterov"),
])
def test_bad_optimizer_settings_are_named(make, message):
    with pytest.raises((TypeError, ValueError), match=message):
        make()


# One step at a time on three parameters, against updates worked out by hand (as scikit-learn's
# test_stochastic_optimizers.py does): p = [1, -2, 0.5], then the gradients G[0] and G[1].
P0 = np.array([1.0, -2.0, 0.5])
G = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, -4.0]])


def steps(optimizer, lr, n_steps=2):
    """The parameters after each of n_steps steps of `optimizer` from P0 on G (a fresh 2-1 network's state)."""
    optimizer.start(fastbp.MLP([2, 1], seed=0))
    params = P0.copy()
    after = []
    for g in G[:n_steps]:
        optimizer.step(params, g.copy(), lr)
        after.append(params.copy())
    return after


def test_sgd_step_by_hand():
    # p -= 0.1 g: [1 - 0.05, -2 + 0.1, 0.5 - 0.2], then [0.95 - 0.1, -1.9 - 0.1, 0.3 + 0.4]
    first, second = steps(fastbp.SGD(), 0.1)
    np.testing.assert_allclose(first, [0.95, -1.9, 0.3], rtol=1e-15)
    np.testing.assert_allclose(second, [0.85, -2.0, 0.7], rtol=1e-15)


def test_momentum_step_by_hand():
    # v = 0.9 v - 0.1 g; p += v. v1 = [-0.05, 0.1, -0.2]; v2 = 0.9 v1 - 0.1 G[1] = [-0.145, -0.01, 0.22]
    first, second = steps(fastbp.SGD(momentum=0.9), 0.1)
    np.testing.assert_allclose(first, [0.95, -1.9, 0.3], rtol=1e-15)
    np.testing.assert_allclose(second, [0.805, -1.91, 0.52], rtol=1e-14)


def test_nesterov_step_by_hand():
    # v as with momentum; p += 0.9 v - 0.1 g: step 1 adds [-0.095, 0.19, -0.38], step 2
    # 0.9 [-0.145, -0.01, 0.22] - 0.1 [1, 1, -4] = [-0.2305, -0.109, 0.598]
    first, second = steps(fastbp.SGD(momentum=0.9, nesterov=True), 0.1)
    np.testing.assert_allclose(first, [0.905, -1.81, 0.12], rtol=1e-14)
    np.testing.assert_allclose(second, [0.6745, -1.919, 0.718], rtol=1e-13)


def test_adam_step_by_hand():
    # Step 1: m = 0.1 g, v = 0.001 g^2, so m / (1 - 0.9) = g and v / (1 - 0.999) = g^2: p -= 0.01 g / (|g| + 1e-8),
    # 0.01 sign(g) to 1e-8 relative. Step 2: m = 0.09 G0 + 0.1 G1, v = 0.000999 G0^2 + 0.001 G1^2, corrected by
    # 1 - 0.81 = 0.19 and 1 - 0.998001 = 0.001999: for the first parameter m = 0.145, v = 0.00124975.
    first, second = steps(fastbp.Adam(), 0.01)
    np.testing.assert_allclose(first, P0 - 0.01 * np.sign(G[0]), rtol=1e-7)
    m = np.array([0.145, 0.01, -0.22])
    v = np.array([0.00124975, 0.001999, 0.019996])
    expected = first - 0.01 * (m / 0.19) / (np.sqrt(v / 0.001999) + 1e-8)
    np.testing.assert_allclose(second, expected, rtol=1e-12)


def test_adam_epsilon_hat_step_by_hand():
    # epsilon added to sqrt(v) before the correction: p -= lr sqrt(1 - beta2^t) / (1 - beta1^t) m / (sqrt(v) + eps);
    # step 1 with beta1 = 0.9, beta2 = 0.999, eps = 0.1: m = 0.1 g, sqrt(v) = sqrt(0.001) |g|
    (first,) = steps(fastbp.Adam(epsilon=0.1, epsilon_hat=True), 0.01, n_steps=1)
    expected = P0 - 0.01 * np.sqrt(0.001) / 0.1 * (0.1 * G[0]) / (np.sqrt(0.001) * np.abs(G[0]) + 0.1)
    np.testing.assert_allclose(first, expected, rtol=1e-12)

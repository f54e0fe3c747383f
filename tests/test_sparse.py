"""Sparse connectivity: masks, density, prune, live-edge kernels, files; float64 and float32.

The oracle is the plain NumPy reference with every gradient multiplied by the mask (the seed's
equations on a network whose masked weights are zero and never move), and the dense model itself:
a masked network's gradient is the dense network's gradient times the mask, at the same weights.
"""
import numpy as np
import pytest
import reference as ref
from conftest import acts_of, random_problem

import fastbp
from fastbp import engine

DTYPES = [np.float64, np.float32]
TOL = {np.float64: 1e-12, np.float32: 2e-5}
SHAPES = [((6, 9, 4), "tanh", "softmax", "cross_entropy"),
          ((20, 30, 25, 3), "sigmoid", "identity", "squared"),
          ((12, 40, 1), "relu", "sigmoid", "cross_entropy")]


def pair(sizes, hidden, output, loss, dtype, density=0.3, seed=3):
    """(sparse network, the fully connected network with the same weights, masked ones zero)."""
    sparse = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=seed, connectivity=density)
    dense = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=seed)
    dense.params = sparse.params
    return sparse, dense


def flat_mask(net):
    """(P,) bool: True at live weights and at every bias."""
    return np.concatenate([np.concatenate([m.ravel(), np.ones(m.shape[0], bool)]) for m in net.masks])


def masked_grads(grads, net):
    return [(gW * m, gb) for (gW, gb), m in zip(grads, net.masks)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "-".join(map(str, s[0])))
@pytest.mark.parametrize("m", [1, 5, 40, 300])
def test_gradient_is_dense_gradient_times_mask(rng, dtype, shape, m):
    sizes, hidden, output, loss = shape
    sparse, dense = pair(sizes, hidden, output, loss, dtype)
    X, Y = random_problem(rng, sizes, output, n=m)
    keep = flat_mask(sparse)
    g = sparse.gradient(X, Y, l2=0.01)
    expected = dense.gradient(X, Y, l2=0.01) * keep
    assert g.dtype == dtype
    assert np.all(g[~keep] == 0)
    np.testing.assert_allclose(g, expected, rtol=TOL[dtype], atol=TOL[dtype] * np.abs(expected).max())
    oracle = ref.flatten(masked_grads(ref.batch_gradient(ref.unflatten(sparse.params, sizes), X, Y, acts_of(sparse),
                                                         loss, l2=0.01), sparse))
    np.testing.assert_allclose(g, oracle, rtol=0, atol=50 * TOL[dtype] * np.abs(oracle).max())
    np.testing.assert_allclose(sparse.forward(X), dense.forward(X), rtol=TOL[dtype], atol=TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sparse_loops_and_matrices_agree(rng, dtype, monkeypatch):
    """The live-edge per-sample loops and the dense matrix path (then masked) give one gradient."""
    sparse, _ = pair((30, 50, 40, 5), "tanh", "softmax", "cross_entropy", dtype, density=0.4)
    X, Y = random_problem(rng, sparse.sizes, "softmax", n=200)
    monkeypatch.setattr(engine, "MATRIX_MIN_DENSITY", 0.0)
    assert engine.uses_matrices(sparse, 200)
    by_matrices = sparse.gradient(X, Y)
    monkeypatch.setattr(engine, "MATRIX_MIN_DENSITY", 1.0)
    assert not engine.uses_matrices(sparse, 200)
    by_samples = sparse.gradient(X, Y)
    np.testing.assert_allclose(by_samples, by_matrices, rtol=TOL[dtype], atol=TOL[dtype])
    assert np.array_equal(by_samples, sparse.gradient(X, Y, n_threads=1))


def test_gradcheck_and_numerical_gradient_follow_live_edges(rng):
    sparse, _ = pair((8, 12, 10, 3), "tanh", "softmax", "cross_entropy", np.float64)
    X, Y = random_problem(rng, sparse.sizes, "softmax", n=9)
    assert fastbp.gradcheck(sparse, X, Y, l2=0.01) < 1e-6
    numeric = fastbp.numerical_gradient(sparse, X, Y, l2=0.01)
    keep = flat_mask(sparse)
    assert np.all(numeric[~keep] == 0)
    assert fastbp.numerical.relative_error(sparse.gradient(X, Y, l2=0.01), numeric) < 1e-6


@pytest.mark.parametrize("dtype", DTYPES)
def test_density_draws_masks_from_the_seed(dtype):
    sizes = (50, 80, 10)
    net = fastbp.MLP(sizes, dtype=dtype, seed=7, connectivity=0.1)
    again = fastbp.MLP(sizes, dtype=dtype, seed=7, connectivity=0.1)
    dense = fastbp.MLP(sizes, dtype=dtype, seed=7)
    masks = net.masks
    assert all(np.array_equal(a, b) for a, b in zip(masks, again.masks))
    assert [m.shape for m in masks] == [(80, 50), (10, 80)]
    assert all(m.any(axis=1).all() for m in masks)  # every unit keeps an input
    assert net.n_edges == sum(int(m.sum()) for m in masks)
    assert net.density == pytest.approx(net.n_edges / (50 * 80 + 80 * 10))
    assert 0.07 < net.density < 0.14
    np.testing.assert_array_equal(net.params, dense.params * flat_mask(net))
    assert "density=" in repr(net)


def test_full_masks_are_a_fully_connected_network():
    sizes = (4, 6, 2)
    net = fastbp.MLP(sizes, seed=1, connectivity=[np.ones((6, 4), bool), np.ones((2, 6), bool)])
    assert net.density == 1.0 and net.n_edges == 36 and net._masks is None
    assert fastbp.MLP(sizes, seed=1, connectivity=1.0)._masks is None
    np.testing.assert_array_equal(net.params, fastbp.MLP(sizes, seed=1).params)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mode", ["sgd", "minibatch", "batch"])
@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam"])
def test_masked_weights_stay_zero_in_every_mode(rng, dtype, mode, optimizer):
    sparse, _ = pair((10, 16, 12, 3), "tanh", "softmax", "cross_entropy", dtype, density=0.25)
    X, Y = random_problem(rng, sparse.sizes, "softmax", n=150)
    keep = flat_mask(sparse)
    opt = fastbp.SGD(momentum=0.9, nesterov=True) if optimizer == "nesterov" else optimizer
    lr = 0.1 if optimizer == "sgd" else 0.01
    before = sparse.params.copy()
    history = sparse.fit(X, Y, mode=mode, epochs=3, lr=lr, l2=1e-3, batch_size=32, optimizer=opt, seed=0)
    assert np.all(sparse.params[~keep] == 0)
    weights = keep & ~np.isin(np.arange(keep.size), np.concatenate([np.arange(int(sparse._offsets[l]) + W.size,
                                                                              int(sparse._offsets[l + 1]))
                                                                    for l, W in enumerate(sparse.weights)]))
    assert np.all(sparse.params[weights] != before[weights])  # every live weight trained
    assert history.loss[-1] < history.loss[0]
    if not isinstance(opt, str):
        assert np.all(opt.velocity[~keep] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_weights_stay_zero_with_numerical_gradients(rng, dtype):
    sparse, _ = pair((5, 7, 2), "sigmoid", "identity", "squared", dtype, density=0.4)
    X, Y = random_problem(rng, sparse.sizes, "identity", n=20)
    sparse.fit(X, Y, mode="minibatch", epochs=2, lr=0.1, batch_size=5, gradient="numerical", seed=0)
    assert np.all(sparse.params[~flat_mask(sparse)] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_online_sgd_equals_the_reference_with_masked_gradients(rng, dtype):
    sizes = (7, 11, 9, 3)
    sparse, _ = pair(sizes, "tanh", "softmax", "cross_entropy", dtype, density=0.35)
    X, Y = random_problem(rng, sizes, "softmax", n=40)
    acts = acts_of(sparse)
    network = ref.unflatten(sparse.params, sizes)
    velocity = ref.optimizer_state(network)
    eta, mu, l2 = 0.05, 0.9, 1e-3
    for r in range(40):  # sgd_nn with every sample's gradient masked
        grads = ref.sample_gradient(network, X[r], Y[r], acts, "cross_entropy")
        grads = masked_grads([(gW + l2 * W, gb) for (gW, gb), (W, _) in zip(grads, network)], sparse)
        network, velocity = ref.sgd_update(network, grads, velocity, eta, momentum=mu)
    sparse.fit(X, Y, mode="sgd", epochs=1, lr=eta, momentum=mu, l2=l2, shuffle=False)
    np.testing.assert_allclose(sparse.params, ref.flatten(network), rtol=0, atol=1e-12 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("dtype", DTYPES)
def test_online_adam_equals_the_reference_with_masked_gradients(rng, dtype):
    sizes = (6, 10, 4)
    sparse, _ = pair(sizes, "sigmoid", "identity", "squared", dtype, density=0.4)
    X, Y = random_problem(rng, sizes, "identity", n=30)
    acts = acts_of(sparse)
    network = ref.unflatten(sparse.params, sizes)
    m, v = ref.optimizer_state(network), ref.optimizer_state(network)
    for t, r in enumerate(range(30), start=1):
        grads = masked_grads(ref.sample_gradient(network, X[r], Y[r], acts, "squared"), sparse)
        network, m, v = ref.adam_update(network, grads, m, v, t, 0.01)
    adam = fastbp.Adam()
    sparse.fit(X, Y, mode="sgd", epochs=1, lr=0.01, optimizer=adam, shuffle=False)
    np.testing.assert_allclose(sparse.params, ref.flatten(network), rtol=0, atol=1e-12 if dtype == np.float64 else 2e-5)
    keep = flat_mask(sparse)
    assert np.all(adam.m[~keep] == 0) and np.all(adam.v[~keep] == 0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_prune_removes_the_smallest_live_weights(dtype):
    net = fastbp.MLP((10, 20, 5), dtype=dtype, seed=2, connectivity=0.5)
    before = net.params.copy()
    live = np.concatenate([np.abs(W[m]) for W, m in zip(net.weights, net.masks)])
    n_remove = int(round(0.3 * net.n_edges))
    threshold = np.sort(live)[n_remove]
    edges = net.n_edges
    assert net.prune(0.3) is net
    assert net.n_edges == edges - n_remove
    keep = flat_mask(net)
    assert np.all(net.params[~keep] == 0)
    np.testing.assert_array_equal(net.params[keep], before[keep])  # biases and kept weights untouched
    kept = np.concatenate([np.abs(W[m]) for W, m in zip(net.weights, net.masks)])
    assert kept.min() >= threshold
    assert net.prune(0.0).n_edges == edges - n_remove


def test_prune_a_dense_network_and_keep_training(rng):
    """A fully connected network becomes sparse; a momentum optimizer's state for the pruned weights is
    dropped, so they stay zero when training goes on with the same optimizer."""
    net = fastbp.MLP((6, 10, 3), hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    X, Y = random_problem(rng, net.sizes, "softmax", n=60)
    opt = fastbp.SGD(momentum=0.9)
    net.fit(X, Y, mode="minibatch", epochs=2, lr=0.1, optimizer=opt, seed=0)
    net.prune(0.5)
    assert net.density == pytest.approx(0.5, abs=0.01)
    net.fit(X, Y, mode="minibatch", epochs=2, lr=0.1, optimizer=opt, seed=0)
    net.fit(X, Y, mode="sgd", epochs=1, lr=0.01, optimizer=opt, seed=0)
    assert np.all(net.params[~flat_mask(net)] == 0)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 2, "half", None])
def test_prune_refuses_a_bad_fraction_and_changes_nothing(fraction):
    net = fastbp.MLP((4, 5, 2), seed=0, connectivity=0.6)
    params, masks = net.params.copy(), net.masks
    with pytest.raises((ValueError, TypeError), match="fraction"):
        net.prune(fraction)
    np.testing.assert_array_equal(net.params, params)
    assert all(np.array_equal(a, b) for a, b in zip(net.masks, masks))


@pytest.mark.parametrize("dtype", DTYPES)
def test_save_load_keeps_the_masks(tmp_path, rng, dtype):
    net = fastbp.MLP((9, 14, 3), hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=4,
                     connectivity=0.3)
    X, Y = random_problem(rng, net.sizes, "softmax", n=30)
    net.fit(X, Y, epochs=2, lr=0.1, seed=0)
    net.save(tmp_path / "m.npz")
    loaded = fastbp.MLP.load(tmp_path / "m.npz")
    assert all(np.array_equal(a, b) for a, b in zip(loaded.masks, net.masks))
    assert loaded.n_edges == net.n_edges and loaded.dtype == dtype
    np.testing.assert_array_equal(loaded.params, net.params)
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
    loaded.fit(X, Y, epochs=1, lr=0.1, seed=0)
    assert np.all(loaded.params[~flat_mask(loaded)] == 0)


def test_load_refuses_nonzero_masked_weights_and_reads_version_1(tmp_path):
    net = fastbp.MLP((3, 4, 2), seed=0, connectivity=0.5)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as f:
        fields = {k: f[k] for k in f.files}
    bad = dict(fields, params=fields["params"] + 1.0)
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(ValueError, match="not zero"):
        fastbp.MLP.load(tmp_path / "bad.npz")
    old = {k: v for k, v in fields.items() if k != "masks"}
    old["version"] = np.array(1)
    np.savez(tmp_path / "v1.npz", **old)
    dense = fastbp.MLP.load(tmp_path / "v1.npz")
    assert dense.density == 1.0
    np.testing.assert_array_equal(dense.params, net.params)
    short = dict(fields, masks=fields["masks"][:-1])
    np.savez(tmp_path / "short.npz", **short)
    with pytest.raises(ValueError, match="masks must be"):
        fastbp.MLP.load(tmp_path / "short.npz")


@pytest.mark.parametrize("connectivity, error, match", [
    (0.0, ValueError, "connectivity"), (1.5, ValueError, "connectivity"), ("dense", TypeError, "connectivity"),
    (True, TypeError, "connectivity"), ([np.ones((5, 4), bool)], ValueError, r"2 arrays"),
    ([np.ones((4, 5), bool), np.ones((2, 5), bool)], ValueError, r"connectivity\[0\].*\(5, 4\)"),
    ([np.ones((5, 4)), np.ones((2, 5), bool)], TypeError, r"connectivity\[0\] must be a boolean"),
    # what connectivity accepts, and an array by its shape, not its contents
    ({"a": 1}, TypeError, r"a density in \(0, 1\] or a list of boolean masks .*got dict \{'a': 1\}$"),
    (np.ones((2, 5, 5), bool), TypeError, r"list of boolean masks .*got a 3-D array of shape \(2, 5, 5\)$"),
])
def test_bad_connectivity_is_named(connectivity, error, match):
    with pytest.raises(error, match=match):
        fastbp.MLP((4, 5, 2), connectivity=connectivity)


def test_writes_to_masked_weights_are_dropped():
    net = fastbp.MLP((3, 4, 2), seed=0, connectivity=0.5)
    keep = flat_mask(net)
    net.params = np.ones(net.n_params)
    np.testing.assert_array_equal(net.params, keep.astype(float))

"""Bad input raises a clear ValueError/TypeError naming the argument, and changes nothing."""
import numpy as np
import pytest
import reference
from conftest import acts_of

import fastbp

X = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
Y = np.array([[0.5], [0.2], [0.1]])


@pytest.fixture
def net():
    return fastbp.MLP([2, 3, 1], output="sigmoid", seed=0)


def assert_unchanged_after(net, call, error, match):
    before = net.params.copy()
    with pytest.raises(error, match=match):
        call()
    np.testing.assert_array_equal(net.params, before)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(X=X[:, :1]), ValueError, r"X must have 2 columns"),
    (dict(X=X[0]), ValueError, r"X must be 2-D.*reshape"),
    (dict(X=np.zeros((0, 2))), ValueError, r"X is empty"),
    (dict(X=[[0.0, np.nan], [1, 0], [1, 1]]), ValueError, r"X contains NaN or inf \(first in row 0\)"),
    (dict(X=[[0.0, 1], [1, 0], [np.inf, 1]]), ValueError, r"X contains NaN or inf \(first in row 2\)"),
    (dict(X=[["a", "b"]] * 3), TypeError, r"X must hold numbers"),
    (dict(Y=Y[:2]), ValueError, r"Y has 2 rows but X has 3"),
    (dict(Y=np.hstack([Y, Y])), ValueError, r"Y must have 1 columns"),
    (dict(Y=[[0.5], [np.nan], [0.1]]), ValueError, r"Y contains NaN or inf"),
    (dict(mode="turbo"), ValueError, r"mode must be one of"),
    (dict(lr=0.0), ValueError, r"lr must be > 0"),
    (dict(lr=-1), ValueError, r"lr must be > 0"),
    (dict(lr=float("nan")), ValueError, r"lr must be finite"),
    (dict(lr="fast"), TypeError, r"lr must be a real number"),
    (dict(epochs=0), ValueError, r"epochs must be >= 1"),
    (dict(epochs=2.5), TypeError, r"epochs must be an integer"),
    (dict(batch_size=0), ValueError, r"batch_size must be >= 1"),
    (dict(l2=-0.1), ValueError, r"l2 must be >= 0"),
    (dict(momentum=1.0), ValueError, r"momentum must be < 1"),
    (dict(shuffle="yes"), TypeError, r"shuffle must be True or False"),
    (dict(seed=-3), ValueError, r"seed must be >= 0"),
    (dict(seed=-3, shuffle=False), ValueError, r"seed must be >= 0"),  # checked though nothing draws from it
    (dict(seed="7", shuffle=False), TypeError, r"seed must be None, an integer or a numpy Generator"),
])
def test_fit_rejects_bad_input(net, kwargs, error, match):
    args = dict(X=X, Y=Y, epochs=1)
    args.update(kwargs)
    assert_unchanged_after(net, lambda: net.fit(args.pop("X"), args.pop("Y"), **args), error, match)


def test_labels_out_of_range_are_rejected():
    net = fastbp.MLP([2, 3, 3], output="softmax", loss="cross_entropy", seed=0)
    assert_unchanged_after(net, lambda: net.fit(X, [0, 1, 3]), ValueError, r"Y must lie in \[0, 2\].*\[0, 3\]")
    assert_unchanged_after(net, lambda: net.fit(X, [0, -1, 2]), ValueError, r"Y must lie in \[0, 2\]")
    assert_unchanged_after(net, lambda: net.fit(X, [0, 1.5, 2]), ValueError, r"Y must be whole numbers")


def test_cross_entropy_targets_must_be_probabilities():
    net = fastbp.MLP([2, 1], output="sigmoid", loss="cross_entropy", seed=0)
    assert_unchanged_after(net, lambda: net.fit(X, [[0.0], [2.0], [1.0]]), ValueError, r"Y must lie in \[0, 1\]")


@pytest.mark.parametrize("method", ["loss", "gradient"])
def test_evaluation_rejects_bad_input(net, method):
    call = getattr(net, method)
    assert_unchanged_after(net, lambda: call(X, Y[:1]), ValueError, r"Y has 1 rows but X has 3")
    assert_unchanged_after(net, lambda: call(X, Y, l2=-1), ValueError, r"l2 must be >= 0")
    assert_unchanged_after(net, lambda: call(None, Y), TypeError, r"X must be an array of numbers, got None")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n, bad_row", [(1, 0), (40, 39), (300, 150), (5000, 4999)])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_x_is_found_on_every_path(rng, dtype, n, bad_row, bad):
    """forward, predict, loss and gradient check X on the way through the kernels (sample by sample,
    one block of rows, several blocks, more than one part of rows): the row is named, nothing changes."""
    net = fastbp.MLP([30, 20, 4], hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
    X_bad = rng.standard_normal((n, 30)).astype(dtype)
    labels = rng.integers(0, 4, n)
    X_bad[bad_row, 7] = bad
    for call in (lambda: net.forward(X_bad), lambda: net.predict(X_bad), lambda: net.loss(X_bad, labels),
                 lambda: net.gradient(X_bad, labels)):
        assert_unchanged_after(net, call, ValueError, rf"X contains NaN or inf \(first in row {bad_row}\)")
    X_bad[bad_row, 7] = 0
    assert np.isfinite(net.loss(X_bad, labels))


@pytest.mark.parametrize("bad", [np.inf, -np.inf])
def test_inf_in_x_is_found_where_its_weights_are_zero(rng, bad):
    """Several blocks of rows see X through the first layer's products: inf times a zero weight is NaN."""
    net = fastbp.MLP([30, 20, 4], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    params = net.params.copy()
    params[:600].reshape(20, 30)[:, 7] = 0.0
    net.params = params
    X_bad = rng.standard_normal((300, 30))
    X_bad[150, 7] = bad
    assert_unchanged_after(net, lambda: net.gradient(X_bad, rng.integers(0, 4, 300)), ValueError,
                           r"X contains NaN or inf \(first in row 150\)")


def overflowing_products(rng, dtype):
    """(net, X, labels, the net as reference layers, X as float64): X is finite, but row 150's products
    with the first layer's weights all run past the dtype's range, to +inf (none to inf - inf)."""
    net = fastbp.MLP([30, 20, 4], hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=0)
    X = rng.standard_normal((300, 30))
    X[150, :] = np.finfo(dtype).max / 2
    labels = rng.integers(0, 4, 300)
    params = net.params.copy()
    params[:600] = np.abs(params[:600])
    net.params = params
    network = reference.unflatten(params.astype(np.float64), net.sizes)
    X_wide = X.astype(dtype).astype(np.float64)
    with np.errstate(over="ignore"):
        assert not np.isfinite((X_wide[150] @ network[0][0].T).astype(dtype)).any()  # the case at hand
    return net, X, labels, network, X_wide


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_finite_x_whose_products_overflow_keeps_its_loss(rng, dtype):
    """Products past the dtype's range answer like a NaN in X in the kernel's check; X is finite,
    so the loss is the one the reference gives (tanh of inf is 1), not an error and not NaN."""
    net, X, labels, network, X_wide = overflowing_products(rng, dtype)
    with np.errstate(over="ignore"):
        expected = reference.mean_loss(network, X_wide, np.eye(4)[labels], acts_of(net), "cross_entropy")
    assert np.isfinite(expected)
    np.testing.assert_allclose(net.loss(X, labels), expected, rtol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("mode, bad_row", [("minibatch", 0), ("minibatch", 299), ("batch", 150)])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_fit_finds_nan_or_inf_in_x_in_its_first_epoch(rng, optimizer, mode, bad_row, bad):
    """Epochs as matrices (one block of rows per minibatch, several in a batch) check X through the first
    epoch's products: the row is named; the parameters and the optimizer's state, which a second fit goes
    on from, are as before the call."""
    net = fastbp.MLP([30, 20, 4], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    opt = fastbp.Adam() if optimizer == "adam" else fastbp.SGD(momentum=0.9 if optimizer == "momentum" else 0.0)
    X_bad = rng.standard_normal((300, 30))
    labels = rng.integers(0, 4, 300)
    net.fit(X_bad, labels, mode=mode, batch_size=64, epochs=1, optimizer=opt, lr=0.05)
    state = opt.snapshot()
    X_bad[bad_row, 7] = bad

    def refit():
        net.fit(X_bad, labels, mode=mode, batch_size=64, epochs=2, optimizer=opt, lr=0.05)
    assert_unchanged_after(net, refit, ValueError, rf"X contains NaN or inf \(first in row {bad_row}\)")
    assert state.keys() == opt.snapshot().keys()
    for name, value in state.items():
        np.testing.assert_array_equal(getattr(opt, name), value, err_msg=name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [64, 300])
def test_fit_on_finite_x_whose_products_overflow_trains_as_the_reference(rng, dtype, batch_size):
    """The first epoch's check answers an overflowing product as it does a NaN in X; X is finite, so the
    epoch runs again unchecked and takes the reference's steps (tanh of inf is 1)."""
    net, X_big, labels, network, X_wide = overflowing_products(rng, dtype)
    Y_wide = np.eye(4)[labels]
    with np.errstate(over="ignore"):
        for s in range(0, 300, batch_size):
            grads = reference.batch_gradient(network, X_wide[s:s + batch_size], Y_wide[s:s + batch_size],
                                             acts_of(net), "cross_entropy")
            network = [(W - 0.05 * gW, b - 0.05 * gb) for (W, b), (gW, gb) in zip(network, grads)]
    history = net.fit(X_big, labels, mode="minibatch", batch_size=batch_size, epochs=1, lr=0.05, shuffle=False)
    assert np.isfinite(history.loss[0])
    np.testing.assert_allclose(net.params, reference.flatten(network), rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-6 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("n", [1, 40, 300])
def test_non_finite_parameters_give_a_nan_loss_not_an_input_error(rng, n):
    net = fastbp.MLP([30, 20, 4], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    net._params[3] = np.nan  # as a diverged run can leave them (the params setter refuses NaN)
    X_ok = rng.standard_normal((n, 30))
    assert np.isnan(net.loss(X_ok, rng.integers(0, 4, n)))
    assert np.isnan(net.forward(X_ok)).any()


def test_float64_inputs_beyond_float32_are_named(rng):
    net = fastbp.MLP([30, 20, 4], output="softmax", loss="cross_entropy", dtype=np.float32, seed=0)
    X_big = rng.standard_normal((300, 30))
    X_big[5, 2] = 1e300
    with pytest.raises(ValueError, match=r"X has values beyond the float32 range"):
        net.forward(X_big)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sizes=[3]), ValueError, r"sizes must list at least 2"),
    (dict(sizes=[3, 0, 1]), ValueError, r"sizes must be >= 1"),
    (dict(sizes=[3, 2.5, 1]), TypeError, r"sizes must be an integer"),
    (dict(sizes="3,2"), TypeError, r"sizes must be a list"),
    (dict(hidden="swish"), ValueError, r"hidden must be one of"),
    (dict(hidden=["tanh"]), ValueError, r"hidden must name one activation or 2"),
    (dict(output="relu"), ValueError, r"output must be one of"),
    (dict(loss="hinge"), ValueError, r"loss must be one of"),
    (dict(init="zeros"), ValueError, r"init must be one of"),
    (dict(dtype=np.int32), ValueError, r"dtype must be float64 or float32"),
    (dict(loss="cross_entropy"), ValueError, r"loss 'cross_entropy' needs output 'softmax' or 'sigmoid'"),
    (dict(output="softmax"), ValueError, r"output 'softmax' is trained with loss 'cross_entropy'"),
    (dict(sizes=[3, 1], output="softmax", loss="cross_entropy"), ValueError, r"softmax' needs at least 2"),
])
def test_constructor_rejects_bad_arguments(kwargs, error, match):
    args = dict(sizes=[3, 4, 4, 2])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        fastbp.MLP(args.pop("sizes"), **args)


def test_accuracy_needs_a_classifier_and_valid_labels():
    regressor = fastbp.MLP([2, 1], seed=0)
    with pytest.raises(ValueError, match=r"accuracy needs a classifier"):
        fastbp.accuracy(regressor, X, [0, 1, 1])
    classifier = fastbp.MLP([2, 3], output="softmax", loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\]"):
        fastbp.accuracy(classifier, X, [0, 1, 5])
    with pytest.raises(ValueError, match=r"labels has 2 rows but X has 3"):
        fastbp.accuracy(classifier, X, [0, 1])


def test_params_cannot_be_rebound_to_a_buffer_the_kernels_would_misread(rng):
    """Assigning params copies checked values into the one buffer; a wrong length is refused before any
    kernel could read past its end (it used to crash the process)."""
    net = fastbp.MLP([4, 5, 3], seed=0)
    buffer, before = net.params, net.params.copy()
    for bad, error, message in [(np.zeros(10), ValueError, r"params must have shape \(43,\)"),
                                (np.full(43, np.nan), ValueError, r"params contains NaN or inf"),
                                (np.array(["a"] * 43), TypeError, r"params must be an array of numbers")]:
        with pytest.raises(error, match=message):
            net.params = bad
        np.testing.assert_array_equal(net.params, before)
    net.params = np.arange(43.0)
    assert net.params is buffer and net.weights[0][0, 1] == 1.0  # same memory, views still valid

"""Nothing silently wrong: odd data and odd settings (Ctrl-C: test_ctrl_c.py; model files: test_model_files.py;
divergence: test_divergence.py).

Each test pins a failure found by trying fastbp as a hostile user would (the reliability issue).
"""

import numpy as np
import pytest
from conftest import random_problem

import fastbp


# -- silently wrong ------------------------------------------------------------------------
def test_softmax_targets_must_be_distributions(rng):
    net = fastbp.MLP([3, 4, 3], output="softmax", loss="cross_entropy", seed=0)
    X = rng.normal(size=(4, 3))
    Y = np.eye(3)[[0, 1, 2, 0]]
    Y[2] = 0  # an all-zero row: loss 0, but a nonzero gradient
    for call in (lambda: net.loss(X, Y), lambda: net.gradient(X, Y), lambda: net.fit(X, Y, epochs=1)):
        with pytest.raises(ValueError, match=r"Y rows must each sum to 1 .*: row 2 sums to 0"):
            call()
    net.loss(X, np.full((4, 3), 1 / 3))  # soft labels are fine


def test_standardize_near_the_largest_float(rng):
    X = rng.normal(size=(50, 2)) * 1e300
    net = fastbp.MLP([2, 3, 1], seed=0).standardize(X)
    assert np.all(np.isfinite(net.input_scale)) and np.all(net.input_scale > 0)
    Z = (X - net.input_mean) / net.input_scale
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-12)


def test_accuracy_checks_one_hot_labels():
    X, y = fastbp.datasets.iris()
    net = fastbp.MLP([4, 5, 3], output="softmax", loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"one-hot rows must have 3 columns"):
        fastbp.accuracy(net, X, np.eye(4)[y])
    bad = np.eye(3)[y]
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r"labels contains NaN or inf \(first in row 7\)"):
        fastbp.accuracy(net, X, bad)
    assert fastbp.accuracy(net, X, np.eye(3)[y]) == fastbp.accuracy(net, X, y)


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid"])
def test_gradcheck_passes_a_correct_gradient_on_a_wide_network(rng, hidden):
    sizes = [64, 256, 10]
    net = fastbp.MLP(sizes, hidden=hidden, output="softmax", loss="cross_entropy", seed=1)
    X, Y = random_problem(rng, sizes, "softmax", n=8)
    assert fastbp.gradcheck(net, X, Y) < fastbp.GRADCHECK_TOLERANCE["float64"] / 10


# -- the command line's data --------------------------------------------------------------
def test_a_byte_order_mark_is_not_a_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("1.0,2.0,0\n3.0,4.0,1\n5.0,6.0,0\n".encode("utf-8-sig"))
    X, y = fastbp.datasets.load_csv(path)
    assert X.shape == (3, 2) and list(y) == [0, 1, 0]


def test_idx_sizes_that_would_overflow_are_reported(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + np.array([2 ** 31, 2 ** 31, 2 ** 31], dtype=">u4").tobytes() + b"x")
    with pytest.raises(ValueError, match=r"shape \(2147483648, 2147483648, 2147483648\) needs "
                                         r"9903520314283042199192993792 bytes"):
        fastbp.datasets.load_idx(path)


def test_a_regressor_with_two_outputs_is_not_told_about_class_labels(rng):
    net = fastbp.MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"Y must be 2-D \(n_samples, 2\) for a network with 2 outputs"):
        net.fit(rng.normal(size=(5, 3)), rng.normal(size=5))


def test_label_ranges_are_printed_as_given():
    with pytest.raises(ValueError, match=r"got values in \[0, 1e\+20\]"):
        fastbp.checks.as_labels(np.array([0.0, 1e20]), 3)

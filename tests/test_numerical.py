"""Numerical gradients, gradcheck, training with numerical gradients, and the cost experiment."""
import json
import subprocess
import sys

import numpy as np
import pytest
from conftest import HEADS, HIDDEN, random_problem, rel_error

import fastbp
from fastbp import costs
from fastbp.datasets import iris, train_test_split, xor
from fastbp.numerical import relative_error


@pytest.mark.parametrize("scheme, tolerance", [("central", 1e-7), ("forward", 1e-5)])
def test_numerical_gradient_matches_backprop(rng, scheme, tolerance):
    sizes = [4, 6, 3]
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    X, Y = random_problem(rng, sizes, "softmax", n=8)
    before = net.params.copy()
    g = fastbp.numerical_gradient(net, X, Y, scheme=scheme, l2=0.05)
    np.testing.assert_array_equal(net.params, before)  # every perturbation restored exactly
    assert rel_error(g, net.gradient(X, Y, l2=0.05)) < tolerance


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gradcheck_passes_on_every_activation_and_loss(rng, hidden, head, dtype):
    output, loss = head
    sizes = [3, 5, 4, 2]
    net = fastbp.MLP(sizes, hidden=hidden, output=output, loss=loss, dtype=dtype, seed=1)
    for b in net.biases:  # keep relu units off their kink at z = 0
        b[:] = 0.3
    X, Y = random_problem(rng, sizes, output, n=6)
    error = fastbp.gradcheck(net, X, Y, l2=0.01)
    assert error <= fastbp.GRADCHECK_TOLERANCE[np.dtype(dtype).name]


def test_gradcheck_fails_on_a_wrong_gradient(rng, monkeypatch):
    sizes = [3, 4, 2]
    X, Y = random_problem(rng, sizes, n=5)
    net = fastbp.MLP(sizes, hidden="tanh", seed=2)
    assert fastbp.gradcheck(net, X, Y) <= fastbp.GRADCHECK_TOLERANCE["float64"]
    good = net.gradient

    def one_component_off(*args, **kwargs):  # a backprop bug: one component 1% off
        g = good(*args, **kwargs)
        g[3] *= 1.01
        return g

    monkeypatch.setattr(net, "gradient", one_component_off)
    assert fastbp.gradcheck(net, X, Y) > 1e-3
    numeric = fastbp.numerical_gradient(net, X, Y)
    assert relative_error(good(X, Y), numeric) <= fastbp.GRADCHECK_TOLERANCE["float64"]


def test_numerical_gradient_rejects_bad_arguments(rng):
    net = fastbp.MLP([2, 3, 1], seed=0)
    X, Y = random_problem(rng, [2, 3, 1], n=3)
    with pytest.raises(ValueError, match=r"scheme must be one of"):
        fastbp.numerical_gradient(net, X, Y, scheme="backward")
    with pytest.raises(ValueError, match=r"eps must be > 0"):
        fastbp.numerical_gradient(net, X, Y, eps=0.0)
    with pytest.raises(ValueError, match=r"gradient must be one of"):
        net.fit(X, Y, gradient="symbolic")


@pytest.mark.parametrize("mode", ["sgd", "minibatch", "batch"])
def test_numerical_training_reaches_the_backprop_loss_on_xor(mode):
    """Same loop, same updates: the loss curves agree to 1e-6 relative after 500 epochs."""
    X, labels = xor()
    curves = {}
    for gradient in ("backprop", "numerical"):
        net = fastbp.MLP([2, 4, 1], output="sigmoid", seed=3)
        curves[gradient] = net.fit(X, labels, mode=mode, epochs=500, lr=0.5, batch_size=2, seed=4,
                                   gradient=gradient).loss
    np.testing.assert_allclose(curves["numerical"], curves["backprop"], rtol=1e-6)


def test_numerical_training_reaches_the_backprop_loss_on_iris():
    X, labels = iris()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_train, X_test, y_train, y_test = train_test_split(X, labels, 0.3, seed=0)
    results = {}
    for gradient in ("backprop", "numerical"):
        net = fastbp.MLP([4, 5, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
        history = net.fit(X_train, y_train, mode="minibatch", batch_size=16, epochs=40, lr=0.1, seed=0,
                          gradient=gradient)
        results[gradient] = (history.loss[-1], fastbp.accuracy(net, X_test, y_test))
    assert results["numerical"][0] == pytest.approx(results["backprop"][0], rel=1e-6)
    assert results["numerical"][1] == results["backprop"][1] >= 0.9


def test_op_count_model():
    """Multiply-adds from the loop structure: backprop 3E - E_0, central 2PE, forward (P + 1)E."""
    sizes = [3, 4, 2]  # E = 12 + 8 = 20, E_0 = 12, P = 20 + 6 = 26
    assert costs.multiply_adds(sizes, "backprop") == 3 * 20 - 12
    assert costs.multiply_adds(sizes, "central") == 2 * 26 * 20
    assert costs.multiply_adds(sizes, "forward") == 27 * 20


def test_fit_slope_recovers_a_power_law():
    E = [1e3, 1e4, 1e5, 1e6]
    fit = costs.fit_slope(E, [3e-9 * e ** 1.5 for e in E], low=1e4)
    assert fit["slope"] == pytest.approx(1.5, abs=1e-12)
    assert (fit["e_min"], fit["e_max"], fit["points"]) == (1e4, 1e6, 3)


def test_quick_cost_experiment_end_to_end(tmp_path):
    """`fastbp costs --quick` prints the table and writes the JSON and the figure; the op-count slopes
    are 1 (backprop) and 2 (finite differences). Measured seconds are not asserted."""
    done = subprocess.run([sys.executable, "-m", "fastbp.cli", "costs", "--quick", "--quiet",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "costs.json").read_text())
    assert result["model_slopes"]["backprop"]["slope"] == pytest.approx(1.0, abs=0.01)
    assert result["model_slopes"]["central"]["slope"] == pytest.approx(2.0, abs=0.05)
    assert result["model_slopes"]["forward"]["slope"] == pytest.approx(2.0, abs=0.05)
    assert {r["method"] for r in result["rows"]} == {"backprop", "central", "forward"}
    figure = (tmp_path / "costs.png").read_bytes()
    assert figure[:8] == b"\x89PNG\r\n\x1a\n" and len(figure) > 20_000
    assert "## Algorithm costs" in done.stdout and "| backprop |" in done.stdout

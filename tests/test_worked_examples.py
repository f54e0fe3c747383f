"""Worked examples from the seed notes, through the public API."""
import math

import numpy as np
import pytest

import fastbp
from fastbp.datasets import iris, train_test_split, xnor, xor


def logit(p):
    return math.log(p / (1 - p))


def sig(s):
    return 1 / (1 + math.exp(-s))


class PracticeNetwork:
    """The 1-2-2-1 network of practice session 9 (004_b2f231fa9ca90043.txt).

    x = 0.5, y = 0.25, eta = 0.1, logistic hidden layers with biases, linear output,
    E = (y - yhat)^2. The notes' weights sit in a figure that the text lost, so w7,
    w10 and w13 are solved here to put the network in the state of the notes'
    derivative table: a3 = 0.2392, a4 = 0.7661, dE/dyhat = -0.5968 (yhat = -0.0484).
      s1 = w1 x + w2        s3 = w5 a1 + w6 a2 + w7     yhat = w11 a3 + w12 a4 + w13
      s2 = w3 x + w4        s4 = w8 a1 + w9 a2 + w10
    """

    x, y, eta = 0.5, 0.25, 0.1
    w1, w2, w3, w4 = 0.15, 0.25, -0.35, 0.45
    w5, w6, w8, w9 = 0.4, -0.6, 0.7, 0.3
    w11, w12 = 0.5, -0.3

    def __init__(self):
        self.a1 = sig(self.w1 * self.x + self.w2)
        self.a2 = sig(self.w3 * self.x + self.w4)
        self.w7 = logit(0.2392) - self.w5 * self.a1 - self.w6 * self.a2
        self.w10 = logit(0.7661) - self.w8 * self.a1 - self.w9 * self.a2
        self.w13 = -0.0484 - self.w11 * 0.2392 - self.w12 * 0.7661

    def mlp(self, sizes=(1, 2, 2, 1), output="identity"):
        net = fastbp.MLP(list(sizes), hidden="logistic", output=output)
        values = [self.w1, self.w3, self.w2, self.w4,  # W_0 (2, 1) rows, then b_0
                  self.w5, self.w6, self.w8, self.w9, self.w7, self.w10,  # W_1 row-major, b_1
                  self.w11, self.w12, self.w13]  # W_2, b_2
        net.params[:] = values[:net.n_params]
        return net


def test_practice_network_forward_matches_the_table():
    p = PracticeNetwork()
    hidden = p.mlp(sizes=(1, 2, 2), output="sigmoid").forward([[p.x]])[0]  # (a3, a4)
    a3, a4 = hidden
    yhat = p.mlp().forward([[p.x]])[0, 0]
    assert a3 == pytest.approx(0.2392, abs=5e-5)  # dyhat/dw11 = a3
    assert a4 == pytest.approx(0.7661, abs=5e-5)  # dyhat/dw12 = a4
    assert 2 * (yhat - p.y) == pytest.approx(-0.5968, abs=5e-5)  # dE/dyhat = 2(yhat - y)
    assert a3 * (1 - a3) == pytest.approx(0.1820, abs=5e-5)  # da3/ds3 = a3(1 - a3)
    assert a4 * (1 - a4) == pytest.approx(0.1792, abs=5e-5)  # da4/ds4 = a4(1 - a4)


def test_practice_network_derivatives_and_one_update():
    p = PracticeNetwork()
    net = p.mlp()
    a3, a4 = p.mlp(sizes=(1, 2, 2), output="sigmoid").forward([[p.x]])[0]
    yhat = p.w11 * a3 + p.w12 * a4 + p.w13
    dE_dyhat = 2 * (yhat - p.y)
    # Hand formulas (chain rule, eq. 13 and 14 of the notes):
    dE_dw11 = dE_dyhat * a3
    dE_dw13 = dE_dyhat
    dE_dw5 = dE_dyhat * p.w11 * a3 * (1 - a3) * p.a1
    dE_dw9 = dE_dyhat * p.w12 * a4 * (1 - a4) * p.a2
    dE_dw1 = (dE_dyhat * (p.w11 * a3 * (1 - a3) * p.w5 + p.w12 * a4 * (1 - a4) * p.w8)
              * p.a1 * (1 - p.a1) * p.x)
    # fastbp's squared loss is C = 0.5 (yhat - y)^2 = E / 2, so dE/dw = 2 dC/dw.
    dE = 2 * net.gradient([[p.x]], [[p.y]])
    (gW0, gW1, gW2), (gb0, gb1, gb2) = net.layer_views(dE)
    assert gW2[0, 0] == pytest.approx(dE_dw11, rel=1e-12)
    assert gb2[0] == pytest.approx(dE_dw13, rel=1e-12)
    assert gW1[0, 0] == pytest.approx(dE_dw5, rel=1e-12)
    assert gW1[1, 1] == pytest.approx(dE_dw9, rel=1e-12)
    assert gW0[0, 0] == pytest.approx(dE_dw1, rel=1e-12)
    # One online update with eta = 0.1 on E is lr = 0.2 on C = E / 2.
    net.fit([[p.x]], [[p.y]], mode="sgd", epochs=1, lr=2 * p.eta, shuffle=False)
    assert net.weights[1][0, 0] == pytest.approx(p.w5 - p.eta * dE_dw5, rel=1e-12)
    assert net.weights[0][0, 0] == pytest.approx(p.w1 - p.eta * dE_dw1, rel=1e-12)
    assert net.biases[2][0] == pytest.approx(p.w13 - p.eta * dE_dw13, rel=1e-12)


def test_softmax_table():
    """Scores dog -3.44, cat 1.16, boat -0.81, airplane 3.91 (practice session 9, part 2).

    e^z = 0.0321, 3.1899, 0.4449, 49.8990 (sum 53.5658);
    softmax = 0.0006, 0.0596, 0.0083, 0.9315; -log p = 7.4209, 2.8209, 4.7909, 0.0709.
    """
    net = fastbp.MLP([1, 4], output="softmax", loss="cross_entropy")
    net.weights[0][:] = 0
    net.biases[0][:] = [-3.44, 1.16, -0.81, 3.91]
    probabilities = net.forward([[0.0]])[0]
    np.testing.assert_allclose(probabilities, [0.0006, 0.0596, 0.0083, 0.9315], atol=5e-5)
    assert probabilities.sum() == pytest.approx(1.0, rel=1e-15)
    for label, expected in enumerate([7.4209, 2.8209, 4.7909, 0.0709]):
        assert net.loss([[0.0]], [label]) == pytest.approx(expected, abs=5e-5)
    # With a softmax output and cross-entropy, dC/dz = a - y: the bias gradient.
    g = net.gradient([[0.0]], [1])
    np.testing.assert_allclose(net.layer_views(g)[1][0], probabilities - [0, 1, 0, 0], rtol=1e-12)


@pytest.mark.parametrize("problem", [xor, xnor])
@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_xor_and_xnor_learn(problem, seed):
    X, labels = problem()
    net = fastbp.MLP([2, 4, 1], hidden="sigmoid", output="sigmoid", seed=seed)
    history = net.fit(X, labels, mode="sgd", epochs=3000, lr=0.5, seed=seed)
    assert fastbp.accuracy(net, X, labels) == 1.0
    assert history.loss[-1] < 0.1 * history.loss[0]


def test_iris_held_out_accuracy():
    X, labels = iris()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    X_train, X_test, y_train, y_test = train_test_split(X, labels, test_fraction=0.3, seed=0)
    net = fastbp.MLP([4, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    net.fit(X_train, y_train, mode="sgd", epochs=100, lr=0.02, seed=0)
    assert fastbp.accuracy(net, X_test, y_test) >= 0.95

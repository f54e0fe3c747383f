import numpy as np
import pytest

import fastbp

#: every hidden activation and every valid (output, loss) pair, read from fastbp's own tables, so a
#: new activation or loss is tested everywhere these are used without editing the tests
HIDDEN = list(fastbp.names.HIDDEN)
HEADS = list(fastbp.names.VALID_PAIRS)


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)


def acts_of(net):
    """Activation names per layer, hidden then output, as the reference takes them."""
    return list(net.hidden) + [net.output]


def random_problem(rng, sizes, output="identity", n=7):
    """(X, Y) with Y fitting the output: probabilities for softmax/sigmoid, reals otherwise."""
    X = rng.normal(size=(n, sizes[0]))
    if output == "softmax":
        Y = np.eye(sizes[-1])[rng.integers(0, sizes[-1], n)]
    elif output == "sigmoid":
        Y = rng.random((n, sizes[-1]))
    else:
        Y = rng.normal(size=(n, sizes[-1]))
    return X, Y


def rel_error(a, b):
    """||a - b|| / max(||a||, ||b||): the relative error of two gradient vectors."""
    scale = max(np.linalg.norm(a), np.linalg.norm(b), 1e-300)
    return np.linalg.norm(a - b) / scale


@pytest.fixture
def xor_data():
    return fastbp.datasets.xor()

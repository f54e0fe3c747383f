import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import fastbp
from fastbp import datasets

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


def fastbp_command():
    """The path of the installed fastbp console script."""
    script = Path(sys.executable).parent / "fastbp"
    found = str(script) if script.exists() else shutil.which("fastbp")
    assert found, "the fastbp console script is not installed (pip install -e '.[test]')"
    return found


@pytest.fixture
def iris_split():
    """Iris, 70% to train and 30% to validate, split the same way every time."""
    X, y = datasets.iris()
    return datasets.train_test_split(X, y, 0.3, seed=0)


def classifier(seed=0, **kw):
    """A 4-8-3 tanh/softmax network for iris."""
    return fastbp.MLP([4, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=seed, **kw)

"""Built-in data sets: the seed notes' XOR and XNOR, and Fisher's iris (shipped with the package)."""
from importlib import resources

import numpy as np

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)


def xor():
    """The four XOR points: (X (4, 2), labels (4,)), label = x1 xor x2."""
    return XOR_X.copy(), np.array([0, 1, 1, 0], dtype=np.int64)


def xnor():
    """The four XNOR points of the seed notes: label = not (x1 xor x2)."""
    return XOR_X.copy(), np.array([1, 0, 0, 1], dtype=np.int64)


def iris():
    """Fisher's iris: (X (150, 4) in cm, labels (150,) 0 setosa, 1 versicolor, 2 virginica)."""
    with resources.files("fastbp").joinpath("data/iris.csv").open() as f:
        table = np.loadtxt(f, delimiter=",", comments="#", skiprows=5)
    return table[:, :4], table[:, 4].astype(np.int64)


def train_test_split(X, labels, test_fraction=0.3, seed=0):
    """Shuffle and split rows: (X_train, X_test, labels_train, labels_test)."""
    order = np.random.default_rng(seed).permutation(X.shape[0])
    n_test = int(round(test_fraction * X.shape[0]))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], labels[train], labels[test]

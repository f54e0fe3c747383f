"""Data sets: built-in (xor, xnor, iris, digits) and files (CSV, .npz, MNIST-format IDX).

Every loader returns (X, y): X a float64 (n_samples, n_features) array; y a 1-D array
of integer labels (classification) or floats (regression), or a 2-D float array.
"""
import gzip
import math
from importlib import resources
from pathlib import Path

import numpy as np

from . import npz

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
BUILT_IN = ("xor", "xnor", "iris", "digits")


def xor():
    """The four XOR points: (X (4, 2), labels (4,)), label = x1 xor x2."""
    return XOR_X.copy(), np.array([0, 1, 1, 0], dtype=np.int64)


def xnor():
    """The four XNOR points of the seed notes: label = not (x1 xor x2)."""
    return XOR_X.copy(), np.array([1, 0, 0, 1], dtype=np.int64)


def iris():
    """Fisher's iris: (X (150, 4) in cm, labels (150,) 0 setosa, 1 versicolor, 2 virginica).

    Shipped in fastbp/data/iris.csv; source: R. A. Fisher (1936), Annals of Eugenics 7(2),
    the copy bundled with scikit-learn.
    """
    with resources.files("fastbp").joinpath("data/iris.csv").open() as f:
        table = np.loadtxt(f, delimiter=",", comments="#", skiprows=5)
    return table[:, :4], table[:, 4].astype(np.int64)


def digits():
    """The 1,797 8x8 handwritten digits (UCI), pixel values 0-16: (X (1797, 64), labels (1797,)).

    Read from scikit-learn's bundled copy; without scikit-learn, a ValueError says how to get it.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ValueError("the digits data set is read from scikit-learn's bundled copy: "
                         "pip install scikit-learn (or pip install 'fastbp[datasets]')") from None
    data = load_digits()
    return data.data.astype(np.float64), data.target.astype(np.int64)


def _target_column(target, names, n_cols, path):
    if target in ("last", None):
        return n_cols - 1
    if target == "first":
        return 0
    if names and target in names:
        return names.index(target)
    try:
        col = int(target)
    except ValueError:
        raise ValueError(f"target must be 'last', 'first', a column number or a column name of {path}; "
                         f"got {target!r}") from None
    if not -n_cols <= col < n_cols:
        raise ValueError(f"target column {col} is outside the {n_cols} columns of {path}")
    return col % n_cols


def as_labels_if_integral(y):
    """Integer-valued targets become int64 labels; anything else stays float.

    Only values that int64 and float64 both hold exactly (|y| <= 2^53) count as integers.
    """
    if (y.ndim == 1 and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y))
            and np.max(np.abs(y)) <= 2 ** 53):
        return y.astype(np.int64)
    return y


def load_csv(path, target="last"):
    """A numeric CSV file with an optional header row: (X, y).

    `target` picks the target column ('last', 'first', a 0-based number or a header name), or
    None for no target (y is None).
    """
    path = Path(path)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a UTF-8 byte-order mark is not part of the header
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ValueError(f"{path} line {line} is not UTF-8 text (byte {raw[exc.start]:#04x}); save the file as "
                         f"UTF-8") from None
    numbered = [(number, ln.rstrip("\r")) for number, ln in enumerate(text.split("\n"), 1)
                if ln.strip() and not ln.lstrip().startswith("#")]
    if not numbered:
        raise ValueError(f"{path} has no data rows")
    first = [c.strip() for c in numbered[0][1].split(",")]
    names = None
    try:
        [float(c) for c in first]
    except ValueError:
        names, numbered = first, numbered[1:]
    if not numbered:
        raise ValueError(f"{path} has a header but no data rows")
    table = _csv_numbers(path, numbered, len(first))
    if target == "none":
        return table, None
    col = _target_column(target, names, table.shape[1], path)
    if table.shape[1] < 2:
        raise ValueError(f"{path} has one column: nothing is left for the inputs beside the target")
    X = np.delete(table, col, axis=1)
    return X, as_labels_if_integral(table[:, col])


def _csv_numbers(path, numbered, n_columns):
    """The table of (line number, line) pairs, float64; errors name the file's line (counted from 1)."""
    try:
        table = np.loadtxt([line for _, line in numbered], delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError:  # find the first line at fault, and say what is wrong with it
        for number, line in numbered:
            cells = line.split(",")
            if len(cells) != n_columns:
                raise ValueError(f"{path} line {number} has {len(cells)} columns, the first row has {n_columns}") \
                    from None
            for column, cell in enumerate(cells, 1):
                try:
                    float(cell)
                except ValueError:
                    raise ValueError(f"{path} line {number}, column {column}: {cell.strip()!r} is not a "
                                     f"number") from None
        raise
    bad = np.flatnonzero(~np.isfinite(table).all(axis=1))
    if bad.size:
        raise ValueError(f"{path} line {numbered[bad[0]][0]} holds NaN or inf")
    return table


def load_npz(path):
    """An .npz file with arrays X and y (also accepted: x/y, data/target, inputs/targets)."""
    path = Path(path)
    try:
        with npz.opened(path) as f:
            keys = set(f.files)
            for xk, yk in (("X", "y"), ("x", "y"), ("X", "Y"), ("data", "target"), ("inputs", "targets")):
                if xk in keys and yk in keys:
                    X, y = npz.member(f, xk), npz.member(f, yk)
                    break
            else:
                raise ValueError(f"it must hold arrays named X and y; it has {sorted(keys)}")
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        why = str(exc) if isinstance(exc, ValueError) else f"{exc.__class__.__name__}: {exc}"
        raise ValueError(f"{path} is not a readable .npz data file ({why})") from None
    for name, array in ((xk, X), (yk, y)):
        if array.dtype.kind not in "biuf":
            raise ValueError(f"{path}: array {name!r} must hold numbers, got dtype {array.dtype}")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim < 2:
        raise ValueError(f"{path}: X must be 2-D (rows, features), got shape {X.shape}")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], -1)
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{path}: X has {X.shape[0]} rows but y has {y.shape[0] if y.ndim else 0}")
    return X, as_labels_if_integral(y)


IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def load_idx(path):
    """An array from an MNIST-format IDX file (optionally gzipped).

    The format: magic 0, 0, type, n_dims, then n_dims big-endian uint32 sizes, then the data, big-endian.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    n_dims = raw[3]
    header = 4 + 4 * n_dims
    if n_dims == 0 or len(raw) < header:
        raise ValueError(f"{path} is not an IDX file (truncated header)")
    shape = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=n_dims, offset=4))
    dtype = np.dtype(IDX_TYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow for huge claimed sizes
    if len(raw) - header != expected:
        raise ValueError(f"{path} is truncated or padded: shape {shape} needs {expected} bytes of data, "
                         f"the file has {len(raw) - header}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def load_idx_pair(images, labels):
    """MNIST-style images and labels IDX files -> (X (n, pixels) scaled to [0, 1] for uint8, labels)."""
    pixels = load_idx(images)
    y = load_idx(labels)
    if y.ndim != 1:
        raise ValueError(f"{labels} must hold 1-D labels, got shape {y.shape}")
    if pixels.shape[0] != y.shape[0]:
        raise ValueError(f"{images} has {pixels.shape[0]} images but {labels} has {y.shape[0]} labels")
    X = pixels.reshape(pixels.shape[0], -1).astype(np.float64)
    if pixels.dtype == np.uint8:
        X /= 255.0
    return X, y.astype(np.int64)


def load(data, target="last", labels=None):
    """A built-in name (xor, xnor, iris, digits) or a file: .csv, .npz, or IDX (with `labels`).

    target: the CSV target column (see load_csv); "none" returns y = None for any source.
    """
    builtins = {"xor": xor, "xnor": xnor, "iris": iris, "digits": digits}
    if data in builtins:
        X, y = builtins[data]()
        return X, (None if target == "none" else y)
    path = Path(data)
    if not path.exists():
        raise ValueError(f"data {data!r} is neither a built-in data set ({', '.join(BUILT_IN)}) nor a file")
    if labels is not None:
        return load_idx_pair(path, labels)
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix in (".csv", ".txt"):
        return load_csv(path, target)
    raise ValueError(f"cannot tell the format of {path}: use .csv or .npz, or give IDX images with --labels")


def train_test_split(X, labels, test_fraction=0.3, seed=0):
    """Shuffle and split rows: (X_train, X_test, labels_train, labels_test)."""
    order = np.random.default_rng(seed).permutation(X.shape[0])
    n_test = int(round(test_fraction * X.shape[0]))
    test, train = order[:n_test], order[n_test:]
    return X[train], X[test], labels[train], labels[test]

"""Input validation: every user value is checked and cast here, before a kernel runs.

Errors name the argument, say what was expected and what was given.
"""
import functools
import math
import numbers

import numpy as np


def check_choice(value, name, choices):
    """Return the canonical name for `value`; `choices` maps accepted names (and aliases) to it."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, one of {sorted(set(choices))}; got {value!r}")
    key = value.lower()
    if key not in choices:
        raise ValueError(f"{name} must be one of {sorted(set(choices))}, got {value!r}")
    return choices[key]


def check_int(value, name, minimum):
    """An integer >= minimum (bools are not integers here)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_float(value, name, low=None, high=None, low_open=False, high_open=False):
    """A finite real number in [low, high] (open ends where asked)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value}")
    return value


def _numeric_array(values, name):
    if values is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    try:
        arr = np.asarray(values)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    return arr


def _all_finite(arr):
    """Whether every element is finite, at the cost of one sum when it is.

    NaN and inf carry into a sum, so a finite sum answers; a sum that overflows (or an inf)
    falls back to checking each element.
    """
    if arr.dtype.kind not in "fc":
        return True
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(arr, axis=None)  # np.sum's own work, without its Python wrapper (1 us of 2)
    return math.isfinite(total) or bool(np.all(np.isfinite(arr)))


def check_finite(arr, name, first_row=0, rows="row"):
    """Raise ValueError naming `name` and the first row holding a NaN or inf, if any."""
    if not _all_finite(arr):
        row = int(np.argwhere(~np.isfinite(arr))[0][0]) + first_row
        raise ValueError(f"{name} contains NaN or inf (first in {rows} {row})")


def _cast(arr, dtype, name, finite=True):
    """Cast to C-contiguous, writable `dtype`, finite before and after the cast (float32 overflows past 3.4e38).

    Writable: the kernels are compiled for writable arrays; a read-only one (a memory map opened
    read-only, a broadcast view) is copied rather than compiled for again. finite=False: no check
    when no cast is needed.
    """
    if arr.dtype == dtype and arr.flags.c_contiguous and arr.flags.writeable:
        if finite:
            check_finite(arr, name)
        return arr
    check_finite(arr, name)
    with np.errstate(over="ignore"):  # reported below, in words
        out = np.require(arr, dtype, ["C", "W"])
    if out.dtype != arr.dtype and not _all_finite(out):  # a copy in the same dtype holds the same numbers
        raise ValueError(f"{name} has values beyond the {np.dtype(dtype).name} range (largest magnitude "
                         f"{float(np.max(np.abs(arr))):.3g}, the most is {float(np.finfo(dtype).max):.3g}): "
                         "rescale it or use float64")
    return out


def check_rows(X, y):
    """Data read from a file, before any split: finite, and as many target rows as input rows.

    Rows are counted as in the file: data row 1 is the first row after any header.
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (rows, features), got shape {X.shape}")
    check_finite(X, "X", 1, "data row")
    y = np.asarray(y)
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        raise ValueError(f"the targets have {y.shape[0] if y.ndim else 0} rows but X has {X.shape[0]}")
    if y.dtype.kind in "biuf":
        check_finite(y, "the target", 1, "data row")


def as_inputs(X, n_features, dtype, name="X", finite=True):
    """X as a C-contiguous (n_samples, n_features) array of `dtype`, finite, not empty.

    finite=False: an X that needs no cast is returned unchecked for NaN and inf, for a caller
    that checks it on the way (engine.forward and batch_gradient's `check`).
    """
    arr = _numeric_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}), got shape {arr.shape}"
                         + (f"; for one sample use {name}.reshape(1, -1)" if arr.ndim == 1 else ""))
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns (the input layer's width), "
                         f"got {arr.shape[1]}")
    return _cast(arr, dtype, name, finite)


def as_targets(Y, n_rows, n_outputs, dtype, labels, probabilities, distribution, name="Y"):
    """Y as a C-contiguous (n_rows, n_outputs) array of `dtype`.

    labels (classifiers): integer labels (1-D) are one-hot encoded when n_outputs > 1. With one
    output a 1-D Y is its column. probabilities (cross-entropy): 0 <= Y <= 1. distribution
    (softmax): every row sums to 1.
    """
    arr = _numeric_array(Y, name)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D labels or 2-D (n_samples, {n_outputs}), got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_rows}")
    if arr.ndim == 1 and n_outputs > 1:
        if not labels:
            raise ValueError(f"{name} must be 2-D (n_samples, {n_outputs}) for a network with {n_outputs} "
                             f"outputs, got shape {arr.shape}")
        return one_hot(arr, n_outputs, dtype, name)  # rows of 0 and 1 summing to 1: nothing more to check
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape[1] != n_outputs:
        raise ValueError(f"{name} must have {n_outputs} columns (the output layer's width), "
                         f"got {arr.shape[1]}")
    arr = _cast(arr, dtype, name)
    if probabilities and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] for the cross_entropy loss, "
                         f"got values in [{arr.min()}, {arr.max()}]")
    if distribution:
        sums = arr.sum(axis=1, dtype=np.float64)
        off = np.abs(sums - 1) > (1e-6 if arr.dtype == np.float64 else 1e-4)
        if np.any(off):
            row = int(np.argmax(off))
            raise ValueError(f"{name} rows must each sum to 1 (a distribution over the softmax outputs): "
                             f"row {row} sums to {sums[row]:.6g}")
    return arr


def as_labels(labels, n_classes, name="labels"):
    """Integer class labels in [0, n_classes) as int64."""
    arr = _numeric_array(labels, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer class labels, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        check_finite(arr, name)
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be whole numbers (class labels), got fractional values")
    if arr.dtype.kind == "i":  # negative labels wrap to huge unsigned ones: one reduction checks both ends
        bad = arr.size and arr.view(f"u{arr.dtype.itemsize}").max() >= n_classes
    else:
        bad = arr.size and (arr.min() < 0 or arr.max() >= n_classes)
    if bad:  # checked before any cast can wrap around
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}] (one per output class), "
                         f"got values in [{arr.min():.15g}, {arr.max():.15g}]")
    return arr.astype(np.int64, copy=False)


@functools.lru_cache(maxsize=32)
def _identity(n, dtype):
    eye = np.eye(n, dtype=dtype)
    eye.flags.writeable = False
    return eye


def one_hot(labels, n_classes, dtype, name="labels"):
    """(n,) labels -> (n, n_classes) one-hot rows (a new array)."""
    return _identity(n_classes, np.dtype(dtype)).take(as_labels(labels, n_classes, name), axis=0)


def as_rng(seed, name="seed", make=True):
    """None, an int, or a numpy Generator -> a numpy Generator.

    make=False: the seed is checked and None returned (a Generator made from the system's entropy
    cost fit about 50 us, which a fit without shuffling need not pay).
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{name} must be None, an integer or a numpy Generator, got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return np.random.default_rng(seed) if make else None


def labels_of(Y):
    """Class labels of 2-D outputs or targets: argmax of rows, or a 0.5 threshold for one column."""
    return np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(np.int64)

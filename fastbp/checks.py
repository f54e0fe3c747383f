"""Input validation: every user value is checked and cast here, before a kernel runs.

Errors name the argument, say what was expected and what was given.
"""
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
    if not np.isfinite(value):
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


def _check_finite(arr, name):
    if not np.all(np.isfinite(arr)):
        row = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise ValueError(f"{name} contains NaN or inf (first in row {row})")


def as_inputs(X, n_features, dtype, name="X"):
    """X as a C-contiguous (n_samples, n_features) array of `dtype`, finite, not empty."""
    arr = _numeric_array(X, name)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_features}), got shape {arr.shape}"
                         + (f"; for one sample use {name}.reshape(1, -1)" if arr.ndim == 1 else ""))
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty: it has no rows")
    if arr.shape[1] != n_features:
        raise ValueError(f"{name} must have {n_features} columns (the input layer's width), "
                         f"got {arr.shape[1]}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    _check_finite(arr, name)
    return arr


def as_targets(Y, n_rows, n_outputs, dtype, probabilities, name="Y"):
    """Y as a C-contiguous (n_rows, n_outputs) array of `dtype`.

    Integer labels (1-D) are one-hot encoded when n_outputs > 1; with one output
    a 1-D Y is its column. `probabilities` (cross-entropy) requires 0 <= Y <= 1.
    """
    arr = _numeric_array(Y, name)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name} must be 1-D labels or 2-D (n_samples, {n_outputs}), got shape {arr.shape}")
    if arr.shape[0] != n_rows:
        raise ValueError(f"{name} has {arr.shape[0]} rows but X has {n_rows}")
    if arr.ndim == 1 and n_outputs > 1:
        arr = one_hot(arr, n_outputs, dtype, name)
    elif arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.shape[1] != n_outputs:
        raise ValueError(f"{name} must have {n_outputs} columns (the output layer's width), "
                         f"got {arr.shape[1]}")
    arr = np.ascontiguousarray(arr, dtype=dtype)
    _check_finite(arr, name)
    if probabilities and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] for the cross_entropy loss, "
                         f"got values in [{arr.min()}, {arr.max()}]")
    return arr


def as_labels(labels, n_classes, name="labels"):
    """Integer class labels in [0, n_classes) as int64."""
    arr = _numeric_array(labels, name)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D integer class labels, got shape {arr.shape}")
    _check_finite(arr, name)
    if arr.dtype.kind == "f":
        if not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must be whole numbers (class labels), got fractional values")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(f"{name} must lie in [0, {n_classes - 1}] (one per output class), "
                         f"got values in [{arr.min()}, {arr.max()}]")
    return arr


def one_hot(labels, n_classes, dtype, name="labels"):
    """(n,) labels -> (n, n_classes) one-hot rows."""
    idx = as_labels(labels, n_classes, name)
    out = np.zeros((idx.shape[0], n_classes), dtype=dtype)
    out[np.arange(idx.shape[0]), idx] = 1
    return out


def as_rng(seed, name="seed"):
    """None, an int, or a numpy Generator -> a numpy Generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"{name} must be None, an integer or a numpy Generator, got {seed!r}")
    if seed is not None and seed < 0:
        raise ValueError(f"{name} must be >= 0, got {seed}")
    return np.random.default_rng(seed)


def labels_of(Y):
    """Class labels of 2-D outputs or targets: argmax of rows, or a 0.5 threshold for one column."""
    return np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(np.int64)

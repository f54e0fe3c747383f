"""Activation and loss codes, each activation's value and derivative side by side.

Codes are small integers so kernels can branch on them; functions are never
passed into kernels (that defeats `cache=True`). Derivatives are computed from
the activation's OUTPUT a = f(z), as the seed notes do: sigmoid a(1 - a),
tanh 1 - a^2, relu [a > 0], identity 1.

Helpers work on a run a[o:o + n] of a flat buffer given by unsigned offsets:
a slice would cost an atomic reference-count pair per call, which dominated
small networks, and unsigned indices let LLVM drop negative-index checks.
"""
import numpy as np

from . import vmath
from ._jit import jit_inline

IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
SOFTMAX = 4

SQUARED = 0
CROSS_ENTROPY = 1
NO_LOSS = np.int64(-1)  # a NumPy scalar, not a literal: see _jit.jit_inline
FALSE = np.bool_(False)  # likewise
TRUE = np.bool_(True)


# Layers narrower than this call libm (one element at a time) instead of kernels.vmath: with no
# vector to fill, libm's shorter latency wins. Measured (per-sample SGD, Intel Xeon): 2-2-1 20.1M
# samples/s so, 15.5M with vmath throughout; 4-8-3 11.1M with vmath, 9.5M with libm throughout.
VECTOR_MIN = np.uint64(4)


@jit_inline
def _scalar_sigmoid(z):
    """1 / (1 + exp(-z)) by libm, without overflow and without a branch on the sign of z."""
    T = type(z)
    e = np.exp(-abs(z))
    r = T(1) / (T(1) + e)
    return r if z >= T(0) else e * r


@jit_inline
def activate(z, o, n, code):
    """a = f(z) in place on z[o:o + n], one layer's pre-activations."""
    T = type(z[0])
    if code == SIGMOID and n < VECTOR_MIN:
        for j in range(o, o + n):
            z[j] = _scalar_sigmoid(z[j])
    elif code == SIGMOID:
        for j in range(o, o + n):
            z[j] = vmath.sigmoid(z[j])
    elif code == TANH and n < VECTOR_MIN:
        for j in range(o, o + n):
            z[j] = np.tanh(z[j])
    elif code == TANH:
        for j in range(o, o + n):
            z[j] = vmath.tanh(z[j])
    elif code == RELU:
        for j in range(o, o + n):
            z[j] = max(z[j], T(0))
    elif code == SOFTMAX:
        m = z[o]
        for j in range(o, o + n):
            m = max(m, z[j])
        s = T(0)
        for j in range(o, o + n):
            z[j] = vmath.exp(z[j] - m)
            s += z[j]
        inv = T(1) / s
        for j in range(o, o + n):
            z[j] *= inv


@jit_inline
def derivative(a, code):
    """f'(z) from the output a = f(z) of a hidden activation."""
    T = type(a)
    if code == SIGMOID:
        return a * (T(1) - a)
    if code == TANH:
        return T(1) - a * a
    if code == RELU:
        return T(1) if a > T(0) else T(0)
    return T(1)


@jit_inline
def activate_with_loss(z, o, n, Y, r, code, loss):
    """Output layer: a = f(z) in place on z[o:o + n]; returns this sample's loss, computed from z.

    squared: 0.5 * sum (a - y)^2.
    cross_entropy, softmax: -sum y log a = sum y (lse - z), lse = log sum exp z.
    cross_entropy, sigmoid (per output): -(y log a + (1 - y) log(1 - a)) = softplus(z) - y z.
    Y: (n_samples, n) targets, r: this sample's row.
    """
    T = type(z[0])
    c = T(0)
    if loss == CROSS_ENTROPY and code == SOFTMAX:  # with w = z - max z: a = e^w / s, s = sum e^w
        m = z[o]
        for j in range(o, o + n):
            m = max(m, z[j])
        s = T(0)
        y_sum = T(0)
        for j in range(n):  # sum y (lse - z) = log(s) sum y - sum y w
            w = z[o + j] - m
            c -= Y[r, j] * w
            y_sum += Y[r, j]
            z[o + j] = vmath.exp(w)
            s += z[o + j]
        inv = T(1) / s
        for j in range(o, o + n):
            z[j] *= inv
        return c + np.log(s) * y_sum
    if loss == CROSS_ENTROPY:  # sigmoid outputs; softplus(z) = max(z, 0) + log(1 + e^-|z|)
        for j in range(n):
            v = z[o + j]
            e = vmath.exp(-abs(v))
            c += max(v, T(0)) + np.log1p(e) - Y[r, j] * v
            inv = T(1) / (T(1) + e)
            z[o + j] = inv if v >= T(0) else e * inv
        return c
    activate(z, o, n, code)
    if loss == SQUARED:
        for j in range(n):
            d = z[o + j] - Y[r, j]
            c += d * d
        return T(0.5) * c
    return c


@jit_inline
def output_delta(a, o, n, Y, r, code, loss, delta):
    """delta[:n] = delta^L: squared (a - y) f'(z); cross-entropy (softmax or sigmoid) a - y."""
    if loss == CROSS_ENTROPY:
        for j in range(n):
            delta[j] = a[o + j] - Y[r, j]
    else:
        for j in range(n):
            delta[j] = (a[o + j] - Y[r, j]) * derivative(a[o + j], code)

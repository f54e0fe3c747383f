"""Kernels over many rows, one sample at a time: outputs and summed losses, summed gradients.

X: (n, sizes[0]); Y: (n, sizes[-1]); rows: (m,) int64, the sample indices to use, in order.
work: (layout.sample_work_size(sizes),), caller-owned; nothing is allocated per sample.
"""
from ._jit import jit
from .activations import FALSE
from .sample import backprop_sample, forward_sample, sample_buffers


@jit
def forward_rows(params, sizes, offsets, acts, loss, X, Y, rows, out, work):
    """The forward pass over rows: out[idx] = a^L(X[rows[idx]]); returns sum over rows of C(X[r], Y[r]).

    One pass serves outputs, losses, or both (validation). out: (m, sizes[-1]), or (0, sizes[-1]) to
    keep no outputs. loss NO_LOSS: no loss (returns 0) and Y is not read (pass out).
    """
    a, _, _ = sample_buffers(sizes, work)
    top = a.shape[0] - out.shape[1]
    keep = out.shape[0] > 0
    total = type(params[0])(0)
    for idx in range(rows.shape[0]):
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, rows[idx], a, FALSE)
        if keep:
            for j in range(out.shape[1]):
                out[idx, j] = a[top + j]
    return total


@jit
def gradient_rows(params, sizes, offsets, acts, loss, X, Y, rows, grad, work):
    """grad += sum over r in rows of dC(X[r], Y[r])/dparams (backprop); returns the summed loss. grad: (P,)."""
    a, delta, prev = sample_buffers(sizes, work)
    total = type(params[0])(0)
    for idx in range(rows.shape[0]):
        r = rows[idx]
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, r, a, FALSE)
        backprop_sample(params, sizes, offsets, acts, loss, Y, r, a, delta, prev, grad)
    return total

"""Kernels over many rows, one sample at a time: outputs and summed losses, summed gradients.

X: (n, sizes[0]); Y: (n, sizes[-1]); rows: (m,) int64, the sample indices to use, in order.
live: a sparse network's live-edge lists, or None (kernels.live).
work: (layout.sample_work_size(sizes, live edges),), caller-owned; nothing is allocated per sample.
A sparse network's live weights (and gradients) are packed for the call (kernels.live.packed_buffers):
each live weight is then read from a short run, not from its own cache line of the dense layout.
"""
from ._jit import jit, jit_inline
from .activations import FALSE
from .live import ADD, PACK, exchange, packed_buffers
from .sample import backprop_sample, forward_sample, sample_buffers


@jit
def forward_rows(params, sizes, offsets, acts, live, loss, X, Y, rows, out, work):
    """The forward pass over rows: out[idx] = a^L(X[rows[idx]]); returns sum over rows of C(X[r], Y[r]).

    One pass serves outputs, losses, or both (validation). out: (m, sizes[-1]), or (0, sizes[-1]) to
    keep no outputs. loss NO_LOSS: no loss (returns 0) and Y is not read (pass out).
    """
    if live is None:  # (None, not live: Numba types this branch for a sparse network too)
        return _forward_samples(params, sizes, offsets, acts, None, loss, X, Y, rows, out, work)
    values, _, _ = packed_buffers(sizes, work, live)
    exchange(params, values, sizes, offsets, live, PACK)
    return _forward_samples(params, sizes, offsets, acts, (live[0], live[1], values), loss, X, Y, rows, out, work)


@jit_inline
def _forward_samples(params, sizes, offsets, acts, live, loss, X, Y, rows, out, work):
    """The samples of forward_rows; live: None or (starts, inputs, packed values)."""
    a, _, _ = sample_buffers(sizes, work)
    top = a.shape[0] - out.shape[1]
    keep = out.shape[0] > 0
    total = type(params[0])(0)
    for idx in range(rows.shape[0]):
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, rows[idx], a, FALSE, live)
        if keep:
            for j in range(out.shape[1]):
                out[idx, j] = a[top + j]
    return total


@jit
def gradient_rows(params, sizes, offsets, acts, live, loss, X, Y, rows, grad, work):
    """grad += sum over r in rows of dC(X[r], Y[r])/dparams (backprop); returns the summed loss. grad: (P,)."""
    if live is None:
        return _gradient_samples(params, sizes, offsets, acts, None, loss, X, Y, rows, grad, work)
    values, sums, _ = packed_buffers(sizes, work, live)
    exchange(params, values, sizes, offsets, live, PACK)
    sums[:] = 0
    total = _gradient_samples(params, sizes, offsets, acts, (live[0], live[1], values, sums), loss, X, Y, rows,
                              grad, work)
    exchange(grad, sums, sizes, offsets, live, ADD)
    return total


@jit_inline
def _gradient_samples(params, sizes, offsets, acts, live, loss, X, Y, rows, grad, work):
    """The samples of gradient_rows; live: None or (starts, inputs, packed values, packed gradient sums)."""
    a, delta, prev = sample_buffers(sizes, work)
    total = type(params[0])(0)
    for idx in range(rows.shape[0]):
        r = rows[idx]
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, r, a, FALSE, live)
        backprop_sample(params, sizes, offsets, acts, loss, Y, r, a, delta, prev, grad, live)
    return total

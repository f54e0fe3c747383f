"""One sample at a time: the forward pass and the backpropagated gradient, as inlined helpers.

Notation of the seed notes, 0-based: layer l maps a^l (width sizes[l]) to
a^{l+1} = f_l(W_l a^l + b_l); the seed's layer l is our l - 1. params is the flat
buffer W_0, b_0, W_1, b_1, ... with W_l row-major (sizes[l+1], sizes[l]) starting at
offsets[l] and b_l right after it; offsets (L+1,) uint64 ends with P (layout.layer_offsets).
live: the live-edge index lists of a sparse network, or None (kernels.live).
`a` holds every layer's output back to back, a^0 = X[r] first: (sum(sizes),).
Offsets and sizes are uint64 so LLVM drops negative-index checks and vectorises.
Compiled into their callers (kernels/_jit.py: with `_nrt=False` an array handed to a
helper costs nothing, so these need not be one driver).
"""
import numpy as np

from ._jit import jit_inline
from .activations import activate, activate_with_loss, derivative, output_delta
from .live import backprop_layer, forward_layer, unit_count


@jit_inline
def sample_buffers(sizes, work):
    """(a, delta, prev): work (layout.sample_work_size(sizes),) cut into every layer's output
    (sum(sizes),) and two delta buffers (max(sizes),)."""
    n_a = np.uint64(0)
    width = np.uint64(0)
    for n in sizes:
        n_a += n
        width = max(width, n)
    return work[:n_a], work[n_a:n_a + width], work[n_a + width:n_a + 2 * width]


@jit_inline
def forward_sample(params, sizes, offsets, acts, loss, X, Y, r, a, z1_ready, live):
    """a^0 = X[r]; a^{l+1} = f_l(W_l a^l + b_l), every layer; returns this sample's loss C(a^L, Y[r]).

    loss NO_LOSS: no loss (0), Y is not read. z1_ready: a[sizes[0]:] already holds z^1 = W_0 x + b_0
    (the fused SGD update computed it), so layer 0's product is skipped.
    """
    T = type(params[0])
    n_layers = sizes.shape[0] - 1
    for k in range(sizes[0]):
        a[k] = X[r, k]
    total = T(0)
    i = np.uint64(0)
    first = np.uint64(0)  # the layer's first unit in live
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        p = offsets[l]
        o = i + n_in
        bias = p + n_out * n_in
        if live is not None:
            forward_layer(params, p, n_in, n_out, a, i, o, live, first)
            first += n_out
        elif l > 0 or not z1_ready:
            for j in range(n_out):
                row = p + j * n_in
                s = params[bias + j]
                for k in range(n_in):
                    s += params[row + k] * a[i + k]
                a[o + j] = s
        if l < n_layers - 1:
            activate(a, o, n_out, acts[l])
        else:
            total += activate_with_loss(a, o, n_out, Y, r, acts[l], loss)
        i = o
    return total


@jit_inline
def backprop_sample(params, sizes, offsets, acts, loss, Y, r, a, delta, prev, grad, live):
    """grad += dC/dparams of the sample whose forward pass is in a (forward_sample).

    delta^L from output_delta; per layer, top down: dC/dW_l = delta_l a^l^T, dC/db_l = delta_l,
    and in the same pass over W_l, delta_{l-1} = (W_l^T delta_l) * f'(a^l).
    delta, prev: (max(sizes),) scratch.
    """
    n_layers = sizes.shape[0] - 1
    i = np.uint64(a.shape[0]) - sizes[n_layers]
    first = np.uint64(0)  # sparse: one past the last unit, then each layer's first
    if live is not None:
        first = unit_count(live)
    output_delta(a, i, sizes[n_layers], Y, r, acts[n_layers - 1], loss, delta)
    for l in range(n_layers - 1, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        p = offsets[l]
        i -= n_in
        bias = p + n_out * n_in
        back = l > 0  # layer 0 has no delta below it
        if back:
            for k in range(n_in):
                prev[k] = 0
        if live is not None:
            first -= n_out
            backprop_layer(params, p, n_in, n_out, a, i, delta, prev, back, grad, live, first)
        else:
            for j in range(n_out):
                d = delta[j]
                row = p + j * n_in
                grad[bias + j] += d
                for k in range(n_in):
                    grad[row + k] += d * a[i + k]
                    if back:
                        prev[k] += params[row + k] * d
        if not back:
            break
        for k in range(n_in):
            prev[k] *= derivative(a[i + k], acts[l - 1])
        delta, prev = prev, delta

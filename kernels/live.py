"""Sparse connectivity: one layer's loops over each unit's live inputs only, so cost follows live edges.

live = (starts, inputs): unit u's live inputs are inputs[starts[u]:starts[u + 1]], ascending, with
units counted over layers 1..L (layer l's unit j is u = first + j, first = sizes[1] + ... + sizes[l]).
starts (U + 1,) uint64, inputs (live edges,) uint32. A network with every edge live passes None
and runs the dense loops: the helpers in sample, sgd and adam test `live is not None` per layer,
a test Numba settles while compiling (it prunes the branch for a None argument), so the dense
kernels are compiled as if the sparse loops were not there and sparse ones are compiled apart.
Masked weights are exact zeros in params that these loops never read or write: their gradients
stay 0 and, with optimizer state that starts at 0, so do their values. The kernels over rows and
the per-sample epochs pack the live weights (and gradient sums, optimizer state) edge by edge first
and work on the packed runs (packed_buffers, exchange); only the numerical gradient, which perturbs
params in place, reads them there (forward_layer with live = (starts, inputs)).
"""
import numpy as np

from ._jit import jit_inline

PACK = np.int64(0)  # exchange's directions: NumPy scalars, not literals (see _jit.jit_inline)
UNPACK = np.int64(1)
ADD = np.int64(2)


@jit_inline
def unit_count(live):
    """Units of layers 1..L: starts has one entry per unit and one more."""
    return np.uint64(live[0].shape[0]) - np.uint64(1)


@jit_inline
def forward_layer(params, p, n_in, n_out, a, i, o, live, first):
    """z^{l+1}_j = b_j + sum over live k of W[j, k] a^l_k into a[o + j]; W_l at p, a^l at a[i].

    The weights are read from params, or from the packed values when live carries them (live[2],
    packed_buffers): Numba compiles only the branch the tuple's length selects.
    """
    starts, inputs = live[0], live[1]
    bias = p + n_out * n_in
    if len(live) > 2:
        values = live[2]
        for j in range(n_out):
            s = params[bias + j]
            for q in range(starts[first + j], starts[first + j + 1]):
                s += values[q] * a[i + np.uint64(inputs[q])]
            a[o + j] = s
    else:
        for j in range(n_out):
            row = p + j * n_in
            s = params[bias + j]
            for q in range(starts[first + j], starts[first + j + 1]):
                k = np.uint64(inputs[q])
                s += params[row + k] * a[i + k]
            a[o + j] = s


@jit_inline
def backprop_layer(params, p, n_in, n_out, a, i, delta, prev, back, grad, live, first):
    """Over live (j, k): gradient W[j, k] += delta_j a_k into the packed sums, grad b_j += delta_j; when
    back, prev_k += W[j, k] delta_j (prev zeroed by the caller). live: (starts, inputs, values, sums),
    the weights and their gradient sums packed (packed_buffers)."""
    starts, inputs, values, sums = live
    bias = p + n_out * n_in
    for j in range(n_out):
        d = delta[j]
        grad[bias + j] += d
        for q in range(starts[first + j], starts[first + j + 1]):
            k = np.uint64(inputs[q])
            sums[q] += d * a[i + k]
            if back:
                prev[k] += values[q] * d


@jit_inline
def packed_buffers(sizes, work, live):
    """(values, state, state2): three (live edges,) runs of a per-sample kernel's work after its
    sample buffers (layout.sample_work_size(sizes, live edges)): a sparse network's live weights
    and optimizer state packed edge by edge, so that an update streams them, not every cache line
    of the dense rows they sit in."""
    n_live = np.uint64(live[1].shape[0])
    start = np.uint64(0)
    width = np.uint64(0)
    for n in sizes:
        start += n
        width = max(width, n)
    start += 2 * width
    return work[start:start + n_live], work[start + n_live:start + 2 * n_live], \
        work[start + 2 * n_live:start + 3 * n_live]


@jit_inline
def exchange(flat, packed, sizes, offsets, live, how):
    """For every live edge q, x its place in flat (W_l's row j, column inputs[q]): how PACK
    packed[q] = flat[x], UNPACK flat[x] = packed[q], ADD flat[x] += packed[q]."""
    starts, inputs = live[0], live[1]
    one = np.uint64(1)
    u = np.uint64(0)
    for l in range(sizes.shape[0] - 1):
        n_in = sizes[l]
        p = offsets[l]
        for j in range(sizes[l + 1]):
            row = p + j * n_in
            for q in range(starts[u], starts[u + one]):
                x = row + np.uint64(inputs[q])
                if how == PACK:
                    packed[q] = flat[x]
                elif how == UNPACK:
                    flat[x] = packed[q]
                else:
                    flat[x] += packed[q]
            u += one


@jit_inline
def sgd_layer(params, velocity, p, n_in, n_out, a, i, delta, prev, back, lr, mu, nesterov, l2, live, first):
    """The fused delta-and-update pass of kernels.sgd.sgd_sample over live (j, k): prev_k += w delta_j
    with the old w, then g = delta_j a_k + l2 w; v = mu v - lr g; w += v (w -= lr g when mu = 0).
    live: (starts, inputs, values, velocities), the weights and their velocities packed (packed_buffers)."""
    T = type(params[0])
    starts, inputs, values, vel = live
    bias = p + n_out * n_in
    decay = T(1) - lr * l2
    for j in range(n_out):
        d = delta[j]
        lo = starts[first + j]
        hi = starts[first + j + 1]
        if mu == T(0):
            step = lr * d
            params[bias + j] -= step
            if back:  # apart from the update: a scatter, which does not vectorise, and a gather, which does
                for q in range(lo, hi):
                    prev[np.uint64(inputs[q])] += values[q] * d
            for q in range(lo, hi):
                values[q] = decay * values[q] - step * a[i + np.uint64(inputs[q])]
        else:
            v = mu * velocity[bias + j] - lr * d
            velocity[bias + j] = v
            params[bias + j] += mu * v - lr * d if nesterov else v
            for q in range(lo, hi):
                k = np.uint64(inputs[q])
                w = values[q]
                if back:
                    prev[k] += w * d
                g = d * a[i + k] + l2 * w
                v = mu * vel[q] - lr * g
                vel[q] = v
                values[q] = w + (mu * v - lr * g if nesterov else v)


@jit_inline
def adam_layer(params, m, v, p, n_in, n_out, a, i, delta, prev, back, l2, b1, b2, s, c, eps, live, first):
    """The fused delta-and-step pass of kernels.adam.adam_sample over live (j, k) and the biases.
    live: (starts, inputs, values, first moments, second moments), packed (packed_buffers)."""
    T = type(params[0])
    one = T(1)
    starts, inputs, values, m1, m2 = live
    bias = p + n_out * n_in
    for j in range(n_out):
        d = delta[j]
        q = bias + j  # the bias's step, as in kernels.adam.adam_sample (a helper for both moved its bits)
        mq = b1 * m[q] + (one - b1) * d
        vq = b2 * v[q] + (one - b2) * (d * d)
        m[q] = mq
        v[q] = vq
        params[q] -= s * mq / (c * np.sqrt(vq) + eps)
        for e in range(starts[first + j], starts[first + j + 1]):
            k = np.uint64(inputs[e])
            w = values[e]
            if back:
                prev[k] += w * d
            g = d * a[i + k] + l2 * w
            mq = b1 * m1[e] + (one - b1) * g
            vq = b2 * m2[e] + (one - b2) * (g * g)
            m1[e] = mq
            m2[e] = vq
            values[e] = w - s * mq / (c * np.sqrt(vq) + eps)


@jit_inline
def mask_rows(grad, p, n_in, r0, r1, c0, c1, live, first):
    """grad W[j, k] = 0 for the masked k in c0..c1-1 of the rows r0..r1-1 of W_l (at p): a gradient
    computed densely (kernels.blocked) made to follow the mask."""
    starts, inputs = live
    one = np.uint64(1)
    for j in range(r0, r1):
        row = p + j * n_in
        u = first + np.uint64(j)
        q = starts[u]
        end = starts[u + one]
        while q < end and np.int64(inputs[q]) < c0:
            q += one
        for k in range(c0, c1):
            if q < end and np.int64(inputs[q]) == k:
                q += one
            else:
                grad[row + k] = 0

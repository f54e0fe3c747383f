"""Adam (Kingma and Ba, 2015): the per-sample epoch with its fused update, the minibatch epoch
(one compiled call), and the step applied to a whole gradient.

Step t = 1, 2, ...:  g = dC/dw + l2 w (biases: no l2);  m = b1 m + (1 - b1) g;
v = b2 v + (1 - b2) g^2;  w -= s m / (c sqrt(v) + eps), with, by `hat`,
  hat False (the paper's Algorithm 1, as PyTorch): s = lr / (1 - b1^t), c = 1 / sqrt(1 - b2^t);
  hat True (the paper's epsilon-hat form, as scikit-learn): s = lr sqrt(1 - b2^t) / (1 - b1^t), c = 1.
The two differ only in where eps enters. m, v: (P,) state laid out like params.
"""
import numpy as np

from ._jit import jit, jit_inline, jit_serial_and_parallel
from .activations import FALSE, derivative, output_delta
from .blocked import _matrix_rows, matrix_parallel, matrix_serial
from .gradient import _gradient_chunks, gradient_parallel, gradient_serial
from .live import PACK, UNPACK, adam_layer, exchange, packed_buffers, unit_count
from .sample import forward_sample, sample_buffers
from .sgd import weight_squares


@jit_inline
def step_scalars(T, powers, lr, beta1, beta2, hat):
    """(s, c) of the step whose bias corrections are 1 - powers[0] = 1 - b1^t, 1 - powers[1] = 1 - b2^t,
    computed in float64 and rounded once to T; then powers advance to t + 1."""
    b1t = powers[0]
    b2t = powers[1]
    powers[0] = b1t * beta1
    powers[1] = b2t * beta2
    root = np.sqrt(1.0 - b2t)
    if hat:
        return T(lr * root / (1.0 - b1t)), T(1)
    return T(lr / (1.0 - b1t)), T(1.0 / root)


@jit_inline
def _adam_range(params, m, v, grad, lo, hi, scale, l2, b1, b2, s, c, eps):
    """The Adam step on params[lo:hi] from g = scale grad + l2 w."""
    T = type(params[0])
    one = T(1)
    for q in range(lo, hi):
        g = grad[q] * scale + l2 * params[q]
        mq = b1 * m[q] + (one - b1) * g
        vq = b2 * v[q] + (one - b2) * (g * g)
        m[q] = mq
        v[q] = vq
        params[q] -= s * mq / (c * np.sqrt(vq) + eps)


@jit_inline
def _adam_mean_step(params, m, v, sizes, offsets, grad, scale, l2, b1, b2, s, c, eps):
    """One Adam step from a batch's summed gradient: g = scale grad + l2 w (biases: no l2)."""
    T = type(params[0])
    for l in range(sizes.shape[0] - 1):
        p = offsets[l]
        bias = p + sizes[l] * sizes[l + 1]
        _adam_range(params, m, v, grad, p, bias, scale, l2, b1, b2, s, c, eps)
        _adam_range(params, m, v, grad, bias, offsets[l + 1], scale, T(0), b1, b2, s, c, eps)


@jit
def adam_step(params, m, v, grad, powers, lr, beta1, beta2, eps, hat):
    """One Adam step in place from a whole gradient (the L2 term already in it).

    powers: (2,) float64 [b1^t, b2^t] of this step, advanced by one step; lr, beta1, beta2: float64.
    """
    T = type(params[0])
    s, c = step_scalars(T, powers, lr, beta1, beta2, hat)
    _adam_range(params, m, v, grad, 0, params.shape[0], T(1), T(0), T(beta1), T(beta2), s, c, T(eps))


def _adam_minibatch_epoch(params, m, v, sizes, offsets, acts, live, loss, X, Y, rows, batch, powers, lr, beta1,
                          beta2, eps, hat, l2, check, grad, work, partial, chunk_work):
    """One minibatch epoch with Adam in one call: per run of `batch` entries of rows (the last may
    be shorter), the batch's mean gradient (matrices when partial is None, else chunked samples), L2, one
    Adam step. Returns (summed per-sample loss, each before its batch's update; sum over batches of
    sum W^2 before each update, 0 when l2 = 0). powers: (2,) float64, advanced one step per batch.
    check: as in kernels.sgd's minibatch epoch.
    """
    T = type(params[0])
    total = T(0)
    squares = T(0)
    n = rows.shape[0]
    no_outputs = X[:0]
    b1 = T(beta1)
    b2 = T(beta2)
    for start in range(0, n, batch):
        part = rows[start:min(n, start + batch)]
        if partial is None:
            total += _matrix_rows(params, sizes, offsets, acts, live, loss, X, Y, part, no_outputs, grad, work, T(1),
                                  check, FALSE, T(0))
            if check and total != total:
                break
        else:
            total += _gradient_chunks(params, sizes, offsets, acts, live, loss, X, Y, part, grad, partial,
                                      chunk_work)
        if l2 != T(0):
            squares += weight_squares(params, sizes, offsets)
        s, c = step_scalars(T, powers, lr, beta1, beta2, hat)
        _adam_mean_step(params, m, v, sizes, offsets, grad, T(1) / T(part.shape[0]), l2, b1, b2, s, c, T(eps))
    return total, squares


adam_minibatch_epoch_serial, adam_minibatch_epoch_parallel = jit_serial_and_parallel(
    _adam_minibatch_epoch, calls=((_matrix_rows, matrix_serial, matrix_parallel),
                                  (_gradient_chunks, gradient_serial, gradient_parallel)), own_loops=False)


@jit_inline
def adam_sample(params, m, v, sizes, offsets, acts, live, loss, Y, r, l2, b1, b2, s, c, eps, a, delta, prev):
    """Backpropagate the sample in a (forward_sample) and take its Adam step in place, fused: per
    W_l, top down, one loop reads the old w, accumulates delta_{l-1} += w delta_l, and updates w
    from g = delta_l a^l + l2 w (a sparse network over its live edges, kernels.live).
    delta, prev: (max(sizes),) scratch."""
    T = type(params[0])
    one = T(1)
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
        back = l > 0
        if back:
            for k in range(n_in):
                prev[k] = 0
        if live is not None:
            first -= n_out
            adam_layer(params, m, v, p, n_in, n_out, a, i, delta, prev, back, l2, b1, b2, s, c, eps, live, first)
        else:
            for j in range(n_out):
                d = delta[j]
                q = bias + j
                mq = b1 * m[q] + (one - b1) * d
                vq = b2 * v[q] + (one - b2) * (d * d)
                m[q] = mq
                v[q] = vq
                params[q] -= s * mq / (c * np.sqrt(vq) + eps)
                row = p + j * n_in
                for k in range(n_in):
                    w = params[row + k]
                    if back:
                        prev[k] += w * d
                    g = d * a[i + k] + l2 * w
                    mq = b1 * m[row + k] + (one - b1) * g
                    vq = b2 * v[row + k] + (one - b2) * (g * g)
                    m[row + k] = mq
                    v[row + k] = vq
                    params[row + k] = w - s * mq / (c * np.sqrt(vq) + eps)
        if not back:
            break
        for k in range(n_in):
            prev[k] *= derivative(a[i + k], acts[l - 1])
        delta, prev = prev, delta


@jit
def adam_epoch(params, m, v, sizes, offsets, acts, live, loss, X, Y, rows, powers, lr, beta1, beta2, eps, hat, l2,
               work):
    """One online epoch with Adam: for r in rows, forward X[r], then the fused delta-and-step pass
    (adam_sample), one bias-corrected step per sample. powers: (2,) float64, advanced per sample;
    lr, beta1, beta2, eps: float64; l2: params' dtype.
    Returns the sum of the per-sample losses, each before its sample's own step. A sparse network's
    live weights and moments are packed for the epoch (as in kernels.sgd.sgd_epoch)."""
    if live is None:  # (None, not live: Numba types this branch for a sparse network too)
        return _adam_samples(params, m, v, sizes, offsets, acts, None, loss, X, Y, rows, powers, lr, beta1, beta2,
                             eps, hat, l2, work)
    values, m1, m2 = packed_buffers(sizes, work, live)
    exchange(params, values, sizes, offsets, live, PACK)
    exchange(m, m1, sizes, offsets, live, PACK)
    exchange(v, m2, sizes, offsets, live, PACK)
    total = _adam_samples(params, m, v, sizes, offsets, acts, (live[0], live[1], values, m1, m2), loss, X, Y, rows,
                          powers, lr, beta1, beta2, eps, hat, l2, work)
    exchange(params, values, sizes, offsets, live, UNPACK)
    exchange(m, m1, sizes, offsets, live, UNPACK)
    exchange(v, m2, sizes, offsets, live, UNPACK)
    return total


@jit_inline
def _adam_samples(params, m, v, sizes, offsets, acts, live, loss, X, Y, rows, powers, lr, beta1, beta2, eps, hat, l2,
                  work):
    """The samples of adam_epoch, in order; live: None or packed."""
    T = type(params[0])
    a, delta, prev = sample_buffers(sizes, work)
    total = T(0)
    b1 = T(beta1)
    b2 = T(beta2)
    e = T(eps)
    for idx in range(rows.shape[0]):
        r = rows[idx]
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, r, a, FALSE, live)
        s, c = step_scalars(T, powers, lr, beta1, beta2, hat)
        adam_sample(params, m, v, sizes, offsets, acts, live, loss, Y, r, l2, b1, b2, s, c, e, a, delta, prev)
    return total

"""Stochastic gradient descent with momentum: the per-sample epoch with its fused update, the
minibatch epoch (one compiled call, every batch's gradient and update inside), and the update
step applied to a whole gradient.

g = dC/dw + l2 w (biases: no l2);  v = mu v - lr g;  w += v   (mu = 0: w -= lr g);
Nesterov's momentum (as scikit-learn): v = mu v - lr g;  w += mu v - lr g.
"""
import numpy as np

from ._jit import jit, jit_inline, jit_serial_and_parallel
from .activations import FALSE, TRUE, derivative, output_delta
from .blocked import OUTER, _matrix_rows, matrix_parallel, matrix_serial
from .gradient import _gradient_chunks, gradient_parallel, gradient_serial
from .live import PACK, UNPACK, exchange, packed_buffers, sgd_layer, unit_count
from .sample import forward_sample, sample_buffers

# The per-sample epoch fuses the next sample's layer-0 forward into the layer-0 update from this
# many layer-0 weights up: below it W_0 sits in L1 and the fusion only adds work. Measured on
# 2 cores: 784-128-10 +13%, 784-256-256-10 +28%, 64-32-10 (2,048 weights) -11% when fused.
FUSE_MIN_WEIGHTS = 16384


@jit_inline
def sgd_sample(params, velocity, sizes, offsets, acts, live, loss, X, Y, r, r_next, lr, mu, nesterov, l2, a,
               delta, prev):
    """Backpropagate the sample in a (forward_sample) and update params in place, fused.

    Per W_l, top down, ONE loop reads the old w, accumulates delta_{l-1} += w delta_l, and
    applies g = delta_l a^l + l2 w: w = (1 - lr l2) w - (lr delta_l) a^l when mu = 0, else
    v = mu v - lr g; w += v (w += mu v - lr g when nesterov). r_next >= 0: the layer-0 pass also
    computes the next sample's z^1 = W_0' X[r_next] + b_0' with the updated weights into a[sizes[0]:],
    so W_0 is streamed once per sample for this update and the next forward. Returns True when it did.
    velocity: (P,) or unused when mu = 0; delta, prev: (max(sizes),) scratch. A sparse network
    (live, kernels.live) takes the same steps over its live edges, never fused with the next forward.
    """
    T = type(params[0])
    decay = T(1) - lr * l2  # w - lr (d a + l2 w) = decay w - (lr d) a: one multiply-add fewer per weight
    n_layers = sizes.shape[0] - 1
    i = np.uint64(a.shape[0]) - sizes[n_layers]
    has_next = r_next >= 0
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
        fuse = not back and has_next
        if back:
            for k in range(n_in):
                prev[k] = 0
        elif fuse:  # the free delta buffer holds the next sample's x, contiguous
            for k in range(n_in):
                prev[k] = X[r_next, k]
        if live is not None:
            first -= n_out
            sgd_layer(params, velocity, p, n_in, n_out, a, i, delta, prev, back, lr, mu, nesterov, l2, live, first)
        else:
            for j in range(n_out):
                d = delta[j]
                row = p + j * n_in
                if mu == T(0):
                    step = lr * d
                    params[bias + j] -= step
                    s = params[bias + j]
                    for k in range(n_in):
                        w = params[row + k]
                        if back:
                            prev[k] += w * d
                        w = decay * w - step * a[i + k]
                        params[row + k] = w
                        if fuse:
                            s += w * prev[k]
                    if fuse:
                        a[i + n_in + j] = s
                else:
                    v = mu * velocity[bias + j] - lr * d
                    velocity[bias + j] = v
                    params[bias + j] += mu * v - lr * d if nesterov else v
                    s = params[bias + j]
                    for k in range(n_in):
                        w = params[row + k]
                        if back:
                            prev[k] += w * d
                        g = d * a[i + k] + l2 * w
                        v = mu * velocity[row + k] - lr * g
                        velocity[row + k] = v
                        w += mu * v - lr * g if nesterov else v
                        params[row + k] = w
                        if fuse:
                            s += w * prev[k]
                    if fuse:
                        a[i + n_in + j] = s
        if not back:
            break
        for k in range(n_in):
            prev[k] *= derivative(a[i + k], acts[l - 1])
        delta, prev = prev, delta
    return has_next


@jit
def sgd_epoch(params, velocity, sizes, offsets, acts, live, loss, X, Y, rows, lr, momentum, nesterov, l2, work):
    """One online epoch: for r in rows, forward X[r], then the fused delta-and-update pass (sgd_sample).

    lr, momentum, l2: scalars of params' dtype; nesterov: bool. Returns the sum of the per-sample losses, each
    seen before its sample's own update. A sparse network's live weights and velocities are packed for
    the epoch (kernels.live.packed_buffers, in work after the sample buffers) and written back after it.
    """
    if live is None:  # (None, not live: Numba types this branch for a sparse network too)
        return _sgd_samples(params, velocity, sizes, offsets, acts, None, loss, X, Y, rows, lr, momentum, nesterov,
                            l2, work)
    values, state, _ = packed_buffers(sizes, work, live)
    exchange(params, values, sizes, offsets, live, PACK)
    exchange(velocity, state, sizes, offsets, live, PACK)
    total = _sgd_samples(params, velocity, sizes, offsets, acts, (live[0], live[1], values, state), loss, X, Y,
                         rows, lr, momentum, nesterov, l2, work)
    exchange(params, values, sizes, offsets, live, UNPACK)
    exchange(velocity, state, sizes, offsets, live, UNPACK)
    return total


@jit_inline
def _sgd_samples(params, velocity, sizes, offsets, acts, live, loss, X, Y, rows, lr, momentum, nesterov, l2, work):
    """The samples of sgd_epoch, in order; live: None or packed."""
    a, delta, prev = sample_buffers(sizes, work)
    total = type(params[0])(0)
    n_rows = rows.shape[0]
    fuse = live is None and sizes[0] * sizes[1] >= FUSE_MIN_WEIGHTS
    z1_ready = FALSE
    for idx in range(n_rows):
        r = rows[idx]
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, r, a, z1_ready, live)
        r_next = rows[idx + 1] if fuse and idx + 1 < n_rows else -1
        z1_ready = sgd_sample(params, velocity, sizes, offsets, acts, live, loss, X, Y, r, r_next, lr, momentum,
                              nesterov, l2, a, delta, prev)
    return total


@jit
def sgd_step(params, velocity, grad, lr, momentum, nesterov):
    """Gradient-descent update in place: v = mu v - lr g; params += v (params -= lr g when mu = 0;
    params += mu v - lr g when nesterov).

    grad: (P,), the L2 term already in it; lr, momentum: scalars of params' dtype.
    """
    if momentum == 0:
        for q in range(params.shape[0]):
            params[q] -= lr * grad[q]
    else:
        for q in range(params.shape[0]):
            v = momentum * velocity[q] - lr * grad[q]
            velocity[q] = v
            params[q] += momentum * v - lr * grad[q] if nesterov else v


@jit_inline
def weight_squares(params, sizes, offsets):
    """sum W^2 over every layer's weights (biases excluded): the L2 penalty is half l2 times it."""
    T = type(params[0])
    total = T(0)
    for l in range(sizes.shape[0] - 1):
        p = offsets[l]
        for q in range(p, p + sizes[l] * sizes[l + 1]):
            total += params[q] * params[q]
    return total


@jit_inline
def _mean_step(params, velocity, sizes, offsets, grad, scale, lr, mu, nesterov, l2):
    """params from the summed gradient of a batch: g = scale grad + l2 w (biases: no l2), then
    v = mu v - lr g; w += v (w -= lr g when mu = 0; w += mu v - lr g when nesterov).
    Branch-free loops, so they vectorise."""
    T = type(params[0])
    for l in range(sizes.shape[0] - 1):
        p = offsets[l]  # unsigned, as offsets are: no negative-index check, so the loops vectorise
        bias = p + sizes[l] * sizes[l + 1]
        end = offsets[l + 1]
        if mu == T(0):
            decay = T(1) - lr * l2  # w - lr (s g + l2 w) = decay w - (lr s) g
            step = lr * scale
            for q in range(p, bias):
                params[q] = decay * params[q] - step * grad[q]
            for q in range(bias, end):
                params[q] -= step * grad[q]
        else:
            for q in range(p, bias):
                g = grad[q] * scale + l2 * params[q]
                v = mu * velocity[q] - lr * g
                velocity[q] = v
                params[q] += mu * v - lr * g if nesterov else v
            for q in range(bias, end):
                g = grad[q] * scale
                v = mu * velocity[q] - lr * g
                velocity[q] = v
                params[q] += mu * v - lr * g if nesterov else v


def _minibatch_epoch(params, velocity, sizes, offsets, acts, live, loss, X, Y, rows, batch, lr, momentum, nesterov,
                     l2, check, grad, work, partial, chunk_work):
    """One minibatch epoch in one call: for each run of `batch` entries of rows (the last may be
    shorter), the batch's mean gradient (as matrices when partial is None, else sample by sample
    in chunks), L2 added, and the SGD step. Plain SGD as matrices on a dense network takes the step
    inside the gradient's products (_matrix_rows' update), with no gradient in between.

    Returns (the sum of the per-sample losses, each taken in its batch's forward pass, before that
    batch's update; the sum over batches of sum W^2 before each update, 0 when l2 = 0).
    check (as matrices only): look for NaN and inf in X through the first layer's products, as
    _matrix_rows does; the epoch stops at the first batch whose loss comes out NaN and returns it.
    grad: (P,) scratch; work: the matrix kernel's buffer; partial, chunk_work: the chunked kernel's, or
    None for matrices (settled before typing, so that a build compiles one of the two ways).
    """
    T = type(params[0])
    total = T(0)
    squares = T(0)
    n = rows.shape[0]
    no_outputs = X[:0]  # C-contiguous, as the outputs other callers pass: one compiled version
    for start in range(0, n, batch):
        part = rows[start:min(n, start + batch)]
        if l2 != T(0):  # before this batch's update (the gradient itself leaves params as they are)
            squares += weight_squares(params, sizes, offsets)
        # plain SGD as matrices on a dense network: the step inside the products
        if partial is None and live is None and momentum == T(0) and part.shape[0] <= OUTER:
            total += _matrix_rows(params, sizes, offsets, acts, live, loss, X, Y, part, no_outputs, params, work,
                                  -lr / T(part.shape[0]), check, TRUE, T(1) - lr * l2)
            if check and total != total:
                break
            continue
        if partial is None:
            total += _matrix_rows(params, sizes, offsets, acts, live, loss, X, Y, part, no_outputs, grad, work, T(1),
                                  check, FALSE, T(0))
            if check and total != total:
                break
        else:
            total += _gradient_chunks(params, sizes, offsets, acts, live, loss, X, Y, part, grad, partial,
                                      chunk_work)
        _mean_step(params, velocity, sizes, offsets, grad, T(1) / T(part.shape[0]), lr, momentum, nesterov, l2)
    return total, squares


minibatch_epoch_serial, minibatch_epoch_parallel = jit_serial_and_parallel(
    _minibatch_epoch, calls=((_matrix_rows, matrix_serial, matrix_parallel),
                             (_gradient_chunks, gradient_serial, gradient_parallel)), own_loops=False)

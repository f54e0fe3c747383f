"""The per-sample passes: one driver loop over rows does the forward pass, then by task the loss,
the output, the backpropagated gradient, or the fused SGD update.

Notation of the seed notes, 0-based: layer l maps a^l (width sizes[l]) to
a^{l+1} = f_l(W_l a^l + b_l); the seed's layer l is our l - 1. params is the
flat buffer W_0, b_0, W_1, b_1, ... with W_l row-major (sizes[l+1], sizes[l]).
`a` holds every layer's output back to back: (sum(sizes),), a^0 = X[r] first.

Why one driver rather than per-sample helper functions: every array handed to a
Numba function (inlined or not) costs an atomic reference-count pair, and five
to ten of them per sample were most of the time on small networks. Offsets are
uint64 (sizes is uint64) so LLVM drops negative-index checks and vectorises.
"""
import numpy as np

from ._jit import jit
from .activations import activate, activate_with_loss, derivative, output_delta

LOSS = 0  # forward pass and loss only
OUTPUT = 1  # also target[r * n_out + j] = a^L_j
GRADIENT = 2  # also target += dC/dparams
SGD = 3  # also update params in place (target = velocity)
# SGD fuses the next sample's layer-0 forward into the layer-0 update from this many layer-0
# weights up: below it W_0 sits in L1 and the fusion only adds work. Measured on 2 cores:
# 784-128-10 +13%, 784-256-256-10 +28%, 64-32-10 (2,048 weights) -11% when fused.
FUSE_MIN_WEIGHTS = 16384


@jit
def sweep(params, sizes, acts, loss, X, Y, rows, task, target, hyper, work):
    """For each r in rows: forward X[r]; then by task (LOSS, OUTPUT, GRADIENT, SGD). Returns sum of losses.

    forward:  a^{l+1} = f_l(W_l a^l + b_l)
    GRADIENT: target += [delta_l a^l^T, delta_l] per layer, delta_{l-1} = (W_l^T delta_l) * f'(a^l)
    SGD:      the fused pass: per W_l, top down, ONE loop reads the old w, accumulates
              delta_{l-1} += w delta_l, then applies g = delta_l a^l + l2 w:
              w -= lr g (momentum 0, as w = (1 - lr l2) w - (lr delta_l) a^l),
              or v = mu v - lr g; w += v (target = v).
    params: (P,); sizes: (L+1,) uint64; acts: (L,) codes; X: (n, sizes[0]); Y: (n, sizes[L]);
    rows: (m,) int64; target: (P,) or (n * sizes[L],); hyper: (3,) = lr, mu, l2, read for SGD only;
    work: (sum(sizes) + 2 max(sizes),) = a, then two delta buffers.
    """
    T = type(params[0])
    lr = mu = l2 = T(0)
    if task == SGD:
        lr = hyper[0]
        mu = hyper[1]
        l2 = hyper[2]
    decay = T(1) - lr * l2  # w - lr (d a + l2 w) = decay w - (lr d) a: one multiply-add fewer per weight
    n_layers = sizes.shape[0] - 1
    n_a = np.uint64(0)
    width = np.uint64(0)
    for n in sizes:
        n_a += n
        width = max(width, n)
    a = work[:n_a]
    d0 = work[n_a:n_a + width]
    d1 = work[n_a + width:n_a + 2 * width]
    n_params = np.uint64(params.shape[0])
    top = n_a - sizes[n_layers]
    total = T(0)
    n_rows = rows.shape[0]
    fused = False  # this sample's layer-0 pre-activations were computed by the previous update
    for idx in range(n_rows):
        r = rows[idx]
        # forward: a^0 = X[r]; z = W a + b; a = f(z)
        for k in range(sizes[0]):
            a[k] = X[r, k]
        p = np.uint64(0)
        i = np.uint64(0)
        for l in range(n_layers):
            n_in = sizes[l]
            n_out = sizes[l + 1]
            o = i + n_in
            bias = p + n_out * n_in
            if l > 0 or not fused:
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
            p = bias + n_out
            i = o
        if task == OUTPUT:
            for j in range(sizes[n_layers]):
                target[r * sizes[n_layers] + j] = a[top + j]
        if task < GRADIENT:
            continue

        # backward, top layer down: delta^L, then per W_l one pass (accumulate or update).
        # SGD, layer 0: the same pass also computes the next sample's z^1 = W_0' x' + b_0' with the
        # updated weights, so W_0 is streamed once per sample for the update and the next forward.
        has_next = task == SGD and idx + 1 < n_rows and sizes[0] * sizes[1] >= FUSE_MIN_WEIGHTS
        r_next = rows[idx + 1] if has_next else r
        output_delta(a, top, sizes[n_layers], Y, r, acts[n_layers - 1], loss, d0)
        delta = d0
        prev = d1
        p = n_params
        i = top
        for l in range(n_layers - 1, -1, -1):
            n_in = sizes[l]
            n_out = sizes[l + 1]
            p -= n_out * n_in + n_out
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
            for j in range(n_out):
                d = delta[j]
                row = p + j * n_in
                if task == GRADIENT:
                    target[bias + j] += d
                    for k in range(n_in):
                        target[row + k] += d * a[i + k]
                        if back:
                            prev[k] += params[row + k] * d
                elif mu == T(0):
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
                    target[bias + j] = mu * target[bias + j] - lr * d
                    params[bias + j] += target[bias + j]
                    s = params[bias + j]
                    for k in range(n_in):
                        w = params[row + k]
                        if back:
                            prev[k] += w * d
                        v = mu * target[row + k] - lr * (d * a[i + k] + l2 * w)
                        target[row + k] = v
                        w += v
                        params[row + k] = w
                        if fuse:
                            s += w * prev[k]
                    if fuse:
                        a[i + n_in + j] = s
            if not back:
                fused = has_next
                break
            for k in range(n_in):
                prev[k] *= derivative(a[i + k], acts[l - 1])
            delta, prev = prev, delta
    return total

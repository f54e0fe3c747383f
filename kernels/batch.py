"""The kernels fastbp calls: forward, mean-loss sums, the per-sample SGD epoch, gradients, the update.

Each is a thin, named entry to `passes.sweep` (or a plain loop), taking caller-owned
buffers and allocating nothing per sample. work: (sum(sizes) + 2 * max(sizes),).
X: (n, sizes[0]); Y: (n, sizes[-1]); rows: the sample indices to use, in order
(a shuffled epoch, or one minibatch).
"""
from ._jit import jit
from .activations import NO_LOSS
from .passes import GRADIENT, LOSS, OUTPUT, SGD, sweep


@jit
def forward_batch(params, sizes, acts, X, rows, out, work):
    """out[r * n_out + j] = a^L_j(X[r]) for r in rows. out: (n * sizes[-1],), a flat view."""
    sweep(params, sizes, acts, NO_LOSS, X, X, rows, OUTPUT, out, params[:0], work)


@jit
def loss_sum(params, sizes, acts, loss, X, Y, rows, work):
    """sum over r in rows of the per-sample loss C(X[r], Y[r]) (no regularisation)."""
    return sweep(params, sizes, acts, loss, X, Y, rows, LOSS, params[:0], params[:0], work)


@jit
def gradient_sum(params, sizes, acts, loss, X, Y, rows, grad, work):
    """grad = sum over r in rows of dC(X[r], Y[r])/dparams (backprop); returns the summed loss."""
    grad[:] = 0
    return sweep(params, sizes, acts, loss, X, Y, rows, GRADIENT, grad, params[:0], work)


@jit
def sgd_epoch(params, velocity, sizes, acts, loss, X, Y, rows, hyper, work):
    """One online epoch: for r in rows, forward X[r], then the fused delta-and-update pass.

    hyper: (3,) = lr, momentum, l2. Returns the sum of the per-sample losses seen
    before each sample's own update.
    """
    return sweep(params, sizes, acts, loss, X, Y, rows, SGD, velocity, hyper, work)


@jit
def step(params, velocity, grad, hyper):
    """Gradient-descent update in place: v = mu v - lr g; params += v (params -= lr g when mu = 0).

    hyper: (3,) = lr, momentum mu, l2 (l2 already in grad).
    """
    lr = hyper[0]
    mu = hyper[1]
    if mu == 0:
        for q in range(params.shape[0]):
            params[q] -= lr * grad[q]
    else:
        for q in range(params.shape[0]):
            v = mu * velocity[q] - lr * grad[q]
            velocity[q] = v
            params[q] += v

"""Whole-data-set kernels: forward, mean loss, the per-sample SGD epoch, batch gradients, the update.

Every kernel takes caller-owned buffers and allocates nothing per sample.
work: (sum(sizes) + 2 * max(sizes),) = the activations `a` of one sample,
then two delta buffers. X: (n, sizes[0]); Y: (n, sizes[-1]); rows: the sample
indices to use, in order (a shuffled epoch, or one minibatch).
"""
from ._jit import jit
from .activations import NO_LOSS
from .sample import backward_sample, forward_sample, sgd_sample


@jit
def split_work(work, sizes):
    """(a, d0, d1) views of one sample's work buffer."""
    n_a = 0
    width = 0
    for n in sizes:
        n_a += n
        width = max(width, n)
    return work[:n_a], work[n_a:n_a + width], work[n_a + width:n_a + 2 * width]


@jit
def forward_batch(params, sizes, acts, X, out, work):
    """out[r] = a^L(X[r]) for every row. out: (n, sizes[-1])."""
    a, _, _ = split_work(work, sizes)
    n_out = sizes[sizes.shape[0] - 1]
    top = a.shape[0] - n_out
    for r in range(X.shape[0]):
        forward_sample(params, sizes, acts, NO_LOSS, X[r], X[r], a)
        for j in range(n_out):
            out[r, j] = a[top + j]


@jit
def loss_sum(params, sizes, acts, loss, X, Y, rows, work):
    """sum over r in rows of the per-sample loss C(X[r], Y[r]) (no regularisation)."""
    a, _, _ = split_work(work, sizes)
    c = type(params[0])(0)
    for r in rows:
        c += forward_sample(params, sizes, acts, loss, X[r], Y[r], a)
    return c


@jit
def gradient_sum(params, sizes, acts, loss, X, Y, rows, grad, work):
    """grad = sum over r in rows of dC(X[r], Y[r])/dparams; returns the summed loss.

    Per sample: forward, then backward_sample accumulates delta_l a^l^T and delta_l.
    grad: (P,), overwritten.
    """
    a, d0, d1 = split_work(work, sizes)
    grad[:] = 0
    c = type(params[0])(0)
    for r in rows:
        c += forward_sample(params, sizes, acts, loss, X[r], Y[r], a)
        backward_sample(params, sizes, acts, loss, a, Y[r], grad, d0, d1)
    return c


@jit
def sgd_epoch(params, velocity, sizes, acts, loss, X, Y, rows, hyper, work):
    """One online epoch: for r in rows, forward X[r], then the fused delta-and-update pass.

    hyper: (3,) = lr, momentum, l2. Returns the sum of the per-sample losses seen
    before each sample's own update.
    """
    a, d0, d1 = split_work(work, sizes)
    c = type(params[0])(0)
    for r in rows:
        c += forward_sample(params, sizes, acts, loss, X[r], Y[r], a)
        sgd_sample(params, velocity, sizes, acts, loss, a, Y[r], hyper, d0, d1)
    return c


@jit
def weight_penalty(params, sizes, l2, grad):
    """grad_W += l2 * W for every weight (biases untouched); returns 0.5 * l2 * sum W^2."""
    T = type(params[0])
    s = T(0)
    p = 0
    for l in range(sizes.shape[0] - 1):
        n_w = sizes[l] * sizes[l + 1]
        for q in range(p, p + n_w):
            w = params[q]
            s += w * w
            grad[q] += l2 * w
        p += n_w + sizes[l + 1]
    return T(0.5) * l2 * s


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

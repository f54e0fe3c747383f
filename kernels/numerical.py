"""Finite-difference gradients over the flat buffer: the baseline backpropagation is measured against.

Each parameter is perturbed in place, the mean loss re-evaluated by full forward
passes, and the parameter restored exactly (the saved value is written back), so
one gradient costs (P + 1) (forward) or 2 P (central) forward passes over the rows:
O(P E) multiply-adds per sample, against backpropagation's O(E).
"""
from ._jit import jit
from .activations import FALSE
from .sample import forward_sample, sample_buffers


@jit
def _mean_loss(params, sizes, offsets, acts, live, loss, X, Y, rows, a):
    T = type(params[0])
    total = T(0)
    for idx in range(rows.shape[0]):
        total += forward_sample(params, sizes, offsets, acts, loss, X, Y, rows[idx], a, FALSE, live)
    return total * (T(1) / T(rows.shape[0]))


@jit
def finite_differences(params, sizes, offsets, acts, live, loss, X, Y, rows, eps, l2, central, targets, grad, work):
    """grad_i = (J(p + eps e_i) - J(p - eps e_i)) / (2 eps) (central) or (J(p + eps e_i) - J(p)) / eps.

    J = mean loss over rows + 0.5 l2 sum W^2; only the perturbed weight's share of the penalty
    changes, and it is differenced the same way. eps, l2: scalars of params' dtype; central: bool.
    Only the parameters i in targets ((n,) uint64, ascending) are differenced: a long gradient is taken
    in blocks, so that an interrupt is seen between them, and a sparse network's masked weights are
    left out (its forward passes follow the live edges, kernels.live). grad: (P,), those entries
    overwritten. params restored bit for bit.
    """
    T = type(params[0])
    a, _, _ = sample_buffers(sizes, work)
    base = T(0)
    if not central:
        base = _mean_loss(params, sizes, offsets, acts, live, loss, X, Y, rows, a)
    l = 0
    for t in range(targets.shape[0]):
        i = targets[t]
        while i >= offsets[l + 1]:
            l += 1
        w = params[i]
        params[i] = w + eps
        up = _mean_loss(params, sizes, offsets, acts, live, loss, X, Y, rows, a)
        down = base
        if central:
            params[i] = w - eps
            down = _mean_loss(params, sizes, offsets, acts, live, loss, X, Y, rows, a)
        params[i] = w
        if i < offsets[l] + sizes[l] * sizes[l + 1]:  # a weight: its penalty term 0.5 l2 w^2, differenced alike
            wu = w + eps
            wd = w - eps if central else w
            up += T(0.5) * l2 * wu * wu
            down += T(0.5) * l2 * wd * wd
        grad[i] = (up - down) / (T(2) * eps if central else eps)

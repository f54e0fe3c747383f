"""Finite-difference gradients over the flat buffer: the baseline backpropagation is measured against.

Each parameter is perturbed in place, the mean loss re-evaluated by full forward
passes, and the parameter restored exactly (the saved value is written back), so
one gradient costs (P + 1) (forward) or 2 P (central) forward passes over the rows:
O(P E) multiply-adds per sample, against backpropagation's O(E).
"""
from ._jit import jit
from .passes import LOSS, sweep


@jit
def finite_differences(params, sizes, acts, loss, X, Y, rows, consts, grad, work):
    """grad_i = (J(p + eps e_i) - J(p - eps e_i)) / (2 eps) (central) or (J(p + eps e_i) - J(p)) / eps.

    J = mean loss over rows + 0.5 l2 sum W^2; only the perturbed weight's share of the
    penalty changes, and it is differenced the same way. consts: (3,) = eps, l2,
    1 for central or 0 for forward. grad: (P,), overwritten. params restored bit for bit.
    """
    T = type(params[0])
    eps = consts[0]
    l2 = consts[1]
    central = consts[2] != T(0)
    inv_n = T(1) / T(rows.shape[0])
    none = params[:0]
    base = T(0)
    if not central:
        base = sweep(params, sizes, acts, loss, X, Y, rows, LOSS, none, none, work) * inv_n
    p = 0
    for l in range(sizes.shape[0] - 1):
        n_w = sizes[l] * sizes[l + 1]
        for i in range(p, p + n_w + sizes[l + 1]):
            w = params[i]
            params[i] = w + eps
            up = sweep(params, sizes, acts, loss, X, Y, rows, LOSS, none, none, work) * inv_n
            down = base
            if central:
                params[i] = w - eps
                down = sweep(params, sizes, acts, loss, X, Y, rows, LOSS, none, none, work) * inv_n
            params[i] = w
            if i < p + n_w:  # a weight: its penalty term 0.5 l2 w^2, differenced alike
                wu = w + eps
                wd = w - eps if central else w
                up += T(0.5) * l2 * wu * wu
                down += T(0.5) * l2 * wd * wd
            grad[i] = (up - down) / (T(2) * eps if central else eps)
        p += n_w + sizes[l + 1]

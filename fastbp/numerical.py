"""Numerical (finite-difference) gradients and the gradient check."""
import numpy as np

from . import checks, kernels
from .engine import Workspace, aligned_zeros

SCHEMES = {"central": "central", "forward": "forward"}

#: gradcheck passes when its max relative error is at most this, by the model's dtype.
#: float64: backprop and float64 central differences agree to ~1e-9 on smooth losses.
#: float32: the float32 backprop gradient carries float32 rounding (~1e-7 relative per
#: operation, accumulated), so it is held to 1e-3 against the float64 numerical gradient.
GRADCHECK_TOLERANCE = {"float64": 1e-6, "float32": 1e-3}


def default_eps(dtype, scheme):
    """Step that balances truncation and rounding: eps_mach^(1/3) central, eps_mach^(1/2) forward."""
    machine = np.finfo(dtype).eps
    return float(machine ** (1 / 3) if scheme == "central" else machine ** 0.5)


def check_scheme_eps(net, scheme, eps):
    """(scheme, eps) checked; eps defaults to :func:`default_eps` of the model's dtype."""
    scheme = checks.check_choice(scheme, "scheme", SCHEMES)
    if eps is None:
        eps = default_eps(net.dtype, scheme)
    eps = checks.check_float(eps, "eps", low=0.0, low_open=True)
    return scheme, eps


#: multiply-adds per kernel call of a numerical gradient: blocks of parameters this large take about
#: a tenth of a second here, so Ctrl-C is honoured within that (one call over a 64-256-10 network
#: and a minibatch took over a minute)
BLOCK_WORK = 2e8


def finite_difference_gradient(net, X, Y, rows, l2, scheme, eps, grad, work):
    """Write the numerical gradient of the mean loss over rows (+ L2) into grad, on prepared arrays; returns grad.

    Taken in blocks of parameters, one kernel call each, so that Python sees an interrupt between them.
    A sparse network's masked weights are not differenced: their entries are 0.
    """
    T = net.dtype.type
    passes = 2 if scheme == "central" else 1
    block = max(1, int(BLOCK_WORK / (passes * max(rows.shape[0], 1) * (net.n_edges + 1))))
    if net._keep is None:
        targets = np.arange(net.n_params, dtype=np.uint64)
    else:
        targets = np.flatnonzero(net._keep).astype(np.uint64)
        grad[~net._keep] = 0
    for lo in range(0, targets.shape[0], block):
        kernels.finite_differences(**net.kernel_args(), loss=net.loss_code, X=X, Y=Y, rows=rows, eps=T(eps),
                                   l2=T(l2), central=scheme == "central", targets=targets[lo:lo + block], grad=grad,
                                   work=work)
    return grad


def numerical_gradient(net, X, Y, eps=None, scheme="central", l2=0.0):
    """Finite-difference gradient of ``net.loss(X, Y, l2)``, same layout as ``net.params``.

    Parameters
    ----------
    net : MLP
    X, Y : as for ``net.gradient``
    eps : float > 0 or None
        Step; default ``eps_mach ** (1/3)`` (central) or ``eps_mach ** (1/2)`` (forward) of the
        model's dtype.
    scheme : {"central", "forward"}
        ``central``: (J(p + eps) - J(p - eps)) / (2 eps), two forward passes per parameter;
        ``forward``: (J(p + eps) - J(p)) / eps, one.
    l2 : float >= 0

    Returns
    -------
    ndarray (n_params,)
        Each parameter is restored exactly after its perturbation: ``net.params`` is unchanged.
        Computed in the model's dtype by the compiled kernel ``kernels.finite_differences``.
    """
    scheme, eps = check_scheme_eps(net, scheme, eps)
    l2 = checks.check_float(l2, "l2", low=0.0)
    X = net._inputs(X)
    Y = net._targets(Y, X.shape[0])
    grad = aligned_zeros(net.n_params, net.dtype)
    return finite_difference_gradient(net, X, Y, np.arange(X.shape[0], dtype=np.int64), l2,
                                      scheme, eps, grad, Workspace(net).sample)


def relative_error(analytic, numeric):
    """max_i |a_i - n_i| / max(|a_i|, |n_i|, 1e-3 * max_j max(|a_j|, |n_j|)).

    The floor keeps components that are zero in both (up to noise) from dividing by noise.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    floor = max(1e-3 * scale.max(), np.finfo(np.float64).tiny)
    return float(np.max(np.abs(analytic - numeric) / np.maximum(scale, floor)))


#: gradcheck's step for smooth networks, with Richardson extrapolation (below)
RICHARDSON_STEP = 1e-3


def gradcheck(net, X, Y, l2=0.0):
    """Max relative error between ``net.gradient`` and a float64 finite-difference reference.

    The numerical side always runs on a float64 copy of the model, so a float32 model's
    gradient is checked against an accurate reference. Pass/fail thresholds are in
    ``GRADCHECK_TOLERANCE`` (float64 1e-6, float32 1e-3); see :func:`relative_error`.

    The reference: for networks whose activations are all smooth, central differences at steps
    h = RICHARDSON_STEP and 2h combined as (4 D(h) - D(2h)) / 3 (Richardson extrapolation: the
    h^2 error term cancels, so the step can be large and the loss's rounding matters little).
    Plain central differences at the default step reached 4e-6 on a correct 64-256-10 gradient,
    above the tolerance; the extrapolated reference stayed below 1e-8 on the networks tried.
    With relu units a step that large would straddle their kinks, so there plain central
    differences at the default step are the reference.
    """
    X = checks.as_inputs(X, net.sizes[0], net.dtype)  # the model's dtype: both sides see the same numbers
    Y = net._targets(Y, X.shape[0])
    analytic = net.gradient(X, Y, l2=l2)
    reference = type(net)(net.sizes, hidden=list(net.hidden), output=net.output, loss=net.loss_name,
                          dtype=np.float64, connectivity=net.masks)
    reference.params[:] = net.params
    if net.input_mean is not None:
        reference.input_mean = net.input_mean.astype(np.float64)
        reference.input_scale = net.input_scale.astype(np.float64)
    if "relu" in net.hidden:
        numeric = numerical_gradient(reference, X, Y, scheme="central", l2=l2)
    else:
        h = RICHARDSON_STEP
        numeric = (4 * numerical_gradient(reference, X, Y, eps=h, l2=l2)
                   - numerical_gradient(reference, X, Y, eps=2 * h, l2=l2)) / 3
    return relative_error(analytic, numeric)

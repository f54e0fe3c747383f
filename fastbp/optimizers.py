"""Optimizers: objects that own their state and their update kernels.

An optimizer is bound to a model by :meth:`start` (which allocates its state, or keeps it
when it was started on the same model: a second ``fit`` of that model with the same optimizer
object goes on from where the first stopped, and a ``fit`` of another model starts afresh),
compiles its kernels in :meth:`warm_up`, runs a minibatch (or batch) epoch as one compiled call
in :meth:`minibatch_epoch`, a per-sample epoch with the update fused into backpropagation in
:meth:`online_epoch` (``mode="sgd"``), and applies a whole gradient in :meth:`step` (training
on numerical gradients). A new optimizer is one class here, its kernels in ``kernels/``, and a
reference function in ``tests/reference.py``.
"""
import numpy as np

from . import checks, engine, kernels
from .engine import aligned_zeros


class _Optimizer:
    """What every optimizer shares: the state check, the warm-up, the minibatch kernel's set-up."""

    def start(self, net, carry=False):
        """Bind to `net`: fresh state, unless the state was started on `net` and fits it (then it goes on).

        carry: keep state that fits though it was started on another network (a Dask worker's copy of
        the model, in the same run).
        """
        if not (all(self._fits(getattr(self, name), net) for name in self._state_names)
                and (carry or self._owner is net._identity)):
            self._fresh(net)
        self._owner = net._identity
        for name in self._state_names:  # the masked weights' state is 0 (it may come from before a prune)
            net._zero_masked(getattr(self, name))
        return self

    def _fits(self, state, net):
        return state is not None and state.shape == (net.n_params,) and state.dtype == net.dtype

    def warm_up(self, net, X, Y, space, grad, mode, batch):
        """Compile (or load from the cache) this optimizer's kernel for the run: calls that change nothing."""
        none = np.arange(0, dtype=np.int64)
        if mode == "online":
            self.online_epoch(net, X, Y, none, 0.0, 0.0, space.sample)
        elif mode == "minibatch":
            self.minibatch_epoch(net, X, Y, none, batch, 0.0, 0.0, space, grad)
        else:
            self._step(net.params[:0], grad[:0], 0.0, advance=False)

    def minibatch_epoch(self, net, X, Y, rows, batch, lr, l2, space, grad, check=False):
        """One epoch over `rows` in batches of `batch`, a step per batch, in one compiled call.

        Returns (the summed per-sample loss, each sample's before its batch's update; the sum over the
        batches of sum W^2 before each update, 0 when l2 is 0). grad: (P,) scratch. check: look for
        NaN and inf in X on the way, where the batches run as matrices (engine.uses_matrices): the
        loss is then NaN, and the parameters and state are left part-way (see snapshot).
        """
        matrices = engine.uses_matrices(net, batch)
        serial, parallel = self._minibatch_kernels
        kernel = parallel if engine.threaded(net, batch) else serial
        partial, chunk_work = (None, None) if matrices else space.chunks(batch)  # None: the matrix build
        T = net.dtype.type
        with engine.matrix_call(matrices):
            result = kernel(**net.kernel_args(), **self._kernel_state(rows.shape[0], batch), loss=net.loss_code,
                            X=X, Y=Y, rows=rows, batch=batch, lr=self._rate(lr, T), l2=T(l2), check=bool(check),
                            grad=grad, work=space.matrix(batch if matrices else 0), partial=partial,
                            chunk_work=chunk_work)
        return float(result[0]), float(result[1])

    def snapshot(self):
        """A copy of the state, for restore."""
        return {name: value.copy() if isinstance(value, np.ndarray) else value for name, value in vars(self).items()}

    def restore(self, saved):
        """Put back the state that snapshot copied (arrays in place)."""
        for name, value in saved.items():
            if isinstance(value, np.ndarray):
                getattr(self, name)[...] = value
            else:
                setattr(self, name, value)

    def step(self, params, grad, lr):
        """One update of params in place from a whole gradient (the L2 term already in it)."""
        self._step(params, grad, lr, advance=True)


class SGD(_Optimizer):
    """Stochastic gradient descent with momentum.

    Per step, with g the gradient (L2 included): ``v = momentum * v - lr * g; params += v``
    (``params -= lr * g`` when momentum is 0; ``params += momentum * v - lr * g`` with
    Nesterov's momentum, as scikit-learn's ``nesterovs_momentum``).

    Parameters
    ----------
    momentum : float in [0, 1), default 0
    nesterov : bool, default False

    Attributes
    ----------
    velocity : ndarray (n_params,) or None
        v, laid out like the model's ``params``; None before the first ``fit``.
    """

    _minibatch_kernels = (kernels.minibatch_epoch_serial, kernels.minibatch_epoch_parallel)
    _state_names = ("velocity",)  # the state arrays, laid out like params

    def __init__(self, momentum=0.0, nesterov=False):
        self.momentum = checks.check_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be True or False, got {nesterov!r}")
        self.nesterov = bool(nesterov)
        self.velocity = None
        self._owner = None  # the identity of the network the state belongs to

    def __repr__(self):
        return f"SGD(momentum={self.momentum}, nesterov={self.nesterov})"

    def _fresh(self, net):
        self.velocity = aligned_zeros(net.n_params, net.dtype)

    def _rate(self, lr, T):
        return T(lr)

    def _kernel_state(self, n_rows, batch):
        T = self.velocity.dtype.type
        return dict(velocity=self.velocity, momentum=T(self.momentum), nesterov=self.nesterov)

    def _step(self, params, grad, lr, advance):
        T = params.dtype.type
        kernels.sgd_step(params=params, velocity=self.velocity[:params.shape[0]], grad=grad, lr=T(lr),
                         momentum=T(self.momentum), nesterov=self.nesterov)

    def online_epoch(self, net, X, Y, rows, lr, l2, work):
        """One per-sample epoch over `rows`, the update fused into backpropagation; returns the summed loss."""
        T = net.dtype.type
        return float(kernels.sgd_epoch(**net.kernel_args(), velocity=self.velocity, loss=net.loss_code, X=X, Y=Y,
                                       rows=rows, lr=T(lr), momentum=T(self.momentum), nesterov=self.nesterov,
                                       l2=T(l2), work=work))


class Adam(_Optimizer):
    """Adam (Kingma and Ba, 2015): per-parameter steps from running moments of the gradient.

    Per step t = 1, 2, ..., with g the gradient (L2 included)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        params -= lr / (1 - beta1**t) * m / (sqrt(v / (1 - beta2**t)) + epsilon)

    as ``torch.optim.Adam`` (the paper's Algorithm 1). With ``epsilon_hat=True`` epsilon is added
    before the bias correction instead, ``params -= lr * sqrt(1 - beta2**t) / (1 - beta1**t) * m /
    (sqrt(v) + epsilon)`` (the paper's "epsilon hat" form, as scikit-learn's ``solver="adam"``).
    In ``mode="sgd"`` each sample takes one step, fused into backpropagation; in ``minibatch``
    and ``batch`` each batch takes one. The state (m, v, t) lives here: passing the same object
    to a second ``fit`` of the same network goes on from where the first stopped (of another, starts afresh).

    Parameters
    ----------
    beta1, beta2 : float in [0, 1), default 0.9 and 0.999
    epsilon : float > 0, default 1e-8
    epsilon_hat : bool, default False

    Attributes
    ----------
    m, v : ndarray (n_params,) or None
        First and second moments, laid out like ``params``; None before the first ``fit``.
    t : int
        Steps taken.
    """

    _minibatch_kernels = (kernels.adam_minibatch_epoch_serial, kernels.adam_minibatch_epoch_parallel)
    _state_names = ("m", "v")

    def __init__(self, beta1=0.9, beta2=0.999, epsilon=1e-8, epsilon_hat=False):
        self.beta1 = checks.check_float(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = checks.check_float(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.epsilon = checks.check_float(epsilon, "epsilon", low=0.0, low_open=True)
        if not isinstance(epsilon_hat, (bool, np.bool_)):
            raise TypeError(f"epsilon_hat must be True or False, got {epsilon_hat!r}")
        self.epsilon_hat = bool(epsilon_hat)
        self.m = self.v = None
        self.t = 0
        self._owner = None  # the identity of the network the state belongs to

    def __repr__(self):
        return (f"Adam(beta1={self.beta1}, beta2={self.beta2}, epsilon={self.epsilon}, "
                f"epsilon_hat={self.epsilon_hat})")

    def _fresh(self, net):
        self.m = aligned_zeros(net.n_params, net.dtype)
        self.v = aligned_zeros(net.n_params, net.dtype)
        self.t = 0

    def _powers(self):
        """[beta1^t, beta2^t] of the next step, which the kernels advance step by step."""
        return np.array([self.beta1 ** (self.t + 1), self.beta2 ** (self.t + 1)])

    def _hyper(self):
        return dict(beta1=self.beta1, beta2=self.beta2, eps=self.epsilon, hat=self.epsilon_hat)

    def _rate(self, lr, T):
        return float(lr)

    def _kernel_state(self, n_rows, batch):
        powers = self._powers()
        self.t += -(-n_rows // batch) if batch else 0
        return dict(m=self.m, v=self.v, powers=powers, **self._hyper())

    def _step(self, params, grad, lr, advance):
        n = params.shape[0]
        kernels.adam_step(params=params, m=self.m[:n], v=self.v[:n], grad=grad, powers=self._powers(), lr=float(lr),
                          **self._hyper())
        self.t += advance

    def online_epoch(self, net, X, Y, rows, lr, l2, work):
        """One per-sample epoch over `rows`, one Adam step per sample fused into backpropagation."""
        powers = self._powers()
        self.t += rows.shape[0]
        return float(kernels.adam_epoch(**net.kernel_args(), m=self.m, v=self.v, loss=net.loss_code, X=X, Y=Y,
                                        rows=rows, powers=powers, lr=float(lr), **self._hyper(),
                                        l2=net.dtype.type(l2), work=work))


#: the optimizer names fit and the command line accept
OPTIMIZERS = {"sgd": SGD, "adam": Adam}

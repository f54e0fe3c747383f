"""Optimizers: objects that own their state and their update kernels.

An optimizer is bound to a model by :meth:`start` (which allocates its state, or keeps it
when it already fits the model), compiles its kernels in :meth:`warm_up`, runs a minibatch
(or batch) epoch as one compiled call in :meth:`minibatch_epoch`, a per-sample epoch with
the update fused into backpropagation in :meth:`online_epoch` (``mode="sgd"``), and applies
a whole gradient in :meth:`step` (training on numerical gradients). A new
optimizer is one class here, its kernels in ``kernels/``, and a reference function in
``tests/reference.py``.
"""
import numpy as np

from . import checks, engine, kernels
from .engine import aligned_zeros


class SGD:
    """Stochastic gradient descent with momentum.

    Per step, with g the gradient (L2 included): ``v = momentum * v - lr * g; params += v``
    (``params -= lr * g`` when momentum is 0).

    Parameters
    ----------
    momentum : float in [0, 1), default 0
    """

    def __init__(self, momentum=0.0):
        self.momentum = checks.check_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        self.velocity = None

    def __repr__(self):
        return f"SGD(momentum={self.momentum})"

    def start(self, net):
        """Bind to `net`: zero velocity, unless the state already fits the model (then it goes on)."""
        if self.velocity is None or self.velocity.shape != (net.n_params,) or self.velocity.dtype != net.dtype:
            self.velocity = aligned_zeros(net.n_params, net.dtype)
        self._scalar = net.dtype.type
        return self

    def warm_up(self, net, X, Y, space, grad, mode, batch):
        """Compile (or load from the cache) this optimizer's kernel for the run: calls that change nothing."""
        none = np.arange(0, dtype=np.int64)
        if mode == "online":
            self.online_epoch(net, X, Y, none, 0.0, 0.0, space.sample)
        elif mode == "minibatch":
            self.minibatch_epoch(net, X, Y, none, batch, 0.0, 0.0, space, grad)
        else:
            kernels.sgd_step(params=net.params[:0], velocity=self.velocity[:0], grad=self.velocity[:0],
                             lr=self._scalar(0), momentum=self._scalar(self.momentum))

    def step(self, params, grad, lr):
        """Params -= lr * grad, with momentum."""
        kernels.sgd_step(params=params, velocity=self.velocity, grad=grad, lr=self._scalar(lr),
                         momentum=self._scalar(self.momentum))

    def minibatch_epoch(self, net, X, Y, rows, batch, lr, l2, space, grad):
        """One epoch over `rows` in batches of `batch`, a step per batch, in one compiled call.

        Returns the summed per-sample loss (each sample's before its batch's update). grad: (P,) scratch.
        """
        matrices = engine.uses_matrices(net, batch)
        threaded = engine.threaded(net, batch)
        kernel = kernels.minibatch_epoch_parallel if threaded else kernels.minibatch_epoch_serial
        partial, chunk_work = space.chunks(0 if matrices else batch)
        with engine.matrix_call(matrices, net.dtype):
            return kernel(**net.kernel_args(), velocity=self.velocity, loss=net.loss_code, X=X, Y=Y, rows=rows,
                          batch=batch, lr=self._scalar(lr), momentum=self._scalar(self.momentum),
                          l2=self._scalar(l2), matrix=matrices, grad=grad,
                          work=space.matrix(batch if matrices else 0), partial=partial, chunk_work=chunk_work)

    def online_epoch(self, net, X, Y, rows, lr, l2, work):
        """One per-sample epoch over `rows`, the update fused into backpropagation; returns the summed loss."""
        return kernels.sgd_epoch(**net.kernel_args(), velocity=self.velocity, loss=net.loss_code, X=X, Y=Y,
                                 rows=rows, lr=self._scalar(lr), momentum=self._scalar(self.momentum),
                                 l2=self._scalar(l2), work=work)

"""Training loops: Python runs the epochs, each epoch (or minibatch) is one kernel call."""
import time
from dataclasses import dataclass, field

import numpy as np

import kernels
from . import checks
from .model import aligned_zeros

MODES = {"sgd": "sgd", "online": "sgd", "minibatch": "minibatch", "batch": "batch"}


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or inf; the parameters were restored to the last finite ones."""


@dataclass
class History:
    """What happened in ``fit``, one entry per completed epoch.

    loss: mean training loss (plus the L2 penalty) over the whole training set after the epoch.
    seconds: wall time of the epoch's updates (the loss evaluation is not included).
    samples: samples seen so far, cumulative.
    compile_seconds: time to compile the kernels (or load them from the cache) before epoch 1.
    """

    loss: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    stopped: str = "completed"
    compile_seconds: float = 0.0

    def __len__(self):
        return len(self.loss)

    def samples_per_second(self):
        """Throughput over all epochs: samples seen / update seconds."""
        total = sum(self.seconds)
        return self.samples[-1] / total if total > 0 else float("nan")


def fit(net, X, Y, mode="sgd", epochs=10, lr=0.1, batch_size=32, l2=0.0, momentum=0.0,
        shuffle=True, seed=None):
    """Train ``net`` in place by backpropagation.

    Parameters
    ----------
    X : array (n_samples, sizes[0])
    Y : array (n_samples, sizes[-1]), or 1-D integer labels (one-hot encoded for you)
    mode : {"sgd", "minibatch", "batch"}
        ``sgd``: one update per sample, a whole epoch in one compiled call (alias ``online``).
        ``minibatch``: one update per shuffled batch of ``batch_size``. ``batch``: one
        full-batch gradient-descent step per epoch.
    epochs : int >= 1
    lr : float > 0, learning rate.
    batch_size : int >= 1, used by ``minibatch`` (capped at n_samples).
    l2 : float >= 0, weight decay: the objective adds 0.5 * l2 * sum W^2.
    momentum : float in [0, 1): v = momentum * v - lr * g; params += v.
    shuffle : bool, visit the samples in a new random order each epoch.
    seed : int, numpy Generator or None, random state for the shuffling.

    Returns
    -------
    History
        Training loss, seconds and samples per epoch. Ctrl-C stops after the current
        epoch's kernel call returns and keeps the model (``history.stopped == "interrupted"``).

    Raises
    ------
    TrainingDiverged
        When the loss becomes NaN or inf; the parameters are restored to the last finite ones.
    """
    mode = checks.check_choice(mode, "mode", MODES)
    epochs = checks.check_int(epochs, "epochs", 1)
    lr = checks.check_float(lr, "lr", low=0.0, low_open=True)
    batch_size = checks.check_int(batch_size, "batch_size", 1)
    l2 = checks.check_float(l2, "l2", low=0.0)
    momentum = checks.check_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    rng = checks.as_rng(seed)
    X = net._inputs(X)
    Y = net._targets(Y, X.shape[0])

    n = X.shape[0]
    hyper = np.array([lr, momentum, l2], dtype=net.dtype)
    velocity = aligned_zeros(net.n_params, net.dtype)
    grad = aligned_zeros(net.n_params, net.dtype)
    work = net._work()
    in_order = np.arange(n, dtype=np.int64)
    step_rows = n if mode == "batch" else min(batch_size, n)

    def descend(rows):
        net._gradient(X, Y, rows, l2, grad, work)
        kernels.step(params=net.params, velocity=velocity, grad=grad, hyper=hyper)

    history = History()
    start = time.perf_counter()
    none = in_order[:0]  # zero rows: compiles (or loads from cache) without training
    kernels.sgd_epoch(params=net.params, velocity=velocity, sizes=net._sizes, acts=net._acts,
                      loss=net._loss_code, X=X, Y=Y, rows=none, hyper=hyper, work=work)
    kernels.gradient_sum(params=net.params, sizes=net._sizes, acts=net._acts, loss=net._loss_code,
                         X=X, Y=Y, rows=none, grad=grad, work=work)
    kernels.step(params=net.params[:0], velocity=velocity[:0], grad=grad[:0], hyper=hyper)
    kernels.loss_sum(params=net.params, sizes=net._sizes, acts=net._acts, loss=net._loss_code,
                     X=X, Y=Y, rows=none, work=work)
    history.compile_seconds = time.perf_counter() - start
    seen = 0
    for epoch in range(1, epochs + 1):
        last_good = net.params.copy()
        try:
            order = rng.permutation(n) if shuffle else in_order
            start = time.perf_counter()
            if mode == "sgd":
                kernels.sgd_epoch(params=net.params, velocity=velocity, sizes=net._sizes, acts=net._acts,
                                  loss=net._loss_code, X=X, Y=Y, rows=order, hyper=hyper, work=work)
            else:
                for s in range(0, n, step_rows):
                    descend(order[s:s + step_rows])
            seconds = time.perf_counter() - start
        except KeyboardInterrupt:
            net.params[:] = last_good
            history.stopped = "interrupted"
            break
        loss = net._mean_loss(X, Y, l2)
        if not np.isfinite(loss) or not np.all(np.isfinite(net.params)):
            net.params[:] = last_good
            raise TrainingDiverged(
                f"training diverged in epoch {epoch}: the loss became {loss}; the parameters were "
                f"restored to the end of epoch {epoch - 1}. Try a smaller learning rate (lr={lr}).")
        seen += n
        history.loss.append(loss)
        history.seconds.append(seconds)
        history.samples.append(seen)
    return history

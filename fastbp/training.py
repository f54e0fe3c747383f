"""Training loops: Python runs the epochs, each epoch (or minibatch) is one kernel call.

Progress, history, validation, early stopping and divergence checks live here, at a
cost that is negligible beside the kernels.
"""
import time
from dataclasses import dataclass, field

import numpy as np

import kernels
from . import checks
from .model import aligned_zeros, labels_of
from .numerical import default_eps, finite_difference_gradient
from .progress import Progress
from .threads import using_threads

MODES = {"sgd": "sgd", "online": "sgd", "minibatch": "minibatch", "batch": "batch"}
GRADIENTS = {"backprop": "backprop", "numerical": "numerical"}
SCHEDULES = {"constant": "constant", "invscaling": "invscaling"}


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or inf; the parameters were restored to the last finite ones."""


@dataclass
class History:
    """What happened in ``fit``, one entry per completed epoch.

    loss: mean training loss plus the L2 penalty, over the whole training set, after the epoch.
    val_loss, val_accuracy: on the validation data, when given (accuracy for classifiers).
    seconds: wall time of the epoch's updates (loss evaluation and validation excluded).
    samples: samples seen so far, cumulative.  lr: the learning rate used in the epoch.
    compile_seconds: time to compile the kernels (or load them from the cache) before epoch 1.
    stopped: "completed", "early_stopping", "callback" or "interrupted" (Ctrl-C).
    best_epoch: the epoch whose parameters the model holds after early stopping (1-based).
    """

    loss: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)
    samples: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    compile_seconds: float = 0.0
    stopped: str = "completed"
    best_epoch: int = 0

    def __len__(self):
        return len(self.loss)

    def samples_per_second(self):
        """Throughput over all epochs: samples seen / update seconds."""
        total = sum(self.seconds)
        return self.samples[-1] / total if self.samples and total > 0 else float("nan")


def fit(net, X, Y, mode="sgd", epochs=10, lr=0.1, batch_size=32, l2=0.0, momentum=0.0,
        shuffle=True, seed=None, gradient="backprop", schedule="constant", power_t=0.5,
        validation=None, patience=None, callback=None, progress=False, n_threads=None):
    """Train ``net`` in place.

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
    gradient : {"backprop", "numerical"}
        ``numerical`` replaces every backpropagated gradient by central differences
        (``fastbp.numerical_gradient``) in the same loop: same updates, O(E) times the cost.
    schedule : {"constant", "invscaling"}
        ``invscaling`` (as scikit-learn): epoch lr = lr / (samples seen + 1) ** power_t.
    power_t : float >= 0, exponent of ``invscaling``.
    validation : (X_val, Y_val) or None
        Recorded each epoch: validation loss, and accuracy for classifiers.
    patience : int >= 1 or None
        Early stopping: stop when the validation loss (the training loss without validation
        data) has not improved for ``patience`` epochs, and restore the best parameters.
    callback : callable(history) or None
        Called after every epoch; returning True stops training.
    progress : bool or None
        A progress line on stderr (epoch, loss, samples/s); None shows it on a terminal once
        training has run for a second.
    n_threads : int or None
        Numba threads for the parallel kernels during this call (default: as set, all cores
        unless changed); restored afterwards.

    Returns
    -------
    History
        Ctrl-C stops training after the running kernel call returns and keeps the model as
        it was after the last whole epoch (``history.stopped == "interrupted"``).

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
    gradient = checks.check_choice(gradient, "gradient", GRADIENTS)
    schedule = checks.check_choice(schedule, "schedule", SCHEDULES)
    power_t = checks.check_float(power_t, "power_t", low=0.0)
    if patience is not None:
        patience = checks.check_int(patience, "patience", 1)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable, got {callback!r}")
    if progress is not None and not isinstance(progress, (bool, np.bool_)):
        raise TypeError(f"progress must be True, False or None, got {progress!r}")
    X = net._inputs(X)
    Y = net._targets(Y, X.shape[0])
    X_val = Y_val = None
    if validation is not None:
        if not isinstance(validation, (tuple, list)) or len(validation) != 2:
            raise TypeError("validation must be a pair (X_val, Y_val)")
        X_val = net._inputs(validation[0], "validation X")
        Y_val = net._targets(validation[1], X_val.shape[0], "validation Y")
    with using_threads(n_threads):
        return _train(net, X, Y, X_val, Y_val, mode, epochs, lr, batch_size, l2, momentum, shuffle, rng,
                      gradient, schedule, power_t, patience, callback, progress)


def _train(net, X, Y, X_val, Y_val, mode, epochs, lr, batch_size, l2, momentum, shuffle, rng,
           gradient, schedule, power_t, patience, callback, progress):
    """The epoch loop of `fit`, on validated, prepared arrays."""
    validation = X_val is not None
    n = X.shape[0]
    hyper = np.array([lr, momentum, l2], dtype=net.dtype)
    velocity = aligned_zeros(net.n_params, net.dtype)
    grad = aligned_zeros(net.n_params, net.dtype)
    work = net._work()
    in_order = np.arange(n, dtype=np.int64)
    step_rows = {"sgd": 1, "minibatch": min(batch_size, n), "batch": n}[mode]
    eps = default_eps(net.dtype, "central")

    history = History()
    start = time.perf_counter()
    _warm_up(net, X, Y, velocity, grad, hyper, work, mode, gradient, step_rows)
    history.compile_seconds = time.perf_counter() - start

    def descend(rows):
        if gradient == "backprop":
            net._gradient(X, Y, rows, l2, grad)
        else:
            finite_difference_gradient(net, X, Y, rows, l2, "central", eps, grad, work)
        kernels.step(params=net.params, velocity=velocity, grad=grad, hyper=hyper)

    def run_epoch(order, bar):
        if mode == "sgd" and gradient == "backprop":
            kernels.sgd_epoch(params=net.params, velocity=velocity, sizes=net._sizes, acts=net._acts,
                              loss=net._loss_code, X=X, Y=Y, rows=order, hyper=hyper, work=work)
            return
        for s in range(0, n, step_rows):
            descend(order[s:s + step_rows])
            bar.update(min(s + step_rows, n))

    label = f"{mode} {gradient}"
    epoch_bar = Progress(epochs, label, enabled=progress)
    best = (np.inf, None, 0)
    seen = 0
    for epoch in range(1, epochs + 1):
        last_good = net.params.copy()
        if schedule == "invscaling":
            hyper[0] = lr / (seen + 1) ** power_t
        try:
            order = rng.permutation(n) if shuffle else in_order
            inner = Progress(n, f"epoch {epoch}/{epochs}", enabled=progress if gradient == "numerical" else False)
            start = time.perf_counter()
            run_epoch(order, inner)
            seconds = time.perf_counter() - start
            inner.close()
        except KeyboardInterrupt:
            net.params[:] = last_good
            history.stopped = "interrupted"
            break
        loss = net._mean_loss(X, Y, l2)
        if not np.isfinite(loss) or not np.all(np.isfinite(net.params)):
            net.params[:] = last_good
            epoch_bar.close()
            raise TrainingDiverged(
                f"training diverged in epoch {epoch}: the loss became {loss}; the parameters were "
                f"restored to the end of epoch {epoch - 1}. Try a smaller learning rate (lr={lr}).")
        seen += n
        history.loss.append(loss)
        history.seconds.append(seconds)
        history.samples.append(seen)
        history.lr.append(float(hyper[0]))
        if validation:
            history.val_loss.append(net._mean_loss(X_val, Y_val, 0.0))
            if net.is_classifier:
                history.val_accuracy.append(float(np.mean(net._predict(X_val) == labels_of(Y_val))))
        fields = dict(loss=f"{loss:.4g}", samples_per_s=f"{n / max(seconds, 1e-12):,.0f}")
        if history.val_accuracy:
            fields["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
        epoch_bar.update(epoch, force=epoch == epochs, **fields)

        if patience is not None:  # the best parameters are kept only when they may be restored
            monitored = history.val_loss[-1] if validation else loss
            if monitored < best[0]:
                best = (monitored, net.params.copy(), epoch)
            if epoch - best[2] >= patience:
                history.stopped = "early_stopping"
                break
        if callback is not None and callback(history):
            history.stopped = "callback"
            break
    epoch_bar.close()
    if patience is not None and best[1] is not None:
        net.params[:] = best[1]
        history.best_epoch = best[2]
    return history


def _warm_up(net, X, Y, velocity, grad, hyper, work, mode, gradient, step_rows):
    """Compile (or load from the cache) the kernels this run needs, before any timing: zero-row
    calls where a kernel allows them, one real gradient (nothing updated) for minibatch and batch."""
    none = np.arange(0, dtype=np.int64)
    common = dict(params=net.params, sizes=net._sizes, acts=net._acts, loss=net._loss_code, X=X, Y=Y, rows=none)
    kernels.loss_sum(work=work, **common)
    kernels.forward_batch(params=net.params, sizes=net._sizes, acts=net._acts, X=X, rows=none,
                          out=np.empty(0, dtype=net.dtype), work=work)
    if mode == "sgd" and gradient == "backprop":
        kernels.sgd_epoch(velocity=velocity, hyper=hyper, work=work, **common)
        return
    kernels.step(params=net.params[:0], velocity=velocity[:0], grad=grad[:0], hyper=hyper)
    if gradient == "numerical":  # no layers and no rows: nothing is perturbed
        kernels.finite_differences(consts=hyper, grad=grad, work=work, **dict(common, sizes=net._sizes[:1]))
    else:
        net._gradient(X, Y, np.arange(step_rows, dtype=np.int64), 0.0, grad)

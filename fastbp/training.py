"""Training loops: Python runs the epochs, each epoch (or minibatch) is one kernel call.

Progress, history, validation, early stopping and divergence checks live here, at a
cost that is negligible beside the kernels. ``MLP.fit`` documents the options; they are
validated once, into a :class:`FitOptions`.
"""
import time
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from . import checks, engine, kernels
from .engine import aligned_zeros
from .numerical import default_eps, finite_difference_gradient
from .optimizers import OPTIMIZERS, SGD, _Optimizer
from .threads import using_threads

MODES = {"sgd": "sgd", "online": "sgd", "minibatch": "minibatch", "batch": "batch"}
GRADIENTS = {"backprop": "backprop", "numerical": "numerical"}
SCHEDULES = {"constant": "constant", "invscaling": "invscaling"}


class TrainingDiverged(FloatingPointError):
    """Training diverged (see ``MLP.fit``); the parameters and the optimizer's state were put back.

    They are those of the last whole epoch whose exact loss was finite and at most the loss before
    training, or else those before training.
    """


@dataclass
class History:
    """What happened in ``fit``, one entry per completed epoch.

    loss: the mean of the per-sample losses seen during the epoch, each taken in the forward pass
    that computed its gradient (before that sample's update), plus the L2 penalty at the epoch's
    end: what scikit-learn's ``loss_curve_`` and Keras report, at no extra cost. The exact loss of
    the final parameters over a data set is ``net.loss(X, Y, l2)``.
    val_loss, val_accuracy: on the validation data, when given (accuracy for classifiers).
    seconds: wall time of the epoch's updates (loss evaluation and validation excluded).
    samples: samples seen so far, cumulative.  lr: the learning rate used in the epoch.
    compile_seconds: time to compile the kernels (or load them from the cache) before epoch 1.
    stopped: "completed", "early_stopping", "callback" or "interrupted" (Ctrl-C).
    best_epoch: the epoch whose parameters the model holds after early stopping (1-based).
    initial_loss, final_loss: the exact loss (L2 penalty included) of the parameters before training
    and of those the model holds at the end, on the same rows (up to DIVERGENCE_PROBE_ROWS of the
    training data, evenly spaced; all of them on a cluster). ``ended_worse`` compares them.
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
    initial_loss: float = float("nan")
    final_loss: float = float("nan")

    def __len__(self):
        return len(self.loss)

    @property
    def ended_worse(self):
        """True when training ended with a higher loss than it began with (final_loss > initial_loss).

        Higher by at most ENDED_WORSE_MARGIN (see there), that is: further above, fit raises
        TrainingDiverged.
        """
        return bool(self.final_loss > self.initial_loss)

    def samples_per_second(self):
        """Throughput over all epochs: samples seen / update seconds."""
        total = sum(self.seconds)
        return self.samples[-1] / total if self.samples and total > 0 else float("nan")


@dataclass(frozen=True)
class FitOptions:
    """The options of ``MLP.fit``, checked: canonical names, numbers in range, a random Generator.

    seed is None when shuffle is off: nothing draws from it then.
    """

    mode: str
    epochs: int
    lr: float
    batch_size: int
    l2: float
    momentum: float
    optimizer: _Optimizer
    shuffle: bool
    seed: np.random.Generator | None
    gradient: str
    schedule: str
    power_t: float
    patience: int | None
    callback: object
    progress: bool | None
    n_threads: int | None
    on_start: object = None

    @classmethod
    def checked(cls, mode, epochs, lr, batch_size, l2, momentum, optimizer, shuffle, seed, gradient, schedule,
                power_t, patience, callback, progress, n_threads, on_start=None):
        """Validate every option (a TypeError or ValueError naming the first bad one)."""
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        if patience is not None:
            patience = checks.check_int(patience, "patience", 1)
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be callable, got {callback!r}")
        if on_start is not None and not callable(on_start):
            raise TypeError(f"on_start must be callable, got {on_start!r}")
        if progress is not None and not isinstance(progress, (bool, np.bool_)):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        momentum = checks.check_float(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if isinstance(optimizer, str):
            optimizer = checks.check_choice(optimizer, "optimizer", {name: name for name in OPTIMIZERS})
            if optimizer != "sgd" and momentum:
                raise ValueError(f"momentum is an option of optimizer='sgd', got momentum={momentum} with "
                                 f"optimizer={optimizer!r}")
            optimizer = SGD(momentum) if optimizer == "sgd" else OPTIMIZERS[optimizer]()
        elif isinstance(optimizer, _Optimizer):
            if momentum:
                raise ValueError(f"momentum is set on the optimizer object (SGD(momentum=...)), got momentum="
                                 f"{momentum} beside optimizer={optimizer!r}")
        else:
            raise TypeError(f"optimizer must be one of {sorted(OPTIMIZERS)} or an optimizer object such as "
                            f"fastbp.Adam(), got {optimizer!r}")
        return cls(mode=checks.check_choice(mode, "mode", MODES), epochs=checks.check_int(epochs, "epochs", 1),
                   lr=checks.check_float(lr, "lr", low=0.0, low_open=True),
                   batch_size=checks.check_int(batch_size, "batch_size", 1),
                   l2=checks.check_float(l2, "l2", low=0.0),
                   momentum=momentum, optimizer=optimizer,
                   shuffle=bool(shuffle), seed=checks.as_rng(seed, make=shuffle),
                   gradient=checks.check_choice(gradient, "gradient", GRADIENTS),
                   schedule=checks.check_choice(schedule, "schedule", SCHEDULES),
                   power_t=checks.check_float(power_t, "power_t", low=0.0), patience=patience, callback=callback,
                   progress=progress, n_threads=n_threads, on_start=on_start)


def train(net, X, Y, validation, options):
    """``MLP.fit`` on checked options: prepare the data, then run the epochs with the options' threads.

    X is checked for NaN and inf here, or, where the epochs run as matrices, in the first epoch's
    products (see _epochs): a pass of its own cost 3-9% of a minibatch epoch (784-128-10, 4,096 rows,
    batch 128, 1 thread).
    """
    X = net._inputs(X, finite=False)
    Y = net._targets(Y, X.shape[0])
    step_rows = {"sgd": 1, "minibatch": min(options.batch_size, X.shape[0]), "batch": X.shape[0]}[options.mode]
    unchecked = options.mode != "sgd" and options.gradient == "backprop" and engine.uses_matrices(net, step_rows)
    if not unchecked:
        checks.check_finite(X, "X")
    X_val, Y_val = validation_arrays(net, validation)
    with using_threads(options.n_threads):
        return _epochs(net, X, Y, X_val, Y_val, options, step_rows, unchecked)


def validation_arrays(net, validation):
    """(X_val, Y_val) checked and cast for `net`, or (None, None) when validation is None."""
    if validation is None:
        return None, None
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise TypeError("validation must be a pair (X_val, Y_val)")
    X_val = net._inputs(validation[0], "validation X")
    return X_val, net._targets(validation[1], X_val.shape[0], "validation Y")


class _NoBar:
    """The bar of progress=False: the calls fit makes on a tqdm bar, doing nothing.

    Making even a disabled tqdm cost fit 30-60 us, 0.5% of a minibatch epoch of 4,096 rows
    (784-128-10, 1 thread).
    """

    n = 0

    def update(self, n=1):
        pass

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        pass


def _bar(total, label, progress):
    """A tqdm bar: progress True shows it at once, None on a terminal after a second, False never."""
    if progress is False:
        return _NoBar()
    return tqdm(total=total, desc=label, disable=False if progress else None if progress is None else True,
                delay=1.0 if progress is None else 0.0, leave=True, dynamic_ncols=True)


def _epochs(net, X, Y, X_val, Y_val, o, step_rows, unchecked):
    """The epoch loop of `fit`, on validated, prepared arrays.

    X is checked for NaN and inf already, or, `unchecked` (epochs of `step_rows` rows as matrices),
    by the first epoch's kernel.
    """
    n = X.shape[0]
    net._zero_masked(net.params)  # masked weights are zeros (a write through a view may have changed one)
    optimizer = o.optimizer.start(net)
    space = engine.workspace(net)
    grad = aligned_zeros(net.n_params, net.dtype)
    in_order = np.arange(n, dtype=np.int64)
    online = o.mode == "sgd" and o.gradient == "backprop"
    eps = default_eps(net.dtype, "central")

    probe = _probe_rows(n)
    history = History()
    start = time.perf_counter()
    _warm_up(net, X, Y, optimizer, grad, space, online, o.gradient, step_rows, X_val, Y_val, probe.shape[0])
    history.compile_seconds = time.perf_counter() - start

    def run_epoch(order, lr, bar):
        """The epoch's updates; returns the sum of the per-sample losses seen."""
        if online:
            return optimizer.online_epoch(net, X, Y, order, lr, o.l2, space.sample)
        if o.gradient == "backprop" and unchecked:
            return first_epoch(order, lr)
        if o.gradient == "backprop":
            return optimizer.minibatch_epoch(net, X, Y, order, step_rows, lr, o.l2, space, grad)[0]
        total = 0.0
        for s in range(0, n, step_rows):
            rows = order[s:s + step_rows]
            total += engine.forward(net, X, Y, space, False, rows)[0]
            finite_difference_gradient(net, X, Y, rows, o.l2, "central", eps, grad, space.sample)
            optimizer.step(net.params, grad, lr)
            if bar is not None:
                bar.update(min(s + step_rows, n) - bar.n)
        return total

    def first_epoch(order, lr):
        """The epoch, checking X on the way; returns the sum of the per-sample losses seen.

        A NaN loss (a NaN or inf in X, an overflow, a divergence) puts the parameters and the
        optimizer's state back; X is then checked (a ValueError naming its row), and the epoch runs
        again without the check.
        """
        nonlocal unchecked
        state = optimizer.snapshot()
        total = optimizer.minibatch_epoch(net, X, Y, order, step_rows, lr, o.l2, space, grad, check=True)[0]
        if total != total:
            net.params[:] = before
            optimizer.restore(state)
            checks.check_finite(X, "X")
            total = optimizer.minibatch_epoch(net, X, Y, order, step_rows, lr, o.l2, space, grad)[0]
        unchecked = False
        return total

    def probe_loss():
        """The exact loss at the current parameters on up to DIVERGENCE_PROBE_ROWS rows, evenly spaced."""
        loss = net._forward(X[probe], Y[probe], space, False, allow_matrices=not online, serial=True)[0]
        loss /= probe.shape[0]
        if loss != loss and unchecked:  # a NaN in X, not yet looked for: a ValueError naming its row
            checks.check_finite(X, "X")
        return loss + net.penalty(o.l2)

    def next_order():
        return o.seed.permutation(n) if o.shuffle else in_order

    before = net.params.copy()  # the first epoch's restore point, and run_epochs' (one copy for both)
    return run_epochs(net, o, n, next_order, run_epoch, probe_loss, validator(net, X_val, Y_val, space), history,
                      optimizer, step_bar=o.gradient == "numerical", before=before)


def validator(net, X_val, Y_val, space):
    """validate() for run_epochs: (mean validation loss, accuracy or None); None without validation data."""
    if X_val is None:
        return None

    def validate():
        val_loss, out = net._forward(X_val, Y_val, space, net.is_classifier)  # loss and outputs in one pass
        accuracy = float(np.mean(checks.labels_of(out) == checks.labels_of(Y_val))) if net.is_classifier else None
        return val_loss / X_val.shape[0], accuracy
    return validate


def run_epochs(net, o, n, next_order, run_epoch, exact_loss, validate, history, optimizer, step_bar=False,
               before=None):
    """The epoch loop of `fit` (and of fastbp.distributed.fit): history, progress, divergence, patience, callback.

    Per epoch: ``order = next_order()``, then ``run_epoch(order, lr, bar)`` (timed) returns the summed
    per-sample loss of the epoch's n samples; ``validate()`` gives (validation loss, accuracy or None);
    ``exact_loss()`` the loss at the current parameters (before training, at the end, and to choose
    the parameters to put back after a divergence). optimizer: the started optimizer, whose state is
    put back with the parameters. step_bar: a bar over the epoch's samples too, handed to run_epoch
    (else None). before: a copy of the parameters before training that the caller made and does not
    change (else one is made here).
    """
    validation = validate is not None
    first = (0, net.params.copy() if before is None else before, optimizer.snapshot())
    limit = end_limit = np.inf
    epoch_bar = _bar(o.epochs, f"{o.mode} {o.gradient}", o.progress)
    best = (np.inf, None, 0)
    done = previous = first  # (whole epochs, the parameters and optimizer state after them)
    seen = rises = 0

    def diverged(epoch, why, candidates):
        """Put back a model that did not diverge, and raise TrainingDiverged.

        That is the newest of `candidates` (whole epochs) whose exact loss is finite and at most the
        loss before training, or else the parameters before training.
        """
        back, kept = first, f"those before training (loss {history.initial_loss:.4g})"
        for candidate in candidates:
            if candidate[0] == 0:
                break
            net.params[:] = candidate[1]
            loss = exact_loss()
            if loss <= history.initial_loss:  # False for NaN
                back, kept = candidate, f"the end of epoch {candidate[0]} (loss {loss:.4g})"
                break
        net.params[:] = back[1]
        optimizer.restore(back[2])
        epoch_bar.close()
        raise TrainingDiverged(
            f"training diverged in epoch {epoch}: {why} (it was {history.initial_loss:.4g} before training); the "
            f"parameters and the optimizer's state were restored to {kept}. Try a smaller learning rate "
            f"(lr={o.lr}).")

    try:  # Ctrl-C anywhere in here keeps the model and history of the last whole epoch
        history.initial_loss = exact_loss()
        limit = _divergence_limit(history.initial_loss, net)
        end_limit = _end_limit(history.initial_loss, net)
        if o.on_start is not None:
            o.on_start()
        for epoch in range(1, o.epochs + 1):
            lr = o.lr / (seen + 1) ** o.power_t if o.schedule == "invscaling" else o.lr
            lr = float(net.dtype.type(lr))  # the rate the kernels apply, in the model's dtype
            order = next_order()
            inner = _bar(n, f"epoch {epoch}/{o.epochs}", o.progress) if step_bar else None
            start = time.perf_counter()
            seen_loss = run_epoch(order, lr, inner)
            seconds = time.perf_counter() - start
            if inner is not None:
                inner.close()
            loss = float(seen_loss) / n + net.penalty(o.l2)
            rises = rises + 1 if history.loss and history.initial_loss < history.loss[-1] < loss else 0
            if not (np.all(np.isfinite(net.params)) and loss <= limit):
                diverged(epoch, f"the loss became {loss:.4g}, beyond {limit:.4g}", (done, previous))
            if rises >= RISING_EPOCHS:
                diverged(epoch, f"the loss rose for {rises} epochs in a row, to {loss:.4g}", (done, previous))
            seen += n
            history.loss.append(loss)
            history.seconds.append(seconds)
            history.samples.append(seen)
            history.lr.append(lr)
            if validation:
                val_loss, val_accuracy = validate()
                history.val_loss.append(val_loss)
                if val_accuracy is not None:
                    history.val_accuracy.append(val_accuracy)
            previous, done = done, (epoch, net.params.copy(), optimizer.snapshot())  # this epoch is whole
            fields = dict(loss=f"{loss:.4g}", samples_per_s=f"{n / max(seconds, 1e-12):,.0f}")
            if history.val_accuracy:
                fields["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
            epoch_bar.set_postfix(fields, refresh=False)
            epoch_bar.update(1)

            if o.patience is not None:  # the best parameters are kept only when they may be restored
                monitored = history.val_loss[-1] if validation else loss
                if monitored < best[0]:
                    best = (monitored, net.params.copy(), epoch)
                if epoch - best[2] >= o.patience:
                    history.stopped = "early_stopping"
                    break
            if o.callback is not None and o.callback(history):
                history.stopped = "callback"
                break
        if o.patience is not None and best[1] is not None:
            net.params[:] = best[1]
            history.best_epoch = best[2]
        history.final_loss = exact_loss()
        if not history.final_loss <= limit:  # the last epoch's updates, which no epoch's loss has seen
            diverged(done[0], f"its updates took the loss to {history.final_loss:.4g}, beyond {limit:.4g}",
                     (done, previous))
        if not history.final_loss <= end_limit:
            diverged(done[0], f"training ended at loss {history.final_loss:.4g}, above {end_limit:.4g}",
                     (done, previous))
        if (len(history) >= RISING_EPOCHS and history.final_loss > history.initial_loss
                and min(history.loss) > history.initial_loss):
            diverged(done[0], f"the loss stayed above its start in all {len(history)} epochs and ended at "
                              f"{history.final_loss:.4g}", (done, previous))
    except KeyboardInterrupt:
        whole = done[0]
        for name in ("loss", "val_loss", "val_accuracy", "seconds", "samples", "lr"):
            del getattr(history, name)[whole:]
        net.params[:] = done[1]
        optimizer.restore(done[2])
        history.stopped = "interrupted"
        history.best_epoch = 0
        history.final_loss = float("nan")
    epoch_bar.close()
    return history


#: training has diverged when the loss exceeds this many times its value before training, or than
#: the loss of knowing nothing (see _uninformed_loss), whichever is larger
DIVERGED_GROWTH = 10.0
#: training has diverged when the epoch's loss, above its value before training, rose this many epochs in a row;
#: or when it ran at least this many epochs, none of them below the loss before training, and ended above it
RISING_EPOCHS = 5
#: training has diverged when it ends above its loss before training by more than this fraction of
#: the larger of that loss and the loss of knowing nothing (less counts as noise: History.ended_worse)
ENDED_WORSE_MARGIN = 0.25
#: the loss before training is taken on at most this many rows, evenly spaced
DIVERGENCE_PROBE_ROWS = 256


def _safe_loss(dtype):
    """The largest loss (and parameter) that is surely not an overflow: sqrt of the dtype's max."""
    return float(np.sqrt(np.finfo(dtype).max))


def _uninformed_loss(net):
    """The loss of knowing nothing, a floor of the divergence limits.

    For cross-entropy log(classes) (uniform predictions; log 2 per output for a sigmoid output), and
    1 for the squared loss (the targets' scale is not known).
    """
    if net.loss_name == "cross_entropy":
        return float(np.log(net.sizes[-1]) if net.output == "softmax" else net.sizes[-1] * np.log(2.0))
    return 1.0


def _divergence_limit(initial, net):
    """The largest loss that still counts as training, within the dtype's safe range.

    DIVERGED_GROWTH times the larger of the loss before training and the loss of knowing nothing.
    """
    if not initial <= _safe_loss(net.dtype):  # NaN or beyond: only the dtype's range is left to check
        return _safe_loss(net.dtype)
    return min(DIVERGED_GROWTH * max(initial, _uninformed_loss(net)), _safe_loss(net.dtype))


def _end_limit(initial, net):
    """The largest loss that training may end at: ENDED_WORSE_MARGIN above its start (see there)."""
    if not initial <= _safe_loss(net.dtype):
        return _safe_loss(net.dtype)
    return min(initial + ENDED_WORSE_MARGIN * max(initial, _uninformed_loss(net)), _safe_loss(net.dtype))


def _probe_rows(n):
    """The rows of the exact losses of run_epochs: up to DIVERGENCE_PROBE_ROWS of n, evenly spaced."""
    return np.unique(np.linspace(0, n - 1, min(n, DIVERGENCE_PROBE_ROWS)).astype(np.int64))


def _warm_up(net, X, Y, optimizer, grad, space, online, gradient, step_rows, X_val, Y_val, n_probe):
    """Compile (or load from the cache) the kernels this run needs, and no others, before any timing.

    Calls on no rows, which change nothing: the epoch's kernel, and forward passes for the n_probe rows
    of the exact losses, for the validation data and for the numerical gradient's losses.
    """
    none = np.arange(0, dtype=np.int64)
    net._forward(X[:0], Y[:0], space, False, allow_matrices=not online, like_rows=n_probe, serial=True)
    if X_val is not None:
        net._forward(X_val[:0], Y_val[:0], space, net.is_classifier, like_rows=X_val.shape[0])
    if online:
        optimizer.warm_up(net, X, Y, space, grad, "online", step_rows)
    elif gradient == "backprop":
        optimizer.warm_up(net, X, Y, space, grad, "minibatch", step_rows)
    else:  # no layers and no rows: nothing is perturbed
        optimizer.warm_up(net, X, Y, space, grad, "step", step_rows)
        net._forward(X[:0], Y[:0], space, False, like_rows=step_rows)
        args = dict(net.kernel_args(), sizes=net.kernel_args()["sizes"][:1])
        kernels.finite_differences(**args, loss=net.loss_code, X=X, Y=Y, rows=none, eps=net.dtype.type(1),
                                   l2=net.dtype.type(0), central=True, targets=none.astype(np.uint64), grad=grad,
                                   work=space.sample)

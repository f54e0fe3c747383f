"""The multilayer perceptron: one flat parameter buffer and the names that describe it."""
import contextlib
import errno
import glob
import os
import stat
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from . import checks, engine, kernels, names, npz, training
from . import connectivity as sparse
from .engine import aligned_zeros
from .threads import using_threads

DTYPES = (np.float64, np.float32)
FILE_FORMAT = "fastbp-mlp"
FILE_VERSION = 2  # 2: sparse connectivity (field 'masks'); version 1 files (no masks) still load


def check_dtype(dtype):
    """float64 or float32 as a numpy dtype, or a TypeError / ValueError naming ``dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be float64 or float32, got {dtype!r}") from None
    if dt not in [np.dtype(d) for d in DTYPES]:
        raise ValueError(f"dtype must be float64 or float32, got {dt}")
    return dt


class MLP:
    """A fully connected feed-forward network trained by backpropagation.

    Parameters
    ----------
    sizes : sequence of int
        Layer widths from input to output (the seed notes' ``n_nodes``), at least two.
    hidden : str or sequence of str, default "sigmoid"
        Hidden activation, one name or one per hidden layer: ``sigmoid`` (``logistic``),
        ``tanh``, ``relu``, ``identity`` (``linear``).
    output : {"identity", "sigmoid", "softmax"}, default "identity"
        Output activation.
    loss : {"squared", "cross_entropy"}, default "squared"
        Per-sample loss: ``0.5 * sum (a - y)^2``, or ``-sum y log a`` (softmax output, or
        sigmoid outputs, each a two-class cross-entropy).
    init : {"xavier", "he", "uniform", "normal"}, default "xavier"
        ``xavier``: W ~ U(-r, r), r = sqrt(6 / (n_in + n_out)), b = 0 (Glorot; suits sigmoid
        and tanh, hence the default). ``he``: W ~ N(0, 2 / n_in), b = 0 (suits relu).
        ``uniform``: every parameter in [0, 1) as in the seed notes. ``normal``: N(0, 1).
    dtype : float64 or float32, default float64
        Parameters, activations and gradients all use this type.
    seed : int, numpy Generator or None
        Random state for the initial parameters (and the random masks of a density).
    connectivity : None, float in (0, 1], or list of boolean arrays, default None
        Which edges exist. None: every one (fully connected). A density: each edge kept with that
        probability, drawn per layer from ``seed`` after the weights (so the weights equal a fully
        connected network's of the same seed, masked); a unit left with no input keeps one at random.
        Masks: one boolean array per layer shaped like its weights ``(n_out, n_in)``, True where the
        edge is live. Masked weights are held at exactly zero with zero gradients, in every mode and
        optimizer; the kernels visit only live edges, so the cost follows :attr:`n_edges`.

    Attributes
    ----------
    params : ndarray (n_params,)
        The one flat buffer: per layer W (n_out, n_in) row-major, then b (n_out,).
    weights, biases : list of ndarray
        Views into ``params``; writing them changes the model.
    n_params : int
        Length of ``params`` (every weight of the dense layout, masked ones included, and biases).
    n_edges : int
        Live edges (weights that exist): the work of one forward pass in multiply-adds.
    masks : list of ndarray of bool
        Per layer, True where the edge is live (all True when fully connected); copies.
    density : float
        n_edges over the edge count of the fully connected network.
    """

    def __init__(self, sizes, hidden="sigmoid", output="identity", loss="squared",
                 init="xavier", dtype=np.float64, seed=None, connectivity=None):
        sizes = self._check_sizes(sizes)
        n_hidden = len(sizes) - 2
        if isinstance(hidden, str):
            hidden = [hidden] * n_hidden
        elif isinstance(hidden, (list, tuple)):
            if len(hidden) != n_hidden:
                raise ValueError(f"hidden must name one activation or {n_hidden} (one per hidden "
                                 f"layer), got {len(hidden)}")
        else:
            raise TypeError(f"hidden must be a string or a list of strings, got {hidden!r}")
        self.hidden = tuple(checks.check_choice(h, "hidden", names.choices(names.HIDDEN)) for h in hidden)
        self.output = checks.check_choice(output, "output", names.choices(names.OUTPUT))
        self.loss_name = checks.check_choice(loss, "loss", names.choices(names.LOSSES))
        self.init = checks.check_choice(init, "init", names.choices(names.INITS))
        self.dtype = check_dtype(dtype)
        names.check_pair(self.output, self.loss_name, sizes[-1])
        check_memory(sizes, self.dtype)
        rng = checks.as_rng(seed)

        self.sizes = sizes
        self.n_params = kernels.param_count(sizes)
        # What the kernels are handed, fixed for the model's life: widths, where each layer's W
        # starts in params, activation codes per layer, the loss code.
        self._sizes = np.array(sizes, dtype=np.uint64)
        self._offsets = kernels.layer_offsets(sizes)
        self._acts = np.array([names.HIDDEN[h] for h in self.hidden] + [names.OUTPUT[self.output]], dtype=np.int64)
        self.loss_code = names.LOSSES[self.loss_name]
        self._params = aligned_zeros(self.n_params, self.dtype)
        self.weights, self.biases = self.layer_views(self._params)
        self.input_mean = None  # set by standardize(): forward and training see (X - mean) / scale
        self.input_scale = None
        self._fitting = threading.Lock()  # held while fit runs: a second concurrent fit is refused
        self._identity = object()  # what an optimizer's state is bound to (optimizers: start)
        self._initialise(rng)
        self._set_masks(sparse.check_connectivity(connectivity, sizes, rng))

    @property
    def params(self):
        """The one flat buffer: per layer W (n_out, n_in) row-major, then b (n_out,)."""
        return self._params

    @params.setter
    def params(self, values):
        """Copy `values` into the buffer (the kernels keep reading the same memory), after checking them.

        A sparse network's masked weights stay 0: values written there are dropped.
        """
        arr = np.asarray(values)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"params must be an array of numbers, got dtype {arr.dtype}")
        if arr.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},) for sizes {list(self.sizes)}, "
                             f"got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError("params contains NaN or inf")
        self._params[:] = arr
        self._zero_masked(self._params)

    @staticmethod
    def _check_sizes(sizes):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a list of layer widths, got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layer widths (input, output), got {list(sizes)}")
        return tuple(checks.check_int(n, "sizes", 1) for n in sizes)

    def layer_views(self, flat):
        """(weights, biases): per-layer views of a flat array laid out like ``params``."""
        weights, biases = [], []
        for l, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            p = int(self._offsets[l])
            weights.append(flat[p:p + n_out * n_in].reshape(n_out, n_in))
            biases.append(flat[p + n_out * n_in:p + n_out * n_in + n_out])
        return weights, biases

    def kernel_args(self):
        """The model as the kernels take it: params, sizes, offsets, activation codes and live edges, by keyword."""
        return dict(params=self._params, sizes=self._sizes, offsets=self._offsets, acts=self._acts, live=self._live)

    # -- connectivity --------------------------------------------------------------------
    def _set_masks(self, masks):
        """Adopt `masks` (checked; None: fully connected): index lists for the kernels, masked weights zeroed."""
        self._masks = masks
        self._live = sparse.live_lists(masks)
        self._keep = None if masks is None else sparse.keep_flags(masks, self._offsets, self.n_params)
        self.n_edges = kernels.edge_count(self.sizes) if masks is None else \
            int(self._live[1].shape[0])
        self._zero_masked(self._params)

    def _zero_masked(self, flat):
        """Set the masked weights' entries of a flat array laid out like params (parameters, optimizer state) to 0."""
        if self._keep is not None:
            flat[~self._keep] = 0

    @property
    def masks(self):
        """Per layer, a boolean array (n_out, n_in), True where the edge is live: copies."""
        if self._masks is None:
            return [np.ones(W.shape, dtype=bool) for W in self.weights]
        return [mask.copy() for mask in self._masks]

    @property
    def density(self):
        """Live edges over the edges of the fully connected network."""
        return self.n_edges / kernels.edge_count(self.sizes)

    def prune(self, fraction):
        """Remove `fraction` of the live weights, those of smallest magnitude over all layers at once.

        round(fraction * n_edges) weights are masked and set to 0 (biases are kept); ties go in layer
        and row-major order. Returns self.
        """
        fraction = checks.check_float(fraction, "fraction", low=0.0, high=1.0, high_open=True)
        if self._fitting.locked():
            raise RuntimeError("prune cannot run while fit is running on this network")
        self._set_masks(sparse.check_connectivity(sparse.pruned(self.weights, self.masks, fraction), self.sizes,
                                                  None))
        return self

    def _initialise(self, rng):
        for W, b in zip(self.weights, self.biases):
            n_out, n_in = W.shape
            if self.init == "xavier":
                r = np.sqrt(6.0 / (n_in + n_out))
                W[...] = rng.uniform(-r, r, W.shape)
            elif self.init == "he":
                W[...] = rng.normal(0.0, np.sqrt(2.0 / n_in), W.shape)
            elif self.init == "uniform":
                W[...] = rng.random(W.shape)
                b[...] = rng.random(b.shape)
            else:
                W[...] = rng.normal(0.0, 1.0, W.shape)
                b[...] = rng.normal(0.0, 1.0, b.shape)

    def __repr__(self):
        density = "" if self._masks is None else f", density={self.density:.4g}"
        return (f"MLP(sizes={list(self.sizes)}, hidden={list(self.hidden)}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.dtype.name}, n_params={self.n_params}{density})")

    # -- data ----------------------------------------------------------------------------
    @property
    def is_classifier(self):
        """True when outputs are probabilities (sigmoid or softmax): predict gives labels."""
        return self.output in ("sigmoid", "softmax")

    def _inputs(self, X, name="X", finite=True):
        """X checked and cast (finite=False: not yet checked for NaN and inf, see checks.as_inputs), standardized."""
        X = checks.as_inputs(X, self.sizes[0], self.dtype, name, finite=finite or self.input_mean is not None)
        if self.input_mean is not None:
            X = (X - self.input_mean) / self.input_scale
        return X

    def standardize(self, X):
        """Learn per-feature mean and scale from X; from now on every input is standardised.

        The statistics are stored on the model (``input_mean``, ``input_scale``) and saved with it.
        A constant feature gets scale 1. Returns self.
        """
        self.input_mean = self.input_scale = None
        X = self._inputs(X)
        size = np.max(np.abs(X), axis=0)  # statistics of X / size: no overflow for values near the dtype's max
        size[size == 0] = 1
        scale = (X / size).std(axis=0) * size
        scale[scale == 0] = 1
        self.input_mean = ((X / size).mean(axis=0) * size).astype(self.dtype)
        self.input_scale = scale.astype(self.dtype)
        return self

    def _targets(self, Y, n_rows, name="Y"):
        return checks.as_targets(Y, n_rows, self.sizes[-1], self.dtype, labels=self.is_classifier,
                                 probabilities=self.loss_name == "cross_entropy",
                                 distribution=self.output == "softmax", name=name)

    # -- evaluation ----------------------------------------------------------------------
    def forward(self, X):
        """Network outputs a^L for each row of X: (n_samples, sizes[-1])."""
        return self._forward(self._inputs(X, finite=False), None, engine.workspace(self), True, check="X")[1]

    def _forward(self, X, Y, space, outputs, allow_matrices=True, check=None, like_rows=None, serial=False):
        """(summed loss over the rows, or 0 when Y is None; outputs, or no rows unless asked): one pass."""
        return engine.forward(self, X, Y, space, outputs, allow_matrices=allow_matrices, check=check,
                              like_rows=like_rows, serial=serial)

    def penalty(self, l2):
        """0.5 * l2 * sum of squared weights (biases excluded)."""
        if not l2:
            return 0.0
        return 0.5 * l2 * sum(float(np.vdot(W, W)) for W in self.weights)

    def add_penalty_gradient(self, grad, l2):
        """Add the gradient of :meth:`penalty` to grad, in place: l2 * W on each weight, nothing on the biases.

        grad: (n_params,), laid out like ``params``.
        """
        if l2:
            for gW, W in zip(self.layer_views(grad)[0], self.weights):
                gW += self.dtype.type(l2) * W

    def loss(self, X, Y, l2=0.0):
        """Mean per-sample loss over the rows, plus 0.5 * l2 * sum W^2."""
        l2 = checks.check_float(l2, "l2", low=0.0)
        X = self._inputs(X, finite=False)
        c = self._forward(X, self._targets(Y, X.shape[0]), engine.workspace(self), False, check="X")[0]
        return c / X.shape[0] + self.penalty(l2)

    def gradient(self, X, Y, l2=0.0, n_threads=None):
        """Gradient of ``loss(X, Y, l2)`` with respect to ``params``, in the same flat layout.

        n_threads: Numba threads for this call (default: as set); restored afterwards.
        """
        l2 = checks.check_float(l2, "l2", low=0.0)
        X = self._inputs(X, finite=False)
        Y = self._targets(Y, X.shape[0])
        grad = np.empty(self.n_params, self.dtype)  # every entry written by the kernel
        with using_threads(n_threads):
            engine.batch_gradient(self, X, Y, np.arange(X.shape[0], dtype=np.int64), l2, grad,
                                  engine.workspace(self), check="X")
        return grad

    def predict(self, X):
        """Class labels for classifiers (argmax; a 0.5 threshold for one sigmoid output), else outputs."""
        out = self.forward(X)
        return checks.labels_of(out) if self.is_classifier else out

    def fit(self, X, Y, mode="sgd", epochs=10, lr=0.1, batch_size=32, l2=0.0, momentum=0.0, optimizer="sgd",
            shuffle=True, seed=None, gradient="backprop", schedule="constant", power_t=0.5,
            validation=None, patience=None, callback=None, progress=False, n_threads=None, on_start=None):
        """Train in place; returns a :class:`~fastbp.History`.

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
        momentum : float in [0, 1): v = momentum * v - lr * g; params += v (:class:`fastbp.SGD`).
        optimizer : {"sgd", "adam"} or an optimizer object, default "sgd"
            ``"sgd"``: :class:`fastbp.SGD` with ``momentum``; ``"adam"``: :class:`fastbp.Adam` with
            its defaults (``lr`` is Adam's step size: 0.001 is the usual start). An object
            (``fastbp.SGD(momentum=0.9, nesterov=True)``, ``fastbp.Adam(beta1=0.9)``) keeps its state
            (velocity; moments and step count) between ``fit`` calls. Every mode runs with either;
            in ``mode="sgd"`` Adam takes one bias-corrected step per sample, fused into backpropagation.
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
            A progress bar on stderr (epoch, loss, samples/s); None shows it on a terminal once
            training has run for a second.
        n_threads : int or None
            Numba threads for the parallel kernels during this call (default: as set, all cores
            unless changed); restored afterwards.
        on_start : callable() or None
            Called once when the kernels are compiled and the first epoch begins (``fastbp
            train`` says there that training has begun).

        Returns
        -------
        History
            ``history.loss``: per epoch, the mean of the per-sample losses seen during it (each
            taken before its sample's own update) plus the L2 penalty at its end.
            Ctrl-C at any moment after compiling stops training (once the running kernel call
            returns) and keeps the model and history as they were after the last whole epoch
            (``history.stopped == "interrupted"``). ``history.initial_loss`` and ``final_loss``:
            the exact loss before and after training (on up to 256 evenly spaced rows), and
            ``history.ended_worse`` when the second is the larger (by less than the margin of
            TrainingDiverged below).

        Raises
        ------
        TrainingDiverged
            When the parameters or the loss become NaN or inf, or the loss grows beyond 10 times
            the larger of its value before training and the loss of knowing nothing (log(classes)
            per output for cross-entropy, 1 for the squared loss), or beyond the square root of the
            dtype's largest number, or rises for 5 epochs in a row above its value before
            training; also when the last epoch's updates take the exact loss there, or when
            training ends more than 25% of the larger of those two losses above its start, or
            above its start after 5 or more epochs none of which got below it. The
            parameters and the optimizer's state are put back to those of the newest whole epoch
            whose exact loss is at most the loss before training, else to those before training.
        RuntimeError
            When ``fit`` is already running on this network in another thread.
        """
        arguments = dict(locals())  # every option by name, validated once into one object
        options = training.FitOptions.checked(**{k: v for k, v in arguments.items()
                                                 if k not in ("self", "X", "Y", "validation")})
        if not self._fitting.acquire(blocking=False):
            raise RuntimeError("fit is already running on this network in another thread: two fits would "
                               "update the same parameters at once; train a copy (MLP.load of a saved "
                               "model, or a new MLP) or wait for the first fit")
        try:
            return training.train(self, X, Y, validation, options)
        finally:
            self._fitting.release()

    # -- files ---------------------------------------------------------------------------
    def save(self, path):
        """Write the model to ``path`` (.npz, no pickle), atomically.

        The file holds format and version, architecture, activations, loss, dtype, parameters, the
        masks of a sparse network and standardisation statistics, checked by the same rules as
        :meth:`load`. It is written to a temporary file in the same folder, flushed to disk, then renamed
        over ``path``: a save that fails or is killed midway leaves any earlier file at ``path`` as it was.
        A later save to ``path`` removes the temporary files of killed saves (older than this process).
        A read-only file at ``path`` is refused (PermissionError), as ``open`` would; another keeps its mode.
        """
        fields = dict(format=np.array(FILE_FORMAT), version=np.array(FILE_VERSION),
                      sizes=np.array(self.sizes, dtype=np.int64), hidden=np.array(self.hidden, dtype="U16"),
                      output=np.array(self.output), loss=np.array(self.loss_name), init=np.array(self.init),
                      dtype=np.array(self.dtype.name), params=self.params, masks=sparse.pack(self._masks),
                      input_mean=np.empty(0) if self.input_mean is None else self.input_mean,
                      input_scale=np.empty(0) if self.input_scale is None else self.input_scale)
        try:
            model_fields(fields)
        except ValueError as exc:
            raise ValueError(f"cannot save this model: {exc}") from None
        path = Path(path)
        if path.exists() and not os.access(path, os.W_OK):  # as open(path, "wb") would refuse it
            raise PermissionError(errno.EACCES, "Permission denied: the file is read-only", str(path))
        _remove_stale_parts(path)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **fields)
                f.flush()
                os.fsync(f.fileno())
            if path.exists():  # the mode of the file it replaces
                mode = stat.S_IMODE(os.stat(path).st_mode)
            else:  # as open() would have made it, not mkstemp's 0600
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.chmod(temporary, mode)
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`.

        Any file that is not a whole, consistent model raises ValueError "not a readable fastbp
        model file: PATH (why)"; a missing file raises FileNotFoundError.
        """
        path = Path(path)
        try:
            with npz.opened(path) as f:
                data = _model_members(f)
            kwargs, params, mean, scale = model_fields(data)
            net = cls(**kwargs)
        except FileNotFoundError:
            raise
        except (OSError, ValueError, TypeError, MemoryError) as exc:
            why = str(exc) if isinstance(exc, (ValueError, TypeError)) else f"{exc.__class__.__name__}: {exc}"
            raise ValueError(f"not a readable fastbp model file: {path} ({why})") from None
        net.params[:] = params
        if mean is not None:
            net.input_mean = mean.astype(net.dtype)
            net.input_scale = scale.astype(net.dtype)
        return net


_IMPORTED = time.time()  # temporary files older than this are from saves of processes before this one


def _remove_stale_parts(path):
    """Remove the temporary files that killed saves to `path` left (save's names, older than this process)."""
    for part in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
        with contextlib.suppress(OSError):
            if part.stat().st_mtime < _IMPORTED:
                part.unlink()


#: a model file's members besides these are a few numbers or names each
_LARGE_MEMBERS = ("params", "masks", "input_mean", "input_scale")
_SMALL_MEMBER_BYTES = 1 << 16
_NPY_HEADER_BYTES = 1 << 12


def _model_members(archive):
    """The members of a model file, each read only once its declared size fits what its sizes need.

    The small members come first; "sizes" then bounds the others (an 800 MB params member of a
    tiny network is refused before it is decompressed), after the memory check of the network.
    """
    data = {k: npz.member(archive, k, _SMALL_MEMBER_BYTES) for k in archive.files if k not in _LARGE_MEMBERS}
    sizes = data.get("sizes")
    if sizes is None or sizes.dtype.kind not in "iu" or sizes.ndim != 1 or sizes.size < 2 or sizes.min() < 1:
        # model_fields says what is wrong with the sizes before it looks at the others, left unread
        return dict(data, **{k: np.empty(0) for k in _LARGE_MEMBERS if k in archive.files})
    sizes = [int(n) for n in sizes]
    dtype = data.get("dtype")
    check_memory(sizes, np.float64 if dtype is None or dtype.dtype.kind != "U" else check_dtype(str(dtype)))
    n_edges = kernels.edge_count(sizes)
    need = dict(params=8 * (n_edges + sum(sizes[1:])), masks=n_edges, input_mean=8 * sizes[0],
                input_scale=8 * sizes[0])
    for k in _LARGE_MEMBERS:
        if k in archive.files:
            data[k] = npz.member(archive, k, need[k] + _NPY_HEADER_BYTES)
    return data


def _text(data, key):
    value = data[key]
    if value.dtype.kind != "U" or value.ndim != 0:
        raise ValueError(f"field {key!r} is not a text")
    return str(value)


def model_fields(data):
    """Check a model's saved fields: (MLP keyword arguments, params, input_mean, input_scale).

    The one validation of the file format, run by save before writing and by load after reading;
    a ValueError says what is wrong. Sizes are checked, memory included, before anything is allocated.
    """
    missing = sorted({"format", "version", "sizes", "hidden", "output", "loss", "dtype", "params",
                      "input_mean", "input_scale"} - set(data))
    if "format" in missing or data["format"].dtype.kind != "U" or data["format"].ndim or \
            str(data["format"]) != FILE_FORMAT:
        raise ValueError(f"no '{FILE_FORMAT}' format marker")
    if missing:
        raise ValueError(f"no field {', '.join(repr(m) for m in missing)}")
    version = data["version"]
    if version.dtype.kind not in "iu" or version.ndim:
        raise ValueError("field 'version' is not a whole number")
    if int(version) not in (1, FILE_VERSION):
        raise ValueError(f"model format version {int(version)}; this fastbp reads versions 1 to {FILE_VERSION}")
    if int(version) >= 2 and "masks" not in data:
        raise ValueError("no field 'masks'")
    sizes = data["sizes"]
    if sizes.dtype.kind not in "iu" or sizes.ndim != 1 or sizes.size < 2 or sizes.min() < 1:
        raise ValueError(f"sizes must be at least 2 whole numbers >= 1, got {sizes.tolist()}")
    sizes = [int(n) for n in sizes]
    dtype = _text(data, "dtype")
    check_memory(sizes, check_dtype(dtype))
    hidden = data["hidden"]
    if hidden.dtype.kind != "U" or hidden.shape != (len(sizes) - 2,):
        raise ValueError(f"field 'hidden' must name {len(sizes) - 2} activations")
    kwargs = dict(sizes=sizes, hidden=[str(h) for h in hidden], output=_text(data, "output"),
                  loss=_text(data, "loss"), init=_text(data, "init") if "init" in data else "xavier", dtype=dtype)
    n_params = kernels.param_count(sizes)
    params = data["params"]
    if params.dtype.kind != "f":
        raise ValueError(f"params must be real floating-point numbers, got {params.dtype}")
    if params.shape != (n_params,):
        raise ValueError(f"sizes {sizes} need params of shape ({n_params},), the file has shape {params.shape}")
    if not np.all(np.isfinite(params)):
        raise ValueError("its parameters contain NaN or inf")
    masks = sparse.unpack(data["masks"], sizes) if "masks" in data else None
    if masks is not None:
        kwargs["connectivity"] = masks
        if np.any(params[~sparse.keep_flags(masks, kernels.layer_offsets(sizes), n_params)]):
            raise ValueError("weights its masks mark as absent are not zero")
    mean, scale = data["input_mean"], data["input_scale"]
    if not (mean.size or scale.size):
        return kwargs, params, None, None
    n_in = sizes[0]
    if (mean.shape != (n_in,) or scale.shape != (n_in,) or mean.dtype.kind != "f" or scale.dtype.kind != "f"
            or not np.all(np.isfinite(mean)) or not np.all(np.isfinite(scale)) or np.any(scale <= 0)):
        raise ValueError(f"standardisation statistics must be {n_in} finite means and {n_in} finite "
                         "positive scales")
    return kwargs, params, mean, scale


def check_memory(sizes, dtype):
    """Refuse a network whose parameters could not be held, before allocating them.

    Training holds about four arrays of the parameters' size (parameters, gradient, velocity,
    a best copy); the limit is the machine's physical memory.
    """
    n_params = kernels.param_count(sizes)
    needed = 4 * n_params * np.dtype(dtype).itemsize
    try:
        available = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not a POSIX system: no limit known
        return
    if needed > available:
        raise ValueError(f"sizes {list(sizes)} make {n_params:,} parameters: training them needs about "
                         f"{needed / 2 ** 30:,.1f} GiB ({np.dtype(dtype).name}), more than this machine's "
                         f"{available / 2 ** 30:,.1f} GiB of memory")


def accuracy(net, X, labels):
    """Fraction of rows whose predicted class equals the label (the seed's multi_accuracy).

    labels: 1-D integer classes, or 2-D one-hot rows (their argmax is taken).
    """
    if not net.is_classifier:
        raise ValueError(f"accuracy needs a classifier (output 'sigmoid' or 'softmax'), got output {net.output!r}")
    labels_arr = np.asarray(labels)
    if labels_arr.ndim == 2:
        if labels_arr.shape[1] != net.sizes[-1]:
            raise ValueError(f"labels as 2-D one-hot rows must have {net.sizes[-1]} columns (the network's "
                             f"outputs), got shape {labels_arr.shape}")
        labels_arr = checks.as_targets(labels_arr, labels_arr.shape[0], net.sizes[-1], np.float64, labels=False,
                                       probabilities=True, distribution=net.output == "softmax", name="labels")
        labels_arr = checks.labels_of(labels_arr)
    n_classes = max(net.sizes[-1], 2)
    labels_arr = checks.as_labels(labels_arr, n_classes, "labels")
    pred = net.predict(X)
    if pred.shape[0] != labels_arr.shape[0]:
        raise ValueError(f"labels has {labels_arr.shape[0]} rows but X has {pred.shape[0]}")
    return float(np.mean(pred == labels_arr))

"""The multilayer perceptron: one flat parameter buffer and the names that describe it."""
import zipfile
from pathlib import Path

import numba
import numpy as np

import kernels
from . import checks
from .threads import blas_threads, using_threads

HIDDEN = {"sigmoid": "sigmoid", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
          "identity": "identity", "linear": "identity"}
OUTPUT = {"identity": "identity", "linear": "identity", "sigmoid": "sigmoid",
          "logistic": "sigmoid", "softmax": "softmax"}
LOSSES = {"squared": "squared", "cross_entropy": "cross_entropy"}
INITS = {"xavier": "xavier", "he": "he", "uniform": "uniform", "normal": "normal"}
DTYPES = (np.float64, np.float32)
FILE_FORMAT = "fastbp-mlp"
FILE_VERSION = 1

ACTIVATION_CODES = {"identity": kernels.IDENTITY, "sigmoid": kernels.SIGMOID, "tanh": kernels.TANH,
                    "relu": kernels.RELU, "softmax": kernels.SOFTMAX}
LOSS_CODES = {"squared": kernels.SQUARED, "cross_entropy": kernels.CROSS_ENTROPY}
# Batch gradients run on threads from this many multiply-adds (rows x edges) up; either build
# gives the same bits. Measured on 2 cores: 64-32-10 at 64 rows (1.5e5) ran 1.6x faster on two
# threads, 784-128-10 at 64 rows 1.9x; one chunk (32 rows or fewer) gains nothing from threads.
PARALLEL_MIN_WORK = 100_000
# Networks with this many edges or more compute batch gradients as matrices with BLAS products
# (kernels.blocked); smaller ones sample by sample in chunks. Measured on 2 cores: 784-128-10 was
# 2.2x faster as matrices at 4096 rows and 1.2x at 1 row; 64-32-10 (2,368 edges) was 2.1x faster
# sample by sample at 4096 rows and no slower at 1 to 256 rows.
BLOCKED_MIN_EDGES = 10_000


def aligned_zeros(n, dtype, align=64):
    """A zeroed 1-D array whose data start on an `align`-byte boundary (vector loads like it)."""
    itemsize = np.dtype(dtype).itemsize
    raw = np.zeros(n * itemsize + align, dtype=np.uint8)
    start = (-raw.ctypes.data) % align
    return raw[start:start + n * itemsize].view(dtype)


def check_dtype(dtype):
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
        Random state for the initial parameters.

    Attributes
    ----------
    params : ndarray (n_params,)
        The one flat buffer: per layer W (n_out, n_in) row-major, then b (n_out,).
    weights, biases : list of ndarray
        Views into ``params``; writing them changes the model.
    n_params, n_edges : int
        Parameter count; edge (weight) count.
    """

    def __init__(self, sizes, hidden="sigmoid", output="identity", loss="squared",
                 init="xavier", dtype=np.float64, seed=None):
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
        self.hidden = tuple(checks.check_choice(h, "hidden", HIDDEN) for h in hidden)
        self.output = checks.check_choice(output, "output", OUTPUT)
        self.loss_name = checks.check_choice(loss, "loss", LOSSES)
        self.init = checks.check_choice(init, "init", INITS)
        self.dtype = check_dtype(dtype)
        if self.loss_name == "cross_entropy" and self.output == "identity":
            raise ValueError("loss 'cross_entropy' needs output 'softmax' or 'sigmoid', got output 'identity'")
        if self.output == "softmax" and self.loss_name != "cross_entropy":
            raise ValueError(f"output 'softmax' is trained with loss 'cross_entropy', got loss {self.loss_name!r}")
        if self.output == "softmax" and sizes[-1] < 2:
            raise ValueError(f"output 'softmax' needs at least 2 outputs, got sizes[-1] = {sizes[-1]}")
        rng = checks.as_rng(seed)

        self.sizes = sizes
        self._sizes = np.array(sizes, dtype=np.uint64)
        self._acts = np.array([ACTIVATION_CODES[a] for a in self.hidden + (self.output,)], dtype=np.int64)
        self._loss_code = LOSS_CODES[self.loss_name]
        self.n_edges = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        self.n_params = self.n_edges + sum(sizes[1:])
        self.params = aligned_zeros(self.n_params, self.dtype)
        self.weights, self.biases = self.layer_views(self.params)
        self.input_mean = None  # set by standardize(): forward and training see (X - mean) / scale
        self.input_scale = None
        self._chunk_buffers = None  # (partial sums, per-chunk work) for batch gradients, grown on demand
        self._initialise(rng)

    @staticmethod
    def _check_sizes(sizes):
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__"):
            raise TypeError(f"sizes must be a list of layer widths, got {sizes!r}")
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least 2 layer widths (input, output), got {list(sizes)}")
        return tuple(checks.check_int(n, "sizes", 1) for n in sizes)

    def layer_views(self, flat):
        """(weights, biases): per-layer views of a flat array laid out like ``params``."""
        weights, biases, p = [], [], 0
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            weights.append(flat[p:p + n_out * n_in].reshape(n_out, n_in))
            p += n_out * n_in
            biases.append(flat[p:p + n_out])
            p += n_out
        return weights, biases

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
        return (f"MLP(sizes={list(self.sizes)}, hidden={list(self.hidden)}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.dtype.name}, n_params={self.n_params})")

    # -- data ----------------------------------------------------------------------------
    @property
    def is_classifier(self):
        """True when outputs are probabilities (sigmoid or softmax): predict gives labels."""
        return self.output in ("sigmoid", "softmax")

    def _inputs(self, X, name="X"):
        X = checks.as_inputs(X, self.sizes[0], self.dtype, name)
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
        scale = X.std(axis=0)
        scale[scale == 0] = 1
        self.input_mean = X.mean(axis=0).astype(self.dtype)
        self.input_scale = scale.astype(self.dtype)
        return self

    def _targets(self, Y, n_rows, name="Y"):
        return checks.as_targets(Y, n_rows, self.sizes[-1], self.dtype,
                                 self.loss_name == "cross_entropy", name)

    def _work(self):
        return aligned_zeros(sum(self.sizes) + 2 * max(self.sizes), self.dtype)

    def _scalar(self, value):
        return self.dtype.type(value)

    # -- evaluation ----------------------------------------------------------------------
    def forward(self, X):
        """Network outputs a^L for each row of X: (n_samples, sizes[-1])."""
        return self._forward(self._inputs(X))

    def _forward(self, X):
        out = np.empty((X.shape[0], self.sizes[-1]), dtype=self.dtype)
        kernels.forward_batch(params=self.params, sizes=self._sizes, acts=self._acts, X=X,
                              rows=np.arange(X.shape[0], dtype=np.int64), out=out.reshape(-1),
                              work=self._work())
        return out

    def penalty(self, l2):
        """0.5 * l2 * sum of squared weights (biases excluded)."""
        return 0.5 * l2 * sum(float(np.vdot(W, W)) for W in self.weights)

    def _mean_loss(self, X, Y, l2):
        rows = np.arange(X.shape[0], dtype=np.int64)
        c = kernels.loss_sum(params=self.params, sizes=self._sizes, acts=self._acts, loss=self._loss_code,
                             X=X, Y=Y, rows=rows, work=self._work())
        return float(c) / X.shape[0] + (self.penalty(l2) if l2 else 0.0)

    def loss(self, X, Y, l2=0.0):
        """Mean per-sample loss over the rows, plus 0.5 * l2 * sum W^2."""
        l2 = checks.check_float(l2, "l2", low=0.0)
        X = self._inputs(X)
        return self._mean_loss(X, self._targets(Y, X.shape[0]), l2)

    def _buffers(self, n_chunks, work_len):
        """Per-chunk partial gradients and work rows, allocated once and grown when a call needs more."""
        held = self._chunk_buffers
        if held is None or held[0].shape[0] < n_chunks or held[1].shape[1] < work_len:
            n = max(n_chunks, 0 if held is None else held[0].shape[0])
            width = max(work_len, 0 if held is None else held[1].shape[1])
            held = self._chunk_buffers = (np.empty((n, self.n_params), dtype=self.dtype),
                                          np.zeros((n, width), dtype=self.dtype))
        return held[0][:n_chunks], held[1][:n_chunks]

    def _gradient(self, X, Y, rows, l2, grad):
        """grad = d(mean loss over rows + 0.5 l2 |W|^2)/dparams; returns the mean loss (no penalty).

        Large batches run as matrices with BLAS products (kernels.blocked), small ones sample by
        sample in fixed chunks (kernels.gradient); threads when the work repays them. Each choice
        depends on the batch and the model only, so the bits are the same on any number of threads.
        """
        m = rows.shape[0]
        work_done = m * self.n_edges
        threaded = work_done >= PARALLEL_MIN_WORK and numba.get_num_threads() > 1
        args = dict(params=self.params, sizes=self._sizes, acts=self._acts, loss=self._loss_code, X=X, Y=Y,
                    rows=rows, grad=grad)
        if self.n_edges >= BLOCKED_MIN_EDGES:
            spare, work = self._buffers(1, kernels.block_work_size(self.sizes, m))
            kernel = kernels.blocked_parallel if threaded else kernels.blocked_serial
            with blas_threads(1):  # the blocks are the threads; each BLAS call runs on one
                c = kernel(spare=spare[0], work=work[0], **args)
        else:
            n_chunks = kernels.chunk_count(m, self.n_params)
            partial, work = self._buffers(n_chunks, sum(self.sizes) + 2 * max(self.sizes) + 1)
            kernel = kernels.gradient_parallel if threaded and n_chunks > 1 else kernels.gradient_serial
            c = kernel(partial=partial, work=work, **args)
        grad *= self._scalar(1.0 / rows.shape[0])
        if l2:
            for gW, W in zip(self.layer_views(grad)[0], self.weights):
                gW += self._scalar(l2) * W
        return float(c) / rows.shape[0]

    def gradient(self, X, Y, l2=0.0, n_threads=None):
        """Gradient of ``loss(X, Y, l2)`` with respect to ``params``, in the same flat layout.

        n_threads: Numba threads for this call (default: as set); restored afterwards.
        """
        l2 = checks.check_float(l2, "l2", low=0.0)
        X = self._inputs(X)
        Y = self._targets(Y, X.shape[0])
        grad = aligned_zeros(self.n_params, self.dtype)
        with using_threads(n_threads):
            self._gradient(X, Y, np.arange(X.shape[0], dtype=np.int64), l2, grad)
        return grad

    def predict(self, X):
        """Class labels for classifiers (argmax; a 0.5 threshold for one sigmoid output), else outputs."""
        return self._predict(self._inputs(X))

    def _predict(self, X):
        out = self._forward(X)
        if not self.is_classifier:
            return out
        return labels_of(out)

    def fit(self, X, Y, mode="sgd", epochs=10, lr=0.1, batch_size=32, l2=0.0, momentum=0.0,
            shuffle=True, seed=None, gradient="backprop", schedule="constant", power_t=0.5,
            validation=None, patience=None, callback=None, progress=False, n_threads=None):
        """Train in place and return a History; the parameters are documented at :func:`fastbp.training.fit`."""
        from .training import fit
        return fit(self, X, Y, mode=mode, epochs=epochs, lr=lr, batch_size=batch_size, l2=l2,
                   momentum=momentum, shuffle=shuffle, seed=seed, gradient=gradient, schedule=schedule,
                   power_t=power_t, validation=validation, patience=patience, callback=callback,
                   progress=progress, n_threads=n_threads)


    # -- files ---------------------------------------------------------------------------
    def save(self, path):
        """Write the model to ``path`` (.npz, no pickle): format and version, architecture,
        activations, loss, dtype, parameters and standardisation statistics."""
        fields = dict(format=np.array(FILE_FORMAT), version=np.array(FILE_VERSION),
                      sizes=np.array(self.sizes, dtype=np.int64), hidden=np.array(self.hidden, dtype="U16"),
                      output=np.array(self.output), loss=np.array(self.loss_name), init=np.array(self.init),
                      dtype=np.array(self.dtype.name), params=self.params,
                      input_mean=np.empty(0) if self.input_mean is None else self.input_mean,
                      input_scale=np.empty(0) if self.input_scale is None else self.input_scale)
        with open(path, "wb") as f:
            np.savez(f, **fields)

    @classmethod
    def load(cls, path):
        """Read a model written by :meth:`save`; a file that is not one, is truncated or is
        inconsistent raises ValueError (a missing file raises FileNotFoundError)."""
        path = Path(path)
        try:
            with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise
        except AttributeError:  # np.load gave an array, not an archive
            raise ValueError(f"{path} is not a fastbp model file (not an .npz archive)") from None
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as exc:
            raise ValueError(f"{path} is not a readable fastbp model file ({exc.__class__.__name__}: {exc})") from None
        if data.get("format", np.array("")).item() != FILE_FORMAT:
            raise ValueError(f"{path} is not a fastbp model file (no '{FILE_FORMAT}' format marker)")
        if int(data["version"]) != FILE_VERSION:
            raise ValueError(f"{path} has model format version {int(data['version'])}; "
                             f"this fastbp reads version {FILE_VERSION}")
        missing = {"sizes", "hidden", "output", "loss", "dtype", "params", "input_mean", "input_scale"} - set(data)
        if missing:
            raise ValueError(f"{path} is missing {sorted(missing)}")
        net = cls([int(n) for n in data["sizes"]], hidden=[str(h) for h in data["hidden"]],
                  output=str(data["output"]), loss=str(data["loss"]),
                  init=str(data["init"]) if "init" in data else "xavier", dtype=str(data["dtype"]))
        params = data["params"]
        if params.shape != (net.n_params,):
            raise ValueError(f"{path} is inconsistent: sizes {list(net.sizes)} need {net.n_params} "
                             f"parameters, the file has {params.size}")
        if not np.all(np.isfinite(params)):
            raise ValueError(f"{path} is inconsistent: its parameters contain NaN or inf")
        net.params[:] = params
        mean, scale = data["input_mean"], data["input_scale"]
        if mean.size or scale.size:
            if mean.shape != (net.sizes[0],) or scale.shape != (net.sizes[0],) or np.any(scale <= 0):
                raise ValueError(f"{path} is inconsistent: standardisation statistics must be "
                                 f"{net.sizes[0]} means and {net.sizes[0]} positive scales")
            net.input_mean = mean.astype(net.dtype)
            net.input_scale = scale.astype(net.dtype)
        return net


def labels_of(Y):
    """Class labels of 2-D outputs or targets: argmax of rows, or a 0.5 threshold for one column."""
    return np.argmax(Y, axis=1) if Y.shape[1] > 1 else (Y[:, 0] > 0.5).astype(np.int64)


def accuracy(net, X, labels):
    """Fraction of rows whose predicted class equals the label (the seed's multi_accuracy).

    labels: 1-D integer classes, or 2-D one-hot rows (their argmax is taken).
    """
    if not net.is_classifier:
        raise ValueError(f"accuracy needs a classifier (output 'sigmoid' or 'softmax'), got output {net.output!r}")
    labels_arr = np.asarray(labels)
    if labels_arr.ndim == 2:
        labels_arr = labels_arr.argmax(axis=1) if labels_arr.shape[1] > 1 else labels_arr[:, 0]
    n_classes = max(net.sizes[-1], 2)
    labels_arr = checks.as_labels(labels_arr, n_classes, "labels")
    pred = net.predict(X)
    if pred.shape[0] != labels_arr.shape[0]:
        raise ValueError(f"labels has {labels_arr.shape[0]} rows but X has {pred.shape[0]}")
    return float(np.mean(pred == labels_arr))

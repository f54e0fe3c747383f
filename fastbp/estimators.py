"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor``, trained by fastbp's compiled epochs.

scikit-learn's parameters, defaults and meanings. A thin layer: scikit-learn's names map onto an
:class:`~fastbp.MLP` and fastbp's optimizers
(``solver="adam"``: :class:`~fastbp.Adam` in the epsilon-hat form scikit-learn uses;
``"sgd"``: :class:`~fastbp.SGD` with Nesterov's momentum by default; ``"online"``: fastbp's fused
per-sample SGD). Each epoch is one or two compiled calls (the batches of ``batch_size``, then the
shorter last batch, whose L2 term scikit-learn scales by its own size). The random draws (initial
weights, the validation split, the per-epoch shuffles) are scikit-learn's own calls in its order,
so with the same ``random_state`` both libraries start from the same weights and see the same
batches. Needs scikit-learn (``pip install fastbp[sklearn]``).
"""
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from . import checks, engine
from . import connectivity as sparse
from .model import MLP, check_dtype
from .optimizers import SGD, Adam
from .threads import using_threads

#: scikit-learn's hidden activation names -> fastbp's
ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu"}
#: fastbp's output activations under scikit-learn's names (out_activation_)
OUT_NAMES = {"identity": "identity", "sigmoid": "logistic", "softmax": "softmax"}
SOLVERS = ("adam", "sgd", "online")
SCHEDULES = ("constant", "invscaling", "adaptive")
#: scikit-learn's batch_size="auto"
AUTO_BATCH = 200
#: scikit-learn's "adaptive" schedule stops once the rate is at or below this
SMALLEST_RATE = 1e-6


class _BaseMLP(BaseEstimator):
    """What the classifier and the regressor share: parameters, the epoch loop, the fitted state."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dtype=None, n_threads=None, connectivity=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype
        self.n_threads = n_threads
        self.connectivity = connectivity

    # -- parameters ------------------------------------------------------------------------
    def _check_params(self):
        """Every parameter checked at fit time (scikit-learn's convention): errors name the parameter."""
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else sizes
        if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__iter__"):
            raise TypeError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}")
        sizes = [checks.check_int(n, "hidden_layer_sizes", 1) for n in sizes]
        checks.check_choice(self.activation, "activation", {name: name for name in ACTIVATIONS})
        if self.solver == "lbfgs":
            raise ValueError("solver='lbfgs' is not available in fastbp (it is a full-batch quasi-Newton method, "
                             "not backpropagation epochs): use 'adam', 'sgd' or 'online', or scikit-learn's own "
                             "MLP for lbfgs")
        checks.check_choice(self.solver, "solver", {name: name for name in SOLVERS})
        checks.check_float(self.alpha, "alpha", low=0.0)
        if self.batch_size != "auto":
            checks.check_int(self.batch_size, "batch_size", 1)
            if self.solver == "online" and self.batch_size != 1:
                raise ValueError(f"solver='online' takes one step per sample: batch_size must be 'auto' or 1, "
                                 f"got {self.batch_size}")
        checks.check_choice(self.learning_rate, "learning_rate", {name: name for name in SCHEDULES})
        checks.check_float(self.learning_rate_init, "learning_rate_init", low=0.0, low_open=True)
        checks.check_float(self.power_t, "power_t", low=0.0)
        checks.check_int(self.max_iter, "max_iter", 1)
        checks.check_float(self.tol, "tol", low=0.0)
        checks.check_float(self.momentum, "momentum", low=0.0, high=1.0, high_open=True)
        checks.check_float(self.validation_fraction, "validation_fraction", low=0.0, high=1.0, high_open=True)
        checks.check_float(self.beta_1, "beta_1", low=0.0, high=1.0, high_open=True)
        checks.check_float(self.beta_2, "beta_2", low=0.0, high=1.0, high_open=True)
        checks.check_float(self.epsilon, "epsilon", low=0.0, low_open=True)
        if self.n_iter_no_change != np.inf:
            checks.check_int(self.n_iter_no_change, "n_iter_no_change", 1)
        checks.check_int(self.max_fun, "max_fun", 1)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.dtype is not None:
            check_dtype(self.dtype)
        if self.n_threads is not None:
            checks.check_int(self.n_threads, "n_threads", 1)
        if self.connectivity is not None:
            if isinstance(self.connectivity, (bool, np.bool_, str, bytes)):
                raise TypeError(f"connectivity must be None or a density in (0, 1], got {self.connectivity!r}")
            checks.check_float(self.connectivity, "connectivity", low=0.0, high=1.0, low_open=True)
        return sizes

    # -- the network -----------------------------------------------------------------------
    def _build(self, units, output, loss, dtype):
        """A new network of these widths, scikit-learn's initial weights drawn from self._random_state."""
        net = MLP(units, hidden=ACTIVATIONS[self.activation], output=output, loss=loss, dtype=dtype)
        factor = 2.0 if self.activation == "logistic" else 6.0  # Glorot, as scikit-learn draws it
        for W, b, (n_in, n_out) in zip(net.weights, net.biases, zip(units[:-1], units[1:])):
            bound = np.sqrt(factor / (n_in + n_out))
            W[...] = self._random_state.uniform(-bound, bound, (n_in, n_out)).astype(dtype, copy=False).T
            b[...] = self._random_state.uniform(-bound, bound, n_out).astype(dtype, copy=False)
        if self.connectivity is not None:  # masks drawn after the weights, from the same random state
            rng = np.random.default_rng(self._random_state.randint(np.iinfo(np.int32).max))
            net._set_masks(sparse.check_connectivity(self.connectivity, units, rng))
        self._attach(net)

    def _attach(self, net):
        """Hold `net`; coefs_ and intercepts_ become views of its parameters (n_in, n_out) and (n_out,)."""
        self._net = net
        self.coefs_ = [W.T for W in net.weights]
        self.intercepts_ = list(net.biases)
        self.masks_ = None if net._masks is None else [m.T for m in net.masks]

    def _sync(self):
        """Copy coefs_ / intercepts_ into the network where a user replaced them (as scikit-learn allows)."""
        net = self._net
        for l, (W, b) in enumerate(zip(net.weights, net.biases)):
            if self.coefs_[l] is not None and not np.shares_memory(self.coefs_[l], net.params):
                W[...] = np.asarray(self.coefs_[l]).T
                net._zero_masked(net.params)  # a sparse network's absent weights stay 0
                self.coefs_[l] = W.T
            if self.intercepts_[l] is not None and not np.shares_memory(self.intercepts_[l], net.params):
                b[...] = self.intercepts_[l]
                self.intercepts_[l] = b

    def __getstate__(self):
        state = dict(super().__getstate__())  # for estimators outside scikit-learn that is __dict__ itself
        state.pop("_net", None)  # it holds a lock; rebuilt from coefs_ on loading
        if "coefs_" in state:
            state["coefs_"] = [np.array(c) for c in state["coefs_"]]
            state["intercepts_"] = [np.array(b) for b in state["intercepts_"]]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if "coefs_" in state:
            units = [c.shape[0] for c in self.coefs_] + [self.coefs_[-1].shape[1]]
            output, loss = self._head()
            masks = state.get("masks_")
            net = MLP(units, hidden=ACTIVATIONS[self.activation], output=output, loss=loss,
                      dtype=self.coefs_[0].dtype, connectivity=None if masks is None else [m.T for m in masks])
            coefs, intercepts = self.coefs_, self.intercepts_
            self._attach(net)
            self.coefs_, self.intercepts_ = coefs, intercepts
            self._sync()

    def _outputs(self, X):
        """Network outputs for validated X, (n, n_outputs_), in the model's dtype."""
        self._sync()
        with using_threads(self.n_threads):
            return self._net.forward(np.ascontiguousarray(X, dtype=self._net.dtype))

    def _validate_predict(self, X):
        check_is_fitted(self, "coefs_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], dtype=(np.float64, np.float32), reset=False)
        return X.toarray() if hasattr(X, "toarray") else X

    # -- training --------------------------------------------------------------------------
    def _fit(self, X, y, incremental):
        hidden = self._check_params()
        first_pass = not hasattr(self, "coefs_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        if hasattr(X, "toarray"):
            X = X.toarray()
        dtype = check_dtype(self.dtype) if self.dtype is not None else X.dtype
        Y = Y.reshape(-1, 1) if Y.ndim == 1 else Y
        units = [X.shape[1]] + hidden + [Y.shape[1]]
        self._random_state = check_random_state(self.random_state)
        if first_pass:
            self.n_iter_ = 0
            self.t_ = 0
            self.n_outputs_ = Y.shape[1]
            self.n_layers_ = len(units)
            output, loss = self._head()
            self.out_activation_ = OUT_NAMES[output]
            self._build(units, output, loss, dtype)
            self.loss_curve_ = []
            self._no_improvement_count = 0
            if self.early_stopping:
                self.validation_scores_, self.best_validation_score_, self.best_loss_ = [], -np.inf, None
            else:
                self.best_loss_, self.validation_scores_, self.best_validation_score_ = np.inf, None, None
        else:
            self._sync()
            if [c.shape[0] for c in self.coefs_] + [self.n_outputs_] != units:
                raise ValueError(f"the data needs layer widths {units}, the fitted model has "
                                 f"{[c.shape[0] for c in self.coefs_] + [self.n_outputs_]}; fit it anew "
                                 f"(warm_start=False)")
        if self.early_stopping:  # the parameters restored at the end, when no epoch scores better
            self._best_params = self._net.params.copy()
        if not incremental or not hasattr(self, "_optimizer"):
            self._optimizer = self._new_optimizer()
            self._rate = float(self.learning_rate_init)
        with using_threads(self.n_threads):
            self._epochs(X, Y, incremental)
        if not np.all(np.isfinite(self._net.params)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        return self

    def _new_optimizer(self):
        if self.solver == "adam":
            return Adam(self.beta_1, self.beta_2, self.epsilon, epsilon_hat=True)
        return SGD(self.momentum, nesterov=self.nesterovs_momentum)

    def _epochs(self, X, Y, incremental):
        """scikit-learn's stochastic loop: epochs, loss_curve_, stopping, the learning-rate schedule."""
        net = self._net
        if self.early_stopping and incremental:
            raise ValueError("partial_fit does not support early_stopping=True")
        X_val = y_val = None
        if self.early_stopping:
            stratify = Y if self._stratify() else None
            X, X_val, Y, y_val = train_test_split(X, Y, random_state=self._random_state,
                                                  test_size=self.validation_fraction, stratify=stratify)
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                                 "of your dataset.")
            y_val = self._decode(y_val)
        X = np.require(X, net.dtype, ["C", "W"])  # the kernels are compiled for writable arrays
        Y = np.require(Y, net.dtype, ["C", "W"])
        n = X.shape[0]
        if self.solver == "online":
            batch = 1
        elif self.batch_size == "auto":
            batch = min(AUTO_BATCH, n)
        else:
            if self.batch_size > n:
                warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped",
                              stacklevel=3)
            batch = int(np.clip(self.batch_size, 1, n))
        self._optimizer.start(net, carry=True)  # its own optimizer: the state goes on after unpickling too
        space = engine.workspace(net)
        grad = np.empty(net.n_params, net.dtype)
        rows = np.arange(n, dtype=np.int64)
        try:
            self.n_iter_ = 0
            for _ in range(self.max_iter):
                if self.shuffle:  # the draw of scikit-learn's utils.shuffle, without its 0.35 ms of checks
                    order = np.arange(n)
                    self._random_state.shuffle(order)
                    rows = rows[order]
                seen, squares = self._one_epoch(X, Y, rows, batch, space, grad)
                self.n_iter_ += 1
                self.loss_ = (seen / self._loss_scale() + 0.5 * self.alpha * squares) / n
                self.t_ += n
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
                self._count_no_improvement(X_val, y_val)
                if self.solver != "adam" and self.learning_rate == "invscaling":
                    self._rate = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                if self._no_improvement_count > self.n_iter_no_change:
                    watched = "Validation score" if self.early_stopping else "Training loss"
                    message = (f"{watched} did not improve more than tol={self.tol:f} for "
                               f"{self.n_iter_no_change} consecutive epochs.")
                    if self._stops(message):
                        break
                    self._no_improvement_count = 0
                if incremental:
                    break
                if self.n_iter_ == self.max_iter:
                    warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                                  "optimization hasn't converged yet.", ConvergenceWarning, stacklevel=3)
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if self.early_stopping:
            net.params[:] = self._best_params

    def _one_epoch(self, X, Y, rows, batch, space, grad):
        """One epoch's steps: (summed per-sample loss, sum over the steps of sum W^2 before each)."""
        net, optimizer, n = self._net, self._optimizer, rows.shape[0]
        rate = self._rate if self.solver != "adam" else float(self.learning_rate_init)
        if self.solver == "online":
            seen = optimizer.online_epoch(net, X, Y, rows, rate, self.alpha, space.sample)
            return seen, n * net.penalty(2.0)  # the squares at the epoch's end stand for every step's
        full = n - n % batch
        seen = squares = 0.0
        for part, size in ((rows[:full], batch), (rows[full:], n - full)):
            if part.shape[0]:  # scikit-learn's L2 term is alpha W / (rows in the batch)
                s, q = optimizer.minibatch_epoch(net, X, Y, part, size, rate, self.alpha / size, space, grad)
                seen += s
                squares += q  # 0 when alpha is 0
        return seen, squares

    def _stops(self, message):
        """scikit-learn's trigger_stopping: the adaptive SGD schedule divides the rate by 5 instead, until tiny."""
        if self.solver == "adam" or self.learning_rate != "adaptive":
            if self.verbose:
                print(message + " Stopping.")
            return True
        if self._rate <= SMALLEST_RATE:
            if self.verbose:
                print(message + " Learning rate too small. Stopping.")
            return True
        self._rate /= 5.0
        if self.verbose:
            print(f"{message} Setting learning rate to {self._rate:f}")
        return False

    def _count_no_improvement(self, X_val, y_val):
        if self.early_stopping:
            score = self._score_outputs(X_val, y_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + self.tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_params = self._net.params.copy()
        else:
            last = self.loss_curve_[-1]
            self._no_improvement_count = self._no_improvement_count + 1 if last > self.best_loss_ - self.tol else 0
            if last < self.best_loss_:
                self.best_loss_ = last

    def _score_outputs(self, X, y):
        prediction = self._predict_validated(X)
        if np.issubdtype(prediction.dtype, np.floating) and not np.isfinite(prediction).all():
            return np.nan
        return float(self._score_function(y, prediction))

    def fit(self, X, y):
        """Fit the model to data X and targets y.

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier: scikit-learn's ``MLPClassifier``, trained by fastbp.

    The parameters, defaults and fitted attributes are scikit-learn's (see its documentation);
    ``coefs_[i]`` is (n_in, n_out) and ``intercepts_[i]`` (n_out,), as there. Differences:

    - ``solver``: "adam" (default), "sgd", or "online": fastbp's per-sample SGD, one step per
      sample with the update fused into backpropagation (``batch_size`` must be "auto" or 1;
      ``learning_rate_init``, ``momentum``, ``nesterovs_momentum``, ``alpha`` as for "sgd" with
      batches of one). "lbfgs" is not available (a clear error).
    - ``dtype``: None (default) trains in the input's float type, as scikit-learn does (float32
      input, float32 model); or float64 / float32.
    - ``n_threads``: Numba threads during fit and predict (None: as set, all cores unless changed).
    - ``connectivity``: None (fully connected) or a density in (0, 1]: each edge kept with that
      probability, drawn from ``random_state`` after the weights (``fastbp.MLP``'s ``connectivity``).
      ``masks_`` holds them, shaped like ``coefs_`` (None when fully connected); absent weights stay
      0 in ``coefs_`` through every fit and partial_fit, and the kernels skip them.
    - ``max_fun`` is accepted for compatibility; it belongs to lbfgs.
    - ``fit`` takes no ``sample_weight``.
    - with ``solver="online"``, the L2 term of ``loss_`` uses the weights at the epoch's end.

    Examples
    --------
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from fastbp import MLPClassifier
    >>> model = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300))  # doctest: +SKIP
    """

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same classes as in the "
                                     f"previous call to fit. Previously got {self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. "
                                 f"'y' has {classes}.")
        return X, self._indicators(y)

    def _indicators(self, y):
        """LabelBinarizer.transform(y) as booleans.

        For one label per row without its type checks (1.5 ms of a 30 ms fit on digits): one column
        y == classes_[1] for two classes, else one per class.
        """
        classes = self.classes_
        if y.ndim != 1 or len(classes) < 2 or self._label_binarizer.y_type_ not in ("binary", "multiclass"):
            return self._label_binarizer.transform(y).astype(bool)
        index = np.searchsorted(classes, y)  # every label is in classes_ (checked above)
        if len(classes) == 2:
            return (index == 1)[:, None]
        Y = np.zeros((y.shape[0], len(classes)), dtype=bool)
        Y[np.arange(y.shape[0]), index] = True
        return Y

    def _head(self):
        if self._label_binarizer.y_type_ == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "cross_entropy"  # two classes, or multilabel: a sigmoid per output

    def _loss_scale(self):
        return 1.0

    def _stratify(self):
        return self.n_outputs_ == 1

    def _decode(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    _score_function = staticmethod(accuracy_score)

    def _predict_validated(self, X):
        out = self._outputs(X)
        return self._label_binarizer.inverse_transform(out.ravel() if self.n_outputs_ == 1 else out)

    def predict(self, X):
        """Class labels for X, (n_samples,) (or (n_samples, n_classes) indicators for multilabel y)."""
        return self._predict_validated(self._validate_predict(X))

    def predict_proba(self, X):
        """Class probabilities for X, (n_samples, n_classes), columns in the order of ``classes_``."""
        out = self._outputs(self._validate_predict(X))
        if self.n_outputs_ == 1:
            p = out.ravel()
            return np.vstack([1 - p, p]).T
        return out

    def predict_log_proba(self, X):
        """Log of ``predict_proba(X)``."""
        proba = self.predict_proba(X)
        return np.log(proba, out=proba)

    def partial_fit(self, X, y, classes=None):
        """One epoch over X, y: starts the model on the first call (``classes`` needed then).

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)
        classes : array (n_classes,), the labels every call may use; required on the first call.

        Returns
        -------
        self
        """
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
        return self._fit(X, y, incremental=True)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor: scikit-learn's ``MLPRegressor``, trained by fastbp.

    Parameters, defaults, attributes and differences as :class:`MLPClassifier` (``loss_`` is
    scikit-learn's half mean squared error over every output); ``loss`` is "squared_error"
    ("poisson" is not available: a clear error).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant", learning_rate_init=0.001, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dtype=None, n_threads=None,
                 connectivity=None):
        super().__init__(hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver, alpha=alpha,
                         batch_size=batch_size, learning_rate=learning_rate, learning_rate_init=learning_rate_init,
                         power_t=power_t, max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol,
                         verbose=verbose, warm_start=warm_start, momentum=momentum,
                         nesterovs_momentum=nesterovs_momentum, early_stopping=early_stopping,
                         validation_fraction=validation_fraction, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         n_iter_no_change=n_iter_no_change, max_fun=max_fun, dtype=dtype, n_threads=n_threads,
                         connectivity=connectivity)
        self.loss = loss

    def _check_params(self):
        if self.loss == "poisson":
            raise ValueError("loss='poisson' is not available in fastbp (no exp output activation): use "
                             "loss='squared_error'")
        checks.check_choice(self.loss, "loss", {"squared_error": "squared_error"})
        return super()._check_params()

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True, y_numeric=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, y

    def _head(self):
        return "identity", "squared"

    def _loss_scale(self):
        return float(self.n_outputs_)  # scikit-learn halves the mean over samples and outputs

    def _stratify(self):
        return False

    def _decode(self, Y):
        return Y

    _score_function = staticmethod(r2_score)

    def _predict_validated(self, X):
        out = self._outputs(X)
        return out.ravel() if out.shape[1] == 1 else out

    def predict(self, X):
        """Predicted targets for X, (n_samples,) or (n_samples, n_outputs)."""
        return self._predict_validated(self._validate_predict(X))

    def partial_fit(self, X, y):
        """One epoch over X, y (starts the model on the first call).

        Parameters
        ----------
        X : array-like or sparse matrix (n_samples, n_features)
        y : array-like (n_samples,) or (n_samples, n_outputs)

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True)

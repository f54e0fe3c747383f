"""fastbp.MLPClassifier and fastbp.MLPRegressor as scikit-learn estimators.

scikit-learn's own estimator checks; the meta-estimators users put them in; and scikit-learn's
MLP as the reference: from the same coefficients (or the same random_state) one epoch of
partial_fit, or a whole fit, gives its coefficients, loss and predictions.
"""
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn import neural_network  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from fastbp import MLPClassifier, MLPRegressor  # noqa: E402

# scikit-learn's MLP warns the same way under the same checks: 200 epochs of Adam need not converge
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def classification(n=240, classes=3, seed=0):
    X, y = make_classification(n_samples=n, n_features=8, n_informative=5, n_classes=classes, random_state=seed)
    return X, y


def regression(n=240, outputs=1, seed=0):
    X, y = make_regression(n_samples=n, n_features=8, n_targets=outputs, noise=0.1, random_state=seed)
    return X, y / 100


def pair(kind, **params):
    """The same estimator in scikit-learn and in fastbp."""
    name = "MLPClassifier" if kind == "classifier" else "MLPRegressor"
    return getattr(neural_network, name)(**params), {"MLPClassifier": MLPClassifier,
                                                      "MLPRegressor": MLPRegressor}[name](**params)


SOLVERS = {
    "sgd": dict(solver="sgd", learning_rate_init=0.05, momentum=0.9, nesterovs_momentum=True),
    "sgd-plain": dict(solver="sgd", learning_rate_init=0.05, momentum=0.5, nesterovs_momentum=False),
    "adam": dict(solver="adam", learning_rate_init=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
}
PROBLEMS = {
    "multiclass": ("classifier", classification),
    "binary": ("classifier", lambda: classification(classes=2)),
    "regression": ("regressor", regression),
    "two outputs": ("regressor", lambda: regression(outputs=2)),
}


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_one_partial_fit_from_the_same_coefficients_gives_scikit_learns(solver, problem):
    kind, make = PROBLEMS[problem]
    X, y = make()
    theirs, ours = pair(kind, hidden_layer_sizes=(7, 5), activation="tanh", alpha=0.01, batch_size=50,
                        shuffle=False, random_state=1, **SOLVERS[solver])
    extra = dict(classes=np.unique(y)) if kind == "classifier" else {}
    theirs.partial_fit(X[:60], y[:60], **extra)  # starts both; then the same coefficients in both
    ours.partial_fit(X[:60], y[:60], **extra)
    rng = np.random.default_rng(3)
    ours.coefs_ = [rng.normal(size=c.shape) * 0.3 for c in theirs.coefs_]
    ours.intercepts_ = [rng.normal(size=b.shape) * 0.3 for b in theirs.intercepts_]
    theirs.coefs_ = [c.copy() for c in ours.coefs_]
    theirs.intercepts_ = [b.copy() for b in ours.intercepts_]
    del theirs._optimizer, ours._optimizer  # a new optimizer on both sides
    for _ in range(2):  # 240 rows in batches of 50: four whole batches and a short one (its own L2 scale)
        theirs.partial_fit(X, y)
        ours.partial_fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-10)
    assert ours.t_ == theirs.t_ and ours.n_iter_ == theirs.n_iter_


@pytest.mark.parametrize("params", [
    dict(solver="adam"),
    dict(solver="sgd", learning_rate="invscaling", learning_rate_init=0.1),
    dict(solver="sgd", learning_rate="adaptive", learning_rate_init=0.05, tol=1e-2, n_iter_no_change=2),
    dict(solver="adam", early_stopping=True, validation_fraction=0.2, n_iter_no_change=3, tol=1e-2),
])
def test_a_whole_fit_from_the_same_random_state_gives_scikit_learns(params):
    X, y = classification()
    theirs, ours = pair("classifier", hidden_layer_sizes=(16,), max_iter=40, random_state=7, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
        ours.fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ and ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-9)
    assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9) if theirs.best_loss_ is not None \
        else ours.best_loss_ is None
    if params.get("early_stopping"):
        assert ours.validation_scores_ == pytest.approx(theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-8, atol=1e-12)


def test_float32_input_trains_a_float32_model():
    X, y = classification()
    model = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X.astype(np.float32), y)
    assert all(c.dtype == np.float32 for c in model.coefs_ + model.intercepts_)
    assert model.predict_proba(X).dtype == np.float32
    wide = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.coefs_[0], wide.coefs_[0], rtol=1e-3, atol=1e-4)
    assert abs(model.score(X, y) - wide.score(X, y)) <= 0.02
    forced = MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0, dtype="float32").fit(X, y)
    np.testing.assert_allclose(forced.coefs_[0], model.coefs_[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_online_solver_is_sgd_with_batches_of_one(momentum):
    X, y = classification(n=120)
    theirs, ours = pair("classifier", hidden_layer_sizes=(6,), activation="logistic", batch_size=1, alpha=1e-3,
                        learning_rate_init=0.01, momentum=momentum, max_iter=3, shuffle=True, random_state=2,
                        solver="sgd")
    ours.set_params(solver="online", batch_size="auto")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
        ours.fit(X, y)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    # the L2 term of "online"'s loss_ uses the weights at the epoch's end (documented), not each sample's
    assert ours.loss_curve_ == pytest.approx(theirs.loss_curve_, rel=1e-2)


def test_pipeline_grid_search_cross_validation_clone_and_pickle():
    X, y = make_classification(n_samples=300, n_features=8, n_informative=5, n_classes=3, class_sep=2.0,
                               random_state=0)
    grid = {"mlpclassifier__alpha": [1e-4, 1e-2], "mlpclassifier__solver": ["adam", "sgd"]}
    searches = [GridSearchCV(make_pipeline(StandardScaler(), model(hidden_layer_sizes=(16,), max_iter=60,
                                                                   random_state=0)), grid, cv=3, n_jobs=2).fit(X, y)
                for model in (neural_network.MLPClassifier, MLPClassifier)]
    theirs, search = searches
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"])
    assert search.best_score_ > 0.5 and search.best_params_ == theirs.best_params_
    data = regression()
    scores = cross_val_score(MLPRegressor(hidden_layer_sizes=(16,), max_iter=80, random_state=0), *data, cv=3)
    reference = cross_val_score(neural_network.MLPRegressor(hidden_layer_sizes=(16,), max_iter=80, random_state=0),
                                *data, cv=3)
    np.testing.assert_allclose(scores, reference, rtol=1e-8)
    fitted = search.best_estimator_
    copy = clone(fitted)
    assert copy.get_params()["mlpclassifier__alpha"] == fitted.get_params()["mlpclassifier__alpha"]
    assert not hasattr(copy[-1], "coefs_")
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    loaded[-1].partial_fit(loaded[0].transform(X), y)  # goes on training after loading
    assert loaded[-1].n_iter_ == 1 and not np.array_equal(loaded.predict_proba(X), fitted.predict_proba(X))


@pytest.mark.parametrize("params, message", [
    (dict(solver="lbfgs"), "lbfgs"), (dict(solver="newton"), "solver"),
    (dict(solver="online", batch_size=32), "batch_size"), (dict(alpha=-1.0), "alpha"),
    (dict(hidden_layer_sizes=(10, 0)), "hidden_layer_sizes"), (dict(activation="softplus"), "activation"),
    (dict(learning_rate_init=0.0), "learning_rate_init"), (dict(dtype="float16"), "dtype"),
    (dict(n_threads=0), "n_threads"), (dict(momentum=1.5), "momentum"),
    (dict(connectivity=0.0), "connectivity"), (dict(connectivity="sparse"), "connectivity"),
])
def test_bad_parameters_are_named_at_fit(params, message):
    X, y = classification(n=60)
    model = MLPClassifier(**params)  # scikit-learn's convention: __init__ never raises
    with pytest.raises((TypeError, ValueError), match=message):
        model.fit(X, y)
    assert not hasattr(model, "coefs_")


def test_poisson_loss_is_refused_clearly():
    with pytest.raises(ValueError, match="poisson"):
        MLPRegressor(loss="poisson").fit(*regression(n=40))


@pytest.mark.parametrize("solver", ["adam", "sgd", "online"])
def test_a_sparse_estimator_keeps_its_masks(solver):
    """connectivity draws masks once; fit, partial_fit, warm starts and pickling keep them, absent weights 0."""
    X, y = classification(n=120)
    model = MLPClassifier((20,), solver=solver, connectivity=0.3, random_state=0, max_iter=15, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    masks = model.masks_
    assert [m.shape for m in masks] == [c.shape for c in model.coefs_]
    assert 0.2 < sum(m.sum() for m in masks) / sum(m.size for m in masks) < 0.4
    assert all(np.all(c[~m] == 0) and np.all(c[m] != 0) for c, m in zip(model.coefs_, masks))
    model.partial_fit(X, y)
    restored = pickle.loads(pickle.dumps(model))
    restored.partial_fit(X, y)
    for fitted in (model, restored):
        assert all(np.array_equal(a, b) for a, b in zip(fitted.masks_, masks))
        assert all(np.all(c[~m] == 0) for c, m in zip(fitted.coefs_, masks))
    assert restored._net.n_edges == model._net.n_edges < model._net.n_params
    dense = MLPClassifier((20,), solver=solver, random_state=0).partial_fit(X, y, classes=np.unique(y))
    assert dense.masks_ is None

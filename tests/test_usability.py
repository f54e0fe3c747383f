"""Using fastbp from Python: history, validation, early stopping, callbacks, schedules, progress,
plots, standardisation, save and load, data loaders (Ctrl-C: test_ctrl_c.py)."""

import numpy as np
import pytest
from conftest import classifier

import fastbp
from fastbp import datasets, training


def test_validation_history_and_accuracy(iris_split):
    X_tr, X_va, y_tr, y_va = iris_split
    net = classifier().standardize(X_tr)
    history = net.fit(X_tr, y_tr, epochs=30, lr=0.02, validation=(X_va, y_va))
    assert len(history.val_loss) == len(history.val_accuracy) == 30
    assert history.val_loss[-1] == pytest.approx(net.loss(X_va, y_va), rel=1e-12)
    assert history.val_accuracy[-1] == fastbp.accuracy(net, X_va, y_va)
    assert history.val_accuracy[-1] >= 0.9


def test_callback_sees_history_and_can_stop(iris_split):
    X_tr, _, y_tr, _ = iris_split
    seen = []

    def stop_at_three(history):
        seen.append(len(history))
        return len(history) == 3

    history = classifier().fit(X_tr, y_tr, epochs=50, callback=stop_at_three)
    assert seen == [1, 2, 3] and len(history) == 3 and history.stopped == "callback"


def test_early_stopping_restores_the_best_parameters(iris_split):
    X_tr, X_va, y_tr, y_va = iris_split
    snapshots = {}
    net = classifier(seed=1)

    def keep(history):
        snapshots[len(history)] = net.params.copy()

    history = net.fit(X_tr, y_tr, epochs=500, lr=0.1, patience=5, validation=(X_va, y_va), callback=keep)
    assert history.stopped == "early_stopping"
    best = int(np.argmin(history.val_loss)) + 1
    assert history.best_epoch == best and len(history) == best + 5
    np.testing.assert_array_equal(net.params, snapshots[best])


def test_invscaling_schedule_follows_scikit_learn(iris_split):
    X_tr, _, y_tr, _ = iris_split
    history = classifier().fit(X_tr, y_tr, epochs=3, lr=0.1, schedule="invscaling", power_t=0.5)
    n = X_tr.shape[0]
    np.testing.assert_allclose(history.lr, [0.1, 0.1 / (n + 1) ** 0.5, 0.1 / (2 * n + 1) ** 0.5])


def test_progress_bar_on_request(iris_split, capsys):
    X_tr, _, y_tr, _ = iris_split
    classifier().fit(X_tr, y_tr, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "sgd backprop" in err and "3/3" in err and "loss=" in err and "samples_per_s=" in err
    classifier().fit(X_tr, y_tr, epochs=3)
    assert capsys.readouterr().err == ""


def test_progress_is_silent_off_a_terminal_until_asked(iris_split, capsys):
    X_tr, _, y_tr, _ = iris_split
    classifier().fit(X_tr, y_tr, epochs=3, progress=None)  # None: only on a terminal (stderr is captured here)
    assert capsys.readouterr().err == ""


def test_n_threads_is_restored():
    import numba
    before = numba.get_num_threads()
    X, y = datasets.xor()
    fastbp.MLP([2, 3, 1], output="sigmoid").fit(X, y, epochs=2, n_threads=1)
    assert numba.get_num_threads() == before
    with pytest.raises(ValueError, match=r"n_threads must be >= 1"):
        fastbp.MLP([2, 3, 1]).gradient(X, y, n_threads=0)


def test_plot_history_writes_a_png(tmp_path, iris_split):
    X_tr, X_va, y_tr, y_va = iris_split
    history = classifier().fit(X_tr, y_tr, epochs=5, validation=(X_va, y_va))
    path = fastbp.plot_history(history, tmp_path / "curves.png")
    assert path.read_bytes()[:4] == b"\x89PNG" and path.stat().st_size > 10_000
    with pytest.raises(ValueError, match=r"no epochs"):
        fastbp.plot_history(training.History(), tmp_path / "empty.png")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_save_and_load_give_identical_predictions(tmp_path, iris_split, dtype):
    X_tr, X_va, y_tr, _ = iris_split
    net = fastbp.MLP([4, 6, 5, 3], hidden=["relu", "tanh"], output="softmax", loss="cross_entropy",
                     dtype=dtype, seed=2).standardize(X_tr)
    net.fit(X_tr, y_tr, epochs=5)
    net.save(tmp_path / "m.npz")
    back = fastbp.MLP.load(tmp_path / "m.npz")
    assert (back.sizes, back.hidden, back.output, back.loss_name, back.dtype) == \
        (net.sizes, net.hidden, net.output, net.loss_name, net.dtype)
    np.testing.assert_array_equal(back.params, net.params)
    np.testing.assert_array_equal(back.forward(X_va), net.forward(X_va))
    np.testing.assert_array_equal(back.predict(X_va), net.predict(X_va))


def test_standardize_stores_statistics_used_everywhere():
    X = np.array([[1.0, 10.0], [3.0, 10.0], [5.0, 10.0]])
    net = fastbp.MLP([2, 1], hidden=[], seed=0).standardize(X)
    np.testing.assert_allclose(net.input_mean, [3.0, 10.0])
    np.testing.assert_allclose(net.input_scale, [np.std([1, 3, 5]), 1.0])  # constant column: scale 1
    plain = fastbp.MLP([2, 1], hidden=[], seed=0)
    np.testing.assert_allclose(net.forward(X), plain.forward((X - net.input_mean) / net.input_scale))


def test_csv_loader_reads_headers_targets_and_labels(tmp_path):
    (tmp_path / "t.csv").write_text("# comment\nx1,label,x2\n1.5,2,3\n4,0,5.5\n")
    X, y = datasets.load_csv(tmp_path / "t.csv", target="label")
    np.testing.assert_array_equal(X, [[1.5, 3], [4, 5.5]])
    assert y.dtype == np.int64 and list(y) == [2, 0]
    X, y = datasets.load_csv(tmp_path / "t.csv", target="last")
    assert y.dtype == np.float64 and list(y) == [3, 5.5]


def test_idx_loader_checks_its_input(tmp_path):
    data = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 0x08, 3]) + np.array([2, 3, 4], dtype=">u4").tobytes()
    (tmp_path / "ok.idx").write_bytes(header + data.tobytes())
    np.testing.assert_array_equal(datasets.load_idx(tmp_path / "ok.idx"), data)
    (tmp_path / "short.idx").write_bytes(header + data.tobytes()[:-1])
    with pytest.raises(ValueError, match=r"truncated or padded"):
        datasets.load_idx(tmp_path / "short.idx")
    (tmp_path / "bad.idx").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match=r"bad magic"):
        datasets.load_idx(tmp_path / "bad.idx")


def test_read_only_inputs_are_accepted_everywhere(iris_split):
    """A read-only array (a memory map opened read-only, a broadcast view) is copied, never refused."""
    X, _, y, _ = iris_split
    X = X.copy()
    X.flags.writeable = False
    net = fastbp.MLP([4, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    history = net.fit(X, y, mode="minibatch", epochs=2, lr=0.05)
    assert len(history) == 2 and net.forward(X).shape == (X.shape[0], 3) and np.isfinite(net.loss(X, y))

"""Nothing lost, nothing silently wrong: interrupts, atomic saves, model files, divergence, odd data.

Each test pins a failure found by trying fastbp as a hostile user would (the reliability issue).
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import random_problem

import fastbp
from fastbp import cli


def fastbp_command():
    script = Path(sys.executable).parent / "fastbp"
    return str(script) if script.exists() else shutil.which("fastbp")


# -- Ctrl-C ------------------------------------------------------------------------------
@pytest.mark.parametrize("at_call", range(1, 9))
def test_ctrl_c_anywhere_in_fit_keeps_the_last_whole_epoch(rng, monkeypatch, at_call):
    """The interrupt arrives in the n-th forward pass over a data set: the warm-up (compiling: the
    exact loss's pass, then validation's), the exact loss before training, an epoch's validation pass
    (the training loss comes with the epoch) or the exact loss at the end."""
    sizes = [4, 6, 3]
    net = fastbp.MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    X, Y = random_problem(rng, sizes, "softmax", n=40)
    start = net.params.copy()
    snapshots = []
    real = net._forward
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            if at_call > 2:
                net.params[:] = np.nan  # whatever half-done work there was must not be kept
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(net, "_forward", interrupted)
    if at_call <= 2:  # while compiling: the interrupt is the caller's, and nothing changed
        with pytest.raises(KeyboardInterrupt):
            net.fit(X, Y, epochs=4, validation=(X[:10], Y[:10]))
        np.testing.assert_array_equal(net.params, start)
        return
    history = net.fit(X, Y, epochs=4, validation=(X[:10], Y[:10]), seed=0,
                      callback=lambda h: snapshots.append(net.params.copy()))
    whole = max(0, at_call - 4)  # after the warm-up and the loss before training, one pass an epoch
    assert history.stopped == "interrupted"
    assert len(history) == len(history.val_loss) == len(history.val_accuracy) == len(history.lr) == whole
    np.testing.assert_array_equal(net.params, snapshots[whole - 1] if whole else start)


def test_ctrl_c_between_blocks_of_a_numerical_gradient(rng, monkeypatch):
    """A numerical gradient runs in blocks of parameters, so Python sees the interrupt between them."""
    sizes = [6, 10, 3]
    net = fastbp.MLP(sizes, hidden="tanh", seed=0)
    X, Y = random_problem(rng, sizes, n=16)
    monkeypatch.setattr(fastbp.numerical, "BLOCK_WORK", 2 * 16 * (net.n_edges + 1) * 10)  # 10 parameters a call
    real = fastbp.kernels.finite_differences
    calls = []

    def counted(**kwargs):
        targets = kwargs["targets"]
        calls.append((int(targets[0]), int(targets[-1]) + 1) if targets.size else (0, 0))
        if len(calls) == 2 + -(-net.n_params // 10) + 3:  # the warm-up, epoch 1, then 3 blocks into epoch 2
            raise KeyboardInterrupt
        return real(**kwargs)

    monkeypatch.setattr(fastbp.kernels, "finite_differences", counted)
    history = net.fit(X, Y, mode="batch", epochs=3, gradient="numerical", lr=0.1)
    assert history.stopped == "interrupted" and len(history) == 1
    assert calls[1] == (0, 10) and calls[2] == (10, 20)


def test_sigint_to_fastbp_train_at_random_moments(tmp_path):
    """20 runs, each sent SIGINT at a random moment after it says training begins: no epoch finished
    and a clear message, or a loadable model equal to a clean run of the same number of epochs.

    The moment is counted from that line, not from the start: a slow start-up (a busy machine, no
    cached bytecode) cannot move the signal into it (see the next test for start-up)."""
    command = fastbp_command()
    moments = random.Random(13)
    saved = 0
    for trial in range(20):
        path = tmp_path / f"m{trial}.npz"
        run = subprocess.Popen([command, "train", "--data", "xor", "--layers", "2,8,2", "--validation", "0",
                                "--epochs", "10000000", "--save", str(path)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        begun = run.stderr.readline()
        assert begun.startswith("fastbp train: training 2-8-2 on 4 rows"), begun
        time.sleep(moments.uniform(0.0, 1.5))
        run.send_signal(signal.SIGINT)
        out, err = run.communicate(timeout=120)
        assert run.returncode == 130, err
        if not path.exists():
            assert err.strip() == "fastbp train: interrupted before the first epoch finished: no model to save"
            continue
        saved += 1
        epochs = int(re.search(r"trained (\d+) epochs", out).group(1))
        assert f"kept the model of epoch {epochs}, saved to {path}" in err
        clean = tmp_path / f"clean{trial}.npz"
        done = subprocess.run([command, "train", "--data", "xor", "--layers", "2,8,2", "--validation", "0",
                               "--epochs", str(epochs), "--quiet", "--save", str(clean)],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        np.testing.assert_array_equal(fastbp.MLP.load(path).params, fastbp.MLP.load(clean).params)
    assert saved >= 10  # most interrupts land in training, not in its warm-up


@pytest.mark.parametrize("entry", ["script", "module"])
def test_sigint_during_start_up_exits_130_with_one_line(tmp_path, entry):
    """SIGINT while fastbp is still importing (NumPy, Numba, the kernels): one line and exit code 130,
    not a traceback and -2. The signal goes at the first moment Python is running fastbp's code: a
    stand-in for the import of the command line blocks until it is sent."""
    ready = tmp_path / "ready"
    stall = tmp_path / "stall"
    stall.mkdir()
    # Python imports sitecustomize from PYTHONPATH at start-up: it makes the first `import numpy` stall
    (stall / "sitecustomize.py").write_text(
        "import builtins, pathlib, time\n"
        "real = builtins.__import__\n"
        "def slow(name, *args, **kwargs):\n"
        f"    if name == 'numpy' and not pathlib.Path({str(ready)!r}).exists():\n"
        f"        pathlib.Path({str(ready)!r}).write_text('1')\n"
        "        time.sleep(60)\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = slow\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(stall), os.environ.get("PYTHONPATH")])))
    argv = [fastbp_command()] if entry == "script" else [sys.executable, "-m", "fastbp"]
    run = subprocess.Popen(argv + ["train", "--data", "xor", "--epochs", "5"], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not ready.exists():
        assert run.poll() is None and time.monotonic() < deadline, run.communicate()
        time.sleep(0.01)
    run.send_signal(signal.SIGINT)
    out, err = run.communicate(timeout=120)
    assert (run.returncode, err) == (130, "fastbp: interrupted\n")


# -- saving --------------------------------------------------------------------------------
def test_a_save_that_fails_midway_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = fastbp.MLP([3, 4, 2], seed=1)
    old.save(path)
    new = fastbp.MLP([3, 4, 2], seed=2)

    def disk_full(f, **fields):
        f.write(b"PK\x03\x04 half a file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez", disk_full)
    with pytest.raises(OSError, match="No space left"):
        new.save(path)
    monkeypatch.undo()
    np.testing.assert_array_equal(fastbp.MLP.load(path).params, old.params)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]  # the partial file was removed


def test_sigkill_during_save_leaves_a_loadable_file(tmp_path):
    """A process saving a 1.6 MB model over and over is killed at random moments, 20 times: moments
    counted from its first save (which it says), so that a slow start-up cannot take them all."""
    path = tmp_path / "m.npz"
    writer = ("import sys, fastbp\n"
              "net = fastbp.MLP([200, 1000, 10], seed=0)\n"
              "i = 0\n"
              "while True:\n"
              "    net.params[:] = i\n"
              "    net.save(sys.argv[1])\n"
              "    if i == 0:\n"
              "        print('saved', flush=True)\n"
              "    i += 1\n")
    moments = random.Random(7)
    fastbp.MLP([200, 1000, 10], seed=0).save(path)
    for _ in range(20):
        with subprocess.Popen([sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE, text=True) as run:
            assert run.stdout.readline() == "saved\n"
            time.sleep(moments.uniform(0.0, 0.8))
            run.kill()
        params = fastbp.MLP.load(path).params  # never truncated
        assert params.shape == (211010,)
    # the killed saves' temporary files: each save to the path, in a later process, removes them
    subprocess.run([sys.executable, "-c", "import sys, fastbp; fastbp.MLP([2, 1], seed=0).save(sys.argv[1])",
                    str(path)], check=True, timeout=300)
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_a_concurrent_save_keeps_its_temporary_file(tmp_path):
    """Only the temporary files of saves older than this process are removed, not one being written now."""
    path = tmp_path / "m.npz"
    newer = tmp_path / ".m.npz.abc123.part"
    newer.write_bytes(b"being written")
    fastbp.MLP([2, 1], seed=0).save(path)
    assert newer.exists()


def test_saving_over_a_read_only_file_is_refused_as_open_would(tmp_path):
    """It was replaced, its mode reset to 0644. Now: refused where open(path, "wb") would refuse it;
    where open would write it (root), written and still 0444."""
    path = tmp_path / "m.npz"
    fastbp.MLP([2, 1], seed=0).save(path)
    path.chmod(0o444)
    before = path.read_bytes()
    if os.access(path, os.W_OK):  # root
        fastbp.MLP([2, 1], seed=1).save(path)
        np.testing.assert_array_equal(fastbp.MLP.load(path).params, fastbp.MLP([2, 1], seed=1).params)
    else:
        with pytest.raises(PermissionError, match=r"read-only"):
            fastbp.MLP([2, 1], seed=1).save(path)
        assert path.read_bytes() == before
    assert (path.stat().st_mode & 0o777) == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["m.npz"]


def test_saving_over_a_file_keeps_its_mode(tmp_path):
    path = tmp_path / "m.npz"
    fastbp.MLP([2, 1], seed=0).save(path)
    path.chmod(0o640)
    fastbp.MLP([2, 1], seed=1).save(path)
    assert (path.stat().st_mode & 0o777) == 0o640
    np.testing.assert_array_equal(fastbp.MLP.load(path).params, fastbp.MLP([2, 1], seed=1).params)


def test_output_paths_are_checked_before_training(tmp_path, capsys, monkeypatch):
    def no_training(*args):
        raise AssertionError("trained before checking --save")

    monkeypatch.setattr(cli, "fit_once", no_training)
    code = cli.main(["train", "--epochs", "100000", "--save", str(tmp_path / "no" / "m.npz")])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


# -- model files ---------------------------------------------------------------------------
@pytest.fixture
def saved_fields(tmp_path):
    net = fastbp.MLP([3, 4, 2], seed=0).standardize(np.random.default_rng(0).normal(size=(10, 3)))
    net.save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as f:
        return dict(f)


@pytest.mark.parametrize("change, why", [
    (dict(input_mean=np.array([np.nan, 0.0, 0.0])), r"standardisation statistics must be 3 finite means"),
    (dict(input_scale=np.array([np.inf, 1.0, 1.0])), r"standardisation statistics"),
    (dict(input_scale=np.array([0.0, 1.0, 1.0])), r"standardisation statistics"),
    (dict(sizes=np.array([3.0, 4.5, 2.0])), r"sizes must be at least 2 whole numbers"),
    (dict(params=np.zeros(26, dtype=np.complex128)), r"params must be real floating-point numbers"),
    (dict(sizes=np.array([3, 10 ** 6, 10 ** 6, 2])), r"GiB .*more than this machine's"),
    (dict(hidden=np.array(["tanh", "tanh"])), r"field 'hidden' must name 1 activations"),
    (dict(version=np.array("1")), r"field 'version' is not a whole number"),
    (dict(params=np.array([None] * 26, dtype=object)), r"its member 'params' is an array of Python objects"),
    (dict(params=np.zeros((1, 26))), r"need params of shape \(26,\), the file has shape \(1, 26\)\)$"),
    (dict(hidden=np.array(["swish"])), r"hidden must be one of"),
    (dict(output=np.array("purple")), r"output must be one of"),
    (dict(loss=np.array("hinge")), r"loss must be one of"),
    (dict(init=np.array("zeros")), r"init must be one of"),
])
def test_crafted_model_files_are_refused_with_the_reason(tmp_path, saved_fields, change, why):
    path = tmp_path / "crafted.npz"
    np.savez(path, **dict(saved_fields, **change))
    with pytest.raises(ValueError, match=rf"^not a readable fastbp model file: {re.escape(str(path))} \(.*{why}"):
        fastbp.MLP.load(path)


@pytest.mark.parametrize("write, why", [
    (lambda p: np.save(p, np.zeros(3)), r"it is a single .npy array, not an .npz archive"),
    (lambda p: p.write_text("a,b\n1,2\n"), r"it is a text file, not an .npz archive"),
    (lambda p: p.write_bytes(b"\x80\x04\x95 a pickle"), r"it is a Python pickle, which fastbp never reads"),
    (lambda p: p.write_bytes(b"\x00\x01\x02 binary"), r"it is not an .npz archive \(a zip file of .npy arrays\)"),
    (lambda p: p.write_bytes(b""), r"it is empty"),
])
def test_files_that_are_no_archive_say_what_they_are(tmp_path, write, why):
    """`MLP.load("x.npy")` said "'numpy.ndarray' object does not support the context manager protocol",
    and a text file was said to "hold Python objects"."""
    path = tmp_path / "x.npy"
    write(path)
    with pytest.raises(ValueError, match=rf"^not a readable fastbp model file: {re.escape(str(path))} \({why}\)$"):
        fastbp.MLP.load(path)


def test_a_member_that_is_not_an_array_is_named(tmp_path, saved_fields):
    """A params member stored without .npy (numpy hands it over as bytes) was an AttributeError,
    reported by the CLI as an internal error."""
    path = tmp_path / "bytes.npz"
    np.savez(path, **{k: v for k, v in saved_fields.items() if k != "params"})
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("params", b"\x00" * 208)
    with pytest.raises(ValueError, match=r"\(its member 'params' is not a NumPy array \(.npy\)\)$"):
        fastbp.MLP.load(path)
    done = subprocess.run([fastbp_command(), "predict", str(path), "--data", "iris"], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 2 and "its member 'params' is not a NumPy array" in done.stderr, done.stderr


def test_a_huge_deflated_member_is_refused_before_it_is_decompressed(tmp_path, saved_fields):
    """80 MB of zeros deflate to about 80 kB: its declared size is checked before a byte is inflated."""
    path = tmp_path / "bomb.npz"
    np.savez_compressed(path, **dict(saved_fields, params=np.zeros(10 ** 7)))
    assert path.stat().st_size < 10 ** 6
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=r"its member 'params' declares 80,000,128 bytes, more than the "
                                             r"4,304 it can need"):
            fastbp.MLP.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 10 ** 7


def test_save_refuses_what_load_would_refuse(tmp_path):
    net = fastbp.MLP([3, 4, 2], seed=0)
    net.input_mean, net.input_scale = np.zeros(3), np.array([1.0, 0.0, 1.0])
    with pytest.raises(ValueError, match=r"cannot save this model: standardisation statistics"):
        net.save(tmp_path / "m.npz")
    assert not list(tmp_path.iterdir())


# -- silently wrong ------------------------------------------------------------------------
def test_softmax_targets_must_be_distributions(rng):
    net = fastbp.MLP([3, 4, 3], output="softmax", loss="cross_entropy", seed=0)
    X = rng.normal(size=(4, 3))
    Y = np.eye(3)[[0, 1, 2, 0]]
    Y[2] = 0  # an all-zero row: loss 0, but a nonzero gradient
    for call in (lambda: net.loss(X, Y), lambda: net.gradient(X, Y), lambda: net.fit(X, Y, epochs=1)):
        with pytest.raises(ValueError, match=r"Y rows must each sum to 1 .*: row 2 sums to 0"):
            call()
    net.loss(X, np.full((4, 3), 1 / 3))  # soft labels are fine


@pytest.mark.parametrize("mode, options", [("sgd", dict(lr=1e6)), ("minibatch", dict(lr=0.1, l2=1e6))])
def test_a_classifier_that_blows_up_is_reported_as_diverged(mode, options):
    X, y = fastbp.datasets.iris()
    net = fastbp.MLP([4, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
    net.standardize(X)
    start = net.params.copy()
    with pytest.raises(fastbp.TrainingDiverged, match=r"diverged in epoch 1: the loss became .* beyond") as error:
        net.fit(X, y, mode=mode, epochs=5, **options)
    np.testing.assert_array_equal(net.params, start)
    before = net.loss(X, y, l2=options.get("l2", 0.0))  # the exact loss before training (iris: 150 rows, all probed)
    assert f"(it was {before:.4g} before training)" in str(error.value)
    assert f"beyond {10 * max(before, np.log(3)):.4g}" in str(error.value)
    assert f"restored to those before training (loss {before:.4g})" in str(error.value)


def test_standardize_near_the_largest_float(rng):
    X = rng.normal(size=(50, 2)) * 1e300
    net = fastbp.MLP([2, 3, 1], seed=0).standardize(X)
    assert np.all(np.isfinite(net.input_scale)) and np.all(net.input_scale > 0)
    Z = (X - net.input_mean) / net.input_scale
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-12)


def test_accuracy_checks_one_hot_labels():
    X, y = fastbp.datasets.iris()
    net = fastbp.MLP([4, 5, 3], output="softmax", loss="cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"one-hot rows must have 3 columns"):
        fastbp.accuracy(net, X, np.eye(4)[y])
    bad = np.eye(3)[y]
    bad[7] = np.nan
    with pytest.raises(ValueError, match=r"labels contains NaN or inf \(first in row 7\)"):
        fastbp.accuracy(net, X, bad)
    assert fastbp.accuracy(net, X, np.eye(3)[y]) == fastbp.accuracy(net, X, y)


@pytest.mark.parametrize("hidden", ["tanh", "sigmoid"])
def test_gradcheck_passes_a_correct_gradient_on_a_wide_network(rng, hidden):
    sizes = [64, 256, 10]
    net = fastbp.MLP(sizes, hidden=hidden, output="softmax", loss="cross_entropy", seed=1)
    X, Y = random_problem(rng, sizes, "softmax", n=8)
    assert fastbp.gradcheck(net, X, Y) < fastbp.GRADCHECK_TOLERANCE["float64"] / 10


# -- the command line's data --------------------------------------------------------------
def test_a_byte_order_mark_is_not_a_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("1.0,2.0,0\n3.0,4.0,1\n5.0,6.0,0\n".encode("utf-8-sig"))
    X, y = fastbp.datasets.load_csv(path)
    assert X.shape == (3, 2) and list(y) == [0, 1, 0]


def test_idx_sizes_that_would_overflow_are_reported(tmp_path):
    path = tmp_path / "huge-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x08, 3]) + np.array([2 ** 31, 2 ** 31, 2 ** 31], dtype=">u4").tobytes() + b"x")
    with pytest.raises(ValueError, match=r"shape \(2147483648, 2147483648, 2147483648\) needs "
                                         r"9903520314283042199192993792 bytes"):
        fastbp.datasets.load_idx(path)


def test_a_regressor_with_two_outputs_is_not_told_about_class_labels(rng):
    net = fastbp.MLP([3, 4, 2], seed=0)
    with pytest.raises(ValueError, match=r"Y must be 2-D \(n_samples, 2\) for a network with 2 outputs"):
        net.fit(rng.normal(size=(5, 3)), rng.normal(size=5))


def test_label_ranges_are_printed_as_given():
    with pytest.raises(ValueError, match=r"got values in \[0, 1e\+20\]"):
        fastbp.checks.as_labels(np.array([0.0, 1e20]), 3)

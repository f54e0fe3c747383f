"""Ctrl-C (SIGINT) anywhere: in fit, between blocks of a numerical gradient, in the command line at
random moments and during start-up; the model of the last whole epoch is kept."""
import os
import random
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from conftest import classifier, fastbp_command, random_problem

import fastbp


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


def test_ctrl_c_keeps_the_model_of_the_last_whole_epoch(iris_split, monkeypatch):
    X_tr, _, y_tr, _ = iris_split
    net = classifier()
    real = fastbp.kernels.sgd_epoch
    calls, snapshots = [], []

    def interrupted_on_third_epoch(**kw):
        calls.append(1)
        if len(calls) == 4:  # the warm-up call, then epochs 1, 2, and 3 is interrupted
            kw["params"][:] = np.nan  # half-done work is not kept
            raise KeyboardInterrupt
        return real(**kw)

    monkeypatch.setattr(fastbp.kernels, "sgd_epoch", interrupted_on_third_epoch)
    history = net.fit(X_tr, y_tr, epochs=10, lr=0.02, callback=lambda h: snapshots.append(net.params.copy()))
    assert history.stopped == "interrupted" and len(history) == 2
    np.testing.assert_array_equal(net.params, snapshots[-1])

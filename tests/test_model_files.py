"""Model files: saves that fail or are killed midway leave a loadable file; crafted, corrupt and
foreign files are refused with the reason; save refuses what load would."""
import os
import random
import re
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
from conftest import fastbp_command

import fastbp
from fastbp import cli


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


def test_corrupted_model_files_raise_clear_errors(tmp_path):
    net = fastbp.MLP([3, 2, 1])
    net.save(tmp_path / "good.npz")
    raw = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(raw[:len(raw) // 3])
    with pytest.raises(ValueError, match=r"not a readable fastbp model file: .*truncated.npz \("):
        fastbp.MLP.load(tmp_path / "truncated.npz")
    np.savez(tmp_path / "other.npz", X=np.ones(3))
    with pytest.raises(ValueError, match=r"not a readable fastbp model file: .*\(no 'fastbp-mlp' format marker\)"):
        fastbp.MLP.load(tmp_path / "other.npz")
    with np.load(tmp_path / "good.npz") as f:
        fields = dict(f)
    np.savez(tmp_path / "bad_count.npz", **dict(fields, params=np.ones(3)))
    with pytest.raises(ValueError, match=r"need params of shape \(11,\), the file has shape \(3,\)"):
        fastbp.MLP.load(tmp_path / "bad_count.npz")
    np.savez(tmp_path / "future.npz", **dict(fields, version=np.array(99)))
    with pytest.raises(ValueError, match=r"format version 99"):
        fastbp.MLP.load(tmp_path / "future.npz")
    np.savez(tmp_path / "bad_stats.npz", **dict(fields, input_mean=np.zeros(2), input_scale=np.ones(2)))
    with pytest.raises(ValueError, match=r"standardisation statistics"):
        fastbp.MLP.load(tmp_path / "bad_stats.npz")
    with pytest.raises(FileNotFoundError):
        fastbp.MLP.load(tmp_path / "missing.npz")

"""The command line: the real console script for train, predict and evaluate; every bad-input case in-process."""
import re
import subprocess

import numpy as np
import pytest
from conftest import fastbp_command

import fastbp
from fastbp import cli


def run(*args, cwd=None):
    return subprocess.run([fastbp_command(), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd)


def accuracy_in(text):
    return float(re.search(r"validation accuracy ([0-9.]+)", text).group(1))


def test_train_iris_saves_model_and_curves(tmp_path):
    done = run("train", "--data", "iris", "--save", tmp_path / "iris.npz", "--plot", tmp_path / "iris.png")
    assert done.returncode == 0, done.stderr
    assert accuracy_in(done.stdout) >= 0.95
    assert (tmp_path / "iris.png").read_bytes()[:4] == b"\x89PNG"
    net = fastbp.MLP.load(tmp_path / "iris.npz")
    assert net.sizes == (4, 16, 3) and net.input_mean is not None


def test_train_digits_reaches_95_percent(tmp_path):
    pytest.importorskip("sklearn")
    done = run("train", "--data", "digits", "--layers", "64,32,10", "--save", tmp_path / "d.npz",
               "--plot", tmp_path / "d.png")
    assert done.returncode == 0, done.stderr
    assert accuracy_in(done.stdout) >= 0.95


@pytest.mark.parametrize("args", [["--optimizer", "adam", "--lr", "0.01", "--beta1", "0.8"],
                                  ["--momentum", "0.9", "--nesterov", "--mode", "minibatch"]])
def test_train_with_each_optimizer(args, capsys):
    assert cli.main(["train", "--quiet", "--epochs", "60", *args]) == 0
    out = capsys.readouterr().out
    optimizer = "adam" if "adam" in args else "sgd"
    assert re.search(rf"trained 60 epochs \(\w+, backprop, {optimizer}\)", out), out
    assert accuracy_in(out) > 0.8


def test_train_sparse_and_prune(tmp_path, capsys):
    assert cli.main(["train", "--quiet", "--epochs", "40", "--layers", "4,32,3", "--density", "0.5", "--prune", "0.5",
                     "--prune-epochs", "5", "--save", str(tmp_path / "s.npz")]) == 0
    out = capsys.readouterr().out
    assert "density=" in out
    found = re.search(r"pruned ([0-9,]+) of ([0-9,]+) live weights \(density ([0-9.]+) -> ([0-9.]+)\): validation "
                      r"loss [0-9.]+, accuracy [0-9.]+ before, .* after pruning, .* after 5 more epochs", out)
    assert found, out
    removed, live = (int(found.group(i).replace(",", "")) for i in (1, 2))
    assert removed == round(0.5 * live)
    net = fastbp.MLP.load(tmp_path / "s.npz")
    assert net.n_edges == live - removed
    assert accuracy_in(out) > 0.8


def test_predict_and_evaluate_use_the_saved_model(tmp_path):
    X, y = fastbp.datasets.iris()
    np.savetxt(tmp_path / "iris.csv", np.column_stack([X, y]), delimiter=",",
               header="a,b,c,d,species", comments="")
    np.savetxt(tmp_path / "inputs.csv", X, delimiter=",")
    assert run("train", "--data", tmp_path / "iris.csv", "--target", "species", "--save",
               tmp_path / "m.npz", "--quiet").returncode == 0
    done = run("predict", tmp_path / "m.npz", "--data", tmp_path / "inputs.csv")
    assert done.returncode == 0, done.stderr
    predicted = np.array([int(v) for v in done.stdout.split()])
    np.testing.assert_array_equal(predicted, fastbp.MLP.load(tmp_path / "m.npz").predict(X))
    done = run("evaluate", tmp_path / "m.npz", "--data", tmp_path / "iris.csv")
    assert done.returncode == 0, done.stderr
    assert float(re.search(r"accuracy ([0-9.]+) \(150 rows\)", done.stdout).group(1)) >= 0.95


def test_regression_from_npz_and_evaluate_reports_loss(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ [0.5, -1.0, 2.0] + 0.1 * np.sin(X[:, 0])
    np.savez(tmp_path / "reg.npz", X=X, y=y)
    done = run("train", "--data", tmp_path / "reg.npz", "--epochs", "50", "--save", tmp_path / "r.npz")
    assert done.returncode == 0, done.stderr
    assert "output='identity'" in done.stdout and "loss='squared'" in done.stdout
    done = run("evaluate", tmp_path / "r.npz", "--data", tmp_path / "reg.npz")
    assert done.returncode == 0, done.stderr
    assert float(re.search(r"loss ([0-9.e-]+)", done.stdout).group(1)) < 0.05


def write_idx(path, array):
    codes = {np.dtype(np.uint8): 0x08, np.dtype(">f4"): 0x0D}
    header = bytes([0, 0, codes[array.dtype], array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.tobytes())


def test_train_on_idx_files(tmp_path):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 120).astype(np.uint8)
    images = np.zeros((120, 4, 4), dtype=np.uint8)
    images[labels == 1, :2] = 200  # class 1: bright top half
    images += rng.integers(0, 40, images.shape).astype(np.uint8)
    write_idx(tmp_path / "images.idx", images)
    write_idx(tmp_path / "labels.idx", labels)
    done = run("train", "--data", tmp_path / "images.idx", "--labels", tmp_path / "labels.idx", "--epochs", "30")
    assert done.returncode == 0, done.stderr
    assert "16 inputs" not in done.stderr and accuracy_in(done.stdout) >= 0.95


@pytest.fixture
def files(tmp_path):
    (tmp_path / "text.csv").write_text("a,b,y\n1,x,0\n2,3,1\n")
    (tmp_path / "nan.csv").write_text("1,2,0\nnan,3,1\n4,5,0\n")
    (tmp_path / "empty.csv").write_text("a,b,y\n")
    (tmp_path / "num.csv").write_text("a,b,y\n1,2,0\n3,4,1\n")
    (tmp_path / "na.csv").write_text("# comment\na,b,y\n1,2,0\n3,NA,1\n")  # the 4th line of the file
    (tmp_path / "ragged.csv").write_text("1,2,0\n\n3,4\n")
    (tmp_path / "latin.csv").write_bytes("a,b\xe9,y\n1,2,0\n".encode("latin-1"))
    np.savez(tmp_path / "objects.npz", X=np.array([[1, "a"]], dtype=object), y=np.array([1]))
    np.save(tmp_path / "x.npy", np.zeros(3))
    (tmp_path / "notes.txt.npz").write_text("not a zip")
    fastbp.MLP([4, 3, 3], output="softmax", loss="cross_entropy").save(tmp_path / "good.npz")
    good = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "truncated.npz").write_bytes(good[:len(good) // 2])
    np.savez(tmp_path / "other.npz", weights=np.ones(3))
    with np.load(tmp_path / "good.npz") as f:
        fields = dict(f)
    np.savez(tmp_path / "noversion.npz", **{k: v for k, v in fields.items() if k != "version"})
    np.savez(tmp_path / "huge.npz", **dict(fields, sizes=np.array([4, 10 ** 9, 10 ** 9, 3])))
    fields["params"] = fields["params"][:-1]
    np.savez(tmp_path / "inconsistent.npz", **fields)
    np.savez(tmp_path / "mismatch.npz", X=np.ones((5, 2)), y=np.arange(4))
    np.savez(tmp_path / "flat.npz", X=np.ones(5), y=np.arange(5))
    (tmp_path / "prices.csv").write_text("size,price\n" + "".join(f"{i},{100000 + 7919 * i}\n" for i in range(6)))
    (tmp_path / "gaps.csv").write_text("a,c\n" + "".join(f"{i},{c}\n" for i, c in enumerate([0, 3, 0, 3, 0, 3])))
    (tmp_path / "negative.csv").write_text("a,c\n" + "".join(f"{i},{c}\n" for i, c in enumerate([0, -1, 1, 0])))
    (tmp_path / "huge_target.csv").write_text("a,c\n0,0\n1,1e20\n2,1\n")
    (tmp_path / "big.csv").write_text("a,b\n1e39,0.5\n1,0.25\n")
    return tmp_path


@pytest.mark.parametrize("args, message", [
    (["train", "--data", "{d}/missing.csv"], r"neither a built-in data set .* nor a file"),
    (["train", "--data", "mnist"], r"neither a built-in data set"),
    (["train", "--epochs", "0"], r"error: --epochs must be >= 1"),
    (["train", "--lr", "-1"], r"error: --lr must be > 0"),
    (["train", "--lr", "fast"], r"argument --lr: invalid float value"),
    (["train", "--layers", "4,x,3"], r"argument --layers: expected comma-separated integers"),
    (["train", "--layers", "5,8,3"], r"--layers must start with the data's 4 inputs and end with its 3 outputs"),
    (["train", "--hidden", "swish"], r"error: --hidden must be one of"),
    (["train", "--mode", "turbo"], r"error: --mode must be one of"),
    (["train", "--validation", "1.5"], r"expected a fraction"),
    (["train", "--threads", "0"], r"error: --threads must be >= 1"),
    (["train", "--mode", "minibatch", "--batch-size", "0"], r"error: --batch-size must be >= 1"),
    (["train", "--epoch", "3"], r"unrecognized arguments: --epoch 3"),
    (["train", "--data", "{d}/text.csv"], r"text.csv line 2, column 2: 'x' is not a number"),
    (["train", "--data", "{d}/nan.csv", "--validation", "0"], r"nan.csv line 2 holds NaN or inf"),
    (["predict", "{d}/good.npz", "--data", "{d}/nan.csv"], r"nan.csv line 2 holds NaN or inf"),
    (["evaluate", "{d}/good.npz", "--data", "{d}/na.csv"], r"na.csv line 4, column 2: 'NA' is not a number"),
    (["predict", "{d}/good.npz", "--data", "{d}/na.csv"], r"na.csv line 4, column 2: 'NA' is not a number"),
    (["train", "--data", "{d}/na.csv"], r"na.csv line 4, column 2: 'NA' is not a number"),
    (["train", "--data", "{d}/ragged.csv"], r"ragged.csv line 3 has 2 columns, the first row has 3"),
    (["train", "--data", "{d}/latin.csv"], r"latin.csv line 1 is not UTF-8 text \(byte 0xe9\)"),
    (["train", "--data", "{d}/objects.npz"],
     r"objects.npz is not a readable .npz data file \(its member 'X' is an array of Python objects"),
    (["predict", "{d}/x.npy", "--data", "iris"],
     r"not a readable fastbp model file: .*x.npy \(it is a single .npy array"),
    (["predict", "{d}/num.csv", "--data", "iris"], r"not a readable fastbp model file: .*num.csv \(it is a text file"),
    (["train", "--data", "{d}/empty.csv"], r"has a header but no data rows"),
    (["train", "--data", "{d}/num.csv", "--target", "zz"], r"target must be 'last', 'first'"),
    (["train", "--lr", "1e6", "--epochs", "5", "--hidden", "relu", "--init", "normal"], r"diverged in epoch \d"),
    (["predict", "{d}/truncated.npz", "--data", "iris"], r"not a readable fastbp model file: .*truncated.npz \("),
    (["predict", "{d}/other.npz", "--data", "iris"], r"not a readable fastbp model file: .*other.npz \(no 'fastbp"),
    (["predict", "{d}/inconsistent.npz", "--data", "iris"],
     r"\(sizes \[4, 3, 3\] need params of shape \(27,\), the file has shape \(26,\)\)"),
    (["predict", "{d}/notes.txt.npz", "--data", "iris"], r"not a readable fastbp model file: .*notes.txt.npz \("),
    (["predict", "{d}/noversion.npz", "--data", "iris"], r"not a readable fastbp model file: .*\(no field 'version'\)"),
    (["predict", "{d}/huge.npz", "--data", "iris"], r"not a readable fastbp model file: .* GiB .*more than"),
    (["train", "--layers", "4,100000,100000,3"], r"10,000,900,003 parameters: training them needs about [0-9.]+ GiB"),
    (["train", "--data", "{d}/mismatch.npz"], r"X has 5 rows but y has 4"),
    (["train", "--data", "{d}/flat.npz"], r"X must be 2-D \(rows, features\), got shape \(5,\)"),
    (["train", "--data", "{d}/prices.csv"], r"labels up to \d+ would make \d+ classes for 6 rows.*--task regress"),
    (["train", "--data", "{d}/gaps.csv"], r"2 of the labels 0..3 never occur.*--task regress"),
    (["train", "--data", "{d}/negative.csv"], r"it has negative values \(-1\).*--task regress"),
    (["train", "--data", "{d}/huge_target.csv", "--task", "classify"], r"needs whole-number class labels"),
    (["train", "--data", "{d}/big.csv", "--dtype", "float32", "--task", "regress", "--validation", "0",
      "--no-standardize"], r"beyond the float32 range \(largest magnitude 1e\+39"),
    (["train", "--data", "{d}/nan.csv", "--validation", "0.5"], r"nan.csv line 2 holds NaN or inf"),
    (["train", "--save", "{d}/nowhere/m.npz"], r"--save .*nowhere/m.npz: the folder .* does not exist"),
    (["train", "--plot", "{d}"], r"--plot .* is a folder"),
    (["predict", "{d}/nowhere.npz", "--data", "iris"], r"no such file"),
    (["predict", "{d}/good.npz", "--data", "xor"], r"X must have 4 columns"),
    (["evaluate", "{d}/good.npz", "--data", "iris", "--target", "none"], r"evaluate needs targets"),
    (["frobnicate"], r"invalid choice"),
    (["train", "--optimizer", "rmsprop"], r"--optimizer must be sgd or adam, got 'rmsprop'"),
    (["train", "--optimizer", "adam", "--momentum", "0.9"],
     r"--momentum and --nesterov are options of --optimizer sgd"),
    (["train", "--beta1", "0.5"], r"--beta1, --beta2 and --epsilon are options of --optimizer adam"),
    (["train", "--optimizer", "adam", "--beta2", "1"], r"beta2 must be < 1"),
    (["costs", "--out", "{d}/nowhere"], r"--out must be an existing folder"),
    (["train", "--density", "0"], r"--density: expected a density in \(0, 1\]"),
    (["train", "--prune", "1"], r"--prune: expected a fraction in \[0, 1\)"),
    (["train", "--prune-epochs", "3"], r"--prune-epochs must be at least 1 and comes with --prune"),
])
def test_cli_errors_are_one_line(files, args, message, capsys):
    code = cli.main([a.format(d=files) for a in args])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if not line.startswith("fastbp train: training ")]
    assert len(lines) == 1, err
    assert re.search(message, lines[0]), lines[0]


def test_cli_error_from_the_console_script_is_one_line():
    done = run("train", "--epochs", "0")
    assert done.returncode == 2 and done.stderr.strip() == "fastbp train: error: --epochs must be >= 1, got 0"


def test_traceback_option_shows_the_exception(capsys):
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        cli.main(["--traceback", "train", "--epochs", "0"])


def test_a_bug_is_one_line_that_points_to_traceback(monkeypatch, capsys):
    def broken(args):
        raise IndexError("index 3 is out of bounds")

    monkeypatch.setitem(cli.COMMANDS, "train", broken)
    assert cli.main(["train"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("fastbp train: internal error: IndexError: index 3 is out of bounds")
    assert "--traceback" in err and len(err.splitlines()) == 1

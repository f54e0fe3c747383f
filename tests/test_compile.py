"""The cache filled ahead of time: fastbp.precompile and `fastbp compile`, where the package folder is read-only too."""
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

import fastbp
from fastbp import cli

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh process: fill the cache ("fill"), or make the first calls a user makes and print, as
# JSON, how many kernels each of them compiled (cache misses) and loaded (cache hits).
SCRIPT = r"""
import json, sys
import numpy as np
import fastbp, fastbp.kernels
from numba.core.dispatcher import Dispatcher

if sys.argv[1] == "fill":
    fastbp.precompile(dtypes="float32", modes="sgd", optimizers="sgd", progress=False)
else:
    import importlib, pkgutil
    names = [m.name for m in pkgutil.iter_modules(fastbp.kernels.__path__)]
    modules = [importlib.import_module(f"fastbp.kernels.{name}") for name in names]
    kernels = {id(k): k for mod in modules for k in vars(mod).values() if isinstance(k, Dispatcher)}
    kernels = [*kernels.values(), *fastbp.kernels._jit.PARTS.values()]  # and the parts the kernels call by name
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 64)).astype(np.float32)
    y = rng.integers(0, 10, 300)
    net = fastbp.MLP([64, 32, 10], hidden="tanh", output="softmax", loss="cross_entropy", dtype="float32", seed=0)
    net.fit(X, y, mode="sgd", epochs=2)
    net.predict(X[:3]), net.predict(X), net.gradient(X[:3], y[:3]), net.gradient(X, y)
    print(json.dumps({"misses": sum(sum(k.stats.cache_misses.values()) for k in kernels),
                      "hits": sum(sum(k.stats.cache_hits.values()) for k in kernels),
                      "cache": fastbp.warm.cache_folder()}))
"""


def read_only_copy(folder):
    """The package as pip installs it (fastbp/ with kernels/ inside), in `folder`, nothing in it writable."""
    package = folder / "fastbp"
    shutil.copytree(ROOT / "fastbp", package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / "kernels", package / "kernels", ignore=shutil.ignore_patterns("__pycache__"))
    for path in [package, *package.rglob("*")]:
        path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH
                                                                 if path.is_dir() else 0))
    return package


def test_precompile_fills_the_cache_where_the_package_folder_is_read_only():
    """The kernels' folder can't be written (as root: the process runs as nobody), so the cache goes to the
    user's cache folder, and the first calls of a new process then load every kernel and compile none."""
    as_other_user = []
    if os.geteuid() == 0:  # root writes to read-only folders: run as nobody, to whom they are read-only
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("as root, a read-only folder needs setpriv to run as another user")
        as_other_user = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    folder = Path(tempfile.mkdtemp(prefix="fastbp-readonly-"))
    try:
        folder.chmod(0o755)
        package = read_only_copy(folder)
        home = folder / "home"
        home.mkdir(mode=0o777)
        home.chmod(0o777)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_") and k != "XDG_CACHE_HOME"}
        env.update(PYTHONPATH=str(folder), HOME=str(home), NUMBA_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1")

        def run(what):
            done = subprocess.run([*as_other_user, sys.executable, "-c", SCRIPT, what], env=env, cwd=home,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, done.stderr
            return done.stdout

        run("fill")
        first = json.loads(run("calls").strip().splitlines()[-1])
        assert first["misses"] == 0 and first["hits"] >= 3, first
        assert Path(first["cache"]).is_relative_to(home), first  # not beside the read-only kernels
        assert not list(package.rglob("*.nbi"))
    finally:
        for path in [folder, *folder.rglob("*")]:
            if path.is_dir():
                path.chmod(0o755)
        shutil.rmtree(folder)


def test_precompile_reports_each_group_and_rejects_unknown_names():
    seconds = fastbp.precompile(dtypes="float64", modes="sgd", optimizers=["sgd"], progress=False)
    assert "sgd per-sample epochs, float64" in seconds
    assert any(name.startswith("forward, float64") for name in seconds)
    assert all(s >= 0 for s in seconds.values())
    with pytest.raises(ValueError, match="dtypes must name one or more of float64, float32, got \\['float16'\\]"):
        fastbp.precompile(dtypes="float16")
    with pytest.raises(ValueError, match="modes must name"):
        fastbp.precompile(modes=[])
    with pytest.raises(ValueError, match="optimizers must name .*'rmsprop'"):
        fastbp.precompile(optimizers=("sgd", "rmsprop"))
    with pytest.raises(TypeError, match="sparse must be True or False"):
        fastbp.precompile(sparse="yes")


def test_compile_command(capsys):
    assert cli.main(["compile", "--quiet", "--dtype", "float64", "--mode", "sgd", "--optimizer", "sgd"]) == 0
    out = capsys.readouterr().out
    assert "groups of kernels ready in" in out and "(float64; sgd; sgd)" in out, out


@pytest.mark.parametrize("args, option", [(["--dtype", "float16"], "--dtype"), (["--mode", "sgd,online"], "--mode"),
                                          (["--optimizer", ","], "--optimizer")])
def test_compile_command_names_the_option_it_rejects(args, option, capsys):
    assert cli.main(["compile", *args]) == 2
    assert f"argument {option}: expected comma-separated names among" in capsys.readouterr().err


# A fresh process's first gradient over matrices (the kernels that call parts by name, kernels._jit.jit_part):
# "shifted" compiles other functions first, so Numba's own names for the kernels differ from the next process's;
# "changed" runs as if a part's code had changed since the cache was filled.
PARTS_SCRIPT = r"""
import json, sys
import numba
import numpy as np
if sys.argv[1] == "shifted":
    for k in range(5):
        numba.njit(lambda x, k=k: x + k)(1.0)
import fastbp
from fastbp import kernels
if sys.argv[1] == "changed":
    kernels._jit._FINGERPRINTS["fastbp.kernels.blocked._block"] = "changed"
rng = np.random.default_rng(0)
X = rng.normal(size=(300, 64))
Y = np.eye(10)[rng.integers(0, 10, 300)]
net = fastbp.MLP([64, 32, 10], hidden="tanh", output="softmax", loss="cross_entropy", seed=0)
gradient = net.gradient(X, Y)
compiled = [kernels.matrix_serial, kernels.matrix_parallel, *kernels._jit.PARTS.values()]
misses = sum(sum(k.stats.cache_misses.values()) for k in compiled)
print(json.dumps({"gradient": gradient.tobytes().hex(), "misses": misses}))
"""


def test_cached_kernels_find_their_parts_in_a_new_process_and_a_changed_part_compiles_them_again(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def run(how):
        done = subprocess.run([sys.executable, "-c", PARTS_SCRIPT, how], env=env, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr  # (a call of a part by a name that is not bound crashes)
        return json.loads(done.stdout.strip().splitlines()[-1])

    filled, loaded, changed = run("shifted"), run("plain"), run("changed")
    assert filled["misses"] >= 1 and loaded["misses"] == 0 and changed["misses"] >= 1
    assert filled["gradient"] == loaded["gradient"] == changed["gradient"]

"""What an installed fastbp looks like: the compiled core as fastbp.kernels, no top-level `kernels`,
one version, and fit's options visible to help()."""
import inspect
import subprocess
import sys

import fastbp


def test_installed_package_has_fastbp_kernels_and_no_top_level_kernels(tmp_path):
    """Run from an empty folder, so the source tree is not on the path: what pip installed."""
    probe = ("import importlib.util, fastbp, fastbp.kernels; "
             "print(importlib.util.find_spec('kernels') is None, fastbp.kernels.__name__, "
             "fastbp.kernels.sgd_epoch.__module__)")
    done = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "fastbp.kernels", "fastbp.kernels.sgd"]


def test_one_version():
    from importlib.metadata import version
    assert version("fastbp") == fastbp.__version__


def test_help_of_fit_shows_every_option():
    signature = inspect.signature(fastbp.MLP.fit)
    options = [p for p in signature.parameters if p not in ("self", "X", "Y")]
    # the same names, in the same order, as the options checked into FitOptions (validation is data)
    assert [o for o in options if o != "validation"] == list(fastbp.training.FitOptions.__dataclass_fields__)
    for name in options:
        assert f"{name} :" in fastbp.MLP.fit.__doc__, name

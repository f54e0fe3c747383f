"""fastbp: multilayer perceptrons trained by backpropagation at compiled speed on the CPU.

Importing fastbp is quick: its names (``fastbp.MLP``, ``fastbp.datasets``, ...) import their modules,
and with them NumPy and Numba, on first use. So the ``fastbp`` command can catch Ctrl-C at any point
of its start-up (``fastbp.__main__``).
"""
import importlib
import importlib.abc
import importlib.util
import sys
from pathlib import Path

__version__ = "0.1.0"

#: the public names, and the module of each
_NAMES = {
    "MLP": "model", "accuracy": "model", "numerical_gradient": "numerical", "gradcheck": "numerical",
    "GRADCHECK_TOLERANCE": "numerical", "SGD": "optimizers", "Adam": "optimizers", "History": "training",
    "TrainingDiverged": "training", "plot_history": "plots", "precompile": "warm",
    "MLPClassifier": "estimators", "MLPRegressor": "estimators",  # scikit-learn stays optional
}
_MODULES = {"checks", "cli", "connectivity", "costs", "datasets", "density", "distributed", "engine", "estimators",
            "kernels", "machine", "model", "names", "numerical", "optimizers", "plots", "threads", "training",
            "warm"}


class _SourceKernels(importlib.abc.MetaPathFinder):
    """Finds ``fastbp.kernels`` in a source checkout, at ../kernels.

    There the compiled core sits beside this package; an installed wheel has it at fastbp/kernels
    (pyproject's package-dir mapping).
    """

    def __init__(self, source):
        self.source = source

    def find_spec(self, name, path=None, target=None):
        if name != __name__ + ".kernels":
            return None
        return importlib.util.spec_from_file_location(name, self.source,
                                                      submodule_search_locations=[str(self.source.parent)])


def _find_source_kernels():
    here = Path(__file__).resolve().parent
    source = here.parent / "kernels" / "__init__.py"
    if (here / "kernels").is_dir() or not source.is_file():
        return
    if not any(isinstance(finder, _SourceKernels) for finder in sys.meta_path):
        sys.meta_path.append(_SourceKernels(source))


_find_source_kernels()


def __getattr__(name):
    """A public name or a module of fastbp, imported on first use."""
    if name in _NAMES:
        value = getattr(importlib.import_module(f".{_NAMES[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'fastbp' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_NAMES) | _MODULES)


__all__ = ["MLP", "accuracy", "datasets", "kernels", "numerical_gradient", "gradcheck", "GRADCHECK_TOLERANCE",
           "SGD", "Adam", "History", "TrainingDiverged", "plot_history", "precompile",
           "MLPClassifier", "MLPRegressor"]

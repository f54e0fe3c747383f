"""fastbp: multilayer perceptrons trained by backpropagation at compiled speed on the CPU."""
import importlib.util
import sys
from pathlib import Path

__version__ = "0.1.0"


def _source_kernels():
    """Make ``fastbp.kernels`` importable from a source checkout.

    There the compiled core sits beside this package, at ../kernels; an installed wheel has it
    at fastbp/kernels (pyproject's package-dir mapping). Load it under the same name.
    """
    here = Path(__file__).resolve().parent
    source = here.parent / "kernels" / "__init__.py"
    if (here / "kernels").is_dir() or not source.is_file() or __name__ + ".kernels" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(__name__ + ".kernels", source,
                                                  submodule_search_locations=[str(source.parent)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)


_source_kernels()

from . import datasets, kernels  # noqa: E402  (after the kernels are findable)
from .model import MLP, accuracy  # noqa: E402
from .numerical import GRADCHECK_TOLERANCE, gradcheck, numerical_gradient  # noqa: E402
from .optimizers import SGD, Adam  # noqa: E402
from .plots import plot_history  # noqa: E402
from .training import History, TrainingDiverged  # noqa: E402
from .warm import precompile  # noqa: E402


def __getattr__(name):
    """fastbp.MLPClassifier and fastbp.MLPRegressor, imported on first use: scikit-learn stays optional."""
    if name in ("MLPClassifier", "MLPRegressor"):
        from . import estimators
        return getattr(estimators, name)
    raise AttributeError(f"module 'fastbp' has no attribute {name!r}")


__all__ = ["MLP", "accuracy", "datasets", "kernels", "numerical_gradient", "gradcheck", "GRADCHECK_TOLERANCE",
           "SGD", "Adam", "History", "TrainingDiverged", "plot_history", "precompile",
           "MLPClassifier", "MLPRegressor"]

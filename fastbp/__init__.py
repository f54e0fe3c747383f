"""fastbp: multilayer perceptrons trained by backpropagation at compiled speed on the CPU."""
from . import datasets
from .model import MLP, accuracy
from .numerical import GRADCHECK_TOLERANCE, gradcheck, numerical_gradient
from .plots import plot_history
from .training import History, TrainingDiverged

__all__ = ["MLP", "accuracy", "datasets", "numerical_gradient", "gradcheck", "GRADCHECK_TOLERANCE",
           "History", "TrainingDiverged", "plot_history"]
__version__ = "0.1.0"

"""fastbp: multilayer perceptrons trained by backpropagation at compiled speed on the CPU."""
from .model import MLP, accuracy
from . import datasets
from .training import History, TrainingDiverged

__all__ = ["MLP", "accuracy", "datasets", "History", "TrainingDiverged"]
__version__ = "0.1.0"

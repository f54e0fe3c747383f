"""The names a user may give, one table per concept, and the codes the kernels take.

The model, the command line and the tests all read these tables: a new activation or loss
is added here (with its code and formulas in kernels/activations.py) and is then accepted
everywhere and gradient-checked by the tests without editing them.
"""
from . import kernels

#: hidden-layer activations: canonical name -> kernel code
HIDDEN = {"sigmoid": kernels.SIGMOID, "tanh": kernels.TANH, "relu": kernels.RELU, "identity": kernels.IDENTITY}
#: output activations: canonical name -> kernel code
OUTPUT = {"identity": kernels.IDENTITY, "sigmoid": kernels.SIGMOID, "softmax": kernels.SOFTMAX}
#: losses: canonical name -> kernel code
LOSSES = {"squared": kernels.SQUARED, "cross_entropy": kernels.CROSS_ENTROPY}
#: other accepted spellings -> canonical name
ALIASES = {"logistic": "sigmoid", "linear": "identity"}
#: the (output, loss) pairs a model may have
VALID_PAIRS = (("identity", "squared"), ("sigmoid", "squared"), ("softmax", "cross_entropy"),
               ("sigmoid", "cross_entropy"))
#: weight initialisations (model.MLP documents each)
INITS = ("xavier", "he", "uniform", "normal")


def choices(table):
    """The accepted names of `table`, canonical and aliases, mapped to the canonical name (for check_choice)."""
    names = {name: name for name in table}
    names.update({alias: name for alias, name in ALIASES.items() if name in table})
    return names


def check_pair(output, loss, n_outputs):
    """Raise ValueError when the output activation cannot be trained with the loss."""
    if (output, loss) in VALID_PAIRS:
        if output == "softmax" and n_outputs < 2:
            raise ValueError(f"output 'softmax' needs at least 2 outputs, got sizes[-1] = {n_outputs}")
        return
    if output == "softmax":
        raise ValueError(f"output 'softmax' is trained with loss 'cross_entropy', got loss {loss!r}")
    needs = [o for o, lo in VALID_PAIRS if lo == loss]
    raise ValueError(f"loss {loss!r} needs output {' or '.join(repr(o) for o in needs)}, got output {output!r}")

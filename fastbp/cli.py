"""The `fastbp` command line: train, predict, evaluate, the cost experiment, and compile (the cache filled ahead).

Every error is one line on stderr and a non-zero exit code, never a traceback (``--traceback``
shows one, for reporting a bug in fastbp itself).
"""
import argparse
import json
import os
import re
import signal
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

import numpy as np

from . import checks, datasets, names, warm
from .model import MLP, accuracy
from .optimizers import SGD, Adam


class CliError(Exception):
    """A problem to report in one line on stderr (exit code 2)."""


class Parser(argparse.ArgumentParser):
    """argparse, with errors raised as CliError (reported in one line) instead of a usage dump.

    No abbreviations: ``--epoch`` is not taken for ``--epochs``.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        """Raise the problem as a CliError."""
        raise CliError(message)


def int_list(text):
    """--layers: comma-separated positive widths."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 64,32,10, got {text!r}") from None
    if len(values) < 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected at least two positive widths (input to output), got {text!r}")
    return values


def fraction(text):
    """--validation: a fraction in [0, 1)."""
    value = float(text)
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in [0, 1), got {text}")
    return value


def density(text):
    """--density: a fraction in (0, 1]."""
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"expected a density in (0, 1], got {text}")
    return value


def add_data_options(p, target_default):
    """--data, --target and --labels, shared by train, predict and evaluate."""
    p.add_argument("--data", default="iris",
                   help="built-in xor, xnor, iris or digits; or a .csv, .npz or IDX file (default iris)")
    p.add_argument("--target", default=target_default,
                   help=f"CSV target column: last, first, a number, a name, or none (default {target_default})")
    p.add_argument("--labels", default=None, help="IDX labels file, when --data is an IDX images file")


def build_parser():
    """The argument parser of every command."""
    parser = Parser(prog="fastbp", description="Train MLPs by backpropagation at compiled speed, and measure it.")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show Python's traceback instead of one line (for bug reports)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    train = sub.add_parser("train", help="train an MLP on a data set and print a summary")
    add_data_options(train, "last")
    train.add_argument("--task", default="auto", choices=["auto", "classify", "regress"],
                       help="auto: integer targets are class labels (default)")
    train.add_argument("--layers", type=int_list, default=None,
                       help="all layer widths, input to output, e.g. 64,32,10 (default: inputs,16,outputs)")
    train.add_argument("--hidden", default="tanh", help=f"hidden activation: {', '.join(names.HIDDEN)}")
    train.add_argument("--output", default=None, help=f"{', '.join(names.OUTPUT)} (default by task)")
    train.add_argument("--loss", default=None, help=f"{', '.join(names.LOSSES)} (default by task)")
    train.add_argument("--init", default="xavier", help=", ".join(names.INITS))
    train.add_argument("--mode", default="sgd", help="sgd, minibatch or batch (default sgd)")
    train.add_argument("--gradient", default="backprop", help="backprop or numerical (default backprop)")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    train.add_argument("--schedule", default="constant", help="constant or invscaling")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--l2", type=float, default=0.0)
    train.add_argument("--momentum", type=float, default=0.0, help="SGD momentum (default 0)")
    train.add_argument("--nesterov", action="store_true", help="Nesterov's momentum (with --momentum)")
    train.add_argument("--optimizer", default="sgd", help="sgd or adam (default sgd; adam wants a smaller --lr, "
                       "such as 0.001)")
    train.add_argument("--beta1", type=float, default=0.9, help="Adam's first-moment decay (default 0.9)")
    train.add_argument("--beta2", type=float, default=0.999, help="Adam's second-moment decay (default 0.999)")
    train.add_argument("--epsilon", type=float, default=1e-8, help="Adam's epsilon (default 1e-8)")
    train.add_argument("--patience", type=int, default=None, help="early stopping after this many epochs")
    train.add_argument("--validation", type=fraction, default=0.2,
                       help="fraction of rows held out for validation (default 0.2; 0 for none)")
    train.add_argument("--no-standardize", dest="standardize", action="store_false",
                       help="do not standardise the inputs (default: standardise; the statistics are saved)")
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--threads", type=int, default=None, help="Numba threads (default: all cores)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--density", type=density, default=None,
                       help="sparse connectivity: keep each edge with this probability (default: all edges)")
    train.add_argument("--prune", type=fraction, default=None, metavar="FRACTION",
                       help="after training, remove this fraction of the live weights (smallest magnitude "
                            "first) and train again for --prune-epochs")
    train.add_argument("--prune-epochs", type=int, default=None,
                       help="epochs of training after --prune (default: a tenth of --epochs, at least 1)")
    train.add_argument("--save", default=None, help="write the trained model to this .npz file")
    train.add_argument("--plot", default=None, help="write the loss (and accuracy) curves to this PNG")
    train.add_argument("--quiet", action="store_true", help="no progress bar, and no line when training begins")
    cluster = train.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", default=None, metavar="ADDRESS",
                         help="train on this Dask cluster (tcp://host:8786; needs fastbp[distributed])")
    cluster.add_argument("--workers", type=int, default=None, metavar="N",
                         help="train on a local Dask cluster of N worker processes (needs fastbp[distributed])")

    for name, text in (("predict", "print a trained model's predictions, one row per line"),
                       ("evaluate", "print a trained model's accuracy (classifier) or loss (regressor)")):
        p = sub.add_parser(name, help=text)
        p.add_argument("model", help="a model file written by fastbp train --save")
        add_data_options(p, "none" if name == "predict" else "last")

    p = sub.add_parser("costs", help="measure gradient cost against edges: backprop vs finite differences")
    p.add_argument("--quick", action="store_true", help="a short run (seconds) instead of the full one (minutes)")
    p.add_argument("--density", action="store_true",
                   help="the density sweep instead: sparse networks of fixed widths, seconds against live edges")
    p.add_argument("--out", default=".", help="folder for costs.json and costs.png (default: the current one)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("compile", help="fill Numba's cache ahead of time (for images, CI and cluster workers), "
                                       "so that first calls load kernels instead of compiling them")
    p.add_argument("--dtype", type=names_of(warm.DTYPES), default=list(warm.DTYPES),
                   help=f"which of {','.join(warm.DTYPES)} (default both)")
    p.add_argument("--mode", type=names_of(warm.MODES), default=list(warm.MODES),
                   help=f"which training modes of {','.join(warm.MODES)} (default all; forward passes, "
                        "predictions and gradients always)")
    p.add_argument("--optimizer", type=names_of(tuple(warm.OPTIMIZERS)), default=list(warm.OPTIMIZERS),
                   help=f"which of {','.join(warm.OPTIMIZERS)} (default both)")
    p.add_argument("--sparse", action="store_true", help="also the kernels of sparse networks (--density)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.commands = sub.choices  # each command's parser, by name
    return parser


def names_of(allowed):
    """The type of fastbp compile's --dtype, --mode and --optimizer: comma-separated names among `allowed`."""
    def names(text):
        values = [name.strip() for name in text.split(",") if name.strip()]
        wrong = [name for name in values if name not in allowed]
        if wrong or not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated names among {','.join(allowed)}, got {text!r}")
        return values
    return names


def load_data(args):
    """(X, y) from --data, --target and --labels."""
    return datasets.load(args.data, target=args.target, labels=args.labels)


def progress_wanted(args):
    """A progress bar on a terminal, unless --quiet."""
    return not args.quiet and sys.stderr.isatty()


def check_writable(path, option):
    """Refuse an output path whose folder is missing or not writable, before any training is spent."""
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise CliError(f"{option} {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise CliError(f"{option} {path}: the folder {folder} is not writable")
    if Path(path).is_dir():
        raise CliError(f"{option} {path} is a folder; give a file name")


@contextmanager
def interrupts_deferred():
    """Hold Ctrl-C while the block runs, so that saving the model is not cut short.

    Yields the list of the interrupts that came meanwhile.
    """
    caught = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield caught
    finally:
        signal.signal(signal.SIGINT, previous)


def class_labels(y, task, n_rows):
    """Targets as class labels, or a CliError saying why they are not (and what to do)."""
    y = datasets.as_labels_if_integral(np.asarray(y, dtype=np.float64))
    if y.dtype.kind not in "iu":
        raise CliError("--task classify needs whole-number class labels in the target column")
    low, high = int(y.min()), int(y.max())
    if task == "classify":
        if low < 0:
            raise CliError(f"--task classify needs class labels 0, 1, 2, ...; the target column has {low}")
        return y
    # auto: integer targets are taken as class labels only when they look like them
    n_classes = high + 1
    missing = n_classes - np.unique(y).size
    if low < 0 or n_classes > n_rows or missing:
        why = (f"it has negative values ({low})" if low < 0 else
               f"labels up to {high} would make {n_classes} classes for {n_rows} rows" if n_classes > n_rows else
               f"{missing} of the labels 0..{high} never occur")
        raise CliError(f"the integer target column does not look like class labels 0, 1, 2, ...: {why}. "
                       "For a numeric target use --task regress; for classes, --task classify")
    return y


def optimizer_of(args):
    """The optimizer object the train options describe; options of the other optimizer are refused."""
    name = args.optimizer.lower()
    adam_options = (args.beta1, args.beta2, args.epsilon) != (0.9, 0.999, 1e-8)
    if name == "sgd":
        if adam_options:
            raise CliError("--beta1, --beta2 and --epsilon are options of --optimizer adam")
        return SGD(args.momentum, nesterov=args.nesterov)
    if name == "adam":
        if args.momentum or args.nesterov:
            raise CliError("--momentum and --nesterov are options of --optimizer sgd")
        return Adam(args.beta1, args.beta2, args.epsilon)
    raise CliError(f"--optimizer must be sgd or adam, got {args.optimizer!r}")


def train(args):
    """`fastbp train`: fit a model to a data set, print a summary, save the model and its curves."""
    for path, option in ((args.save, "--save"), (args.plot, "--plot")):
        if path:
            check_writable(path, option)
    X, y = load_data(args)
    if y is None:
        raise CliError("train needs targets: --target none leaves none")
    classify = args.task == "classify" or (args.task == "auto" and y.ndim == 1 and y.dtype.kind in "iu")
    checks.check_rows(X, y)  # NaN, inf and row counts, named by the file's own rows (before any shuffling)
    if classify:
        y = class_labels(y, args.task, X.shape[0])
        n_out = int(y.max()) + 1
    else:
        y = np.asarray(y, dtype=np.float64)
        n_out = 1 if y.ndim == 1 else y.shape[1]
    sizes = args.layers or [X.shape[1], 16, n_out]
    if sizes[0] != X.shape[1] or sizes[-1] != n_out:
        raise CliError(f"--layers must start with the data's {X.shape[1]} inputs and end with its {n_out} "
                       f"outputs, got {','.join(map(str, sizes))}")
    output = args.output or ("softmax" if classify and n_out > 1 else "sigmoid" if classify else "identity")
    loss = args.loss or ("cross_entropy" if classify else "squared")
    if args.prune_epochs is not None and (args.prune is None or args.prune_epochs < 1):
        raise CliError(f"--prune-epochs must be at least 1 and comes with --prune, got {args.prune_epochs}")
    net = MLP(sizes, hidden=args.hidden, output=output, loss=loss, init=args.init, dtype=args.dtype, seed=args.seed,
              connectivity=args.density)

    if args.validation > 0:
        X_train, X_val, y_train, y_val = datasets.train_test_split(X, y, args.validation, seed=args.seed)
        if X_val.shape[0] == 0 or X_train.shape[0] == 0:
            raise CliError(f"--validation {args.validation} leaves no rows for training or validation "
                           f"({X.shape[0]} rows)")
        validation = (X_val, y_val)
    else:
        X_train, y_train, validation = X, y, None
    if args.standardize:
        net.standardize(X_train)
    history = fit_once(args, net, X_train, y_train, validation, args.epochs)
    if not len(history):  # fit returns with no epoch only when interrupted in the first one
        raise KeyboardInterrupt
    pruning = None
    if args.prune is not None and history.stopped != "interrupted":
        pruning = prune_and_train(args, net, X_train, y_train, validation)
        if pruning[-1].stopped == "interrupted":
            history.stopped = "interrupted"
    with interrupts_deferred() as caught:  # from here to the saved files, Ctrl-C waits
        report(args, net, history, X, X_train, y_train, validation, sizes, pruning)
    if caught or history.stopped == "interrupted":
        print(f"fastbp train: interrupted; kept the model of epoch {len(history)}"
              + (f", saved to {args.save}" if args.save else ""), file=sys.stderr)
        return 130
    return 0


def begun(args, net, rows, epochs):
    """The on_start of fit: unless --quiet, a line on stderr when the first epoch begins."""
    if args.quiet:
        return None

    def say():
        print(f"fastbp train: training {'-'.join(map(str, net.sizes))} on {rows} rows, {args.mode} mode, {epochs} "
              f"epochs (Ctrl-C stops it and keeps the last whole epoch)", file=sys.stderr, flush=True)
    return say


def fit_once(args, net, X_train, y_train, validation, epochs):
    """One training run of `fastbp train` for `epochs`: in this process, or on a cluster when asked."""
    if args.scheduler or args.workers is not None:
        return fit_on_cluster(args, net, X_train, y_train, validation, epochs)
    return net.fit(X_train, y_train, mode=args.mode, epochs=epochs, lr=args.lr, batch_size=args.batch_size,
                   l2=args.l2, optimizer=optimizer_of(args), seed=args.seed, gradient=args.gradient,
                   schedule=args.schedule, validation=validation, patience=args.patience,
                   progress=progress_wanted(args), n_threads=args.threads,
                   on_start=begun(args, net, X_train.shape[0], epochs))


def prune_and_train(args, net, X_train, y_train, validation):
    """`--prune`: (summary line, the retraining's history): prune, then train for --prune-epochs."""
    X_check, y_check = validation or (X_train, y_train)
    where = "validation" if validation else "training"

    def measure():
        text = f"{where} loss {net.loss(X_check, y_check):.4g}"
        return text + (f", accuracy {accuracy(net, X_check, y_check):.3f}" if net.is_classifier else "")

    before, edges, density = measure(), net.n_edges, net.density
    net.prune(args.prune)
    after = measure()
    epochs = args.prune_epochs or max(1, args.epochs // 10)
    history = fit_once(args, net, X_train, y_train, validation, epochs)
    line = (f"pruned {edges - net.n_edges:,} of {edges:,} live weights (density {density:.3g} -> {net.density:.3g}): "
            f"{before} before, {after} after pruning, {measure()} after {len(history)} more epochs")
    return line, history


def fit_on_cluster(args, net, X, y, validation, epochs):
    """`fastbp train --scheduler ADDRESS | --workers N`: fastbp.distributed.fit on that cluster."""
    if args.workers is not None and args.workers < 1:
        raise CliError(f"--workers must be at least 1, got {args.workers}")
    if args.mode not in ("batch", "minibatch"):
        raise CliError(f"a cluster trains with --mode batch or minibatch, got --mode {args.mode}")
    if args.gradient != "backprop" or args.schedule != "constant" or args.threads is not None:
        raise CliError("--gradient numerical, --schedule invscaling and --threads are options of training in "
                       "this process, not on a cluster")
    optimizer = optimizer_of(args)
    try:
        from distributed import Client, LocalCluster

        from . import distributed
    except ImportError:
        raise CliError("--scheduler and --workers need Dask: pip install 'fastbp[distributed]'") from None
    with ExitStack() as stack:
        if args.workers is not None:
            cluster = stack.enter_context(LocalCluster(n_workers=args.workers, threads_per_worker=1,
                                                       dashboard_address=":0"))
            client = stack.enter_context(Client(cluster))
        else:
            try:
                client = stack.enter_context(Client(args.scheduler, timeout=30))
            except OSError as error:
                raise CliError(f"--scheduler {args.scheduler}: cannot connect ({error})") from None
        return distributed.fit(net, X, y, mode=args.mode, epochs=epochs, lr=args.lr,
                               batch_size=args.batch_size, l2=args.l2, optimizer=optimizer, seed=args.seed,
                               validation=validation, patience=args.patience, progress=progress_wanted(args),
                               client=client, on_start=begun(args, net, X.shape[0], epochs))


def report(args, net, history, X, X_train, y_train, validation, sizes, pruning=None):
    """Print the summary of a training run (and of --prune's retraining) and write the model and the curves."""
    print(f"data {args.data}: {X.shape[0]} rows, {X_train.shape[0]} for training"
          + (f", {validation[0].shape[0]} for validation" if validation else ""))
    print(f"model {net}")
    print(f"trained {len(history)} epochs ({args.mode}, {args.gradient}, {args.optimizer.lower()}) "
          f"in {sum(history.seconds):.3f} s, "
          f"{history.samples_per_second():,.0f} samples/s (compile {history.compile_seconds:.2f} s); "
          f"stopped: {history.stopped}" + (f", best epoch {history.best_epoch}" if history.best_epoch else "")
          + (f"; ended worse than it began (loss {history.initial_loss:.4g} before training, "
             f"{history.final_loss:.4g} after)" if history.ended_worse else ""))
    if pruning is not None:
        print(pruning[0])
    line = f"training loss {net.loss(X_train, y_train):.4g}"
    if validation:
        line += f", validation loss {net.loss(*validation):.4g}"
        if net.is_classifier:
            line += f", validation accuracy {accuracy(net, *validation):.3f}"
    elif net.is_classifier:
        line += f", training accuracy {accuracy(net, X_train, y_train):.3f}"
    print(line)
    if args.save:
        net.save(args.save)
        print(f"saved model to {args.save}")
    if args.plot:
        from .plots import plot_history
        plot_history(history, args.plot, title=f"fastbp train --data {args.data}: {'-'.join(map(str, sizes))}")
        print(f"saved curves to {args.plot}")


def predict(args):
    """`fastbp predict`: one prediction per row."""
    net = MLP.load(args.model)
    X, _ = load_data(args)
    out = net.predict(X)
    if out.ndim == 1:
        print("\n".join(str(int(v)) for v in out))
    else:
        print("\n".join(",".join(f"{v:.6g}" for v in row) for row in out))


def evaluate(args):
    """`fastbp evaluate`: accuracy (classifiers) or mean loss (regressors)."""
    net = MLP.load(args.model)
    X, y = load_data(args)
    if y is None:
        raise CliError("evaluate needs targets: choose the target column with --target")
    if net.is_classifier:
        print(f"accuracy {accuracy(net, X, y):.4f} ({X.shape[0]} rows)")
    else:
        print(f"loss {net.loss(X, y):.6g} ({X.shape[0]} rows, mean {net.loss_name} loss)")


def run_costs(args):
    """`fastbp costs`: the cost experiment; prints its table, writes its JSON and figure to --out."""
    from . import costs, density
    out = Path(args.out)
    if not out.is_dir():
        raise CliError(f"--out must be an existing folder, got {args.out}")
    experiment, name = (density, "density") if args.density else (costs, "costs")
    result = experiment.run("quick" if args.quick else "full", progress=progress_wanted(args))
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    experiment.plot(result, out / f"{name}.png")
    print(experiment.report_section(result, f"{name}.png"))
    print(f"saved {out / f'{name}.json'} and {out / f'{name}.png'}")


def run_compile(args):
    """`fastbp compile`: every kernel that the options can reach, compiled into Numba's cache (or loaded from it)."""
    seconds = warm.precompile(dtypes=args.dtype, modes=args.mode, optimizers=args.optimizer, sparse=args.sparse,
                              progress=progress_wanted(args))
    print(f"{len(seconds)} groups of kernels ready in {sum(seconds.values()):.1f} s "
          f"({', '.join(args.dtype)}; {', '.join(args.mode)}; {', '.join(args.optimizer)}"
          f"{'; sparse too' if args.sparse else ''}); cache: {warm.cache_folder()}")


COMMANDS = {"train": train, "predict": predict, "evaluate": evaluate, "costs": run_costs, "compile": run_compile}


#: the API's names of options whose command-line option is named otherwise
API_NAMES = {"n_threads": "--threads", "connectivity": "--density"}


def option_names(message, argv):
    """`message` with the API's argument names put as the options of the command in argv.

    "batch_size must be ..." reads "--batch-size must be ...", where the command has that option.
    """
    words = [word for word in argv if not word.startswith("-")]
    command = build_parser().commands.get(words[0]) if words else None
    if command is None:
        return message
    options = {action.dest: action.option_strings[0] for action in command._actions if action.option_strings}
    options.update({api: option for api, option in API_NAMES.items() if option in options.values()})
    return re.sub(r"(?<![\w-])([a-z][a-z0-9_]*) must\b", lambda m: f"{options.get(m.group(1), m.group(1))} must",
                  message)


def main(argv=None):
    """Run the command line (``argv``: the arguments, default sys.argv[1:]); returns the exit code."""
    command = "fastbp"
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
        command = f"fastbp {args.command}"
        return COMMANDS[args.command](args) or 0
    except KeyboardInterrupt:  # in train: fit returns the last whole epoch, so none had finished
        print(f"{command}: interrupted" + (" before the first epoch finished: no model to save"
                                           if command == "fastbp train" else ""), file=sys.stderr)
        return 130
    except Exception as exc:
        if "--traceback" in argv:
            raise
        message = option_names(" ".join(str(exc).split()), argv)  # one line, in the command line's words
        if isinstance(exc, FileNotFoundError):
            print(f"{command}: error: no such file: {exc.filename}", file=sys.stderr)
        elif isinstance(exc, (CliError, ValueError, TypeError, OSError, FloatingPointError)):
            print(f"{command}: error: {message}", file=sys.stderr)
        else:  # a bug in fastbp: one line, and how to see the rest
            print(f"{command}: internal error: {exc.__class__.__name__}: {message} (run again with "
                  "fastbp --traceback for the details, and please report it)", file=sys.stderr)
            return 1
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

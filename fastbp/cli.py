"""The `fastbp` command line."""
import argparse
import sys

import numpy as np

from . import datasets
from .model import MLP, accuracy

DATASETS = {"iris": datasets.iris, "xor": datasets.xor, "xnor": datasets.xnor}


class CliError(Exception):
    """A problem to report in one line on stderr (exit code 2)."""


def int_list(text):
    try:
        return [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers like 4,8,3, got {text!r}") from None


def build_parser():
    parser = argparse.ArgumentParser(prog="fastbp", description="Train MLPs by backpropagation, fast.")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train an MLP on a data set and print a summary")
    train.add_argument("--data", default="iris", choices=sorted(DATASETS), help="built-in data set (default iris)")
    train.add_argument("--layers", type=int_list, default=None,
                       help="hidden layer widths, e.g. 16 or 32,16 (default 8)")
    train.add_argument("--hidden", default="tanh", help="hidden activation (default tanh)")
    train.add_argument("--mode", default="sgd", help="sgd, minibatch or batch (default sgd)")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--lr", type=float, default=0.02)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--l2", type=float, default=0.0)
    train.add_argument("--momentum", type=float, default=0.0)
    train.add_argument("--test-fraction", type=float, default=0.3)
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--seed", type=int, default=0)
    return parser


def train(args):
    X, labels = DATASETS[args.data]()
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    n_classes = int(labels.max()) + 1
    X_train, X_test, y_train, y_test = datasets.train_test_split(X, labels, args.test_fraction, seed=args.seed)
    hidden_widths = args.layers if args.layers is not None else [8]
    sizes = [X.shape[1], *hidden_widths, n_classes]
    net = MLP(sizes, hidden=args.hidden, output="softmax", loss="cross_entropy",
              dtype=np.dtype(args.dtype), seed=args.seed)
    history = net.fit(X_train, y_train, mode=args.mode, epochs=args.epochs, lr=args.lr,
                      batch_size=args.batch_size, l2=args.l2, momentum=args.momentum, seed=args.seed)
    print(f"{args.data}: {net}")
    print(f"trained {len(history)} epochs ({args.mode}) in {sum(history.seconds):.3f} s, "
          f"{history.samples_per_second():,.0f} samples/s; final training loss {history.loss[-1]:.4f}")
    print(f"accuracy: train {accuracy(net, X_train, y_train):.3f}, held-out {accuracy(net, X_test, y_test):.3f}"
          f" ({X_test.shape[0]} rows)")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            train(args)
    except (ValueError, TypeError, CliError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The `fastbp` command line."""
import argparse
import sys
from pathlib import Path

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
    train.add_argument("--gradient", default="backprop", help="backprop or numerical (default backprop)")
    train.add_argument("--epochs", type=int, default=100)
    train.add_argument("--lr", type=float, default=0.02)
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--l2", type=float, default=0.0)
    train.add_argument("--momentum", type=float, default=0.0)
    train.add_argument("--test-fraction", type=float, default=0.3)
    train.add_argument("--dtype", default="float64", choices=["float64", "float32"])
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--quiet", action="store_true", help="no progress line")

    cost = sub.add_parser("costs", help="measure gradient cost against edges: backprop vs finite differences")
    add_experiment_options(cost)
    bench = sub.add_parser("bench", help="run the experiments and regenerate RESULTS.md")
    bench.add_argument("experiments", nargs="*", choices=["costs"], default=[],
                       help="which experiments (default: all)")
    add_experiment_options(bench)
    return parser


def add_experiment_options(p):
    p.add_argument("--quick", action="store_true", help="a short run (used by CI) instead of the full one")
    p.add_argument("--root", default=".", help="where RESULTS.md and bench/results/ are written (default .)")
    p.add_argument("--quiet", action="store_true", help="no progress line")


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
                      batch_size=args.batch_size, l2=args.l2, momentum=args.momentum, seed=args.seed,
                      gradient=args.gradient, progress=False if args.quiet else None)
    print(f"{args.data}: {net}")
    print(f"trained {len(history)} epochs ({args.mode}, {args.gradient}) in {sum(history.seconds):.3f} s, "
          f"{history.samples_per_second():,.0f} samples/s; final training loss {history.loss[-1]:.4f}")
    print(f"accuracy: train {accuracy(net, X_train, y_train):.3f}, held-out {accuracy(net, X_test, y_test):.3f}"
          f" ({X_test.shape[0]} rows)")


def run_experiments(names, args):
    from . import costs, report
    root = Path(args.root)
    progress = False if args.quiet else None
    mode = "quick" if args.quick else "full"
    for name in names:
        if name == "costs":
            result = costs.run(mode, progress=progress)
            (root / report.RESULTS_DIR).mkdir(parents=True, exist_ok=True)
            costs.plot(result, root / report.RESULTS_DIR / "costs.png")
            print(f"costs: saved {report.save(result, root, 'costs')}")
            for m, fit in result["slopes"].items():
                if fit:
                    print(f"  {m}: slope {fit['slope']:.3f} over E {fit['e_min']:,} to {fit['e_max']:,}")
    print(f"wrote {report.write_results(root)}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            train(args)
        elif args.command == "costs":
            run_experiments(["costs"], args)
        elif args.command == "bench":
            run_experiments(args.experiments or ["costs"], args)
    except (ValueError, TypeError, OSError, CliError) as exc:
        print(f"fastbp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fastbp {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

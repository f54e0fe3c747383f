"""The divergence sweep: ``python -m bench.divergence_sweep [--cluster]``, a Markdown table on stdout.

Learning rates 0.01 to 1e6 in every mode and optimizer, a classifier and a regressor, dense and
sparse (issue 32's set-up: 60 rows of 4 normal features; 3 random classes, or 2 targets of scale
100 for a relu regressor). Each run must end completed with a loss at or below its loss before
training, or with TrainingDiverged and a restored model whose loss is finite and at most that.
--cluster: the same through fastbp.distributed.fit on a LocalCluster of 2 worker processes
(modes minibatch and batch).
"""
import argparse
import itertools
import time

import numpy as np

import fastbp

LRS = (0.01, 0.1, 1, 10, 100, 1e3, 1e4, 1e5, 1e6)
OPTIMIZERS = {"sgd": lambda: "sgd", "momentum": lambda: fastbp.SGD(momentum=0.9), "adam": lambda: "adam"}
EPOCHS = 20


def problem(task, sparse):
    """(network, X, targets) of the sweep, the same for every learning rate."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    connectivity = 0.5 if sparse else None
    if task == "classifier":
        net = fastbp.MLP([4, 6, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=0,
                         connectivity=connectivity)
        return net, X, rng.integers(0, 3, 60)
    return fastbp.MLP([4, 8, 2], hidden="relu", seed=0, connectivity=connectivity), X, 100 * rng.normal(size=(60, 2))


def outcome(fit, task, sparse, mode, optimizer, lr):
    """("completed" or "diverged", loss after / loss before, clean)."""
    net, X, Y = problem(task, sparse)
    before = net.loss(X, Y)
    try:
        fit(net, X, Y, mode=mode, lr=lr, optimizer=OPTIMIZERS[optimizer](), epochs=EPOCHS, seed=0)
        kind = "completed"
    except fastbp.TrainingDiverged:
        kind = "diverged"
    after = net.loss(X, Y)
    return kind, after / before, bool(np.isfinite(after) and after <= before)


def sweep(fit, modes):
    """{(task, storage, mode, optimizer): [outcome per learning rate]}."""
    rows = {}
    for task, sparse, mode, optimizer in itertools.product(("classifier", "regressor"), (False, True), modes,
                                                           OPTIMIZERS):
        key = (task, "sparse" if sparse else "dense", mode, optimizer)
        rows[key] = [outcome(fit, task, sparse, mode, optimizer, lr) for lr in LRS]
    return rows


def table(rows):
    """The Markdown table: C completed, D diverged, ! not clean; the largest loss ratio after/before."""
    lines = ["| task | storage | mode | optimizer | " + " | ".join(f"lr {lr:g}" for lr in LRS)
             + " | completed: max after/before |", "|" + "---|" * (5 + len(LRS))]
    for key, runs in rows.items():
        cells = [("C" if kind == "completed" else "D") + ("" if clean else "!") for kind, _, clean in runs]
        done = [ratio for kind, ratio, _ in runs if kind == "completed"]
        worst = f"{max(done):.3f}" if done else "-"
        lines.append("| " + " | ".join(key) + " | " + " | ".join(cells) + f" | {worst} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", action="store_true", help="through fastbp.distributed on 2 local workers")
    args = parser.parse_args()
    start = time.perf_counter()
    if args.cluster:
        import distributed

        from fastbp import distributed as cluster_fit
        with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                      dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
            rows = sweep(lambda net, X, Y, **options: cluster_fit.fit(net, X, Y, client=client, partitions=2,
                                                                      **options), ("minibatch", "batch"))
    else:
        rows = sweep(lambda net, X, Y, **options: net.fit(X, Y, **options), ("sgd", "minibatch", "batch"))
    runs = [run for runs in rows.values() for run in runs]
    print(f"{'cluster of 2 workers' if args.cluster else 'in process'}: {len(runs)} runs in "
          f"{time.perf_counter() - start:.0f} s; completed {sum(kind == 'completed' for kind, _, _ in runs)}, "
          f"diverged {sum(kind == 'diverged' for kind, _, _ in runs)}, not clean {sum(not c for _, _, c in runs)}\n")
    print(table(rows))


if __name__ == "__main__":
    main()

"""The cost experiment's density sweep: at fixed widths, seconds against the number of live edges.

Backpropagation costs O(live edges) when the kernels visit only live edges: a network with 2% of
its edges should train about 50 times faster than the fully connected one, while a dense framework
that multiplies by a mask pays for every edge at every density. Each density is timed with the
live-edge kernels (kernels.live); the fully connected network is also timed with the dense
kernels, which is what a network without masks runs. Peers (PyTorch with a dense masked weight,
from bench/) join through ``run(peers=...)``.
"""
import numba
import numpy as np
from tqdm.auto import tqdm

from . import kernels
from .costs import fit_slope, median_seconds
from .engine import Workspace, aligned_zeros
from .machine import machine_info
from .model import MLP

SWEEP = {
    "full": dict(sizes=[784, 1024, 1024, 10], densities=[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0], rows=64,
                 repeats=5),
    "quick": dict(sizes=[64, 128, 128, 10], densities=[0.02, 0.1, 0.5, 1.0], rows=32, repeats=3),
}
LR = 1e-4  # small steps: the timed epochs leave the weights about where they started


def network(sizes, density, live_kernels=True, seed=0):
    """The swept network: tanh hidden layers, softmax and cross-entropy, `density` of its edges live.

    live_kernels with density 1: every edge live but run by the live-edge kernels (a mask of ones),
    the sweep's last point; otherwise a fully connected network runs the dense kernels.
    """
    net = MLP(sizes, hidden="tanh", output="softmax", loss="cross_entropy", seed=seed, connectivity=density)
    if live_kernels and net._masks is None:
        net._set_masks([np.ones(W.shape, dtype=bool) for W in net.weights])
    return net


def problem(sizes, rows, seed=0):
    """(X, one-hot Y) of `rows` random samples for the swept widths."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(rows, sizes[0])), np.eye(sizes[-1])[rng.integers(0, sizes[-1], rows)]


class Probe:
    """One network at one density and the buffers to time its kernels without Python in the loop."""

    def __init__(self, net, X, Y):
        self.net, self.X, self.Y = net, X, Y
        self.velocity = aligned_zeros(net.n_params, net.dtype)
        self.grad = aligned_zeros(net.n_params, net.dtype)
        self.work = Workspace(net).sample
        self.rows = np.arange(X.shape[0], dtype=np.int64)

    def sgd(self, count):
        """`count` per-sample SGD epochs over the rows, one compiled call each (the epoch kernel of fit)."""
        T = self.net.dtype.type
        for _ in range(count):
            kernels.sgd_epoch(**self.net.kernel_args(), velocity=self.velocity, loss=self.net.loss_code, X=self.X,
                              Y=self.Y, rows=self.rows, lr=T(LR), momentum=T(0), nesterov=False, l2=T(0),
                              work=self.work)

    def gradient(self, count):
        """`count` backpropagated gradients over the rows, summed sample by sample (kernels.gradient_rows).

        The sum is not reset between calls: zeroing the dense-layout buffer would add O(all edges) per call.
        """
        for _ in range(count):
            kernels.gradient_rows(**self.net.kernel_args(), loss=self.net.loss_code, X=self.X, Y=self.Y,
                                  rows=self.rows, grad=self.grad, work=self.work)


def seconds_per_sample(run, n_rows, repeats, min_seconds=0.05):
    """Median over `repeats` of the seconds per sample of run(count), a call over n_rows rows per count."""
    return median_seconds(run, repeats, min_seconds) / n_rows


def run(mode="full", peers=None, progress=None):
    """Time the sweep on one thread; returns a JSON-ready dict (machine, rows, slopes).

    peers: {name: function(net, X, Y, repeats) -> dict(sgd=seconds per sample, gradient=seconds per
    sample)}, called with each density's network (its masks and weights) on the same rows.
    """
    cfg = SWEEP[mode]
    sizes = cfg["sizes"]
    X, Y = problem(sizes, cfg["rows"])
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        points = [(d, True) for d in cfg["densities"]] + [(1.0, False)]
        bar = tqdm(total=len(points), desc=f"density sweep ({mode})",
                   disable=None if progress is None else not progress)
        rows = []
        for density, live in points:
            net = network(sizes, density, live_kernels=live)
            probe = Probe(net, X, Y)
            probe.sgd(1)  # compile (or load) first: no timing includes compilation
            probe.gradient(1)
            row = dict(density=density, edges=net.n_edges, kernel="live" if live else "dense",
                       sgd=seconds_per_sample(probe.sgd, X.shape[0], cfg["repeats"]),
                       gradient=seconds_per_sample(probe.gradient, X.shape[0], cfg["repeats"]), peers={})
            for name, peer in (peers or {}).items():
                if live:
                    row["peers"][name] = peer(network(sizes, density, live_kernels=False), X, Y, cfg["repeats"])
            rows.append(row)
            bar.set_postfix(density=density, kernel=row["kernel"], refresh=False)
            bar.update(1)
        bar.close()
        info = machine_info()
    finally:
        numba.set_num_threads(previous_threads)
    return dict(mode=mode, sizes=sizes, rows_per_call=cfg["rows"], machine=info, rows=rows, slopes=slopes(rows))


def slopes(rows):
    """Log-log slopes of seconds against live edges, per quantity ("sgd", "gradient").

    The live-edge kernels over every density; `<quantity>_as_run`: with the dense kernels at density 1,
    as a network without masks runs; `<quantity>_<peer>`: each peer's.
    """
    live = [r for r in rows if r["kernel"] == "live"]
    dense = [r for r in rows if r["kernel"] == "dense"]
    out = {}
    for quantity in ("sgd", "gradient"):
        out[quantity] = fit_slope([r["edges"] for r in live], [r[quantity] for r in live], 0)
        as_run = [r for r in live if r["density"] < 1] + dense
        out[quantity + "_as_run"] = fit_slope([r["edges"] for r in as_run], [r[quantity] for r in as_run], 0)
        for name in sorted({p for r in live for p in r["peers"]}):
            pts = [r for r in live if name in r["peers"]]
            out[f"{quantity}_{name}"] = fit_slope([r["edges"] for r in pts], [r["peers"][name][quantity] for r in pts],
                                                  0)
    return out


def speedup(rows, density, quantity="sgd"):
    """(seconds at density 1 with the dense kernels) / (seconds at `density` with the live-edge kernels)."""
    dense = next(r for r in rows if r["kernel"] == "dense")
    point = next(r for r in rows if r["kernel"] == "live" and r["density"] == density)
    return dense[quantity] / point[quantity]


def plot(result, path):
    """Two log-log panels, per-sample SGD step and backprop gradient: seconds against live edges."""
    from matplotlib.figure import Figure

    live = [r for r in result["rows"] if r["kernel"] == "live"]
    dense = [r for r in result["rows"] if r["kernel"] == "dense"]
    names = sorted({p for r in live for p in r["peers"]})
    fig = Figure(figsize=(11, 4.8))
    titles = {"sgd": "per-sample SGD step", "gradient": "backprop gradient (one sample)"}
    for ax, quantity in zip(fig.subplots(1, 2), ("sgd", "gradient")):
        E = [r["edges"] for r in live]
        fit = result["slopes"][quantity]
        ax.plot(E, [r[quantity] for r in live], "o-", color="tab:blue",
                label=f"fastbp, live-edge kernels: slope {fit['slope']:.2f}")
        ax.plot([r["edges"] for r in dense], [r[quantity] for r in dense], "*", ms=12, color="tab:green",
                label="fastbp, dense kernels (no mask)")
        for name, colour in zip(names, ("tab:red", "tab:purple", "tab:orange")):
            pts = [r for r in live if name in r["peers"]]
            peer_fit = result["slopes"][f"{quantity}_{name}"]
            ax.plot([r["edges"] for r in pts], [r["peers"][name][quantity] for r in pts], "s--", color=colour,
                    label=f"{name}, dense weight x mask: slope {peer_fit['slope']:.2f}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("live edges")
        ax.set_ylabel("seconds per sample")
        ax.set_title(titles[quantity], fontsize=10)
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=7.5, loc="lower right")
    fig.suptitle(f"Cost against live edges at fixed widths {'-'.join(map(str, result['sizes']))} "
                 f"({result['machine']['cpu']}, 1 thread, float64)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report_section(result, figure):
    """The RESULTS.md section for the density sweep, as markdown."""
    live = [r for r in result["rows"] if r["kernel"] == "live"]
    dense = next(r for r in result["rows"] if r["kernel"] == "dense")
    names = sorted({p for r in live for p in r["peers"]})
    s = result["slopes"]
    lines = [
        "## Sparse connectivity: cost against live edges",
        "",
        f"Network {'-'.join(map(str, result['sizes']))} (tanh hidden, softmax, cross-entropy), float64, one thread, "
        f"random masks at each density (`MLP(connectivity=density)`); seconds per sample, median of repeats of "
        f"epochs over {result['rows_per_call']} rows (warm JIT), mode `{result['mode']}`. `sgd`: the per-sample SGD "
        "epoch of `fit(mode=\"sgd\")`; `gradient`: backpropagated gradients summed sample by sample. fastbp's "
        "live-edge kernels run every density, 100% included (a mask of ones); the dense kernels, which a network "
        "without masks runs, are timed at 100% beside them."
        + (" PyTorch: the same weights and masks, `linear(x, W * mask, b)` per layer (what "
           "`torch.nn.utils.prune` does), one sample per step, `torch.optim.SGD`, one thread." if names else ""),
        "",
        f"![seconds against live edges]({figure})",
        "",
        "| fitted slope (log seconds on log live edges) | sgd | gradient |",
        "|---|---|---|",
        f"| fastbp, live-edge kernels, every density | {s['sgd']['slope']:.3f} | {s['gradient']['slope']:.3f} |",
        f"| fastbp as run (dense kernels at 100%) | {s['sgd_as_run']['slope']:.3f} | "
        f"{s['gradient_as_run']['slope']:.3f} |",
    ]
    for name in names:
        lines.append(f"| {name}, dense weight x mask | {s['sgd_' + name]['slope']:.3f} | "
                     f"{s['gradient_' + name]['slope']:.3f} |")
    header = "| density | live edges | sgd (s) | gradient (s) | sgd: dense kernels at 100% / this |"
    rule = "|---|---|---|---|---|"
    for name in names:
        header += f" {name} sgd (s) | {name} gradient (s) | {name} sgd / fastbp sgd |"
        rule += "---|---|---|"
    lines += ["", header, rule]
    for r in live:
        line = (f"| {r['density']:.0%} | {r['edges']:,} | {r['sgd']:.3e} | {r['gradient']:.3e} | "
                f"{dense['sgd'] / r['sgd']:.1f}x |")
        for name in names:
            p = r["peers"].get(name)
            line += (f" {p['sgd']:.3e} | {p['gradient']:.3e} | {p['sgd'] / r['sgd']:.1f}x |" if p else " - | - | - |")
        lines.append(line)
    lines.append(f"| 100%, dense kernels | {dense['edges']:,} | {dense['sgd']:.3e} | {dense['gradient']:.3e} | 1.0x |"
                 + " - | - | - |" * len(names))
    return "\n".join(lines) + "\n"

"""The cost experiment: seconds per single-sample gradient against the number of edges E.

Backpropagation costs O(E) multiply-adds per gradient; finite differences cost one
(forward) or two (central) full forward passes per parameter, O(P E) ~ O(E^2). This
module measures all three on the same networks with the same compiled forward pass,
fits log-log slopes, counts multiply-adds from the loop structure, and draws the figure.
"""
import math
import statistics
import time

import numba
import numpy as np
from tqdm.auto import tqdm

from . import kernels
from .engine import Workspace, aligned_zeros
from .machine import machine_info
from .model import MLP
from .numerical import default_eps

METHODS = ("backprop", "central", "forward")

# The swept networks are [256, h, 4]: E = 260 h. Every long inner loop runs over the 256
# inputs, so the compiled loops run at one efficiency from small h on, and E alone varies.
# Full mode reaches E ~ 1.06e6 for backprop and E ~ 1.3e5 for the numerical gradients.
SWEEP = {
    "full": dict(hidden=[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096], numerical_max_edges=140_000,
                 equal_edges=[[256, 256], [128, 256, 128], [512, 64, 512], [16, 1024, 48],
                              [128, 128, 128, 128, 128]], repeats=5, numerical_repeats=3),
    "quick": dict(hidden=[1, 4, 16, 64, 256], numerical_max_edges=4_200,
                  equal_edges=[[64, 64], [32, 64, 32], [8, 256, 8], [32, 32, 32, 32, 32]],
                  repeats=3, numerical_repeats=3),
}
# Slopes are fitted over E >= FIT_FROM: below it, fixed costs per call, per layer and per row
# (about 0.1 microsecond) are comparable to the arithmetic. Chosen from the measured curves.
FIT_FROM = {"backprop": 1_000, "central": 1_000, "forward": 1_000}


def swept_sizes(h):
    """The swept network with h hidden units."""
    return [256, h, 4]


edges = kernels.edge_count  # the number of weights of a network with these layer widths


def multiply_adds(sizes, method):
    """Multiply-adds per single-sample gradient, counted from the kernels' loops.

    forward pass: E (sum_j sum_k W_jk a_k). backprop: forward E, dC/dW E, delta
    propagation E - E_0 (none below layer 0): 3E - E_0. forward differences: P + 1
    forward passes; central: 2P.
    """
    E = edges(sizes)
    P = E + sum(sizes[1:])
    if method == "backprop":
        return 3 * E - sizes[0] * sizes[1]
    if method == "central":
        return 2 * P * E
    return (P + 1) * E


class Probe:
    """One network, one sample, and the buffers to time its gradients without Python in the loop."""

    def __init__(self, sizes, seed=0):
        self.net = MLP(sizes, hidden="sigmoid", output="identity", seed=seed)
        rng = np.random.default_rng(seed)
        self.X = rng.normal(size=(1, sizes[0]))
        self.Y = rng.normal(size=(1, sizes[-1]))
        self.grad = aligned_zeros(self.net.n_params, self.net.dtype)
        self.work = Workspace(self.net).sample

    def backprop(self, count):
        """`count` single-sample gradients in one call (the same row `count` times)."""
        self.grad[:] = 0
        kernels.gradient_rows(**self.net.kernel_args(), loss=self.net.loss_code, X=self.X, Y=self.Y,
                              rows=np.zeros(count, dtype=np.int64), grad=self.grad, work=self.work)

    def numerical(self, count, scheme):
        """`count` finite-difference gradients ("central" or "forward") of the one sample."""
        T = self.net.dtype.type
        args = dict(self.net.kernel_args(), loss=self.net.loss_code, X=self.X, Y=self.Y,
                    rows=np.zeros(1, dtype=np.int64), eps=T(default_eps(self.net.dtype, scheme)), l2=T(0),
                    central=scheme == "central", targets=np.arange(self.net.n_params, dtype=np.uint64),
                    grad=self.grad, work=self.work)
        for _ in range(count):
            kernels.finite_differences(**args)

    def seconds_per_gradient(self, method, repeats, min_seconds=0.02):
        """Median over `repeats` of (seconds for `count` gradients) / count.

        `count` is calibrated so that one timing lasts at least `min_seconds`. Compile first (see `warm_up`).
        """
        run = self.backprop if method == "backprop" else (lambda c: self.numerical(c, method))
        return median_seconds(run, repeats, min_seconds)


def median_seconds(run, repeats, min_seconds):
    """Median over `repeats` of (seconds of run(count)) / count.

    count is calibrated so that one timing lasts at least `min_seconds`.
    """
    count = 1
    while True:
        start = time.perf_counter()
        run(count)
        elapsed = time.perf_counter() - start
        if elapsed >= min_seconds:
            break
        count *= max(2, min(100, int(min_seconds / max(elapsed, 1e-9))))
    times = [elapsed / count]
    for _ in range(repeats - 1):
        start = time.perf_counter()
        run(count)
        times.append((time.perf_counter() - start) / count)
    return statistics.median(times)


def warm_up():
    """Compile every timed kernel on a tiny network, so no timing includes compilation."""
    probe = Probe([2, 2, 1])
    probe.backprop(1)
    for scheme in ("central", "forward"):
        probe.numerical(1, scheme)


def fit_slope(E, seconds, low):
    """Least-squares slope of log(seconds) on log(E) over E >= low: (slope, E_min, E_max, points)."""
    pts = [(e, s) for e, s in zip(E, seconds) if e >= low]
    if len(pts) < 2:
        return None
    x = np.log10([p[0] for p in pts])
    y = np.log10([p[1] for p in pts])
    slope = float(np.polyfit(x, y, 1)[0])
    return dict(slope=slope, e_min=pts[0][0], e_max=pts[-1][0], points=len(pts))


def run(mode="full", progress=None):
    """Measure the sweep; returns a JSON-ready dict (machine, rows, slopes, op-count slopes)."""
    cfg = SWEEP[mode]
    previous_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        warm_up()
        jobs = [(swept_sizes(h), m, "sweep") for h in cfg["hidden"] for m in METHODS
                if m == "backprop" or edges(swept_sizes(h)) <= cfg["numerical_max_edges"]]
        jobs += [(list(s), m, "equal_edges") for s in cfg["equal_edges"] for m in METHODS]
        bar = tqdm(total=len(jobs), desc=f"costs ({mode})", disable=None if progress is None else not progress)
        rows = []
        for sizes, method, family in jobs:
            probe = Probe(sizes)
            repeats = cfg["repeats"] if method == "backprop" else cfg["numerical_repeats"]
            seconds = probe.seconds_per_gradient(method, repeats)
            rows.append(dict(sizes=sizes, method=method, family=family, edges=edges(sizes),
                             params=probe.net.n_params, seconds=seconds,
                             multiply_adds=multiply_adds(sizes, method)))
            bar.set_postfix(E=edges(sizes), method=method, refresh=False)
            bar.update(1)
        bar.close()
        info = machine_info()
    finally:
        numba.set_num_threads(previous_threads)
    return dict(mode=mode, machine=info, rows=rows, slopes=slopes(rows), model_slopes=slopes(rows, "multiply_adds"),
                fit_from=FIT_FROM)


def sweep_rows(rows, method):
    """The swept networks' rows of one method, by E."""
    return sorted((r for r in rows if r["method"] == method and r["family"] == "sweep"), key=lambda r: r["edges"])


def slopes(rows, quantity="seconds"):
    """Log-log slope of `quantity` against E per method over E >= FIT_FROM[method].

    quantity: measured ("seconds") or the op-count model ("multiply_adds", over the same range).
    """
    out = {}
    for m in METHODS:
        rs = sweep_rows(rows, m)
        out[m] = fit_slope([r["edges"] for r in rs], [r[quantity] for r in rs], FIT_FROM[m])
    return out


def speedups(rows):
    """(E, sizes, backprop seconds, central / backprop, forward / backprop) per swept E with all three."""
    by = {(tuple(r["sizes"]), r["method"]): r for r in rows if r["family"] == "sweep"}
    out = []
    for r in sweep_rows(rows, "backprop"):
        key = tuple(r["sizes"])
        c, f = by.get((key, "central")), by.get((key, "forward"))
        out.append(dict(edges=r["edges"], sizes=r["sizes"], backprop=r["seconds"],
                        central=c["seconds"] if c else None, forward=f["seconds"] if f else None,
                        central_ratio=c["seconds"] / r["seconds"] if c else None,
                        forward_ratio=f["seconds"] / r["seconds"] if f else None))
    return out


def plot(result, path):
    """Log-log seconds per gradient against E, fitted slopes in the legend, op-count model dashed."""
    from matplotlib.figure import Figure

    rows = result["rows"]
    colours = {"backprop": "tab:blue", "central": "tab:red", "forward": "tab:orange"}
    names = {"backprop": "backpropagation", "central": "central differences", "forward": "forward differences"}
    # One scale turns multiply-adds into seconds: backprop's measured seconds per multiply-add at its largest E.
    top = sweep_rows(rows, "backprop")[-1]
    per_op = top["seconds"] / top["multiply_adds"]
    fig = Figure(figsize=(8, 5.5))
    ax = fig.subplots()
    for m in METHODS:
        rs = sweep_rows(rows, m)
        if not rs:
            continue
        E = [r["edges"] for r in rs]
        fit = result["slopes"][m]
        label = names[m] + (f": slope {fit['slope']:.2f} (E {fit['e_min']:,} to {fit['e_max']:,})" if fit else "")
        ax.plot(E, [r["seconds"] for r in rs], "o-", color=colours[m], label=label)
        ax.plot(E, [r["multiply_adds"] * per_op for r in rs], "--", color=colours[m], alpha=0.6,
                label=f"op-count model, {names[m]}: slope {result['model_slopes'][m]['slope']:.2f}"
                if result["model_slopes"][m] else None)
    eq = [r for r in rows if r["family"] == "equal_edges"]
    for m in METHODS:
        pts = [r for r in eq if r["method"] == m]
        if pts:
            ax.plot([r["edges"] for r in pts], [r["seconds"] for r in pts], "x", color=colours[m], ms=9,
                    label=f"equal E, other depths and widths ({names[m]})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("edges E (number of weights)")
    ax.set_ylabel("seconds per single-sample gradient")
    ax.set_title("Gradient cost: backpropagation grows as E, finite differences as E$^2$\n"
                 f"({result['machine']['cpu']}, 1 thread, float64; dashed: multiply-adds x "
                 f"{per_op * 1e9:.2f} ns)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7.5, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report_section(result, figure):
    """The RESULTS.md section for the cost experiment, as markdown."""
    def num(x, fmt):
        return "-" if x is None else format(x, fmt)

    lines = [
        "## Algorithm costs: backpropagation against numerical gradients",
        "",
        f"Seconds per single-sample gradient, median of repeats, warm JIT, one thread, float64, "
        f"[256, h, 4] networks (sigmoid hidden, identity output, squared loss), mode `{result['mode']}`. "
        "Forward differences take P + 1 forward passes, central differences 2P; both use the same "
        "compiled forward pass as backpropagation.",
        "",
        f"![seconds per gradient against edges]({figure})",
        "",
        "| method | measured slope | fit range (E) | points | op-count model slope |",
        "|---|---|---|---|---|",
    ]
    for m in METHODS:
        fit, model = result["slopes"][m], result["model_slopes"][m]
        if fit:
            lines.append(f"| {m} | {fit['slope']:.3f} | {fit['e_min']:,} to {fit['e_max']:,} "
                         f"({math.log10(fit['e_max'] / fit['e_min']):.1f} decades) | {fit['points']} | "
                         f"{model['slope']:.3f} |")
    lines += ["", "| E | network | backprop (s) | central (s) | forward (s) | central / backprop "
              "| forward / backprop |", "|---|---|---|---|---|---|---|"]
    for s in speedups(result["rows"]):
        lines.append(f"| {s['edges']:,} | {'-'.join(map(str, s['sizes']))} | {s['backprop']:.3e} | "
                     f"{num(s['central'], '.3e')} | {num(s['forward'], '.3e')} | "
                     f"{num(s['central_ratio'], ',.0f')} | {num(s['forward_ratio'], ',.0f')} |")
    eq = [r for r in result["rows"] if r["family"] == "equal_edges"]
    if eq:
        lines += ["", "Cost follows edges, not shape: networks with the same E, other depths and widths.", "",
                  "| network | E | P | method | seconds | seconds / median of its method |",
                  "|---|---|---|---|---|---|"]
        for m in METHODS:
            pts = [r for r in eq if r["method"] == m]
            if not pts:
                continue
            mid = statistics.median(r["seconds"] for r in pts)
            for r in pts:
                lines.append(f"| {'-'.join(map(str, r['sizes']))} | {r['edges']:,} | {r['params']:,} | {m} | "
                             f"{r['seconds']:.3e} | {r['seconds'] / mid:.2f} |")
    return "\n".join(lines) + "\n"

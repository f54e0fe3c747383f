"""`fastbp bench`: run the pytest-benchmark suites in bench/, time first calls, and turn the
saved JSON into RESULTS.md sections and figures."""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import costs

PROBE = r"""
import json, time
t0 = time.perf_counter()
import numpy as np, kernels, fastbp
times = {"import fastbp": time.perf_counter() - t0}
net = fastbp.MLP([64, 32, 10], output="softmax", loss="cross_entropy", seed=0)
X = np.random.default_rng(0).normal(size=(8, 64)); Y = np.eye(10)[np.arange(8)]
rows = np.arange(8); work = net._work(); grad = np.zeros_like(net.params)
hyper = np.array([0.1, 0.0, 0.0]); consts = np.array([1e-6, 0.0, 1.0])
partial = np.zeros((1, net.n_params)); big = np.zeros((1, kernels.block_work_size(net.sizes, 8) + len(work) + 1))
common = dict(params=net.params, sizes=net._sizes, acts=net._acts)
data = dict(loss=net._loss_code, X=X, Y=Y, rows=rows)
calls = {
    "forward_batch": lambda: kernels.forward_batch(X=X, rows=rows, out=np.empty(80), work=work, **common),
    "loss_sum": lambda: kernels.loss_sum(work=work, **common, **data),
    "gradient_sum": lambda: kernels.gradient_sum(grad=grad, work=work, **common, **data),
    "sgd_epoch": lambda: kernels.sgd_epoch(velocity=grad, hyper=hyper, work=work, **common, **data),
    "step": lambda: kernels.step(params=net.params, velocity=grad, grad=grad, hyper=hyper),
    "gradient_serial": lambda: kernels.gradient_serial(grad=grad, partial=partial, work=big, **common, **data),
    "gradient_parallel": lambda: kernels.gradient_parallel(grad=grad, partial=partial, work=big, **common, **data),
    "blocked_serial": lambda: kernels.blocked_serial(grad=grad, spare=partial[0], work=big[0], **common, **data),
    "blocked_parallel": lambda: kernels.blocked_parallel(grad=grad, spare=partial[0], work=big[0], **common, **data),
    "finite_differences": lambda: kernels.finite_differences(consts=consts, grad=grad, work=work, **common, **data),
}
for name, call in calls.items():
    t0 = time.perf_counter(); call(); times[name] = time.perf_counter() - t0
print(json.dumps(times))
"""


def compile_times():
    """First-call seconds of every kernel in two new processes sharing an empty cache directory:
    the first compiles (no cache), the second loads what the first wrote."""
    with tempfile.TemporaryDirectory() as cache_dir:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir)
        runs = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout))
    return {"no_cache": runs[0], "cached": runs[1]}


def run_suites(root, quick, out_json):
    """pytest-benchmark over bench/ from `root`, saving JSON; OPENBLAS_CORETYPE and
    OPENBLAS_L2_SIZE are unset for this command alone (they slow NumPy's BLAS)."""
    if not (Path(root) / "bench" / "conftest.py").exists():
        raise ValueError(f"{root} has no bench/ suites: run fastbp bench from the repository root")
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    cmd = [sys.executable, "-m", "pytest", "bench", "-q", "-p", "no:cacheprovider", f"--benchmark-json={out_json}",
           "--benchmark-columns=median,iqr,rounds", "--benchmark-sort=name"]
    if quick:
        cmd.append("--fastbp-quick")
    done = subprocess.run(cmd, cwd=root, env=env)
    if done.returncode != 0:
        raise ValueError(f"the benchmark suites failed (pytest exit code {done.returncode})")
    result = json.loads(Path(out_json).read_text())
    for b in result["benchmarks"]:
        b["stats"].pop("data", None)  # every round's time: megabytes, and the summary keeps what we use
    Path(out_json).write_text(json.dumps(result, indent=1))


def rows_of(result, kind):
    return [b for b in result["benchmarks"] if b["extra_info"].get("kind") == kind]


def _rate(b):
    return b["extra_info"]["samples"] / b["stats"]["median"]


def ceiling(result):
    """Multiply-adds per second of the ceiling benchmarks, by implementation."""
    return {b["extra_info"]["implementation"]: b["extra_info"]["multiply_adds"] / b["stats"]["median"]
            for b in rows_of(result, "ceiling")}


def sgd_section(result):
    rows = rows_of(result, "sgd")
    if not rows:
        return ""
    peaks = ceiling(result)
    impls = [i for i in ("fastbp", "numpy", "torch", "jax-step", "jax-scan", "sklearn")
             if any(b["extra_info"]["implementation"] == i for b in rows)]
    shapes = list(dict.fromkeys(b["extra_info"]["shape"] for b in rows))
    lines = ["## Per-sample SGD: one epoch, samples per second", "",
             "Sigmoid hidden layers, identity output, squared loss, lr 0.01, one update per sample, float64, "
             "one thread; every peer starts from fastbp's weights and its weights after the epoch are checked "
             "against fastbp's. Median of the rounds (pytest-benchmark).", "",
             "| shape | E | " + " | ".join(impls) + " | fastbp / best peer | fastbp multiply-adds/s | "
             "of the FMA ceiling |",
             "|---|---|" + "---|" * len(impls) + "---|---|---|"]
    chains = max(peaks.values()) if peaks else None
    for shape in shapes:
        by = {b["extra_info"]["implementation"]: b for b in rows if b["extra_info"]["shape"] == shape}
        rates = {i: _rate(by[i]) for i in impls if i in by}
        peer = max((r for i, r in rates.items() if i != "fastbp"), default=None)
        sizes = [int(v) for v in shape.split("-")]
        madds = costs.multiply_adds(sizes, "backprop") * rates["fastbp"] if "fastbp" in rates else None
        cells = [f"{rates[i]:,.0f}" if i in rates else "-" for i in impls]
        lines.append(f"| {shape} | {costs.edges(sizes):,} | " + " | ".join(cells) + " | "
                     + (f"{rates['fastbp'] / peer:.2f}" if peer and "fastbp" in rates else "-") + " | "
                     + (f"{madds:.3g}" if madds else "-") + " | "
                     + (f"{madds / chains:.0%}" if madds and chains else "-") + " |")
    lines += ["", "Multiply-adds per sample are counted as for a backprop gradient (forward E, delta E - E_0, "
              "update E): 3E - E_0. The FMA ceiling is a one-thread DGEMM measured in the same run (below)."]
    if peaks:
        lines += ["", "| ceiling, 1 thread | multiply-adds/s |", "|---|---|"]
        lines += [f"| {name} | {value:.3g} |" for name, value in peaks.items()]
    return "\n".join(lines) + "\n"


def batch_section(result, figure):
    rows = rows_of(result, "batch_gradient")
    if not rows:
        return ""
    impls = [i for i in ("fastbp-1-thread", "fastbp-2-threads", "numpy", "torch", "jax")
             if any(b["extra_info"]["implementation"] == i for b in rows)]
    lines = ["## Batch gradient: samples per second against batch size", "",
             "Mean gradient of softmax + cross-entropy over the batch, sigmoid hidden layers, float64; fastbp on "
             "1 and 2 threads, NumPy (matrix products, 2 BLAS threads), PyTorch (loss.backward, 2 threads), JAX "
             "(jit(grad)). Answers checked against NumPy. Median of the rounds.", "",
             f"![batch gradient throughput]({figure})", "",
             "| shape | batch | " + " | ".join(impls) + " | fastbp 2 threads / best peer | 2 threads / 1 |",
             "|---|---|" + "---|" * len(impls) + "---|---|"]
    keys = list(dict.fromkeys((b["extra_info"]["shape"], b["extra_info"]["batch"]) for b in rows))
    for shape, batch in keys:
        by = {b["extra_info"]["implementation"]: _rate(b) for b in rows
              if (b["extra_info"]["shape"], b["extra_info"]["batch"]) == (shape, batch)}
        peer = max((r for i, r in by.items() if not i.startswith("fastbp")), default=None)
        two, one = by.get("fastbp-2-threads"), by.get("fastbp-1-thread")
        cells = " | ".join(f"{by[i]:,.0f}" if i in by else "-" for i in impls)
        ratio = f"{two / peer:.2f}" if two and peer else "-"
        scaling = f"{two / one:.2f}" if two and one else "-"
        lines.append(f"| {shape} | {batch} | {cells} | {ratio} | {scaling} |")
    return "\n".join(lines) + "\n"


def plot_batch(result, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    rows = rows_of(result, "batch_gradient")
    shapes = list(dict.fromkeys(b["extra_info"]["shape"] for b in rows))
    fig, axes = plt.subplots(1, len(shapes), figsize=(5 * len(shapes), 4.2), squeeze=False)
    for ax, shape in zip(axes[0], shapes):
        impls = list(dict.fromkeys(b["extra_info"]["implementation"] for b in rows if b["extra_info"]["shape"] == shape))
        for impl in impls:
            pts = sorted((b["extra_info"]["batch"], _rate(b)) for b in rows
                         if b["extra_info"]["shape"] == shape and b["extra_info"]["implementation"] == impl)
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", label=impl)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("batch size (samples)")
        ax.set_ylabel("samples per second")
        ax.set_title(f"mean gradient, {shape}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Batch gradient throughput, float64, 2 cores")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def kernels_section(result):
    lines = []
    fwd = rows_of(result, "forward")
    if fwd:
        lines += ["## Forward pass, 1000 samples", "", "| shape | implementation | samples/s |", "|---|---|---|"]
        lines += [f"| {b['extra_info']['shape']} | {b['extra_info']['implementation']} | {_rate(b):,.0f} |" for b in fwd]
        lines.append("")
    one = rows_of(result, "one_sample_gradient")
    if one:
        lines += ["## One-sample gradient (pytest-benchmark), one thread", "",
                  "| E | method | seconds | multiply-adds | ns per multiply-add |", "|---|---|---|---|---|"]
        for b in sorted(one, key=lambda b: (b["extra_info"]["edges"], b["extra_info"]["implementation"])):
            s = b["stats"]["median"]
            m = b["extra_info"]["multiply_adds"]
            lines.append(f"| {b['extra_info']['edges']:,} | {b['extra_info']['implementation']} | {s:.3e} | {m:,} | "
                         f"{s / m * 1e9:.3f} |")
        lines.append("")
    return "\n".join(lines)


def compile_section(times):
    lines = ["## Compile time: first call of each kernel in a new process", "",
             "Without a cache every kernel is compiled; with the cache (`cache=True`) a new process loads them. "
             "The first cached call also pays Numba's start-up.", "",
             "| kernel | no cache (s) | cached (s) |", "|---|---|---|"]
    for name in times["no_cache"]:
        lines.append(f"| {name} | {times['no_cache'][name]:.3f} | {times['cached'][name]:.3f} |")
    return "\n".join(lines) + "\n"


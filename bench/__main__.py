"""Run the experiments and regenerate RESULTS.md:
``python -m bench [--quick] [costs|suites|estimators|distributed|compile ...]``.

From the repository root. costs: fastbp's cost experiment (backprop against finite differences);
density: its density sweep at fixed widths (sparse connectivity, with PyTorch's masked dense weight when installed);
suites: the pytest-benchmark suites in bench/ (with OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset
for that command alone: they slow NumPy's BLAS), all but the estimators', and their JAX cells of 1 and 2
threads again in processes pinned to 1 and 2 cores (JAX sizes its thread pool to them); estimators: the
scikit-learn estimator suite (bench/test_estimators.py), same settings; distributed: fastbp.distributed
on local Dask clusters against in-process training (bench/distributed_probe.py); compile: first calls
on an empty Numba cache and after `fastbp compile` (bench/compile_probe.py). Each saves JSON under
bench/results/, then RESULTS.md is rewritten from all the JSON there.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fastbp import costs, density
from fastbp.machine import machine_info

from . import compile_probe, peers, report

EXPERIMENTS = ("costs", "density", "suites", "estimators", "distributed", "compile")
#: the suite that `estimators` runs, apart from the others
ESTIMATOR_SUITE = "bench/test_estimators.py"
#: the suites with JAX cells, which run again pinned to fewer cores (run_suites)
JAX_SUITES = ("bench/test_sgd.py", "bench/test_minibatch.py", "bench/test_batch_gradient.py")


def compile_times(quick):
    """First calls on an empty Numba cache and after ``fastbp compile`` (bench.compile_probe), each in a new process.

    The tour (the compile issue's six first calls, in one process) and, unless quick, every call of
    compile_probe.CALLS alone in a process of its own, first each with an empty cache folder of its own,
    then with one folder that ``fastbp compile`` filled (its seconds recorded too).
    """
    names = [] if quick else list(compile_probe.CALLS)

    def probe(cache_dir, *what):
        out = subprocess.run([sys.executable, "-m", "bench.compile_probe", *what], check=True, capture_output=True,
                             text=True, env=dict(os.environ, NUMBA_CACHE_DIR=cache_dir))
        return json.loads(out.stdout.splitlines()[-1])

    result = {"machine": machine_info(), "tour": {}, "calls": {}}
    for state in ("no_cache", "fastbp_compile"):
        with tempfile.TemporaryDirectory() as filled:
            if state == "fastbp_compile":
                start = time.perf_counter()
                subprocess.run([sys.executable, "-c", "import sys; from fastbp.cli import main; "
                                "sys.exit(main(['compile', '--quiet']))"], check=True, capture_output=True,
                               env=dict(os.environ, NUMBA_CACHE_DIR=filled))
                result["fastbp_compile_seconds"] = time.perf_counter() - start
            for what in [("tour",)] + [("call", name) for name in names]:
                if state == "no_cache":
                    with tempfile.TemporaryDirectory() as empty:
                        seconds = probe(empty, *what)
                else:
                    seconds = probe(filled, *what)
                print(f"compile: {state} {what[-1]}: {sum(seconds.values()):.1f} s", flush=True)
                target = result["tour"] if what == ("tour",) else result["calls"]
                for name, value in seconds.items():
                    target.setdefault(name, {})[state] = value
    return result


def run_suites(quick, out_json, paths, pinned=False):
    """pytest-benchmark over `paths`, saving JSON; OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset.

    pinned: then also the JAX cells of the thread counts (1 and 2) below the machine's cores, each
    in a pytest pinned to that many cores (bench.problems.jax_on), their rows added to the same JSON.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-columns=median,iqr,rounds",
           "--benchmark-sort=name"] + (["--fastbp-quick"] if quick else [])
    runs = [(paths, out_json, None)]
    if pinned and hasattr(os, "sched_setaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        runs += [([*JAX_SUITES, "-k", "jax"], f"{out_json}.{n}-core", set(allowed[:n]))
                 for n in (1, 2) if n < len(allowed)]
    benchmarks = []
    for run_paths, json_path, cpus in runs:
        done = subprocess.run([*cmd, *run_paths, f"--benchmark-json={json_path}"], env=env,
                              preexec_fn=None if cpus is None else lambda cpus=cpus: os.sched_setaffinity(0, cpus))
        if done.returncode != 0:
            raise SystemExit(f"the benchmark suites failed (pytest exit code {done.returncode})")
        part = json.loads(Path(json_path).read_text())
        if cpus is None:
            result = part
        else:
            Path(json_path).unlink()
        benchmarks += part["benchmarks"]
    for b in benchmarks:
        b["stats"].pop("data", None)  # every round's time: megabytes, and the summary keeps what we use
    result["benchmarks"] = benchmarks
    Path(out_json).write_text(json.dumps(result, indent=1))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="*", default=[], help="which of costs, suites, compile (default: all)")
    parser.add_argument("--quick", action="store_true", help="a short run instead of the full one")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.experiments) - set(EXPERIMENTS))
    if unknown:
        parser.error(f"unknown experiment {', '.join(unknown)}: choose from {', '.join(EXPERIMENTS)}")
    if not Path("bench", "conftest.py").exists():
        raise SystemExit("run python -m bench from the repository root")
    names = args.experiments or list(EXPERIMENTS)
    results = report.RESULTS_DIR
    results.mkdir(parents=True, exist_ok=True)
    mode = "quick" if args.quick else "full"
    if "costs" in names:
        result = costs.run(mode)
        costs.plot(result, results / "costs.png")
        print(f"costs: saved {report.save(result, '.', 'costs')}")
    if "density" in names:
        result = density.run(mode, peers={"pytorch": peers.torch_masked} if peers.installed("torch") else None)
        density.plot(result, results / "density.png")
        print(f"density: saved {report.save(result, '.', 'density')}")
    if "suites" in names:
        run_suites(args.quick, (results / "benchmarks.json").resolve(), ["bench", f"--ignore={ESTIMATOR_SUITE}"],
                   pinned=True)
        print(f"suites: saved {results / 'benchmarks.json'}")
    if "estimators" in names:
        run_suites(args.quick, (results / "estimators.json").resolve(), [ESTIMATOR_SUITE])
        print(f"estimators: saved {results / 'estimators.json'}")
    if "distributed" in names:
        env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        out = subprocess.run([sys.executable, "-m", "bench.distributed_probe"] + (["--quick"] if args.quick else []),
                             env=env, check=True, capture_output=True, text=True)
        print(f"distributed: saved {report.save(json.loads(out.stdout), '.', 'distributed')}")
    if "compile" in names:
        print(f"compile: saved {report.save(compile_times(args.quick), '.', 'compile')}")
    print(f"wrote {report.write_results('.')}")


if __name__ == "__main__":
    main()

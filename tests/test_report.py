"""RESULTS.md sections are computed from saved benchmark JSON: ratios, ceilings and tables."""
import json
import re
import subprocess
import sys

import pytest

from bench import report


def bench(kind, implementation, median, **info):
    return {"stats": {"median": median}, "extra_info": dict(kind=kind, implementation=implementation, **info)}


@pytest.fixture
def suites():
    return {"benchmarks": [
        bench("sgd", "fastbp", 0.01, shape="784-128-10", samples=1000, edges=101632),
        bench("sgd", "numpy", 0.10, shape="784-128-10", samples=1000, edges=101632),
        bench("sgd", "torch", 0.05, shape="784-128-10", samples=1000, edges=101632),
        bench("ceiling", "numpy-dgemm", 0.5, multiply_adds=10 ** 10),
        bench("batch_gradient", "fastbp-1-thread", 0.04, shape="64-32-10", batch=256, samples=256, dtype="float64"),
        bench("batch_gradient", "fastbp-2-threads", 0.02, shape="64-32-10", batch=256, samples=256, dtype="float64"),
        bench("batch_gradient", "numpy", 0.03, shape="64-32-10", batch=256, samples=256, dtype="float64"),
        bench("ceiling2", "numpy-gemm-float64", 1.0, multiply_adds=10 ** 8, dtype="float64"),
        bench("ceiling2", "kernels-gemm-mkl-float64", 2.0, multiply_adds=10 ** 8, dtype="float64"),
        *[bench("minibatch_epoch", impl, median, shape="784-128-10", samples=4096, batch=32, dtype="float32",
                threads=threads)
          for impl, median, threads in [("fastbp", 0.02, 2), ("fastbp", 0.04, 1), ("jax-scan", 0.04, 2),
                                        ("jax-scan", 0.05, 1), ("torch", 0.03, 2), ("numpy", 0.08, 2)]],
        bench("forward", "fastbp", 0.01, shape="784-128-10", samples=10000, dtype="float32"),
        bench("forward", "numpy", 0.02, shape="784-128-10", samples=10000, dtype="float32"),
    ]}


def test_sgd_section_ratios_and_ceiling(suites):
    text = report.sgd_section(suites)
    # fastbp 1000 / 0.01 = 100,000 samples/s; best peer torch 20,000/s -> 5.00
    assert "| 784-128-10 | 101,632 | 100,000 | 10,000 | 20,000 | 5.00 |" in text
    # multiply-adds per sample 3E - E_0 = 3 * 101632 - 100352 = 204544 -> 2.05e10 /s; ceiling 2e10 /s
    assert "| 2.05e+10 | 102% |" in text


def test_batch_section_ratios(suites):
    text = report.batch_section(suites, "batch.png")
    # 2 threads 12,800/s against numpy 8,533/s -> 1.50; against 1 thread 6,400/s -> 2.00;
    # 12,800/s x (3E - E_0 = 3 * 2368 - 2048 = 5056) = 6.47e7 multiply-adds/s of a 1e8/s ceiling -> 65%
    # (the faster of the two products: NumPy's 1e8/s, not the kernels' BLAS at 5e7/s)
    assert "| 64-32-10 | 256 | float64 | 6,400 | 12,800 | 8,533 | 1.50 | 2.00 | 65% |" in text
    assert "| numpy-gemm-float64 | float64 | 1e+08 |" in text
    assert "| kernels-gemm-mkl-float64 | float64 | 5e+07 |" in text


def test_minibatch_section_ratios(suites):
    text = report.minibatch_section(suites)
    # 2 threads: fastbp 204,800/s; JAX 102,400 -> 2.00, PyTorch 136,533 -> 1.50, NumPy 51,200 -> 4.00
    assert "| 32 | float32 | 2 | 204,800 | 51,200 | 136,533 | 102,400 | 2.00 | 1.50 | 4.00 |" in text
    # 1 thread: fastbp 102,400/s against JAX's 1-thread 81,920/s (not its 2-thread figure) -> 1.25;
    # no 1-thread PyTorch or NumPy rows
    assert "| 32 | float32 | 1 | 102,400 | - | - | 81,920 | 1.25 | - | - |" in text


def test_forward_rows_ratio(suites):
    assert "| 784-128-10 | 10,000 | float32 | 1,000,000 | 500,000 | 2.00 |" in report.kernels_section(suites)


def test_results_md_is_written_from_saved_json(tmp_path, suites):
    (tmp_path / report.RESULTS_DIR).mkdir(parents=True)
    for b in suites["benchmarks"]:
        b["extra_info"].update(date="d", cpu="cpu", machine="x86_64", cores=2, python="3", numpy="2",
                               numba="0", numba_threads=2, threading_layer="omp", blas="b",
                               openblas_coretype="unset")
    (tmp_path / report.RESULTS_DIR / "benchmarks.json").write_text(json.dumps(suites))
    text = report.write_results(tmp_path).read_text()
    assert text.startswith("# fastbp results") and "## Per-sample SGD" in text and "## Batch gradient" in text
    assert (tmp_path / report.RESULTS_DIR / "batch.png").read_bytes()[:4] == b"\x89PNG"


def test_results_md_has_the_cost_section(tmp_path):
    """The report turns the cost experiment's JSON (as `fastbp costs` writes it) into its section."""
    from fastbp import costs
    result = costs.run("quick", progress=False)
    report.save(result, tmp_path, "costs")
    text = report.write_results(tmp_path).read_text()
    assert "## Algorithm costs" in text and "(bench/results/costs.png)" in text
    assert "| backprop |" in text and "central / backprop" in text


def test_results_md_has_the_density_section(tmp_path):
    """`fastbp costs --density --quick` writes the sweep's JSON and figure; the report turns it, with a peer,
    into its section. The dense peer here is a stand-in whose cost is the dense network's at every density:
    its slope is 0, fastbp's live-edge slope is what was measured."""
    from fastbp import density
    done = subprocess.run([sys.executable, "-m", "fastbp.cli", "costs", "--density", "--quick", "--quiet",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads((tmp_path / "density.json").read_text())
    assert (tmp_path / "density.png").read_bytes()[:4] == b"\x89PNG"
    live = [r for r in result["rows"] if r["kernel"] == "live"]
    assert [r["density"] for r in live] == density.SWEEP["quick"]["densities"]
    assert [r["edges"] for r in live] == sorted(r["edges"] for r in live)
    assert live[-1]["edges"] == [r for r in result["rows"] if r["kernel"] == "dense"][0]["edges"]
    for r in live:
        r["peers"]["dense"] = dict(sgd=1e-3, gradient=2e-3)
    result["slopes"] = density.slopes(result["rows"])
    assert result["slopes"]["sgd_dense"]["slope"] == pytest.approx(0.0, abs=1e-9)
    report.save(result, tmp_path, "density")
    text = report.write_results(tmp_path).read_text()
    assert "## Sparse connectivity: cost against live edges" in text and "(bench/results/density.png)" in text
    assert re.search(r"\| dense, dense weight x mask \| -?0.000 \| -?0.000 \|", text) and "100%, dense kernels" in text


def test_jax_cells_run_only_on_as_many_cores_as_threads():
    from bench.problems import cores, jax_on
    try:
        jax_on(cores())
    except pytest.skip.Exception:
        pytest.fail("jax_on skipped a cell on the process's own core count")
    with pytest.raises(pytest.skip.Exception, match="pinned to"):
        jax_on(cores() + 1)

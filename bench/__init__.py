"""fastbp's benchmarks: pytest-benchmark suites with peers, the experiments' runner, and the
report generator that writes RESULTS.md. Needs the source tree: run from the repository root,
``python -m bench --help``."""

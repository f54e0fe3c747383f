"""First calls as a new user meets them: ``python -m bench.compile_probe tour`` or ``... call NAME``.

Run in a new process by bench.__main__ (compile_times) with NUMBA_CACHE_DIR set: an empty folder
(every kernel compiles), or one that ``fastbp compile`` filled (every kernel loads). Prints JSON:
the seconds of each call, timed whole (import excluded). ``tour`` runs TOUR in one process, in
order, as a newcomer's first session would; ``call NAME`` runs one of CALLS alone.
"""
import json
import sys
import time
import warnings

#: one problem for every call: 256 rows of 64 inputs, 10 classes; a 64-32-10 network
SETUP = """
import numpy as np
import fastbp
rng = np.random.default_rng(0)
X = rng.random((256, 64))
y = rng.integers(0, 10, 256)
X32 = X.astype(np.float32)
def net(dtype="float64", hidden="tanh", **options):
    return fastbp.MLP([64, 32, 10], hidden=hidden, output="softmax", loss="cross_entropy", dtype=dtype, seed=0,
                      **options)
"""
#: the first calls timed, by name: fit in every mode, dtype and optimizer, forward passes, gradients,
#: the estimators, a sparse network and a Dask worker's first step
CALLS = {
    **{f"fit {mode}, {dtype}, {opt}": f"net('{dtype}').fit({'X32' if dtype == 'float32' else 'X'}, y, mode='{mode}', "
       f"optimizer='{opt}', lr={0.001 if opt == 'adam' else 0.1}, epochs=1)"
       for mode in ("sgd", "minibatch", "batch") for dtype in ("float64", "float32") for opt in ("sgd", "adam")},
    "predict, float64": "net().predict(X)",
    "predict, float32": "net('float32').predict(X32)",
    "gradient, float64": "net().gradient(X, y)",
    "MLPClassifier().fit": "fastbp.MLPClassifier(max_iter=1).fit(X, y)",
    "MLPRegressor().fit": "fastbp.MLPRegressor(max_iter=1).fit(X, X[:, :2])",
    "fit minibatch, sparse (density 0.1)": "net(connectivity=0.1).fit(X, y, mode='minibatch', epochs=1)",
    "fastbp.distributed first step (2 workers)": None,  # bench.__main__ times it in its own way
}
#: the compile issue's six first calls, in one process
TOUR = {
    "fit(mode='sgd'), float64": "net().fit(X, y, mode='sgd', epochs=1)",
    "fit(mode='minibatch'), float64": "net().fit(X, y, mode='minibatch', epochs=1)",
    "fit(mode='minibatch', optimizer='adam')":
        "net().fit(X, y, mode='minibatch', optimizer='adam', lr=0.001, epochs=1)",
    "fit(mode='minibatch'), float32, relu": "net('float32', 'relu').fit(X32, y, mode='minibatch', epochs=1)",
    "predict, float32": "net('float32').predict(X32)",
    "MLPClassifier().fit": "fastbp.MLPClassifier(max_iter=1).fit(X, y)",
}
DISTRIBUTED = """
from dask.distributed import Client, LocalCluster
import fastbp.distributed
with LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=":0") as cluster, Client(cluster) as client:
    start = time.perf_counter()
    fastbp.distributed.gradient(net(), X, y, client=client, partitions=2)
    seconds = time.perf_counter() - start
"""


def timed(calls):
    """{name: seconds} of each statement, run in order in this process after SETUP."""
    names = {"time": time}
    exec(SETUP, names)
    seconds = {}
    for name, statement in calls.items():
        start = time.perf_counter()
        exec(statement, names)
        seconds[name] = time.perf_counter() - start
    return seconds


def main(argv):
    warnings.simplefilter("ignore")  # ConvergenceWarning of one-epoch estimators
    if argv[0] == "tour":
        result = timed(TOUR)
    elif argv[1] == "fastbp.distributed first step (2 workers)":
        names = {"time": time}
        exec(SETUP + DISTRIBUTED, names)
        result = {argv[1]: names["seconds"]}
    else:
        result = timed({argv[1]: CALLS[argv[1]]})
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])

"""fastbp.distributed on a LocalCluster of two worker processes (one thread each), against in-memory training."""
import copy
import os
import signal

import numpy as np
import pytest

import fastbp

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")
from fastbp import distributed as fd  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((600, 10)), rng.integers(0, 3, 600)


def new_net(dtype="float64"):
    return fastbp.MLP([10, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=1)


def relative(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_gradient_equals_in_memory(client, data, partitions):
    X, y = data
    net = new_net()
    assert relative(fd.gradient(net, X, y, l2=1e-3, client=client, partitions=partitions),
                    net.gradient(X, y, l2=1e-3)) < 1e-12


def test_gradient_of_dask_arrays_with_uneven_chunks_and_standardized_inputs(client, data):
    X, y = data
    net = new_net().standardize(X)
    Xd = da.from_array(X, chunks=(250, 5))  # 250, 250, 100 rows; columns rechunked to one block
    yd = da.from_array(y, chunks=100)  # rechunked to X's rows
    assert relative(fd.gradient(net, Xd, yd, client=client), net.gradient(X, y)) < 1e-12


def test_batch_training_equals_in_memory(client, data):
    X, y = data
    a, b = new_net(), new_net()
    ha = fd.fit(a, X, y, mode="batch", epochs=8, lr=0.05, l2=1e-3, optimizer="adam", client=client)
    hb = b.fit(X, y, mode="batch", epochs=8, lr=0.05, l2=1e-3, optimizer="adam")
    assert relative(a.params, b.params) < 1e-10
    np.testing.assert_allclose(ha.loss, hb.loss, rtol=1e-10)
    assert len(ha) == 8 and ha.samples[-1] == 8 * 600


def test_a_sparse_network_trains_on_the_cluster_with_its_masks(client, data):
    X, y = data
    a = fastbp.MLP([10, 16, 3], hidden="tanh", output="softmax", loss="cross_entropy", seed=1, connectivity=0.3)
    assert relative(fd.gradient(a, X, y, client=client), a.gradient(X, y)) < 1e-12
    history = fd.fit(a, X, y, mode="minibatch", epochs=3, lr=0.05, batch_size=50, optimizer="adam", client=client)
    masked = np.concatenate([np.concatenate([~m.ravel(), np.zeros(m.shape[0], bool)]) for m in a.masks])
    assert np.all(a.params[masked] == 0)
    assert history.loss[-1] < history.loss[0]


def test_results_do_not_depend_on_the_number_of_workers(client, data):
    X, y = data
    a, b = new_net(), new_net()
    options = dict(mode="minibatch", epochs=2, lr=0.05, batch_size=50, optimizer="adam", seed=4)
    fd.fit(a, X, y, client=client, **options)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as one, distributed.Client(one) as single:
        fd.fit(b, X, y, client=single, **options)
    assert np.array_equal(a.params, b.params)


def test_one_partition_with_local_steps_is_in_memory_minibatch_training(client, data):
    """sync_every=k over one partition: k steps on the worker, then an average of one; the same steps."""
    X, y = data
    for optimizer in (fastbp.SGD(momentum=0.9), fastbp.Adam()):
        a, b = new_net(), new_net()
        other = copy.deepcopy(optimizer)
        fd.fit(a, X, y, mode="minibatch", epochs=2, lr=0.01, batch_size=60, optimizer=optimizer, shuffle=False,
               partitions=1, sync_every=3, client=client)
        b.fit(X, y, mode="minibatch", epochs=2, lr=0.01, batch_size=60, optimizer=other, shuffle=False)
        assert relative(a.params, b.params) < 1e-12
        state = "velocity" if hasattr(other, "velocity") else "m"
        assert relative(getattr(optimizer, state), getattr(other, state)) < 1e-12


def test_minibatch_training_learns_and_reports(client, data):
    X, y = data
    net = new_net()
    before = net.loss(X, y)
    seen = []
    history = fd.fit(net, X, y, mode="minibatch", epochs=3, lr=0.05, batch_size=40, optimizer="adam", seed=0,
                     validation=(X[:100], y[:100]), callback=lambda h: seen.append(len(h)), client=client)
    assert net.loss(X, y) < before and len(history.val_accuracy) == 3 and seen == [1, 2, 3]
    assert history.compile_seconds > 0 and all(s > 0 for s in history.seconds)
    local = fd.fit(new_net(), X, y, mode="minibatch", epochs=3, lr=0.05, batch_size=40, optimizer="adam", seed=0,
                   sync_every=4, client=client)
    assert local.loss[-1] < local.loss[0]


def test_a_killed_worker_costs_a_recomputation_not_the_run(client, data):
    X, y = data
    a, b = new_net(), new_net()
    options = dict(mode="minibatch", epochs=4, lr=0.05, batch_size=100, seed=3, client=client)
    expected = fd.fit(a, X, y, **options)
    pid = next(iter(client.run(os.getpid).values()))

    def kill(history):
        if len(history) == 2:  # a worker holding partitions dies between epochs
            os.kill(pid, signal.SIGKILL)

    history = fd.fit(b, X, y, callback=kill, **options)
    assert np.array_equal(a.params, b.params) and history.loss == expected.loss
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the tests after this one


def test_a_lost_cluster_stops_with_a_clear_error_and_the_last_whole_step(data):
    X, y = data
    cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=":0")
    c = distributed.Client(cluster)
    net, reference = new_net(), new_net()
    fd.fit(reference, X, y, mode="batch", epochs=2, lr=0.5, client=c)
    with pytest.raises(fd.ClusterError, match="after step 2"):
        fd.fit(net, X, y, mode="batch", epochs=5, lr=0.5, client=c,
               callback=lambda h: c.close() if len(h) == 2 else None)
    assert np.array_equal(net.params, reference.params)
    cluster.close()


def test_bad_input_is_named(client, data):
    X, y = data
    net = new_net()
    with pytest.raises(ValueError, match="mode must be 'batch' or 'minibatch'"):
        fd.fit(net, X, y, mode="sgd", client=client)
    with pytest.raises(ValueError, match="sync_every"):
        fd.fit(net, X, y, mode="batch", sync_every=2, client=client)
    with pytest.raises(ValueError, match="partitions"):
        fd.gradient(net, X, y, partitions=0, client=client)
    with pytest.raises(ValueError, match="Y has 10 rows|one row per row of X"):
        fd.gradient(net, X, y[:10], client=client)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(ValueError, match="X"):
        fd.gradient(net, da.from_array(bad, chunks=(200, 10)), y, client=client)
    with pytest.raises(TypeError, match=r"client must be a distributed.Client, got the address 'tcp://nowhere:1': "
                                        r"connect first, client=distributed.Client\('tcp://nowhere:1'\)"):
        fd.fit(net, X, y, client="tcp://nowhere:1")
    with pytest.raises(TypeError, match="client must be a distributed.Client, got int"):
        fd.gradient(net, X, y, client=3)
    before = net.params.copy()
    with pytest.raises(ValueError, match="lr"):
        fd.fit(net, X, y, lr=-1, client=client)
    assert np.array_equal(net.params, before)


def test_command_line_trains_on_a_local_cluster(tmp_path, capsys):
    from fastbp.cli import main
    model = tmp_path / "m.npz"
    assert main(["train", "--workers", "2", "--mode", "minibatch", "--epochs", "5", "--lr", "0.1", "--quiet",
                 "--save", str(model)]) == 0
    out = capsys.readouterr().out
    assert "trained 5 epochs (minibatch, backprop, sgd)" in out and model.exists()
    assert main(["train", "--workers", "2", "--mode", "sgd"]) == 2
    assert "--mode batch or minibatch" in capsys.readouterr().err
    assert main(["train", "--scheduler", "tcp://127.0.0.1:9", "--mode", "batch", "--workers", "1"]) == 2

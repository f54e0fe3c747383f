"""What a user would otherwise run: the same computations in NumPy, PyTorch, JAX and scikit-learn.

Batch gradients: sigmoid hidden layers, softmax output, mean cross-entropy. Per-sample SGD:
sigmoid hidden layers, identity output, squared loss 0.5 * sum (a - y)^2, plain SGD. Every
peer starts from given [(W, b)] float64 weights (W: (n_out, n_in)). Optional peers return
None when their package is not installed.
"""
import importlib.util

import numpy as np


def layers_of(net, dtype=np.float64):
    """[(W, b)] copies of a fastbp model's parameters, float64 unless asked."""
    return [(W.astype(dtype), b.astype(dtype)) for W, b in zip(net.weights, net.biases)]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# -- batch gradients (softmax + cross-entropy, mean over the batch) ----------------------------

def numpy_batch_gradient(layers, X, Y):
    """By matrix products (BLAS): [(dW, db)] per layer."""
    acts = [X]
    for l, (W, b) in enumerate(layers):
        z = acts[-1] @ W.T + b
        acts.append(_softmax(z) if l == len(layers) - 1 else _sigmoid(z))
    delta = (acts[-1] - Y) / X.shape[0]
    grads = []
    for l in range(len(layers) - 1, -1, -1):
        W, _ = layers[l]
        grads.append((delta.T @ acts[l], delta.sum(axis=0)))
        if l:
            delta = (delta @ W) * acts[l] * (1.0 - acts[l])
    return grads[::-1]


def torch_batch_gradient(layers, X, labels, n_threads):
    """A function running loss.backward() on the mean cross-entropy, returning [(dW, db)]; or None."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n_threads)
    model = _torch_mlp(torch, layers)
    Xt = torch.from_numpy(X)
    lt = torch.from_numpy(labels)
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]

    def run():
        model.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(model(Xt), lt).backward()
        return [(m.weight.grad.numpy(), m.bias.grad.numpy()) for m in lins]
    return run


def _jax():
    """(jax, jax.numpy) in float64 mode, or None when JAX is not installed."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax, jnp


def jax_batch_gradient(layers, X, Y):
    """jit(grad) of the mean cross-entropy; returns a function giving [(dW, db)], or None."""
    found = _jax()
    if found is None:
        return None
    jax, jnp = found

    def loss(params, X, Y):
        a = X
        for l, (W, b) in enumerate(params):
            z = a @ W.T + b
            a = z if l == len(params) - 1 else jax.nn.sigmoid(z)
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(a), axis=1))

    g = jax.jit(jax.grad(loss))
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in layers]
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def run():
        out = g(params, Xj, Yj)
        jax.block_until_ready(out)
        return [(np.asarray(W), np.asarray(b)) for W, b in out]
    return run


def _torch_mlp(torch, layers, hidden="sigmoid"):
    """A Sequential of Linear layers in the weights' dtype, sigmoid or tanh between them."""
    mods = []
    for l, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.from_numpy(W).dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if l < len(layers) - 1:
            mods.append(torch.nn.Sigmoid() if hidden == "sigmoid" else torch.nn.Tanh())
    return torch.nn.Sequential(*mods)


def _torch_training(torch, start, hidden, lr):
    """(model, optim.SGD, setup, result): setup puts the start weights back, result copies the weights out."""
    model = _torch_mlp(torch, start, hidden)
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def setup():
        with torch.no_grad():
            for m, (W, b) in zip(lins, start):
                m.weight.copy_(torch.from_numpy(W))
                m.bias.copy_(torch.from_numpy(b))

    def result():
        return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy()) for m in lins]
    return model, opt, setup, result


# -- per-sample SGD (identity output, squared loss): factories of (setup, run, result) ---------

def _numpy_copy(start):
    """(layers, setup): copies of the start weights to train in place, and a setup putting them back."""
    layers = [(W.copy(), b.copy()) for W, b in start]

    def setup():
        for (W, b), (W0, b0) in zip(layers, start):
            W[...] = W0
            b[...] = b0
    return layers, setup


def numpy_sgd(start, X, Y, lr):
    """The textbook loop: forward, deltas and update, one sample at a time (NumPy, BLAS gemv)."""
    layers, setup = _numpy_copy(start)

    def run():
        for x, y in zip(X, Y):
            acts = [x]
            for l, (W, b) in enumerate(layers):
                z = W @ acts[-1] + b
                acts.append(z if l == len(layers) - 1 else _sigmoid(z))
            delta = acts[-1] - y
            for l in range(len(layers) - 1, -1, -1):
                W, b = layers[l]
                below = (W.T @ delta) * acts[l] * (1.0 - acts[l]) if l else None
                W -= lr * np.outer(delta, acts[l])
                b -= lr * delta
                delta = below

    return setup, run, lambda: layers


def torch_sgd(start, X, Y, lr):
    """Batch-1 loop: forward, backward and an SGD step per sample (one thread)."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    model, opt, setup, result = _torch_training(torch, start, "sigmoid", lr)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y)

    def run():
        for i in range(Xt.shape[0]):
            opt.zero_grad(set_to_none=False)
            (0.5 * ((model(Xt[i:i + 1]) - Yt[i:i + 1]) ** 2).sum()).backward()
            opt.step()
    return setup, run, result


def _jax_sgd(start, X, Y, lr, scan):
    found = _jax()
    if found is None:
        return None
    jax, jnp = found

    def loss(params, x, y):
        a = x
        for l, (W, b) in enumerate(params):
            a = W @ a + b if l == len(params) - 1 else jax.nn.sigmoid(W @ a + b)
        return 0.5 * jnp.sum((a - y) ** 2)

    def step(params, xy):
        g = jax.grad(loss)(params, *xy)
        return [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, g)], None

    jit_step = jax.jit(lambda p, x, y: step(p, (x, y))[0])
    jit_epoch = jax.jit(lambda p, X, Y: jax.lax.scan(step, p, (X, Y))[0])
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)
    first = [(jnp.asarray(W), jnp.asarray(b)) for W, b in start]
    state = {}

    def setup():
        state["params"] = first

    def run():
        p = state["params"]
        if scan:
            p = jit_epoch(p, Xj, Yj)
        else:
            for i in range(Xj.shape[0]):
                p = jit_step(p, Xj[i], Yj[i])
        jax.block_until_ready(p)
        state["params"] = p

    def result():
        return [(np.asarray(W), np.asarray(b)) for W, b in state["params"]]
    return setup, run, result


def jax_step_sgd(start, X, Y, lr):
    """A jitted per-sample step, called from Python for each sample."""
    return _jax_sgd(start, X, Y, lr, scan=False)


def jax_scan_sgd(start, X, Y, lr):
    """The whole epoch in one jitted lax.scan."""
    return _jax_sgd(start, X, Y, lr, scan=True)


def sklearn_sgd(start, X, Y, lr):
    """MLPRegressor.partial_fit with batch_size=1: logistic hidden, identity output, squared loss."""
    try:
        from sklearn.neural_network import MLPRegressor
    except ImportError:
        return None
    import warnings
    hidden = tuple(W.shape[0] for W, _ in start[:-1])
    mlp = MLPRegressor(hidden_layer_sizes=hidden, activation="logistic", solver="sgd", alpha=0.0,
                       batch_size=1, learning_rate_init=lr, momentum=0.0, nesterovs_momentum=False,
                       shuffle=False)
    y = Y[:, 0] if Y.shape[1] == 1 else Y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mlp.partial_fit(X[:1], y[:1])  # builds the layers; the weights are set in setup

    def setup():
        mlp.coefs_ = [W.T.copy() for W, _ in start]
        mlp.intercepts_ = [b.copy() for _, b in start]
        mlp._optimizer.velocities = [np.zeros_like(p) for p in mlp.coefs_ + mlp.intercepts_]

    def run():
        mlp.partial_fit(X, y)

    def result():
        return [(W.T, b) for W, b in zip(mlp.coefs_, mlp.intercepts_)]
    return setup, run, result


SGD_PEERS = {"numpy": numpy_sgd, "torch": torch_sgd, "jax-step": jax_step_sgd, "jax-scan": jax_scan_sgd,
             "sklearn": sklearn_sgd}


# -- minibatch epochs (tanh hidden, softmax + mean cross-entropy, plain SGD, in the given order) -----

def _batches(X, Y, batch):
    return [(X[s:s + batch], Y[s:s + batch]) for s in range(0, X.shape[0], batch)]


def numpy_minibatch(start, X, Y, batch, lr):
    """A NumPy loop over the batches: matrix products, np.tanh, the update in place."""
    layers, setup = _numpy_copy(start)

    def run():
        for Xb, Yb in _batches(X, Y, batch):
            acts = [Xb]
            for l, (W, b) in enumerate(layers):
                z = acts[-1] @ W.T + b
                acts.append(_softmax(z) if l == len(layers) - 1 else np.tanh(z))
            delta = (acts[-1] - Yb) / Xb.shape[0]
            for l in range(len(layers) - 1, -1, -1):
                W, b = layers[l]
                below = (delta @ W) * (1 - acts[l] * acts[l]) if l else None
                W -= lr * (delta.T @ acts[l])
                b -= lr * delta.sum(axis=0)
                delta = below

    return setup, run, lambda: layers


def torch_minibatch(start, X, Y, batch, lr, n_threads):
    """The usual PyTorch loop: forward, cross_entropy, backward, optim.SGD step, per batch."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n_threads)
    model, opt, setup, result = _torch_training(torch, start, "tanh", lr)
    Xt, labels = torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1))

    def run():
        for s in range(0, Xt.shape[0], batch):
            opt.zero_grad(set_to_none=False)
            torch.nn.functional.cross_entropy(model(Xt[s:s + batch]), labels[s:s + batch]).backward()
            opt.step()
    return setup, run, result


def jax_scan_minibatch(start, X, Y, batch, lr):
    """The whole epoch as one jitted lax.scan over the batches (whole batches only: n % batch == 0)."""
    found = _jax()
    if found is None:
        return None
    jax, jnp = found
    n = X.shape[0]
    if n % batch:
        raise ValueError("jax_scan_minibatch needs whole batches")

    def loss(params, x, y):
        a = x
        for l, (W, b) in enumerate(params):
            a = a @ W.T + b if l == len(params) - 1 else jnp.tanh(a @ W.T + b)
        return -jnp.mean(jnp.sum(y * jax.nn.log_softmax(a), axis=1))

    def step(params, xy):
        g = jax.grad(loss)(params, *xy)
        return [(W - lr * gW, b - lr * gb) for (W, b), (gW, gb) in zip(params, g)], None

    epoch = jax.jit(lambda p, Xs, Ys: jax.lax.scan(step, p, (Xs, Ys))[0])
    Xs = jnp.asarray(X.reshape(n // batch, batch, X.shape[1]))
    Ys = jnp.asarray(Y.reshape(n // batch, batch, Y.shape[1]))
    first = [(jnp.asarray(W), jnp.asarray(b)) for W, b in start]
    state = {}

    def setup():
        state["params"] = first

    def run():
        state["params"] = jax.block_until_ready(epoch(state["params"], Xs, Ys))

    def result():
        return [(np.asarray(W), np.asarray(b)) for W, b in state["params"]]
    return setup, run, result


MINIBATCH_PEERS = {"numpy": numpy_minibatch, "torch": torch_minibatch, "jax-scan": jax_scan_minibatch}


def installed(module):
    """Whether an optional peer's package can be imported."""
    return importlib.util.find_spec(module) is not None


# -- sparse connectivity: a dense weight times a mask (what torch.nn.utils.prune does) ----------

def torch_masked(net, X, Y, repeats):
    """PyTorch on `net`'s weights and masks, one thread: per-sample SGD steps (``linear(x, W * mask, b)``,
    tanh, softmax cross-entropy, ``optim.SGD``) and single-sample gradients, seconds per sample.

    Checked first: 8 steps from the same weights end where fastbp's per-sample SGD ends (1e-10), masked
    weights still zero. Returns None when PyTorch is not installed.
    """
    try:
        import torch
    except ImportError:
        return None
    from fastbp.density import LR, seconds_per_sample

    torch.set_num_threads(1)
    F = torch.nn.functional
    start = [(W.copy(), b.copy()) for W, b in zip(net.weights, net.biases)]
    masks = [torch.from_numpy(m.astype(np.float64)) for m in net.masks]
    Ws = [torch.tensor(W, requires_grad=True) for W, _ in start]
    bs = [torch.tensor(b, requires_grad=True) for _, b in start]
    opt = torch.optim.SGD(Ws + bs, lr=LR)
    Xt, labels = torch.from_numpy(X), torch.from_numpy(Y.argmax(axis=1))

    def loss_of(i):
        h = Xt[i:i + 1]
        for l, (W, b, m) in enumerate(zip(Ws, bs, masks)):
            h = F.linear(h, W * m, b)
            if l < len(Ws) - 1:
                h = torch.tanh(h)
        return F.cross_entropy(h, labels[i:i + 1])

    def sgd(count):
        for _ in range(count):
            for i in range(Xt.shape[0]):
                opt.zero_grad(set_to_none=False)
                loss_of(i).backward()
                opt.step()

    def gradient(count):
        for _ in range(count):
            for i in range(Xt.shape[0]):
                loss_of(i).backward()  # gradients accumulate, as fastbp's sum does

    check = net.__class__(net.sizes, hidden=list(net.hidden), output=net.output, loss=net.loss_name,
                          connectivity=net.masks)
    check.params = net.params
    check.fit(X[:8], Y[:8], mode="sgd", epochs=1, lr=LR, shuffle=False)
    for i in range(8):
        opt.zero_grad(set_to_none=False)
        loss_of(i).backward()
        opt.step()
    for W, b, Wc, bc in zip(Ws, bs, check.weights, check.biases):
        if not (np.allclose(W.detach().numpy(), Wc, rtol=0, atol=1e-10) and
                np.allclose(b.detach().numpy(), bc, rtol=0, atol=1e-10)):
            raise AssertionError("PyTorch's masked SGD steps do not end where fastbp's do")
    return dict(sgd=seconds_per_sample(sgd, X.shape[0], repeats),
                gradient=seconds_per_sample(gradient, X.shape[0], repeats))

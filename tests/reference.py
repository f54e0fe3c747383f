"""A plain NumPy implementation of the seed notes' equations: the test oracle.

Written from the notes, not from the kernels: a network is a list of (W, b)
pairs, W of shape (n_out, n_in); names follow the seed exercises
(feedforward, calculate_deltas, batch_update_nn, sgd_nn). float64 throughout.
"""
import numpy as np


def f(name, z):
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "softmax":
        e = np.exp(z - z.max())
        return e / e.sum()
    return z


def f_prime(name, a):
    """sigma'(z) written from the output a = sigma(z)."""
    if name == "sigmoid":
        return a * (1.0 - a)
    if name == "tanh":
        return 1.0 - a * a
    if name == "relu":
        return (a > 0).astype(float)
    return np.ones_like(a)


def unflatten(params, sizes):
    """Flat buffer (per layer W row-major, then b) -> list of (W, b) copies."""
    network, p = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        W = np.array(params[p:p + n_in * n_out], dtype=float).reshape(n_out, n_in)
        p += n_in * n_out
        b = np.array(params[p:p + n_out], dtype=float)
        p += n_out
        network.append((W, b))
    return network


def flatten(network):
    return np.concatenate([np.concatenate([W.ravel(), b]) for W, b in network])


def feedforward(network, x, acts):
    """activations [a^0 = x, a^1, ..., a^L]; a^l = f(W a^{l-1} + b)."""
    activations = [np.asarray(x, dtype=float)]
    for (W, b), name in zip(network, acts):
        activations.append(f(name, W @ activations[-1] + b))
    return activations


def sample_loss(a, y, loss, output):
    if loss == "squared":
        return 0.5 * np.sum((a - y) ** 2)
    if output == "softmax":
        return -np.sum(y * np.log(a))
    return -np.sum(y * np.log(a) + (1 - y) * np.log(1 - a))


def calculate_deltas(network, activations, y, acts, loss):
    """delta^L = (a - y) f'(z) (squared) or a - y (cross-entropy); delta^l = f'(z^l) * W^{l+1 T} delta^{l+1}."""
    a = activations[-1]
    delta = (a - y) if loss == "cross_entropy" else (a - y) * f_prime(acts[-1], a)
    deltas = [delta]
    for l in range(len(network) - 1, 0, -1):
        W, _ = network[l]
        delta = (W.T @ deltas[0]) * f_prime(acts[l - 1], activations[l])
        deltas.insert(0, delta)
    return deltas


def sample_gradient(network, x, y, acts, loss):
    activations = feedforward(network, x, acts)
    deltas = calculate_deltas(network, activations, y, acts, loss)
    return [(np.outer(d, a), d) for d, a in zip(deltas, activations[:-1])]


def penalty(network, l2):
    return 0.5 * l2 * sum(np.sum(W * W) for W, _ in network)


def mean_loss(network, X, Y, acts, loss, l2=0.0):
    c = np.mean([sample_loss(feedforward(network, x, acts)[-1], y, loss, acts[-1]) for x, y in zip(X, Y)])
    return c + penalty(network, l2)


def batch_gradient(network, X, Y, acts, loss, l2=0.0):
    """Mean over samples of dC/dW = delta a^T, dC/db = delta; plus l2 W on the weights."""
    total = [(np.zeros_like(W), np.zeros_like(b)) for W, b in network]
    for x, y in zip(X, Y):
        for (gW, gb), (dW, db) in zip(total, sample_gradient(network, x, y, acts, loss)):
            gW += dW
            gb += db
    n = len(X)
    return [(gW / n + l2 * W, gb / n) for (gW, gb), (W, _) in zip(total, network)]


def batch_update_nn(network, grads, eta):
    """w -> w - eta dC/dw, b -> b - eta dC/db (a new network)."""
    return [(W - eta * gW, b - eta * gb) for (W, b), (gW, gb) in zip(network, grads)]


def sgd_nn(network, X, Y, order, acts, loss, eta, momentum=0.0, l2=0.0, velocity=None, seen=None):
    """One online epoch over rows in `order`: per sample g = dC/dw + l2 w; v = mu v - eta g; w += v.

    seen: a list to which each sample's loss is appended, taken before its update.
    """
    if velocity is None:
        velocity = [(np.zeros_like(W), np.zeros_like(b)) for W, b in network]
    for r in order:
        if seen is not None:
            seen.append(sample_loss(feedforward(network, X[r], acts)[-1], Y[r], loss, acts[-1]))
        grads = sample_gradient(network, X[r], Y[r], acts, loss)
        grads = [(gW + l2 * W, gb) for (gW, gb), (W, _) in zip(grads, network)]
        velocity = [(momentum * vW - eta * gW, momentum * vb - eta * gb)
                    for (vW, vb), (gW, gb) in zip(velocity, grads)]
        network = [(W + vW, b + vb) for (W, b), (vW, vb) in zip(network, velocity)]
    return network, velocity


def optimizer_state(network):
    """Zeros shaped like the network's (W, b) pairs: the start of a velocity or of Adam's moments."""
    return [(np.zeros_like(W), np.zeros_like(b)) for W, b in network]


def sgd_update(network, grads, velocity, eta, momentum=0.0, nesterov=False):
    """(network, velocity) after one SGD step: v = mu v - eta g; w += v, or w += mu v - eta g (Nesterov)."""
    velocity = [(momentum * vW - eta * gW, momentum * vb - eta * gb) for (vW, vb), (gW, gb) in zip(velocity, grads)]
    if nesterov:
        steps = [(momentum * vW - eta * gW, momentum * vb - eta * gb) for (vW, vb), (gW, gb) in zip(velocity, grads)]
    else:
        steps = velocity
    return [(W + sW, b + sb) for (W, b), (sW, sb) in zip(network, steps)], velocity


def adam_update(network, grads, m, v, t, eta, beta1=0.9, beta2=0.999, eps=1e-8, hat=False):
    """(network, m, v) after Adam step t (1-based), written from the paper's Algorithm 1:
    m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), w -= eta m_hat / (sqrt(v_hat) + eps); hat: the
    paper's section-2 form, w -= eta sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps)."""
    m = [(beta1 * mW + (1 - beta1) * gW, beta1 * mb + (1 - beta1) * gb) for (mW, mb), (gW, gb) in zip(m, grads)]
    v = [(beta2 * vW + (1 - beta2) * gW**2, beta2 * vb + (1 - beta2) * gb**2) for (vW, vb), (gW, gb) in zip(v, grads)]

    def step(mq, vq):
        if hat:
            return eta * np.sqrt(1 - beta2**t) / (1 - beta1**t) * mq / (np.sqrt(vq) + eps)
        return eta * (mq / (1 - beta1**t)) / (np.sqrt(vq / (1 - beta2**t)) + eps)
    network = [(W - step(mW, vW), b - step(mb, vb)) for (W, b), (mW, mb), (vW, vb) in zip(network, m, v)]
    return network, m, v

"""What a user would otherwise run: the same computations in NumPy, PyTorch, JAX and scikit-learn.

Every peer uses the benchmark network: sigmoid hidden layers, softmax output, cross-entropy
loss (mean over the batch), float64, no regularisation, plain SGD; weights start from the
same fastbp parameters. Optional peers return None when their package is not installed.
"""
import numpy as np


def layers_of(net):
    """[(W, b)] float64 copies of a fastbp model's parameters."""
    return [(W.astype(np.float64).copy(), b.astype(np.float64).copy()) for W, b in zip(net.weights, net.biases)]


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# -- NumPy ---------------------------------------------------------------------------------

def numpy_batch_gradient(layers, X, Y):
    """Mean cross-entropy gradient by matrix products (BLAS): [(dW, db)] per layer."""
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


def numpy_sgd_epoch(layers, X, Y, lr):
    """The textbook per-sample loop: forward, deltas, update, one sample at a time."""
    for x, y in zip(X, Y):
        acts = [x]
        for l, (W, b) in enumerate(layers):
            z = W @ acts[-1] + b
            acts.append(_softmax(z) if l == len(layers) - 1 else _sigmoid(z))
        delta = acts[-1] - y
        for l in range(len(layers) - 1, -1, -1):
            W, b = layers[l]
            below = (W.T @ delta) * acts[l] * (1.0 - acts[l]) if l else None
            W -= lr * np.outer(delta, acts[l])
            b -= lr * delta
            delta = below
    return layers


# -- PyTorch -------------------------------------------------------------------------------

def torch_model(layers, n_threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(n_threads)
    mods = []
    for l, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(W.shape[1], W.shape[0], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        mods.append(lin)
        if l < len(layers) - 1:
            mods.append(torch.nn.Sigmoid())
    return torch.nn.Sequential(*mods)


def torch_batch_gradient(model, X, labels):
    """loss.backward() on the mean cross-entropy; returns [(dW, db)] as NumPy arrays."""
    import torch
    model.zero_grad(set_to_none=False)
    loss = torch.nn.functional.cross_entropy(model(X), labels)
    loss.backward()
    lins = [m for m in model if isinstance(m, torch.nn.Linear)]
    return [(m.weight.grad.numpy(), m.bias.grad.numpy()) for m in lins]


def torch_sgd_epoch(model, X, labels, lr):
    """Batch-1 loop: forward, backward and an SGD step per sample."""
    import torch
    opt = torch.optim.SGD(model.parameters(), lr=lr)
    for i in range(X.shape[0]):
        opt.zero_grad(set_to_none=False)
        torch.nn.functional.cross_entropy(model(X[i:i + 1]), labels[i:i + 1]).backward()
        opt.step()
    return model


def torch_layers(model):
    import torch
    return [(m.weight.detach().numpy().copy(), m.bias.detach().numpy().copy())
            for m in model if isinstance(m, torch.nn.Linear)]

"""One sample through the network: forward, backward (accumulate), and the fused SGD step.

Notation of the seed notes, 0-based: layer l maps a^l (width sizes[l]) to
a^{l+1} = f_l(W_l a^l + b_l); the seed's layer l is our l - 1. params is the
flat buffer W_0, b_0, W_1, b_1, ... with W_l row-major (sizes[l+1], sizes[l]).
`a` holds every layer's output back to back: (sum(sizes),), a^0 = x first.
"""
from ._jit import jit
from .activations import activate, activate_with_loss, derivative, output_delta


@jit
def forward_sample(params, sizes, acts, loss, x, y, a):
    """a^{l+1} = f_l(W_l a^l + b_l); returns the sample's loss (0 when loss is NO_LOSS).

    params: (P,); sizes: (L+1,); acts: (L,) codes; x: (sizes[0],); y: (sizes[L],); a: (sum(sizes),).
    """
    for k in range(sizes[0]):
        a[k] = x[k]
    n_layers = sizes.shape[0] - 1
    c = type(params[0])(0)
    p = 0
    i = 0
    for l in range(n_layers):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        W = params[p:p + n_out * n_in].reshape((n_out, n_in))
        b = params[p + n_out * n_in:p + n_out * n_in + n_out]
        a_in = a[i:i + n_in]
        z = a[i + n_in:i + n_in + n_out]
        for j in range(n_out):
            s = b[j]
            for k in range(n_in):
                s += W[j, k] * a_in[k]
            z[j] = s
        if l < n_layers - 1:
            activate(z, acts[l])
        else:
            c = activate_with_loss(z, y, acts[l], loss)
        p += n_out * n_in + n_out
        i += n_in
    return c


@jit
def backward_sample(params, sizes, acts, loss, a, y, grad, d0, d1):
    """grad += dC/dparams for one sample, after forward_sample filled `a`.

    dC/dW_l = delta_l a^l^T, dC/db_l = delta_l, delta_{l-1} = (W_l^T delta_l) * f'(a^l).
    grad: (P,) same layout as params; d0, d1: (max(sizes),) delta buffers used in turn.
    """
    n_layers = sizes.shape[0] - 1
    p = params.shape[0]
    i = a.shape[0] - sizes[n_layers]
    delta = d0[:sizes[n_layers]]
    output_delta(a[i:], y, acts[n_layers - 1], loss, delta)
    use_d1 = True
    for l in range(n_layers - 1, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        p -= n_out * n_in + n_out
        i -= n_in
        W = params[p:p + n_out * n_in].reshape((n_out, n_in))
        gW = grad[p:p + n_out * n_in].reshape((n_out, n_in))
        gb = grad[p + n_out * n_in:p + n_out * n_in + n_out]
        a_in = a[i:i + n_in]
        if l == 0:
            for j in range(n_out):
                d = delta[j]
                gb[j] += d
                for k in range(n_in):
                    gW[j, k] += d * a_in[k]
            break
        prev = d1[:n_in] if use_d1 else d0[:n_in]
        prev[:] = 0
        for j in range(n_out):
            d = delta[j]
            gb[j] += d
            for k in range(n_in):
                gW[j, k] += d * a_in[k]
                prev[k] += W[j, k] * d
        for k in range(n_in):
            prev[k] *= derivative(a_in[k], acts[l - 1])
        delta = prev
        use_d1 = not use_d1


@jit
def sgd_sample(params, velocity, sizes, acts, loss, a, y, hyper, d0, d1):
    """One online update after forward_sample filled `a`: the fused delta-and-update pass.

    For each W_l, top down, ONE pass reads the old w, accumulates delta_{l-1} += w delta_l,
    then applies g = delta_l a^l + l2 w:  w -= lr g  (momentum 0)  or  v = mu v - lr g; w += v.
    hyper: (3,) = lr, momentum mu, l2, in the model's dtype. velocity: (P,) or unused (mu = 0).
    """
    lr = hyper[0]
    mu = hyper[1]
    l2 = hyper[2]
    n_layers = sizes.shape[0] - 1
    p = params.shape[0]
    i = a.shape[0] - sizes[n_layers]
    delta = d0[:sizes[n_layers]]
    output_delta(a[i:], y, acts[n_layers - 1], loss, delta)
    use_d1 = True
    for l in range(n_layers - 1, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        p -= n_out * n_in + n_out
        i -= n_in
        W = params[p:p + n_out * n_in].reshape((n_out, n_in))
        b = params[p + n_out * n_in:p + n_out * n_in + n_out]
        a_in = a[i:i + n_in]
        prev = d1[:n_in] if use_d1 else d0[:n_in]
        prev[:] = 0
        back = l > 0  # layer 0 has no delta below it
        if mu == 0:
            for j in range(n_out):
                d = delta[j]
                b[j] -= lr * d
                for k in range(n_in):
                    w = W[j, k]
                    if back:
                        prev[k] += w * d
                    W[j, k] = w - lr * (d * a_in[k] + l2 * w)
        else:
            V = velocity[p:p + n_out * n_in].reshape((n_out, n_in))
            vb = velocity[p + n_out * n_in:p + n_out * n_in + n_out]
            for j in range(n_out):
                d = delta[j]
                vb[j] = mu * vb[j] - lr * d
                b[j] += vb[j]
                for k in range(n_in):
                    w = W[j, k]
                    if back:
                        prev[k] += w * d
                    v = mu * V[j, k] - lr * (d * a_in[k] + l2 * w)
                    V[j, k] = v
                    W[j, k] = w + v
        if l == 0:
            break
        for k in range(n_in):
            prev[k] *= derivative(a_in[k], acts[l - 1])
        delta = prev
        use_d1 = not use_d1

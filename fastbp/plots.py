"""Training curves as PNG, drawn on a matplotlib Figure: the caller's backend and pyplot state are left alone."""
import numpy as np


def plot_history(history, path, title=None):
    """Write the training curves of `history` to a PNG at ``path``; returns ``path``.

    Loss curves (training, and validation when recorded) and, for classifiers with validation
    data, validation accuracy. The loss axis is logarithmic when the curves span more than two
    decades.
    """
    from matplotlib.figure import Figure

    if not len(history):
        raise ValueError("history has no epochs to plot")
    epochs = np.arange(1, len(history) + 1)
    with_accuracy = bool(history.val_accuracy)
    fig = Figure(figsize=(11 if with_accuracy else 6.5, 4.2))
    axes = fig.subplots(1, 2 if with_accuracy else 1)
    ax = axes[0] if with_accuracy else axes
    ax.plot(epochs, history.loss, label="training loss")
    curves = list(history.loss)
    if history.val_loss:
        ax.plot(epochs, history.val_loss, label="validation loss")
        curves += history.val_loss
    positive = [c for c in curves if c > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")
    if history.best_epoch:
        ax.axvline(history.best_epoch, color="grey", ls=":", label=f"best epoch ({history.best_epoch})")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean loss per sample")
    ax.set_title("loss")
    ax.grid(alpha=0.3)
    ax.legend()
    if with_accuracy:
        axes[1].plot(epochs, history.val_accuracy, color="tab:green", label="validation accuracy")
        axes[1].set_xlabel("epoch")
        axes[1].set_ylabel("accuracy")
        axes[1].set_ylim(0, 1.02)
        axes[1].set_title("validation accuracy")
        axes[1].grid(alpha=0.3)
        axes[1].legend(loc="lower right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path

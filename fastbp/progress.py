"""A one-line progress display on stderr for long work (epochs, numerical gradients)."""
import sys
import time


class Progress:
    """Redraws ``label [#####     ] done/total  key=value ...`` in place, at most ten times a second.

    enabled: True draws at once; None draws only on a terminal and only once the work has
    lasted ``delay`` seconds (quick runs stay silent); False never draws.
    """

    def __init__(self, total, label, enabled=None, stream=None, delay=1.0, width=24):
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        else:
            delay = 0.0
        self.enabled = enabled
        self.total = max(int(total), 1)
        self.label = label
        self.width = width
        self.start = time.perf_counter()
        self.shown_after = self.start + delay
        self.last_draw = 0.0
        self.drawn = False

    def update(self, done, force=False, **fields):
        if not self.enabled:
            return
        now = time.perf_counter()
        if now < self.shown_after or (not force and now - self.last_draw < 0.1):
            return
        self.last_draw = now
        filled = int(self.width * min(done, self.total) / self.total)
        bar = "#" * filled + " " * (self.width - filled)
        extra = "  ".join(f"{k}={v}" for k, v in fields.items())
        self.stream.write(f"\r{self.label} [{bar}] {done}/{self.total}  {extra}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self):
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()

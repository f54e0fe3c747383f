""".npz archives that may hold anything: opened without pickle, each member checked before it is read.

Model files (``MLP.load``) and data files (``fastbp train --data x.npz``) both come through here.
Every problem is a ValueError whose text is the reason alone (the caller names the file): a single
.npy array, a pickle, a text file, a member that is not an array, an object array, a member that
declares more bytes than the caller allows (checked before anything is decompressed).
"""
import contextlib
import zipfile

import numpy as np

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first local header, or an empty zip's directory
NPY_MAGIC = b"\x93NUMPY"


def _what_it_is(head):
    """The reason a file that begins with `head` is not an .npz archive."""
    if not head:
        return "it is empty"
    if head.startswith(NPY_MAGIC):
        return "it is a single .npy array, not an .npz archive"
    if head[:1] == b"\x80":
        return "it is a Python pickle, which fastbp never reads"
    if all(c.isprintable() or c in "\t\r\n" for c in head.decode("latin-1")):
        return "it is a text file, not an .npz archive"
    return "it is not an .npz archive (a zip file of .npy arrays)"


@contextlib.contextmanager
def opened(path):
    """The archive at `path` (a numpy NpzFile, allow_pickle=False), closed afterwards.

    FileNotFoundError and other OSErrors pass through; anything else that is not an .npz archive is
    a ValueError with the reason.
    """
    with open(path, "rb") as fh:
        head = fh.read(64)
        if not head.startswith(ZIP_MAGIC):
            raise ValueError(_what_it_is(head))
        fh.seek(0)
        try:
            archive = np.load(fh, allow_pickle=False)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ValueError(f"a damaged zip file: {exc}") from None
        with archive:
            yield archive


def member(archive, name, max_bytes=None):
    """The array `name` of `archive`, once its declared size is at most `max_bytes` (None: any size)."""
    try:
        info = archive.zip.getinfo(f"{name}.npy")
    except KeyError:
        raise ValueError(f"its member {name!r} is not a NumPy array (.npy)") from None
    if max_bytes is not None and info.file_size > max_bytes:
        raise ValueError(f"its member {name!r} declares {info.file_size:,} bytes, more than the {max_bytes:,} "
                         f"it can need")
    try:
        value = archive[name]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise ValueError(f"its member {name!r} is an array of Python objects, which fastbp never reads") \
                from None
        raise ValueError(f"its member {name!r} is not a readable .npy array ({exc})") from None
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise ValueError(f"its member {name!r} is damaged ({exc.__class__.__name__}: {exc})") from None
    return value

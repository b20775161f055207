"""MATLAB .mat loading that a corrupt file cannot crash.

``scipy.io.loadmat`` (1.17) can die with SIGSEGV on a damaged MATLAB v5 file: the fuzz test
found one (a slice of the header duplicated over the variable's name and sizes), which kills
the whole process instead of raising. ``loadmat`` here runs scipy's reader in a forked child
process and sends the parsed contents back through a pipe; when the child dies from a signal,
the caller gets a one-line ``DataError`` naming the file. Where ``fork`` is unavailable the
file is read in-process, as before. ``call_isolated`` runs a whole reader in the child, so only
its records are pickled back (the MPII reader: about as fast as reading in-process).
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import pickle
from pathlib import Path

import scipy.io

from tfpose.core.errors import DataError


def _child(conn, work) -> None:
    faulthandler.disable()  # a crash here is reported by the parent, in one line
    try:
        result = ("ok", work())
    except DataError as exc:
        result = ("data_error", str(exc))
    except Exception as exc:  # noqa: BLE001 - reported as the file's error
        result = ("error", f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})")
    try:
        conn.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # noqa: BLE001 - contents that cannot be pickled
        conn.send_bytes(pickle.dumps(("error", f"unreadable contents ({exc})")))
    conn.close()


def call_isolated(path, fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` (a reader of the .mat ``path``) in a forked child; its result
    comes back pickled. A DataError inside keeps its message; a crash becomes one naming ``path``.

    Readers that turn the file into small records should parse there too: pickling a few
    thousand records is far cheaper than pickling scipy's struct tree (MPII: 7 s).
    """
    return _isolated(lambda: fn(*args, **kwargs), Path(path))


def loadmat(path, **kwargs) -> dict:
    """``scipy.io.loadmat(path, **kwargs)``, isolated: any failure is a DataError naming ``path``."""
    return _isolated(lambda: _in_process(scipy.io.loadmat, Path(path), kwargs), Path(path))


def whosmat(path) -> list:
    """``scipy.io.whosmat(path)`` (the variables' names, shapes, classes), isolated likewise."""
    return _isolated(lambda: _in_process(scipy.io.whosmat, Path(path), {}), Path(path))


def _isolated(work, path: Path):
    if "fork" not in multiprocessing.get_all_start_methods():
        return work()
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, work), daemon=True)
    child.start()
    send.close()
    try:
        payload = receive.recv_bytes()
    except EOFError:  # the child died before answering
        payload = None
    finally:
        receive.close()
        child.join()
    if payload is None:
        code = child.exitcode
        how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        raise DataError(f"{path}: the MATLAB reader crashed on this file ({how}); the file is "
                        "corrupt or not a .mat file")
    status, value = pickle.loads(payload)
    if status == "data_error":
        raise DataError(value)
    if status != "ok":
        raise DataError(f"{path}: {value}")
    return value


def load_in_process(path, **kwargs) -> dict:
    """``loadmat`` without the child process: for code already running in ``call_isolated``."""
    return _in_process(scipy.io.loadmat, Path(path), kwargs)


def _in_process(reader, path: Path, kwargs: dict):
    """``reader(path, **kwargs)`` (a scipy.io function) with its errors as DataError."""
    try:
        return reader(str(path), **kwargs)
    except NotImplementedError as exc:
        raise DataError(f"{path}: cannot read this .mat version ({exc}); save it as -v7") from None
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: not a readable MATLAB .mat file "
                        f"({type(exc).__name__}: {exc})") from None


"""MATLAB .mat loading that a corrupt file cannot crash.

``scipy.io.loadmat`` (1.17) can die with SIGSEGV on a damaged MATLAB v5 file: the fuzz test
found one (a slice of the header duplicated over the variable's name and sizes), which kills
the whole process instead of raising. ``loadmat`` here runs scipy's reader in a forked child
process and sends the parsed contents back through a pipe; when the child dies from a signal,
the caller gets a one-line ``DataError`` naming the file. Where ``fork`` is unavailable the
file is read in-process, as before.

Each reader calls this once per annotation file, so the fork (milliseconds) and the pickling
of the parsed contents (about a second for the full MPII RELEASE) are a small price.
"""

from __future__ import annotations

import faulthandler
import multiprocessing
import pickle
from pathlib import Path

import scipy.io

from tfpose.errors import DataError


READERS = {"loadmat": scipy.io.loadmat, "whosmat": scipy.io.whosmat}


def _child(conn, reader: str, path: str, kwargs: dict) -> None:
    faulthandler.disable()  # a crash here is reported by the parent, in one line
    try:
        result = ("ok", READERS[reader](path, **kwargs))
    except NotImplementedError as exc:  # MATLAB v7.3 = HDF5
        result = ("error", f"cannot read this .mat version ({exc}); save it as -v7")
    except Exception as exc:  # scipy raises many types on truncated / foreign files
        result = ("error", f"not a readable MATLAB .mat file ({type(exc).__name__}: {exc})")
    try:
        conn.send_bytes(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as exc:  # noqa: BLE001 - contents that cannot be pickled
        conn.send_bytes(pickle.dumps(("error", f"unreadable contents ({exc})")))
    conn.close()


def loadmat(path, **kwargs) -> dict:
    """``scipy.io.loadmat(path, **kwargs)``, isolated: any failure is a DataError naming ``path``."""
    return _isolated("loadmat", Path(path), kwargs)


def whosmat(path) -> list:
    """``scipy.io.whosmat(path)`` (the variables' names, shapes, classes), isolated likewise."""
    return _isolated("whosmat", Path(path), {})


def _isolated(reader: str, path: Path, kwargs: dict):
    if "fork" not in multiprocessing.get_all_start_methods():
        return _in_process(reader, path, kwargs)
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child, args=(send, reader, str(path), kwargs), daemon=True)
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
    if status != "ok":
        raise DataError(f"{path}: {value}")
    return value


def _in_process(reader: str, path: Path, kwargs: dict):
    try:
        return READERS[reader](str(path), **kwargs)
    except NotImplementedError as exc:
        raise DataError(f"{path}: cannot read this .mat version ({exc}); save it as -v7") from None
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: not a readable MATLAB .mat file "
                        f"({type(exc).__name__}: {exc})") from None


"""A quiet console: TensorFlow's start-up noise silenced, one line per epoch in log files.

On a CPU machine, importing TensorFlow prints CUDA probing ("Could not find cuda drivers",
"failed call to cuInit"), absl's "log messages before InitializeLog" note and oneDNN notes from
C++ straight to file descriptor 2, before any line of tfpose's. ``import_tensorflow_quietly``
imports TensorFlow and probes its devices with that descriptor pointed at /dev/null, and keeps
C++ INFO and WARNING lines off for the rest of the run (``TF_CPP_MIN_LOG_LEVEL=2``; errors still
print). ``tfpose --verbose`` skips all of it.
"""

from __future__ import annotations

import contextlib
import os
import sys


def import_tensorflow_quietly() -> None:
    """Import TensorFlow (and list its devices) with the C-level stderr silenced.

    Python exceptions still propagate: only what C++ writes during the import is dropped. A
    ``TF_CPP_MIN_LOG_LEVEL`` already set by the user is kept.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "tensorflow" in sys.modules:
        return
    with c_stderr_silenced():
        import tensorflow as tf

        # Listing physical (not logical) devices runs the CUDA probe now, silenced, without
        # initialising the runtime (multi-worker training must configure it first).
        tf.config.list_physical_devices()


@contextlib.contextmanager
def c_stderr_silenced():
    """File descriptor 2 pointed at /dev/null inside the block: what C libraries write there
    (TensorFlow's start-up, libtiff's warnings on a damaged TIFF) is dropped; Python exceptions
    still propagate. Process-wide while it lasts: keep the block short."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def fit_verbosity(stream=None) -> int | str:
    """Keras ``fit`` verbosity: progress bars on a terminal, one line per epoch otherwise."""
    stream = sys.stdout if stream is None else stream
    return "auto" if stream.isatty() else 2

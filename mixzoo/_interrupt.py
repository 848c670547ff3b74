"""Ctrl-C and SIGTERM for the command-line scripts: stop at once, leave no temporary folder.

Why this is needed: Python runs signal handlers only in the main thread, between bytecodes, so
a SIGINT arriving while that thread is inside a long call of compiled code that does not poll
for signals is acted on only when the call returns. Even once ``KeyboardInterrupt`` is raised
(jaxlib 0.10 polls while it waits for a result), the interpreter's exit waits for the XLA
computations in flight (measured with jax 0.10: 0.2 s to the exception, 27 s to the exit; with
NUTS running, the exit may also abort). SIGTERM (``kill``, a batch scheduler's time limit) ends
the process without any cleanup, leaving the hidden ``.<out>.tmp-XXXX`` folder of
:func:`mixzoo.io.atomic_output_dir` behind.

How: :func:`run` runs ``main()`` in a worker thread; the main thread only waits for it, waking
every 0.1 s (a signal may be delivered to any thread; the main thread sees it when it wakes),
so its handlers for SIGINT and SIGTERM run within that time. A handler removes the temporary
output folders registered here, prints one line and ends the process with ``os._exit(128 +
signal number)`` (130, 143) without waiting for the compiled code. An output folder is committed
(its final rename, and under ``--overwrite`` the swap with the existing folder) while holding
:data:`LOCK`, which the handler takes too: a signal finds an output either not yet committed
(its temporary folder is removed, an existing folder is untouched) or complete (kept).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
from pathlib import Path

#: Held while a temporary output folder is created and registered, while it is committed, and
#: by a signal handler until the process ends. Reentrant: a second signal may arrive while the
#: handler of the first one runs (in the same thread).
LOCK = threading.RLock()
_pending: dict = {}  # temporary folder -> (output path, whether it replaces an existing folder)
_committed: list = []  # output folders completed during this run


def register(tmp: Path, path: Path, replaces: bool) -> None:
    """Record ``tmp``, the temporary folder of output ``path`` (to be created under the same
    hold of :data:`LOCK`, so that no signal comes in between)."""
    with LOCK:
        _pending[Path(tmp)] = (Path(path), replaces)


def unregister(tmp: Path, committed: bool = False) -> None:
    """Forget ``tmp`` (removed, or renamed to its output path when ``committed``)."""
    with LOCK:
        path, _ = _pending.pop(Path(tmp), (None, False))
        if committed and path is not None:
            _committed.append(path)


def _on_signal(signum: int, prog: str) -> None:
    LOCK.acquire()  # never released: once the output is decided, nothing else commits
    for tmp in _pending:
        for _ in range(3):  # the worker may still be writing a file into it
            shutil.rmtree(tmp, ignore_errors=True)
            if not tmp.exists():
                break
    if _committed and not _pending:
        outcome = f"the output {_names(_committed)} was already complete and is kept"
    else:
        outcome = "no output folder was written"
        untouched = [path for path, replaces in _pending.values() if replaces]
        if untouched:
            outcome += f"; the existing {_names(untouched)} was left untouched"
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    tqdm = getattr(sys.modules.get("tqdm"), "tqdm", None)
    newline = "\n" if getattr(tqdm, "_instances", None) else ""  # end the line of an open progress bar
    print(f"{newline}{prog}: interrupted by {signal.Signals(signum).name}; {outcome}", file=sys.stderr, flush=True)
    os._exit(128 + signum)


def _names(paths) -> str:
    return ", ".join(repr(str(path)) for path in paths)


def run(main, prog: str) -> None:
    """Run ``main()`` in a worker thread, SIGINT and SIGTERM handled as described above; an
    exception of ``main()`` (``SystemExit`` included) is raised again here. Outside the main
    thread (no signal handlers possible) this simply calls ``main()``."""
    if threading.current_thread() is not threading.main_thread():
        main()
        return
    raised = []

    def work():
        try:
            main()
        except BaseException as exc:  # re-raised in the main thread
            raised.append(exc)

    previous = {
        signum: signal.signal(signum, lambda signum, frame: _on_signal(signum, prog))
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        worker = threading.Thread(target=work, name=f"{prog} main", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(0.1)
    finally:
        for signum, handler in previous.items():
            if handler is not None:  # None: installed outside Python, cannot be restored
                signal.signal(signum, handler)
    if raised:
        raise raised[0]

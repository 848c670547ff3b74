"""Ctrl-C (SIGINT) and SIGTERM stop the command-line scripts promptly, even inside compiled JAX
code, and leave nothing behind (mixzoo._interrupt): real subprocesses, real signals.

The runs are long (minutes if not interrupted); each test sends its signal a few seconds in.
"""

import contextlib
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LONG_NUTS = ["--num-warmup", "5000", "--num-samples", "20000", "--no-progress"]
LONG_MAP = ["--num-steps", "20000"]
#: Seconds from the signal to the exit: "a few seconds" (the issue), over 10x the slowest measured,
#: 0.32 s (NUTS, cold compilation cache; 0.02-0.18 s with the 2 cores shared by 4 test processes).
#: Before this mechanism, a NUTS run took 0.5-13 s (the interpreter's exit after KeyboardInterrupt
#: waits for the XLA computation in flight), or aborted.
REACTION = 4.0
#: Seconds to wait for a line of the child's output (imports, MAP fit, compilation).
STARTUP = 120.0


class Child:
    """A script run in a subprocess, its stdout read line by line (with a timeout) and its
    stderr collected, both by threads."""

    def __init__(self, args, cwd=ROOT):
        env = dict(os.environ, PYTHONUNBUFFERED="1")  # MIXZOO_CACHE_DIR as tests/conftest.py sets it
        self.proc = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.lines, self.stderr = queue.Queue(), []
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = STARTUP) -> str:
        """The first stdout line containing ``text``; fails on a timeout or an early exit."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"no line with {text!r} on stdout within {timeout} s")
            if line is None:
                self.proc.wait(timeout=10)
                pytest.fail(f"exited with {self.proc.returncode} before printing {text!r}:\n{''.join(self.stderr)}")
            if text in line:
                return line

    def signal(self, signum: int) -> tuple[int, float]:
        """Send ``signum``; returns the exit status and the seconds it took to exit."""
        start = time.monotonic()
        self.proc.send_signal(signum)
        try:
            code = self.proc.wait(timeout=REACTION)
        except subprocess.TimeoutExpired:
            pytest.fail(f"still running {REACTION} s after {signal.Signals(signum).name}")
        elapsed = time.monotonic() - start
        for reader in self._readers:
            reader.join(timeout=10)
        print(f"{signal.Signals(signum).name}: exit {code} after {elapsed:.3f} s")
        return code, elapsed

    def last_stderr_line(self) -> str:
        lines = "".join(self.stderr).strip().splitlines()
        return lines[-1] if lines else ""


@contextlib.contextmanager
def running(*args, cwd=ROOT):
    child = Child(args, cwd=cwd)
    try:
        yield child
    finally:
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()
        for reader in child._readers:  # the pipes are read to their end, then closed
            reader.join(timeout=10)
        child.proc.stdout.close()
        child.proc.stderr.close()


def script(name):
    return str(ROOT / "scripts" / name)


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["SIGINT", "SIGTERM"])
def test_signal_during_nuts_stops_at_once_and_leaves_nothing(tmp_path, signum, code):
    with running(script("run_nuts.py"), *LONG_NUTS, "--out", str(tmp_path / "out")) as child:
        child.wait_for("MAP initialisation")
        time.sleep(3)  # well into the compiled warm-up (with a warm compilation cache)
        assert child.signal(signum)[0] == code
    assert list(tmp_path.iterdir()) == []  # neither the output folder nor its hidden temporary folder
    name = signal.Signals(signum).name
    assert child.last_stderr_line() == f"run_nuts.py: interrupted by {name}; no output folder was written"


def test_sigint_during_map_stops_at_once_and_leaves_nothing(tmp_path):
    with running(script("run_map.py"), *LONG_MAP, "--out", str(tmp_path / "out")) as child:
        child.wait_for(": N = ")  # printed just before the MAP fit starts
        assert child.signal(signal.SIGINT)[0] == 130
    assert list(tmp_path.iterdir()) == []
    assert child.last_stderr_line() == "run_map.py: interrupted by SIGINT; no output folder was written"


def test_sigint_with_overwrite_leaves_the_existing_folder_untouched(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.txt").write_text("earlier results")
    with running(script("run_map.py"), *LONG_MAP, "--out", str(out), "--overwrite") as child:
        child.wait_for(": N = ")
        time.sleep(1)
        assert child.signal(signal.SIGINT)[0] == 130
    assert list(tmp_path.iterdir()) == [out]
    assert list(out.iterdir()) == [out / "marker.txt"] and (out / "marker.txt").read_text() == "earlier results"
    assert child.last_stderr_line() == (
        f"run_map.py: interrupted by SIGINT; no output folder was written; the existing {str(out)!r} was left untouched"
    )


# A stand-in for a script (no JAX): its output is committed slowly (each rename of the folders
# takes 1 s) and it then runs on, so that a signal can be sent during the commit or after it.
SLOW_COMMIT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from mixzoo import io
    from mixzoo.cli import _common

    def slow_replace(src, dst, _replace=os.replace):
        print("committing", flush=True)
        time.sleep(1)
        _replace(src, dst)

    def main():
        with io.atomic_output_dir(sys.argv[1], overwrite=True) as tmp:
            (tmp / "result.txt").write_text("new results")
            io.os.replace = slow_replace
        print("committed", flush=True)
        time.sleep(60)

    raise SystemExit(_common.run_main(main, "fake.py"))
""")


@pytest.mark.parametrize("when", ["during", "after"])
def test_signal_during_or_after_the_commit_keeps_the_complete_output(tmp_path, when):
    """The final rename (here the --overwrite swap of an existing folder) is atomic for a signal:
    a signal arriving during it takes effect once the new output is complete, which is kept."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "marker.txt").write_text("earlier results")
    with running("-c", SLOW_COMMIT.format(root=str(ROOT)), str(out), cwd=tmp_path) as child:
        child.wait_for("committing" if when == "during" else "committed", timeout=30)
        assert child.signal(signal.SIGTERM)[0] == 143
    assert list(tmp_path.iterdir()) == [out]
    assert list(out.iterdir()) == [out / "result.txt"]
    assert (
        child.last_stderr_line() == f"fake.py: interrupted by SIGTERM; the output {str(out)!r} was already complete and is kept"
    )


# A stand-in for a script whose main thread would be stuck in one long call of compiled code
# that does not poll for signals (as a compiled JAX program may be): ~15 s of PBKDF2 in OpenSSL.
BUSY = textwrap.dedent("""
    import hashlib, sys
    sys.path.insert(0, {root!r})
    from mixzoo.cli import _common

    def main():
        print("busy", flush=True)
        hashlib.pbkdf2_hmac("sha256", b"secret", b"salt", 50_000_000)
        print("done", flush=True)

    raise SystemExit(_common.run_main(main, "fake.py"))
""")


def test_sigint_during_a_long_call_that_does_not_poll_for_signals(tmp_path):
    with running("-c", BUSY.format(root=str(ROOT)), cwd=tmp_path) as child:
        child.wait_for("busy", timeout=30)
        time.sleep(0.5)
        assert child.signal(signal.SIGINT)[0] == 130
    assert child.last_stderr_line() == "fake.py: interrupted by SIGINT; no output folder was written"

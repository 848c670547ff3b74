"""mixzoo's persistent JAX compilation cache (on by default).

mixzoo's programs (the vmapped MAP restarts, the SVI steps, NUTS) take 0.1-5 s each to compile
with XLA, on every new process. :func:`enable_persistent_cache` points JAX's persistent
compilation cache at a per-user folder, so that a second run with the same model, options and
data shapes loads the compiled executables from disk instead (a few ms each).

Where the cache lives
    ``$XDG_CACHE_HOME/mixzoo/jax`` (default ``~/.cache/mixzoo/jax``) on Linux,
    ``~/Library/Caches/mixzoo/jax`` on macOS, ``%LOCALAPPDATA%\\mixzoo\\jax`` on Windows;
    the environment variable ``MIXZOO_CACHE_DIR`` moves it, ``MIXZOO_CACHE_DIR=''`` switches it
    off. A JAX cache folder you configured yourself (``JAX_COMPILATION_CACHE_DIR`` or
    ``jax.config.update("jax_compilation_cache_dir", ...)``) always wins and is left alone.

How big it gets
    One file per distinct compiled program: a few kB for small helper programs, 10-350 kB for
    mixzoo's fits (measured: ~0.8 MB after a MAP, an SVI-enum and a NUTS fit on one data set).
    Each new combination of model, options and data shape adds entries; JAX does not evict
    them (no size limit by default), so the folder only grows; clear it now and then.
    Programs with host callbacks (``jax.pure_callback``, e.g. mixzoo's host-side draws) are
    never stored: JAX refuses to cache executables with host callbacks.

How to clear it
    ``python -c "import mixzoo._cache as c; c.clear_cache()"``, or delete the folder
    (:func:`cache_dir` tells which); :func:`cache_size` gives its size in bytes.

The cache is trusted code: do not point ``MIXZOO_CACHE_DIR`` at a folder others can write to.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import warnings

__all__ = ["cache_dir", "cache_size", "clear_cache", "default_cache_dir", "enable_persistent_cache"]

#: Environment variable that moves the cache (a folder) or switches it off (the empty string).
ENV_VAR = "MIXZOO_CACHE_DIR"

# Minimum compile time for an executable to be written to the cache. JAX's default (1 s) would
# skip most of mixzoo's programs (0.1-5 s). Measured with JAX 0.10.2 on CPU: loading an entry
# costs ~2-3 ms, a mixzoo program saves 0.1-5 s, and the programs under 50 ms are small
# helpers (dtype conversions, broadcasts, PRNG splits: 4 of the 16 programs of a
# MAP + SVI-enum + NUTS session, 0.15 s in all). 0.05 s keeps every program that matters and
# skips the helpers, whose one-file-per-shape entries would save little and pile up in a cache
# that JAX never evicts.
MIN_COMPILE_TIME_SECS = 0.05

_JAX_DEFAULT_MIN_COMPILE_TIME_SECS = 1.0

# JAX's file cache writes "<key>-cache" entries, "<key>-atime" access times (with a size limit)
# and a ".lockfile"; XLA's own caches (GPU autotuning) go to subfolders.
_JAX_FILE_SUFFIXES = ("-cache", "-atime")
_JAX_FILE_NAMES = (".lockfile",)
_XLA_SUBDIRS = ("xla_gpu_per_fusion_autotune_cache_dir", "xla_gpu_kernel_cache_file")

_lock = threading.Lock()
_done = False  # decided once per process
_own_dir: str | None = None  # the folder mixzoo configured, None if it configured none
_own_is_default = False  # ``_own_dir`` is the per-user default folder (entirely mixzoo's)


def default_cache_dir() -> str:
    """The per-user cache folder, ``<user cache folder>/mixzoo/jax`` (nothing is created)."""
    home = os.path.expanduser("~")
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.join(home, "AppData", "Local")
    elif sys.platform == "darwin":
        base = os.path.join(home, "Library", "Caches")
    else:
        # XDG Base Directory spec: a relative $XDG_CACHE_HOME is invalid and ignored
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(home, ".cache")
    return os.path.join(base, "mixzoo", "jax")


def _check_writable(path: str) -> None:
    """Create ``path`` and write and remove a probe file in it; raises OSError if it cannot."""
    if not os.path.isabs(path):
        raise OSError("not an absolute path (is the home folder unknown?)")
    os.makedirs(path, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".mixzoo-probe-", dir=path)
    try:
        os.write(fd, b"ok")
    finally:
        os.close(fd)
        os.remove(probe)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def _user_cache_dir(jax) -> str | None:
    """JAX's cache folder, if configured (by the user: mixzoo only sets it after this check)."""
    return jax.config.jax_compilation_cache_dir or None


def enable_persistent_cache() -> str | None:
    """Switch on JAX's persistent compilation cache in mixzoo's folder; return the folder in use.

    Decided once per process (later calls cost a config lookup); it never raises:

    * a JAX cache folder the user configured (``JAX_COMPILATION_CACHE_DIR``,
      ``jax.config.update("jax_compilation_cache_dir", ...)``) is kept and returned, and so is
      the rest of the user's cache configuration; ``jax_enable_compilation_cache=False`` gives
      None;
    * otherwise ``$MIXZOO_CACHE_DIR`` if set (the empty string: no cache, None), else
      :func:`default_cache_dir`. The folder is created and checked for writing; if that fails,
      one ``UserWarning`` per process and no cache (None);
    * sets ``jax_compilation_cache_dir``, and, unless the user set them
      (``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``, ``JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES``
      or ``jax.config.update``), ``jax_persistent_cache_min_compile_time_secs`` to
      :data:`MIN_COMPILE_TIME_SECS` and ``jax_persistent_cache_min_entry_size_bytes`` to 0.

    Call it before the first compilation so that every program is cached; called later, it
    caches the programs compiled from then on. See the module docstring for size and clearing.
    """
    global _done, _own_dir, _own_is_default
    import jax

    if _done:
        return _current_dir(jax)
    with _lock:
        if _done:
            return _current_dir(jax)
        path = None
        try:
            if not jax.config.jax_enable_compilation_cache:
                return None
            user = _user_cache_dir(jax)
            if user is not None:
                return user
            env = os.environ.get(ENV_VAR)
            if env == "":
                return None
            path = os.path.abspath(os.path.expanduser(env)) if env is not None else default_cache_dir()
            _check_writable(path)
            if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ and (
                jax.config.jax_persistent_cache_min_compile_time_secs == _JAX_DEFAULT_MIN_COMPILE_TIME_SECS
            ):
                jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_TIME_SECS)
            if "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES" not in os.environ and (
                jax.config.jax_persistent_cache_min_entry_size_bytes == 0
            ):
                jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
            jax.config.update("jax_compilation_cache_dir", path)
            _own_dir, _own_is_default = path, env is None
            return path
        except Exception as exc:  # noqa: BLE001 (never let the cache break a fit)
            warnings.warn(
                f"mixzoo: persistent compilation cache disabled: cannot write to {path} ({_reason(exc)}); "
                f"set {ENV_VAR} to a writable folder or to '' to silence this",
                UserWarning,
                stacklevel=2,
            )
            return None
        finally:
            _done = True


def _current_dir(jax) -> str | None:
    if not jax.config.jax_enable_compilation_cache:
        return None
    return jax.config.jax_compilation_cache_dir or None


def cache_dir() -> str | None:
    """The persistent cache folder in use (mixzoo's or the user's own JAX folder), or None.

    Enables the cache first (:func:`enable_persistent_cache`) if that has not been done yet.
    """
    return enable_persistent_cache()


def _size(path: str) -> int:
    if os.path.isfile(path) and not os.path.islink(path):
        return os.path.getsize(path)
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def cache_size() -> int:
    """Bytes in the cache folder in use (0 if there is none)."""
    path = cache_dir()
    if path is None or not os.path.isdir(path):
        return 0
    return _size(path)


def clear_cache() -> int:
    """Delete the cache entries in mixzoo's cache folder; return the bytes freed.

    Only mixzoo's own folder is touched (a JAX cache folder the user configured is left
    alone: 0). In the per-user default folder everything goes; in a ``$MIXZOO_CACHE_DIR``
    folder only the files JAX's cache writes (``*-cache``, ``*-atime``, ``.lockfile``, XLA's
    cache subfolders), since that folder may hold other things. Programs already loaded by
    running processes stay in their memory.
    """
    path = cache_dir()
    if path is None or _own_dir is None or os.path.abspath(path) != _own_dir or not os.path.isdir(path):
        return 0
    freed = 0
    for entry in os.scandir(path):
        ours = _own_is_default or (
            entry.name.endswith(_JAX_FILE_SUFFIXES) or entry.name in _JAX_FILE_NAMES or entry.name in _XLA_SUBDIRS
        )
        if not ours:
            continue
        try:
            size = _size(entry.path)
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.remove(entry.path)
            freed += size
        except OSError:
            pass  # in use or gone: skip it
    return freed

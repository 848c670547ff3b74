"""mixzoo._cache: the persistent JAX compilation cache, on by default.

JAX's configuration is process-global (and conftest.py sets its own cache folder in the test
processes), so every scenario runs in a fresh ``python -c`` with a controlled environment
(HOME, XDG_CACHE_HOME, MIXZOO_*, JAX_* under a tmp folder). Importing JAX takes ~2.5 s of CPU
per process, so the independent scenarios start together (module fixture) and each test waits
for its own; the reuse test's second process starts once the first has written the cache.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MESSAGE_START = "mixzoo: persistent compilation cache disabled: cannot write to {} ("
MESSAGE_END = "); set MIXZOO_CACHE_DIR to a writable folder or to '' to silence this"
TIMEOUT = 180

# one pytest-xdist worker runs them all (--dist loadgroup), so the scenarios start once
pytestmark = pytest.mark.xdist_group("cache")

# Runs in the child: PRE (before mixzoo), enable_persistent_cache() twice and cache_dir(), then
# BODY, which may add to `out`; prints `out` as JSON on the last line of stdout.
CHILD = """
import json, logging, os, sys, warnings
if hasattr(os, "sched_setaffinity"):  # conftest.py pins pytest-xdist workers to some cores
    os.sched_setaffinity(0, range(os.cpu_count() or 1))
import jax
PRE
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import mixzoo._cache as c
    dirs = [c.enable_persistent_cache(), c.enable_persistent_cache(), c.cache_dir()]
    out = {}
    BODY
out.update(
    dirs=dirs,
    jax_dir=jax.config.jax_compilation_cache_dir,
    min_time=jax.config.jax_persistent_cache_min_compile_time_secs,
    min_size=jax.config.jax_persistent_cache_min_entry_size_bytes,
    warnings=[str(w.message) for w in caught if issubclass(w.category, UserWarning)],
)
print(json.dumps(out))
"""

# A program that compiles in ~0.3-0.6 s on CPU: above mixzoo's threshold (0.05 s), below JAX's
# default (1 s), so it is only written if mixzoo lowered the threshold. JAX's logs and
# monitoring events tell whether it was written (process 1) and loaded (process 2).
HEAVY = """
import jax.numpy as jnp
hits, durations, log = [], {}, []
jax.monitoring.register_event_listener(lambda e, **kw: hits.append(e) if e == "/jax/compilation_cache/cache_hits" else None)
jax.monitoring.register_event_duration_secs_listener(lambda e, s, **kw: durations.setdefault(e, []).append(s))
class Collect(logging.Handler):
    def emit(self, record):
        log.append(record.getMessage())
for name in ("jax._src.compiler", "jax._src.compilation_cache"):
    logging.getLogger(name).setLevel(logging.DEBUG)
    logging.getLogger(name).addHandler(Collect())
@jax.jit
def heavy(x):
    for i in range(12):
        x = jnp.sin(x) @ x.T + jnp.cumsum(x, axis=i % 2) * i
    return x.sum()
out["value"] = float(heavy(jnp.full((16, 16), 0.01)))
out["hits"] = len(hits)
out["heavy_hit"] = any("cache hit for 'jit_heavy'" in m for m in log)
out["heavy_written"] = any(m.startswith("Writing jit_heavy ") for m in log)
out["compile_secs"] = max(durations.get("/jax/core/compile/backend_compile_duration", [0]))
out["files"] = sorted(os.listdir(dirs[0])) if dirs[0] else []
out["size"] = c.cache_size()
"""

# clear_cache in a MIXZOO_CACHE_DIR folder: JAX's entries go, other files stay
SELECTIVE_CLEAR = """
for name, text in [("jit_fake-0123-cache", "12345"), ("jit_fake-0123-atime", "123"), ("notes.txt", "keep me")]:
    open(os.path.join(dirs[0], name), "w").write(text)
out["size_before"], out["cleared"] = c.cache_size(), c.clear_cache()
out["left"] = sorted(os.listdir(dirs[0]))
"""

UNWRITABLE = """
import jax.numpy as jnp
out["value"] = float(jax.jit(lambda x: 2 * x + 1)(jnp.float32(3)))
out["size"], out["cleared"] = c.cache_size(), c.clear_cache()
"""


def child_env(tmp, **overrides):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("JAX_", "MIXZOO_", "XLA_", "PYTEST_")) and k not in ("XDG_CACHE_HOME", "LOCALAPPDATA")
    }
    env["HOME"] = str(tmp / "home")
    env["JAX_PLATFORMS"] = "cpu"
    env["PYTHONPATH"] = os.pathsep.join([REPO, *filter(None, [os.environ.get("PYTHONPATH")])])
    env.update({k: str(v) for k, v in overrides.items()})
    return env


def start(tmp, body="", pre="", **env):
    """Start a child in ``tmp`` (its cwd; HOME is ``tmp/home``); output goes to files there."""
    code = CHILD.replace("PRE", textwrap.dedent(pre).strip() or "pass").replace(
        "    BODY", textwrap.indent(textwrap.dedent(body).strip() or "pass", "    ")
    )
    (tmp / "home").mkdir(parents=True, exist_ok=True)
    with open(tmp / "stdout.txt", "w") as stdout, open(tmp / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", code], env=child_env(tmp, **env), cwd=str(tmp), stdout=stdout, stderr=stderr
        )
    proc.tmp = tmp
    return proc


def finish(proc):
    try:
        rc = proc.wait(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    stderr = (proc.tmp / "stderr.txt").read_text()
    assert rc == 0, f"child failed (rc {rc}):\n{stderr[-3000:]}"
    return json.loads((proc.tmp / "stdout.txt").read_text().strip().splitlines()[-1])


def _scenarios(root):
    """name -> (start kwargs), with their tmp folder root / name; all independent."""
    return {
        # the reuse test's first process, in the default folder under $XDG_CACHE_HOME
        "writer": {"XDG_CACHE_HOME": root / "xdg", "body": HEAVY},
        "default": {},
        "moved": {
            "MIXZOO_CACHE_DIR": root / "moved" / "elsewhere" / "cache",
            "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "2.5",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "123",
            "body": SELECTIVE_CLEAR,
        },
        "off": {"MIXZOO_CACHE_DIR": ""},
        "user_env": {
            "JAX_COMPILATION_CACHE_DIR": root / "user_env" / "userjax",
            "MIXZOO_CACHE_DIR": root / "user_env" / "mz",
            "pre": "os.makedirs(os.environ['JAX_COMPILATION_CACHE_DIR'])",
            "body": "open(os.path.join(dirs[0], 'mine'), 'w').write('x'); out['cleared'] = c.clear_cache()",
        },
        "user_update": {"pre": "jax.config.update('jax_compilation_cache_dir', os.path.abspath('set_by_user'))"},
        # the parent of the folder is a regular file
        "unwritable": {"MIXZOO_CACHE_DIR": root / "unwritable" / "a_file" / "jax", "body": UNWRITABLE},
    }


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory):
    root = tmp_path_factory.mktemp("cache")
    (root / "unwritable").mkdir()
    (root / "unwritable" / "a_file").write_text("not a folder")
    procs = {}
    for name, kw in _scenarios(root).items():
        kw = dict(kw)
        procs[name] = start(root / name, kw.pop("body", ""), kw.pop("pre", ""), **kw)
    results = {}

    def get(name):
        if name not in results:
            results[name] = (root / name, finish(procs[name]))
        return results[name]

    get.root = root
    yield get
    for proc in procs.values():
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the default folder's Linux location")
@pytest.mark.parametrize("name", ["default", "writer"])
def test_default_folder(scenarios, name):
    tmp, out = scenarios(name)
    base = scenarios.root / "xdg" if name == "writer" else tmp / "home" / ".cache"
    expected = str(base / "mixzoo" / "jax")
    assert out["dirs"] == [expected] * 3 and out["jax_dir"] == expected
    assert os.path.isdir(expected)
    if name == "default":
        assert os.listdir(expected) == []  # the probe file is gone
    assert out["min_time"] == 0.05 and out["min_size"] == 0
    assert out["warnings"] == []


def test_mixzoo_cache_dir_moves_it_and_user_thresholds_are_kept(scenarios):
    tmp, out = scenarios("moved")
    expected = str(tmp / "elsewhere" / "cache")
    assert out["dirs"] == [expected] * 3 and out["jax_dir"] == expected
    assert not (tmp / "home" / ".cache").exists()
    assert out["min_time"] == 2.5 and out["min_size"] == 123  # the user's JAX_* variables
    # clear_cache there: only JAX's entries go
    assert out["size_before"] == 5 + 3 + 7 and out["cleared"] == 5 + 3
    assert out["left"] == ["notes.txt"]
    assert out["warnings"] == []


def test_empty_mixzoo_cache_dir_switches_it_off(scenarios):
    tmp, out = scenarios("off")
    assert out["dirs"] == [None] * 3 and out["jax_dir"] is None
    assert out["min_time"] == 1.0  # JAX's own settings untouched
    assert not (tmp / "home" / ".cache").exists()
    assert out["warnings"] == []


def test_user_jax_cache_dir_is_respected(scenarios):
    tmp, out = scenarios("user_env")
    user = str(tmp / "userjax")
    assert out["dirs"] == [user] * 3 and out["jax_dir"] == user
    assert out["min_time"] == 1.0  # the user's cache configuration is theirs
    assert out["cleared"] == 0 and os.listdir(user) == ["mine"]  # clear_cache leaves it alone
    assert not (tmp / "mz").exists() and not (tmp / "home" / ".cache").exists()
    assert out["warnings"] == []


def test_user_config_update_is_respected(scenarios):
    tmp, out = scenarios("user_update")
    user = str(tmp / "set_by_user")
    assert out["dirs"] == [user] * 3 and out["jax_dir"] == user
    assert not (tmp / "home" / ".cache").exists()


def test_unwritable_folder_warns_once_and_computes(scenarios):
    tmp, out = scenarios("unwritable")
    assert out["dirs"] == [None] * 3 and out["jax_dir"] is None
    assert len(out["warnings"]) == 1, out["warnings"]
    msg = out["warnings"][0]
    assert msg.startswith(MESSAGE_START.format(tmp / "a_file" / "jax")) and msg.endswith(MESSAGE_END), msg
    assert out["value"] == 7.0
    assert out["size"] == 0 and out["cleared"] == 0


def test_second_process_reuses_the_cache(scenarios):
    _, first = scenarios("writer")
    cache = scenarios.root / "xdg" / "mixzoo" / "jax"
    assert first["heavy_written"], f"jit_heavy not written (compiled in {first['compile_secs']:.3f} s)"
    assert not first["heavy_hit"]
    assert len([f for f in first["files"] if f.startswith("jit_heavy-") and f.endswith("-cache")]) == 1, first["files"]
    assert first["size"] > 0

    # process 2 loads it, then clears the (default, so entirely mixzoo's) folder
    clear = '\nout["size_before"], out["cleared"] = c.cache_size(), c.clear_cache()\nout["left"] = os.listdir(dirs[0])'
    second = finish(start(scenarios.root / "reader", HEAVY + clear, XDG_CACHE_HOME=scenarios.root / "xdg"))
    assert second["dirs"][0] == str(cache)
    assert second["heavy_hit"] and second["hits"] >= 1
    assert not second["heavy_written"]
    assert second["value"] == first["value"]
    assert second["cleared"] == second["size_before"] > 0
    assert second["left"] == [] and os.listdir(cache) == []

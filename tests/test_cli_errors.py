"""The command-line scripts refuse bad input with one line, no traceback, a non-zero exit
code, and without creating or changing the output folder."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["run_nuts.py", "run_map.py"]


def _run(script, args, cwd):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / script), *args], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def _write(path, text):
    path.write_text(text)
    return str(path)


CASES = {
    "missing file": (lambda d: ["--data", str(d / "nope.csv")], r"data file .*nope.csv' does not exist"),
    "non-numeric cell": (
        lambda d: ["--data", _write(d / "a.csv", "x\n1.0\n2.5\nabc\n4\n")],
        r"non-numeric value 'abc' in .*a.csv' row 4, column 'x'",
    ),
    "missing value": (
        lambda d: ["--data", _write(d / "b.csv", "x,y\n1,2\n3,\n5,6\n"), "--columns", "x", "y"],
        r"missing value in .*b.csv' row 3, column 'y'",
    ),
    "unknown column": (
        lambda d: ["--data", "faithful", "--columns", "eruption"],
        r"columns \['eruption'\] not found in data set 'faithful'; its columns are \['eruptions', 'waiting'\]",
    ),
    "unknown column in csv": (
        lambda d: ["--data", _write(d / "c.csv", "x\n1\n2\n3\n"), "--columns", "y"],
        r"columns \['y'\] not found in .*c.csv'; its columns are \['x'\]",
    ),
    "too few rows": (
        lambda d: ["--data", _write(d / "e.csv", "x\n1.5\n")],
        r"data file .*e.csv' must have at least 2 data rows; got 1",
    ),
    "empty file": (lambda d: ["--data", _write(d / "f.csv", "")], r"data file .*f.csv' is empty"),
    "negative samples": (lambda d: ["--num-samples", "-5"], r"argument --num-samples: must be an integer >= 1; got '-5'"),
    "non-integer chains": (lambda d: ["--num-chains", "two"], r"argument --num-chains: must be an integer >= 1; got 'two'"),
    "truncation too small": (lambda d: ["--truncation", "1"], r"argument --truncation: must be an integer >= 2; got '1'"),
    "seed too large": (
        lambda d: ["--seed", str(2**32)],
        r"argument --seed: must be an integer in \[0, 4294967295\]; got '4294967296'",
    ),
    "ragged row": (
        lambda d: ["--data", _write(d / "g.csv", "x,y\n1,2\n3,4\n5,6,7\n8,9\n"), "--columns", "x", "y"],
        r"row 4 of .*g.csv' has 3 cells; the header has 2",
    ),
    "short row": (
        lambda d: ["--data", _write(d / "h.csv", "x,y\n1,2\n3\n5,6\n"), "--columns", "x"],
        r"row 3 of .*h.csv' has 1 cell; the header has 2",
    ),
    "duplicate columns": (
        lambda d: ["--data", _write(d / "i.csv", "x,y\n1,2\n3,4\n5,7\n"), "--columns", "x", "x"],
        r"--columns must name each column once; got \['x', 'x'\] \(\['x'\] repeated\)",
    ),
    "complex cell": (
        lambda d: ["--data", _write(d / "j.csv", "x\n1\n2+3j\n5\n")],
        r"non-numeric value '2\+3j' in .*j.csv' row 3, column 'x'",
    ),
    "duplicate header": (
        lambda d: ["--data", _write(d / "k.csv", "x,x\n1,2\n3,4\n5,7\n")],
        r"header of .*k.csv' names column\(s\) \['x'\] more than once",
    ),
    "model vs columns": (
        lambda d: ["--data", "faithful", "--model", "dirichlet_gmm"],
        r"--model dirichlet_gmm needs exactly 1 column; got 2 .* Use --model diag_gmm or dp_gmm",
    ),
    "full_gmm on one column": (
        lambda d: ["--data", "galaxy", "--model", "full_gmm"],
        r"--model full_gmm needs 2 or more columns; got 1 .*Choose --columns with several columns or a 1-D model",
    ),
    "full_gmm on too few points": (
        lambda d: ["--data", _write(d / "m.csv", "x,y\n1,2\n3,5\n5,4\n2,8\n7,1\n"), "--model", "full_gmm", "--components", "2"],
        r"data must have at least as many points as the model has free parameters \(11 for n_components=2 .*; got 5 points",
    ),
    "unknown data set": (
        lambda d: ["--data", "galaxies"],
        r"data must be a bundled data set .* or a path to a CSV file; got 'galaxies'",
    ),
}


@pytest.mark.parametrize("script", SCRIPTS)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_one_line_error_and_no_output(tmp_path, script, case):
    make_args, pattern = CASES[case]
    if script == "run_map.py" and case == "negative samples":
        make_args, pattern = (lambda d: ["--num-steps", "0"]), r"argument --num-steps: must be an integer >= 1; got '0'"
    if script == "run_map.py" and case == "non-integer chains":
        make_args, pattern = (lambda d: ["--restarts", "1.5"]), r"argument --restarts: must be an integer >= 1; got '1.5'"
    out = tmp_path / "out"
    proc = _run(script, [*make_args(tmp_path), "--out", str(out)], cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and re.search(pattern, lines[0]), proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


@pytest.mark.parametrize("script", SCRIPTS)
def test_existing_output_folder_is_left_alone(tmp_path, script):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = _run(script, ["--out", str(out)], cwd=tmp_path)
    assert proc.returncode == 2
    assert "already exists; choose another --out or pass --overwrite" in proc.stderr
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"


def test_cli_model_names_match_registry():
    from mixzoo import MODELS
    from mixzoo.cli import _common

    assert set(_common.MODEL_NAMES) == set(MODELS)

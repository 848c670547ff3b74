"""Reading user data from CSV files and writing result folders atomically."""

from __future__ import annotations

import contextlib
import csv
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from . import _interrupt
from ._constraints import validated
from .datasets import DATASETS, load

MISSING = {"", "na", "nan", "null", "none", "?"}


@validated("read_csv")
def read_csv(path, columns=None, *, min_rows: int = 2) -> tuple[np.ndarray, list]:
    """Read numeric columns of a CSV file with a header row.

    :param columns: column names to keep (default: all columns).
    :returns: ``(values, names)``: values of shape (N,) for one column, (N, D) for several.
    :raises FileNotFoundError: the file does not exist.
    :raises ValueError: empty file, a header naming a column twice, a row with more or fewer
        cells than the header, unknown column, missing or non-numeric cell (complex numbers
        included), or fewer than ``min_rows`` rows; the message names the file, row (1-based,
        header = row 1), column and value.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"data file {str(path)!r} does not exist")
    with path.open(newline="") as fh:
        rows = [(number, row) for number, row in enumerate(csv.reader(fh), start=1) if any(cell.strip() for cell in row)]
    if not rows:
        raise ValueError(f"data file {str(path)!r} is empty; it must have a header row and at least {min_rows} data rows")
    header = [h.strip() for h in rows[0][1]]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if repeated:
        raise ValueError(
            f"the header of {str(path)!r} names column(s) {repeated} more than once; every column needs its own name"
        )
    for number, row in rows[1:]:
        if len(row) != len(header):
            raise ValueError(
                f"row {number} of {str(path)!r} has {len(row)} cell{'s' if len(row) != 1 else ''}; the header has "
                f"{len(header)}: every row needs one cell per column"
            )
    line_numbers = [number for number, _ in rows[1:]]
    rows = [row for _, row in rows]
    wanted = header if columns is None else list(columns)
    unknown = [c for c in wanted if c not in header]
    if unknown:
        raise ValueError(f"columns {unknown} not found in {str(path)!r}; its columns are {header}")
    idx = [header.index(c) for c in wanted]
    body = rows[1:]
    if len(body) < min_rows:
        raise ValueError(f"data file {str(path)!r} must have at least {min_rows} data rows; got {len(body)}")
    values = np.empty((len(body), len(idx)))
    for r, row in enumerate(body):
        for j, i in enumerate(idx):
            cell = row[i].strip() if i < len(row) else ""
            where = f"{str(path)!r} row {line_numbers[r]}, column {wanted[j]!r}"
            if cell.lower() in MISSING:
                raise ValueError(f"missing value in {where}: every cell of the data columns must hold a number")
            try:
                values[r, j] = float(cell)
            except ValueError:
                raise ValueError(
                    f"non-numeric value {cell!r} in {where}: every cell of the data columns must hold a number"
                ) from None
            if not np.isfinite(values[r, j]):
                raise ValueError(f"non-finite value {cell!r} in {where}: every cell must be a finite number")
    return (values[:, 0] if values.shape[1] == 1 else values), wanted


@validated("load_data")
def load_data(source: str, columns=None) -> tuple[np.ndarray, list, str]:
    """A bundled data set name (see :func:`mixzoo.datasets.available`) or a CSV path.

    :returns: ``(values, column names, label)``.
    """
    if source in DATASETS:
        names = list(DATASETS[source].columns if not columns else columns)
        unknown = [c for c in names if c not in DATASETS[source].columns]
        if unknown:
            raise ValueError(
                f"columns {unknown} not found in data set {source!r}; its columns are {list(DATASETS[source].columns)}"
            )
        return load(source, names), names, source
    if not (source.endswith(".csv") or os.sep in source or Path(source).exists()):
        raise ValueError(f"data must be a bundled data set {sorted(DATASETS)} or a path to a CSV file; got {source!r}")
    values, names = read_csv(source, columns)
    return values, names, Path(source).stem


@validated("check_output_free")
def check_output_free(path, *, overwrite: bool = False) -> None:
    """Raise ``FileExistsError`` if ``path`` exists and ``overwrite`` is not set."""
    if path is not None and Path(path).exists() and not overwrite:
        raise FileExistsError(f"output folder {str(path)!r} already exists; choose another --out or pass --overwrite")


@contextlib.contextmanager
def _temporary_folder(parent: Path, prefix: str, output: Path, *, replaces: bool):
    """Yield a new hidden folder in ``parent``, registered with :mod:`mixzoo._interrupt` as the
    temporary folder of ``output`` (created and registered at once: a signal handler removes
    it); if the block fails or is interrupted, the folder is removed and the error raised."""
    with _interrupt.LOCK:
        tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
        _interrupt.register(tmp, output, replaces=replaces)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        _interrupt.unregister(tmp)
        raise


@validated("atomic_output_dir")
@contextlib.contextmanager
def atomic_output_dir(path, *, overwrite: bool = False):
    """Yield a temporary folder beside ``path``; on success it is renamed to ``path``.

    Nothing is written at ``path`` until everything succeeded, so an interrupted run leaves no
    half-written file. An existing ``path`` is an error unless ``overwrite``; then it is
    replaced only after the new folder is complete (if the final rename fails, the existing
    folder is put back and the error raised). The temporary folder is registered with
    :mod:`mixzoo._interrupt`, whose SIGINT / SIGTERM handlers (command line) remove it; the
    final rename happens under its lock, so a signal never sees a half-committed output.
    """
    path = Path(path)
    check_output_free(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    with _temporary_folder(path.parent, f".{path.name}.tmp-", path, replaces=path.exists()) as tmp:
        yield tmp
    with _interrupt.LOCK:  # commit: a signal waits until the output is complete
        old = path.parent / f".{path.name}.old-{os.getpid()}" if path.exists() else None
        try:
            if old is not None:  # a folder cannot be renamed onto a non-empty one: set it aside
                os.replace(path, old)
            os.replace(tmp, path)
        except BaseException:  # put the user's folder back where it was; drop the new one
            if old is not None and old.exists() and not path.exists():
                os.replace(old, path)
            shutil.rmtree(tmp, ignore_errors=True)
            _interrupt.unregister(tmp)
            raise
        _interrupt.unregister(tmp, committed=True)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@validated("staged_output_files")
@contextlib.contextmanager
def staged_output_files(folder):
    """Yield a temporary folder inside ``folder``; when the block succeeds, every file written
    into it moves to the same relative path under ``folder`` (one atomic rename each, replacing
    a file of that name; files in subfolders first, so a report that links them comes last)
    and the temporary folder is removed. If the block fails or is interrupted, the temporary
    folder is removed and nothing under ``folder`` has changed.

    For outputs that share their folder with other files (``scripts/calibrate.py`` writes
    ``CALIBRATION.md`` and ``calibration/*.png`` into the repository's root), where
    :func:`atomic_output_dir` would replace the whole folder. The temporary folder is
    registered with :mod:`mixzoo._interrupt` as that function's is.
    """
    if not isinstance(folder, (str, os.PathLike)):
        raise TypeError(f"folder must be the path of a folder; got {folder!r} of type {type(folder).__name__}")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"folder {str(folder)!r} is a file; it must be the path of a folder (created if missing)")
    folder.mkdir(parents=True, exist_ok=True)
    with _temporary_folder(folder, ".staged.tmp-", folder, replaces=True) as tmp:
        yield tmp
    with _interrupt.LOCK:
        staged = sorted((p for p in tmp.rglob("*") if p.is_file()), key=lambda p: (-len(p.relative_to(tmp).parts), str(p)))
        for source in staged:
            target = folder / source.relative_to(tmp)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
        shutil.rmtree(tmp, ignore_errors=True)
        _interrupt.unregister(tmp, committed=True)

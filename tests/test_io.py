"""CSV reading and atomic output folders."""

import numpy as np
import pytest

from mixzoo.io import atomic_output_dir, load_data, read_csv


def test_read_csv_columns_and_shapes(tmp_path):
    f = tmp_path / "d.csv"
    f.write_text("a,b,c\n1,2,3\n4,5,6\n\n7,8,9\n")
    values, names = read_csv(f)
    np.testing.assert_array_equal(values, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert names == ["a", "b", "c"]
    one, names = read_csv(f, ["b"])
    np.testing.assert_array_equal(one, [2, 5, 8])
    assert names == ["b"]


def test_load_data_bundled_and_path(tmp_path):
    x, names, label = load_data("faithful", ["waiting"])
    assert x.shape == (272,) and names == ["waiting"] and label == "faithful"
    f = tmp_path / "mine.csv"
    f.write_text("v\n1\n2\n3\n")
    x, names, label = load_data(str(f))
    assert x.tolist() == [1.0, 2.0, 3.0] and label == "mine"


def test_failed_run_leaves_nothing(tmp_path):
    out = tmp_path / "out"
    with pytest.raises(RuntimeError):
        with atomic_output_dir(out) as tmp:
            (tmp / "half.csv").write_text("1,2")
            raise RuntimeError("interrupted")
    assert list(tmp_path.iterdir()) == []


def test_overwrite_replaces_only_when_complete(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(FileExistsError, match="already exists; choose another --out or pass --overwrite"):
        with atomic_output_dir(out):
            pass
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(out, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
            raise KeyboardInterrupt
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "old.txt").read_text() == "old"
    with atomic_output_dir(out, overwrite=True) as tmp:
        (tmp / "new.txt").write_text("new")
    assert [p.name for p in out.iterdir()] == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_failed_commit_puts_the_existing_folder_back(tmp_path, monkeypatch):
    """The commit sets the existing folder aside, then renames the new one into place; if that
    rename fails (a full disk, a permission), the existing folder is back under its name and
    nothing else is left beside it."""
    import mixzoo.io

    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    replace = mixzoo.io.os.replace

    def failing(src, dst):
        if ".tmp-" in str(src):
            raise PermissionError(f"cannot rename {src}")
        replace(src, dst)

    monkeypatch.setattr(mixzoo.io.os, "replace", failing)
    with pytest.raises(PermissionError, match="cannot rename"):
        with atomic_output_dir(out, overwrite=True) as tmp:
            (tmp / "new.txt").write_text("new")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (out / "old.txt").read_text() == "old"


def test_staged_output_files_replace_only_their_files(tmp_path):
    """Staged files move into the folder (subfolders created, files of the same name replaced)
    when the block succeeds; the folder's other files are untouched; a failed block changes
    nothing and leaves no staging folder."""
    from mixzoo.io import staged_output_files

    (tmp_path / "keep.txt").write_text("keep")
    (tmp_path / "report.md").write_text("old")
    with pytest.raises(KeyboardInterrupt):
        with staged_output_files(tmp_path) as stage:
            (stage / "report.md").write_text("half")
            raise KeyboardInterrupt
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "report.md"]
    assert (tmp_path / "report.md").read_text() == "old"
    with staged_output_files(tmp_path) as stage:
        (stage / "plots").mkdir()
        (stage / "plots" / "a.png").write_bytes(b"png")
        (stage / "report.md").write_text("new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt", "plots", "report.md"]
    assert (tmp_path / "report.md").read_text() == "new" and (tmp_path / "plots" / "a.png").read_bytes() == b"png"
    assert (tmp_path / "keep.txt").read_text() == "keep"


def test_true_log_density_exact_and_silent_with_empty_components():
    import warnings

    from mixzoo import datasets

    x = np.array([-1.0, 0.5, 3.0])
    truth = {"weights": np.array([0.25, 0.0, 0.75]), "locs": np.array([0.0, 9.0, 2.0]), "scales": np.array([1.0, 1.0, 0.5])}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # log(0) of the empty component must not warn
        got = datasets.true_log_density(x, truth)

    def pdf(m, s):
        return np.exp(-0.5 * ((x - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))

    np.testing.assert_allclose(got, np.log(0.25 * pdf(0.0, 1.0) + 0.75 * pdf(2.0, 0.5)), rtol=1e-12)

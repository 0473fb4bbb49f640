"""atomic_path: the destination is the old content or the complete new one, never a mix."""

import os
import stat

import numpy as np
import pytest

from jaxsig._files import atomic_path


def write(path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)


def test_success_replaces_the_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "model.npz"
    target.write_bytes(b"old")
    with atomic_path(target) as tmp:
        assert os.path.dirname(tmp) == str(tmp_path)
        assert os.path.basename(tmp).startswith(".model.npz.tmp-")
        assert tmp.endswith(".npz")
        assert target.read_bytes() == b"old"  # untouched until the body is done
        write(tmp, b"new content")
    assert target.read_bytes() == b"new content"
    assert os.listdir(tmp_path) == ["model.npz"]


def test_creates_a_missing_file(tmp_path):
    target = tmp_path / "out.png"
    with atomic_path(str(target)) as tmp:
        write(tmp, b"png")
    assert target.read_bytes() == b"png"
    assert os.listdir(tmp_path) == ["out.png"]


@pytest.mark.parametrize("existing", [True, False])
def test_an_exception_mid_write_keeps_the_old_file_byte_identical(tmp_path, existing):
    target = tmp_path / "model.npz"
    old = bytes(range(256)) * 8
    if existing:
        target.write_bytes(old)
    with (
        pytest.raises(RuntimeError, match="disk on fire"),
        atomic_path(target) as tmp,
        open(tmp, "wb") as f,
    ):
        f.write(b"half a model")
        f.flush()
        raise RuntimeError("disk on fire")
    assert os.listdir(tmp_path) == (["model.npz"] if existing else [])
    if existing:
        assert target.read_bytes() == old


def test_keyboard_interrupt_also_cleans_up(tmp_path):
    target = tmp_path / "a.csv"
    with pytest.raises(KeyboardInterrupt), atomic_path(target) as tmp:
        write(tmp, b"partial")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_a_writer_that_removes_its_file_is_reported_not_masked(tmp_path):
    target = tmp_path / "x.txt"
    with pytest.raises(FileNotFoundError), atomic_path(target) as tmp:
        os.remove(tmp)
    assert os.listdir(tmp_path) == []


def test_numpy_savez_through_a_file_object_writes_exactly_the_destination(tmp_path):
    target = tmp_path / "arrays"  # no .npz: savez given a name would write "arrays.npz"
    with atomic_path(target) as tmp, open(tmp, "wb") as f:
        np.savez(f, a=np.arange(3))
    assert os.listdir(tmp_path) == ["arrays"]
    with np.load(target) as stored:
        np.testing.assert_array_equal(stored["a"], np.arange(3))


def test_mode_is_what_open_would_give_not_mkstemps_0600(tmp_path):
    fresh = tmp_path / "fresh.txt"
    with atomic_path(fresh) as tmp:
        write(tmp, b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o666 & ~umask

    kept = tmp_path / "kept.txt"
    kept.write_bytes(b"old")
    kept.chmod(0o640)
    with atomic_path(kept) as tmp:
        write(tmp, b"new")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o640


def test_errors_name_the_destination_not_the_temporary_file(tmp_path, monkeypatch):
    missing = tmp_path / "nope" / "f.txt"
    with pytest.raises(FileNotFoundError, match="no such folder") as error, atomic_path(missing):
        pass
    assert error.value.filename == str(tmp_path / "nope")
    folder = tmp_path / "a_folder"
    folder.mkdir()
    refusal = pytest.raises(IsADirectoryError, match="is a folder, not a file")
    with refusal as error, atomic_path(folder) as tmp:
        write(tmp, b"new")
    assert error.value.filename == str(folder) and os.listdir(tmp_path) == ["a_folder"]

    def denied(*args, dir, prefix, suffix):  # what a read-only folder gives (root ignores modes)
        raise PermissionError(13, "Permission denied", os.path.join(dir, prefix + "x" + suffix))

    monkeypatch.setattr("tempfile.mkstemp", denied)
    target = tmp_path / "out.npz"
    with pytest.raises(PermissionError) as error, atomic_path(target):
        pass
    assert error.value.filename == str(target) and ".tmp-" not in str(error.value)

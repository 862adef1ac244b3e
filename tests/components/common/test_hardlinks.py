"""Identical files under several folders are stored once; different or small ones are left alone."""

import os

from components.common.hardlinks import link_identical_files


def test_identical_files_become_one_and_read_the_same(tmp_path):
    weights = os.urandom(4096)
    for folder in ("a/encoder", "b/encoder", "c/encoder"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "model.safetensors").write_bytes(weights)
    (tmp_path / "c/encoder/other.bin").write_bytes(os.urandom(4096))
    (tmp_path / "a/config.json").write_text("{}")
    (tmp_path / "b/config.json").write_text("{}")

    shared = link_identical_files(tmp_path / "a", tmp_path / "b", tmp_path / "c", min_bytes=1024)

    assert shared == {"files": 2, "bytes": 2 * 4096}
    first = tmp_path / "a/encoder/model.safetensors"
    assert first.stat().st_nlink == 3
    assert all((tmp_path / f / "encoder/model.safetensors").read_bytes() == weights for f in "bc")
    assert (tmp_path / "c/encoder/other.bin").stat().st_nlink == 1  # different bytes
    assert (tmp_path / "b/config.json").stat().st_nlink == 1  # under min_bytes
    assert not list(tmp_path.rglob("*.link"))


def test_a_second_pass_links_nothing_more(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "w.bin").write_bytes(b"x" * 2048)
    assert link_identical_files(tmp_path, min_bytes=1024)["files"] == 1
    assert link_identical_files(tmp_path, min_bytes=1024) == {"files": 0, "bytes": 0}

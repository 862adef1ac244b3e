import hashlib
import json
import os

from paretoflow.hashing import dvc_md5


def test_file_md5_is_plain_md5_and_follows_content_changes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    f = tmp_path / "a.txt"
    f.write_text("hello")
    assert dvc_md5(f) == hashlib.md5(b"hello").hexdigest()
    assert dvc_md5(f) == hashlib.md5(b"hello").hexdigest()  # from the state db
    f.write_text("hellp")  # same size, new content and mtime
    os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns + 1_000_000))
    assert dvc_md5(f) == hashlib.md5(b"hellp").hexdigest()


def test_folder_md5_hashes_the_sorted_listing_like_dvc(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    (d / "b.txt").write_text("b")
    (d / "sub" / "a.txt").write_text("a")
    listing = [
        {"md5": hashlib.md5(b"b").hexdigest(), "relpath": "b.txt"},
        {"md5": hashlib.md5(b"a").hexdigest(), "relpath": "sub/a.txt"},
    ]
    expected = hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"
    assert dvc_md5(d) == expected
    (d / "__pycache__").mkdir()
    (d / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\0")
    (d / "sub" / "a.pyc").write_bytes(b"\0")
    assert dvc_md5(d) == expected  # bytecode caches are ignored, as .dvcignore tells DVC

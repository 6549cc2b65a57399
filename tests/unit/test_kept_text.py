"""A file's text kept between reads (console/drivers/proxy/kept_text.py): any change is read
again at the next call — a replacement, an edit in place of the same size, a removal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from console.drivers.proxy.kept_text import KeptText


def test_every_kind_of_change_is_read_at_the_next_call(tmp_path: Path) -> None:
    path = tmp_path / "bluegreen-http.conf"
    path.write_text("# live=blue\n")
    kept = KeptText(path)
    assert kept.read() == "# live=blue\n"
    # A hand edit in place, same size, same modification time set back: the change time moves.
    stat = path.stat()
    with path.open("r+") as handle:
        handle.write("# live=gren\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert kept.read() == "# live=gren\n"
    # bluegreen's own writes replace the file.
    (tmp_path / "new").write_text("# live=green\n")
    (tmp_path / "new").replace(path)
    assert kept.read() == "# live=green\n"
    path.unlink()
    with pytest.raises(FileNotFoundError):
        kept.read()


def test_an_unchanged_file_is_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bluegreen-http.conf"
    path.write_text("# live=blue\n")
    kept = KeptText(path)
    assert kept.read() == "# live=blue\n"
    reads: list[Path] = []
    original = Path.read_text
    monkeypatch.setattr(
        Path, "read_text", lambda self, *a, **k: reads.append(self) or original(self, *a, **k)
    )
    assert kept.read() == "# live=blue\n"
    assert reads == []

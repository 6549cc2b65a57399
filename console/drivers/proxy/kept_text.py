"""A file's text, read again only when the file changed: for the files the agent reads every tick.

The agent compares the proxy's colour and canary with what the owned include records every
second, for every service. Reading and decoding the file each time cost more than asking the
kernel whether it changed: a `stat` whose inode, size, modification and change times (in ns) are
those of the last read means the same text. Any write changes the change time (nobody can set
it back), and bluegreen's own writes replace the file (a new inode), so a hand edit is seen at
the next read, as before.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class KeptText:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._kept: tuple[tuple[int, ...], str] | None = None
        self._parsed: dict[Callable[[str], Any], tuple[str, Any]] = {}

    def read(self) -> str:
        """The file's text (utf-8); raises OSError or UnicodeDecodeError as reading it does."""
        st = os.stat(self.path)
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
        kept = self._kept
        if kept is not None and kept[0] == key:
            return kept[1]
        # Read after the stat: the text is at least as new as the key it is kept under, so a
        # change in between is read again at the next call.
        text = self.path.read_text(encoding="utf-8")
        self._kept = (key, text)
        return text

    def parsed(self, parse: Callable[[str], T]) -> T:
        """`parse(read())`, parsed again only when the text changed (the canary's marker is a
        search through the whole file)."""
        text = self.read()
        kept = self._parsed.get(parse)
        if kept is not None and kept[0] is text:
            return kept[1]  # type: ignore[no-any-return]
        value = parse(text)
        self._parsed[parse] = (text, value)
        return value

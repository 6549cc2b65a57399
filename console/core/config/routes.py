"""The `[proxy]` keys of the preview and canary routes, checked before they reach a proxy file.

The names end up inside nginx and HAProxy configuration (`$http_x_bluegreen_preview`,
`$cookie_bluegreen_canary`, `req.cook(...)`), so only plain token characters are allowed: a quote
or a space there would break the file or, worse, change its meaning.
"""

from __future__ import annotations

import re

_HEADER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
_COOKIE_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")  # an nginx variable name: no dashes


def route_problems(preview_header: str, preview_cookie: str, canary_cookie: str) -> list[str]:
    problems: list[str] = []
    if not _HEADER_NAME.match(preview_header):
        problems.append(
            f"proxy.preview_header {preview_header!r} is not a plain header name: use "
            "letters, digits and dashes, e.g. X-Bluegreen-Preview"
        )
    for key, value in (("preview_cookie", preview_cookie), ("canary_cookie", canary_cookie)):
        if not _COOKIE_NAME.match(value):
            problems.append(
                f"proxy.{key} {value!r} is not a cookie name nginx can read: use letters, "
                "digits and underscores, e.g. bluegreen_preview"
            )
    return problems

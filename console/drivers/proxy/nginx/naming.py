"""Each service's own names in one nginx: its upstreams, variables, shared dicts and Lua tables.

nginx keeps one namespace per kind for its whole `http { }`: two services that both defined
`upstream bluegreen_backend` or `lua_shared_dict bluegreen` would be refused, and two that both
defined `map … $bluegreen_color` would be worse — nginx accepts it, and the last map read wins for
both, so one service's traffic would follow the other's colour. The include files are written for
one service, with the default name `bluegreen`; `named` renames every name they define to the
service's `[proxy] name` (a fleet sets `bluegreen_<service>`). With the default name nothing
changes, byte for byte, so a single-service installation keeps its files.

What is renamed is a name in a defining or reading position: after `$` or `${` (a variable),
`ngx.var.` and `ngx.shared.` (Lua reading them), `lua_shared_dict `, `upstream `, `http://` (the
upstream a `proxy_pass` names) and `package.loaded.` (a worker's Lua table). What is not: the
request headers and cookies the operator configured (`$http_x_bluegreen_preview`,
`$cookie_bluegreen_canary` — the word is not right after the prefix there), the admin paths
(`/bluegreen/live`, served on the service's own admin socket), the colour header and comments.
"""

from __future__ import annotations

import re

from console.core.config.proxy import DEFAULT_PROXY_NAME

_DEFINED = re.compile(
    r"(?P<at>\$\{?|ngx\.var\.|ngx\.shared\.|lua_shared_dict |upstream |http://|package\.loaded\.)"
    + DEFAULT_PROXY_NAME
    + r"(?=[_\s;:}]|$)",
    re.MULTILINE,
)


def named(text: str, name: str) -> str:
    """`text` (rendered for the default name) with every name it defines under `name`."""
    if name == DEFAULT_PROXY_NAME:
        return text
    return _DEFINED.sub(lambda match: match.group("at") + name, text)

"""A Swarm colour is several replicas, so every proxy in front of it must route to a list of
endpoints the agent sets (`PeerRouting`): nginx in live mode or HAProxy. nginx in reload mode
routes each colour to one address; `config check` refuses it there — as `[proxy]` or as any
`[[proxy.edges]]` entry — rather than leave that edge sending a colour's traffic nowhere."""

from __future__ import annotations

from typing import TYPE_CHECKING

from console.core.config.edges import DEFAULT_EDGE

if TYPE_CHECKING:
    from console.core.config.schema import Config


def swarm_edge_problems(config: Config) -> list[str]:
    """One phrase naming every proxy that cannot route to replicas, when the runtime is a Swarm."""
    if config.runtime.kind != "swarm":
        return []
    proxy = config.proxy
    own_mode = getattr(proxy, "mode", "")
    single = [] if own_mode != "reload" else [f"[proxy] ({DEFAULT_EDGE})"]
    for edge in proxy.edges:
        kind = edge.kind or proxy.kind
        if kind != "nginx":
            continue
        # An nginx edge beside an HAProxy [proxy] takes nginx's defaults (live mode).
        mode = edge.mode or (own_mode if proxy.kind == "nginx" else "live")
        if mode == "reload":
            single.append(f"[[proxy.edges]] '{edge.name}'")
    if not single:
        return []
    verb = "is" if len(single) == 1 else "are"
    return [
        f"{' and '.join(single)} {verb} nginx in reload mode, which routes each colour to one "
        'address, but [runtime] kind = "swarm" runs each colour as several replicas that the '
        "agent hands every proxy as a list: make each of them nginx in live mode "
        '(mode = "live") or HAProxy (kind = "haproxy"), then run `bluegreen proxy install`'
    ]

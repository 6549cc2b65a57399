"""The stand-in's HTTP API, as the reference serves it: `/health` 200 from startup (even mid
re-index: health is not readiness), `POST /graphql` answering a few root fields, the playground page.
Runs inside the image (stdlib only)."""

import json
import re
from http.server import BaseHTTPRequestHandler


# ── HTTP: /health, /graphql, /graphql/playground ──────────────────────────────────────────────
PLAYGROUND = b"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>GraphQL Playground</title></head>
<body><h1>GraphQL Playground</h1><p>POST queries to <code>/graphql</code>.</p></body></html>
"""


def top_level_fields(query):
    """(response key, field name) of the root selection set, e.g. [('tip', 'latestBlock')]."""
    start = query.find("{")
    if start < 0:
        raise ValueError("syntax error: expected a selection set")
    names, depth, parens, i = [], 0, 0, start
    pending_alias = False
    while i < len(query):
        ch = query[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return names
        elif ch == "(":
            parens += 1
        elif ch == ")":
            parens -= 1
        elif ch == ":" and depth == 1 and parens == 0:
            pending_alias = True
        elif depth == 1 and parens == 0 and (ch.isalpha() or ch == "_"):
            match = re.match(r"[_A-Za-z][_0-9A-Za-z]*", query[i:])
            if pending_alias and names:
                names[-1] = (names[-1][0], match.group(0))
            else:
                names.append((match.group(0), match.group(0)))
            pending_alias = False
            i += len(match.group(0))
            continue
        i += 1
    raise ValueError("syntax error: unbalanced braces")


def make_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, like the reference's hyper server
        # Headers and body go out in separate writes; without this the body waits ~40 ms for
        # the proxy's delayed ACK (Nagle), which shows up as slow cutovers through nginx.
        disable_nagle_algorithm = True
        timeout = 300  # an idle keep-alive connection must not pin a thread forever

        def version_string(self):
            return "explorer"

        def log_message(self, format, *args):  # noqa: A002 - stdlib signature
            pass  # the reference does not log requests

        def _send(self, status, body, content_type):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status, payload):
            self._send(status, json.dumps(payload).encode(), "application/json")

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                self._send(200, b"OK", "text/plain; charset=utf-8")
            elif path == "/graphql/playground":
                self._send(200, PLAYGROUND, "text/html; charset=utf-8")
            elif path == "/graphql/ws":
                self._send(400, b"websocket upgrade required", "text/plain; charset=utf-8")
            else:
                self._send(404, b"Not Found", "text/plain; charset=utf-8")

        do_HEAD = do_GET

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length > 0 else b""
            if self.path.split("?", 1)[0] != "/graphql":
                self._send(404, b"Not Found", "text/plain; charset=utf-8")
                return
            try:
                request = json.loads(body.decode("utf-8"))
                query = request["query"]
                if not isinstance(query, str):
                    raise TypeError("query must be a string")
                fields = top_level_fields(query)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
                self._json(400, {"errors": [{"message": "invalid request: " + str(exc)}]})
                return
            data, errors = {}, []
            for key, name in fields:
                if name == "__typename":
                    data[key] = "QueryRoot"
                elif name == "latestBlock":
                    data[key] = {"height": state.height}
                elif name == "version":
                    data[key] = state.version
                else:
                    errors.append({"message": 'Unknown field "%s" on type "QueryRoot".' % name})
            self._json(200, {"data": data, "errors": errors} if errors else {"data": data})

    return Handler

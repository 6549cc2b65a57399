"""`kind = "jsonrpc"`: POST {"jsonrpc":"2.0","id":1,"method":…,"params":…}; the height is `result`
(a hex quantity for Ethereum's `eth_blockNumber`, "0x2377"), or `field` inside it. An `error`
member is reported as the node's own words, with its code."""

from __future__ import annotations

import json
from typing import Any

from console.core.config.sources import JsonRpcSource
from console.core.contracts.progress import Reading, SourceUnavailable
from console.drivers.progress.base import BaseSource, HttpFetcher, Place
from console.drivers.progress.http import JsonAnswer, parse_json
from console.drivers.progress.values import shown


class JsonRpcProgress(BaseSource):
    def __init__(self, place: Place, spec: JsonRpcSource, url: str) -> None:
        super().__init__(place)
        self.spec = spec
        request = {"jsonrpc": "2.0", "id": 1, "method": spec.rpc_method, "params": spec.params}
        self.fetcher = HttpFetcher(
            place,
            url,
            method="POST",
            body=json.dumps(request).encode(),
            headers=spec.headers,
            timeout_seconds=spec.timeout_seconds,
        )
        self.answer = JsonAnswer(place, spec.aggregate)

    def read(self) -> Reading:
        try:
            answer = self.fetcher.fetch().content
            result = self._result(parse_json(answer, self.place, self.fetcher.redactor.redact))
            height = self.answer.height(result, self.spec.field, "field")
            head = (
                self.answer.height(result, self.spec.head_field, "head_field")
                if self.spec.head_field
                else None
            )
        except SourceUnavailable as exc:
            raise self.fetcher.sentence(exc) from None
        return Reading(height, head)

    def _result(self, document: Any) -> Any:
        name, key = self.place.name, self.place.key
        if isinstance(document, list) and len(document) == 1:
            document = document[0]  # a batch answer to our single call
        if not isinstance(document, dict):
            raise SourceUnavailable(
                f"{name} answered {shown(document)}, not a JSON-RPC response; check {key}.url."
            )
        error = document.get("error")
        if error is not None:
            if isinstance(error, dict):
                code, message = error.get("code"), str(error.get("message", ""))[:120]
                said = f"error {code}: {message}" if code is not None else message
            else:
                said = shown(error)
            raise SourceUnavailable(
                f"{name} returned a JSON-RPC error ({said}) for {self.spec.rpc_method}; check "
                f"{key}.rpc_method and {key}.params."
            )
        if "result" not in document:
            raise SourceUnavailable(
                f"{name} answer has neither 'result' nor 'error' ({shown(document)}); check "
                f"{key}.url points at a JSON-RPC endpoint."
            )
        return document["result"]

    def close(self) -> None:
        self.fetcher.close()

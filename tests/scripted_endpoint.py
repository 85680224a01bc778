"""An HTTP endpoint on 127.0.0.1 whose answers a test scripts: an S3 that says AccessDenied,
an SSM that throttles, an agent that says 502. The real client stacks (botocore, the AWS CLI)
parse real answers from it, and it records every request it answered.

- `answer(status, body, headers)`: every request gets this answer (HEAD without the body);
- `answer_json(status, document)`: an answer in the AWS JSON protocol that SSM speaks;
- `answer_error(code, message, status)`: an SSM error (`{"__type": code, "message": ...}`);
- `answer_values({name: value})`: GetParameters answered from these values, the others invalid;
- `requests` (method, path, headers, body of each) and `calls(operation)`, the number of
  SSM requests of that operation (X-Amz-Target `AmazonSSM.<operation>`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str]  # names in lower case
    body: bytes

    @property
    def target(self) -> str:
        """The X-Amz-Target of a JSON-protocol request (e.g. `AmazonSSM.GetParameters`), or ""."""
        return self.headers.get("x-amz-target", "")

    def json(self) -> Any:
        return json.loads(self.body or b"{}")


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


Respond = Callable[[Request], Answer]


class ScriptedEndpoint:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._respond: Respond = lambda request: Answer(500, {}, b"no answer scripted")
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    def answer(self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None) -> None:
        fixed = Answer(status, dict(headers or {}), body)
        self._respond = lambda request: fixed

    def answer_json(self, status: int, document: Any) -> None:
        self.answer(status, json.dumps(document).encode(), _JSON_HEADERS)

    def answer_error(self, code: str, message: str = "error", status: int = 400) -> None:
        self.answer_json(status, {"__type": code, "message": message})

    def answer_values(self, values: Mapping[str, str]) -> None:
        def respond(request: Request) -> Answer:
            names = request.json().get("Names", [])
            document = {
                "Parameters": [
                    {"Name": n, "Type": "String", "Value": values[n], "Version": 1} for n in names if n in values
                ],
                "InvalidParameters": [n for n in names if n not in values],
            }
            return Answer(200, _JSON_HEADERS, json.dumps(document).encode())

        self._respond = respond

    def calls(self, operation: str = "GetParameters") -> int:
        with self._lock:
            return sum(1 for request in self.requests if request.target == f"AmazonSSM.{operation}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                request = Request(self.command, self.path, headers, body)
                with scripted._lock:
                    scripted.requests.append(request)
                answer = scripted._respond(request)
                self.send_response(answer.status)
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(answer.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


_JSON_HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "x-amzn-RequestId": "00000000-0000-0000-0000-000000000000",
}

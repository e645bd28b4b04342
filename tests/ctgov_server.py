"""A local stand-in for the ClinicalTrials.gov API v2 `GET /studies`, for tests and benchmarks.

It serves the studies it holds (`filter.ids`, a `query.intr` of quoted names joined by OR,
`pageSize`, `pageToken` cursors), fails on purpose when told to (429 with Retry-After, 500, a
timeout, a truncated body), and records every request it got (time, parameters, answer).
"""

import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

DEFAULT_PAGE_SIZE = 10  # the API's own default


@dataclass
class Request:
    time: float  # time.monotonic() when it arrived
    path: str
    params: dict[str, str]
    answer: str  # "page", "429", "500", "timeout", "truncated", "404"


class CtgovServer:
    """`with CtgovServer(studies) as server:` serves on `server.url` (an API v2 base URL)."""

    def __init__(self, studies=(), *, timeout_delay: float = 2.0):
        self.studies: dict[str, dict] = {}
        self.add(studies)
        self.requests: list[Request] = []
        self.failures: deque[tuple[str, float | None]] = deque()
        self.timeout_delay = timeout_delay
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/api/v2"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc_info):
        self.httpd.shutdown()
        self.httpd.server_close()

    def add(self, studies):
        for study in studies:
            nct_id = study["protocolSection"]["identificationModule"]["nctId"]
            self.studies[nct_id] = study

    def fail(self, *kinds: str, retry_after: float | None = None):
        """The next requests fail, one per kind: "429", "500", "timeout" or "truncated"."""
        self.failures.extend((kind, retry_after) for kind in kinds)

    def page_requests(self) -> list[Request]:
        return [request for request in self.requests if request.path.endswith("/studies")]

    def _select(self, params: dict[str, str]) -> list[dict]:
        if "filter.ids" in params:
            ids = params["filter.ids"].split(",")
            return [self.studies[nct_id] for nct_id in ids if nct_id in self.studies]
        studies = list(self.studies.values())
        if "query.intr" in params:
            terms = [t.casefold() for t in re.findall(r'"([^"]+)"', params["query.intr"])]
            studies = [study for study in studies if _mentions(study, terms)]
        return studies

    def _answer(self, params: dict[str, str]) -> dict:
        studies = self._select(params)
        size = int(params.get("pageSize", DEFAULT_PAGE_SIZE))
        start = int(params.get("pageToken", "p0")[1:])
        page = {"studies": studies[start : start + size]}
        if start + size < len(studies):
            page["nextPageToken"] = f"p{start + size}"
        return page

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                url = urlsplit(self.path)
                params = {key: values[-1] for key, values in parse_qs(url.query).items()}
                with server.lock:
                    kind, retry_after = (
                        server.failures.popleft() if server.failures else ("page", None)
                    )
                    if not url.path.endswith("/api/v2/studies"):
                        kind = "404"
                    server.requests.append(Request(time.monotonic(), url.path, params, kind))
                if kind == "page":
                    self._send(200, json.dumps(server._answer(params)).encode())
                elif kind == "429":
                    headers = {} if retry_after is None else {"Retry-After": f"{retry_after:g}"}
                    self._send(429, b'{"message": "Too Many Requests"}', headers)
                elif kind in ("500", "404"):
                    self._send(int(kind), b"Server error")
                elif kind == "timeout":
                    time.sleep(server.timeout_delay)
                    self._send(200, json.dumps(server._answer(params)).encode())
                elif kind == "truncated":
                    body = json.dumps(server._answer(params)).encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True

            def _send(self, status: int, body: bytes, headers=None):
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    for name, value in (headers or {}).items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout on purpose)

        return Handler


def _mentions(study: dict, terms: list[str]) -> bool:
    arms = study.get("protocolSection", {}).get("armsInterventionsModule", {})
    names = [
        name.casefold()
        for item in arms.get("interventions", [])
        for name in [item.get("name", ""), *item.get("otherNames", [])]
    ]
    return any(term in name for term in terms for name in names)

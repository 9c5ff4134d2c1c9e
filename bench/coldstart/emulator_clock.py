"""A pass-through to the AWS emulator that times every request, so a cold start's emulator time is
reported apart from the function's own.

Each candidate process gets its own (a fresh port, as its Runtime API): AWS_ENDPOINT_URL points at
it, it forwards each request unchanged (the SigV4 signature covers the Host header, which is passed
through, and the emulator does not check signatures anyway) and records when it was sent and when
the emulator's whole reply was read. The time a request spends waiting here for a CPU is not the
function's: the harness and this proxy run outside the candidate's CPU limit.

Standard library only.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te",
              "trailer", "upgrade", "content-length"}


class EmulatorClock:
    """Forwards to `emulator` (http://127.0.0.1:PORT) and keeps (start_ns, end_ns, target) per request."""

    def __init__(self, emulator: str):
        upstream = urlsplit(emulator)
        self.calls: list[tuple[int, int, str]] = []
        lock = threading.Lock()
        local = threading.local()
        clock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # or each reply's body waits for a delayed ACK (40 ms)

            def log_message(self, *args):
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                target = self.headers.get("X-Amz-Target") or self.path.split("?")[0]
                connection = getattr(local, "connection", None)
                if connection is None:
                    connection = http.client.HTTPConnection(upstream.hostname, upstream.port,
                                                            timeout=60)
                    local.connection = connection
                started = time.perf_counter_ns()
                try:
                    connection.request(self.command, self.path, body=body, headers=headers)
                    reply = connection.getresponse()
                    data = reply.read()
                except (OSError, http.client.HTTPException):
                    local.connection = None
                    connection.close()
                    self.send_error(502)
                    return
                ended = time.perf_counter_ns()
                with lock:
                    clock.calls.append((started, ended, target))
                self.send_response(reply.status, reply.reason)
                for key, value in reply.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = forward

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a stopped candidate resets its connections: expected

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def within(self, start_ns: int, end_ns: int) -> float:
        """Milliseconds of emulator time in requests sent between start_ns and end_ns (overlapping
        requests counted once: the union of their intervals)."""
        spans = sorted((s, e) for s, e, _ in self.calls if start_ns <= s <= end_ns)
        total, current_start, current_end = 0, None, None
        for s, e in spans:
            if current_end is None or s > current_end:
                if current_end is not None:
                    total += current_end - current_start
                current_start, current_end = s, e
            else:
                current_end = max(current_end, e)
        if current_end is not None:
            total += current_end - current_start
        return total / 1e6

    def close(self):
        self.server.shutdown()
        self.server.server_close()

"""Real HTTP receivers on 127.0.0.1 for the webhook tests: one that verifies every signature
with standardwebhooks and records what it kept (de-duplicating by webhook-id), one that answers
slowly, one that redirects. In a thread (`running`), or as a process that a test kills and starts
again (`python tests/webhook_receivers.py PORT SECRET LOG`)."""

from __future__ import annotations

import contextlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, secret: str, *, log: Path | None = None, delay: float = 0, redirect: str = ""):
        super().__init__(("127.0.0.1", port), Handler)
        self.secret, self.log, self.delay, self.redirect = secret, log, delay, redirect
        self.kept: dict[str, dict] = {}  # webhook-id -> payload, each once
        self.requests: list[dict] = []  # every request: headers, verified or why not
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {key.lower(): value for key, value in self.headers.items()}
        if self.server.delay:
            time.sleep(self.server.delay)
        if self.server.redirect:
            self.send_response(302)
            self.send_header("Location", self.server.redirect)
            self.end_headers()
            return
        try:
            payload = Webhook(self.server.secret).verify(body, headers)
        except WebhookVerificationError as error:
            self._record(headers, f"refused: {error}", None)
            self._answer(400, b"bad signature")
            return
        new = self._record(headers, "verified", payload)
        self._answer(200, b"kept" if new else b"already kept")

    def _record(self, headers: dict, verdict: str, payload) -> bool:
        with self.server.lock:
            message_id = headers.get("webhook-id", "")
            self.server.requests.append({"id": message_id, "verdict": verdict, "headers": headers})
            new = payload is not None and message_id not in self.server.kept
            if new:
                self.server.kept[message_id] = payload
                if self.server.log:
                    with self.server.log.open("a") as log:
                        log.write(json.dumps({"id": message_id, "type": payload["type"]}) + "\n")
            elif self.server.log:
                with self.server.log.open("a") as log:
                    log.write(json.dumps({"id": message_id, "again": True, "verdict": verdict}) + "\n")
            return new

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:  # quiet
        pass


@contextlib.contextmanager
def running(secret: str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", **options):
    """A receiver in a thread of this process on a free port of 127.0.0.1."""
    server = Receiver(0, secret, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def kept_ids(log: Path) -> tuple[set[str], int]:
    """From a receiver process's log: the message ids it kept, and how many arrived again."""
    lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    return {line["id"] for line in lines if not line.get("again")}, sum(1 for line in lines if line.get("again"))


if __name__ == "__main__":
    port, secret, log_path = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
    Receiver(port, secret, log=log_path).serve_forever()

"""A loopback webhook receiver: a real HTTP server on a thread, recording what Apprise posts."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    posts: list[Received] = field(default_factory=list)
    status: int = 200  # what it answers; 500 makes the channel fail
    delay: float = 0.0  # seconds between recording a post and answering it (the soak kills a sender then)
    open: int = 0  # posts recorded but not answered yet

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.server.server_port}/"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            receiver.posts.append(Received(dict(self.headers.items()), body))
            if receiver.delay:
                receiver.open += 1
                time.sleep(receiver.delay)
                receiver.open -= 1
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver

"""A webhook endpoint on 127.0.0.1 for the tests against localstripe: it keeps what
localstripe delivers."""

from __future__ import annotations

import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A webhook endpoint on 127.0.0.1: keeps each delivery's body and signature."""

    def __init__(self) -> None:
        deliveries: queue.Queue[tuple[bytes, str]] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                deliveries.put((body, self.headers.get("Stripe-Signature", "")))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.deliveries = deliveries
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = f"{self.address}/stripe/webhook"  # it answers on any path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivery_for(self, intent_id: str, timeout: float) -> tuple[bytes, str]:
        """The first delivery about ``intent_id`` (other events are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                body, signature = self.deliveries.get(timeout=left)
            except queue.Empty:
                break
            if json.loads(body)["data"]["object"]["id"] == intent_id:
                return body, signature
        raise AssertionError(f"no webhook about {intent_id} within {timeout}s")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

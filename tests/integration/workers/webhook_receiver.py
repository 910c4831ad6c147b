"""A webhook receiver for the delivery tests: a real HTTP server in its own process.

``webhook_receiver.py SECRET LOG PORT FAIL_FIRST``: listens on 127.0.0.1:PORT (0: a free
one; it prints ``port N`` when ready), checks every request with
``opsml.webhooks.verify_signature`` (401 when it fails), answers 500 to the first
FAIL_FIRST valid requests, and appends ``{"delivery", "event", "card", "version", "status"}``
to LOG (JSON lines) for every valid request, with the status it answered.
"""

from __future__ import annotations

import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opsml.errors import AuthenticationError
from opsml.webhooks import DELIVERY_HEADER, verify_signature

SECRET, LOG, PORT, FAIL_FIRST = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
valid = 0
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        global valid
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            verify_signature(SECRET, body, dict(self.headers.items()))
        except AuthenticationError:
            self.send_response(401)
            self.end_headers()
            return
        payload = json.loads(body)
        card = payload["card"]
        line = {
            "delivery": self.headers[DELIVERY_HEADER],
            "event": payload["event"],
            "card": f"{card['registry_type']}/{card['space']}/{card['name']}",
            "version": card["version"],
        }
        with lock:
            valid += 1
            status = 500 if valid <= FAIL_FIRST else 200
            with open(LOG, "a", encoding="utf-8") as out:
                out.write(json.dumps({**line, "status": status}) + "\n")
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()

"""A small JSON REST API: GET /health, GET /items, POST /items, GET /items/<id>.

Items live in memory (replace the store with a database for real data). Listens on $PORT
(default 8000) and stops cleanly on SIGTERM, as a container runtime asks it to.
"""

import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ITEMS = {}
LOCK = threading.Lock()
MAX_BODY = 64 * 1024


class Api(BaseHTTPRequestHandler):
    server_version = "galley-rest-api/1"

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"status": "ok"})
        if self.path == "/items":
            with LOCK:
                return self.reply(200, {"items": list(ITEMS.values())})
        if self.path.startswith("/items/"):
            with LOCK:
                item = ITEMS.get(self.path[len("/items/"):])
            if item is None:
                return self.reply(404, {"error": "no such item"})
            return self.reply(200, item)
        return self.reply(404, {"error": "not found"})

    def do_POST(self):
        if self.path != "/items":
            return self.reply(404, {"error": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self.reply(413, {"error": "body too large"})
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
            name = str(body["name"])
        except (ValueError, KeyError, TypeError):
            return self.reply(400, {"error": 'send JSON like {"name": "..."}'})
        with LOCK:
            item = {"id": str(len(ITEMS) + 1), "name": name}
            ITEMS[item["id"]] = item
        return self.reply(201, item)

    def log_message(self, fmt, *args):
        # One line per request on stderr, where the container runtime collects logs.
        super().log_message(fmt, *args)


def main():
    server = ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Api)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


if __name__ == "__main__":
    main()

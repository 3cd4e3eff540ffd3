"""A loopback HTTP/1.1 server for the benchmarks' `--loopback` mode: the SDK clients read their recorded
responses over a real socket, so the calling thread blocks in `recv` as it does against a real provider
(and releases the GIL there), in a process of its own whose CPU no clock of the caller's counts.

    python bench/loopback_server.py DIR     # prints the port, then serves until stdin closes

`POST /<name>/...` answers with the bytes of DIR/<name> (`.sse`: text/event-stream, else JSON), keep-alive.
"""

from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def serve(root: Path) -> ThreadingHTTPServer:
    bodies: dict[str, bytes] = {}  # read on first request: the parent may add files after the start

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            name = self.path.lstrip("/").split("/", 1)[0]
            body = bodies.get(name)
            if body is None:
                path = root / name
                if "/" in name or not path.is_file():
                    self.send_error(404)
                    return
                body = bodies[name] = path.read_bytes()
            self.send_response(200)
            self.send_header("content-type", "text/event-stream" if name.endswith(".sse") else "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    return server


def main() -> None:
    server = serve(Path(sys.argv[1]))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()  # the parent closes it (or exits)
    server.shutdown()


if __name__ == "__main__":
    main()

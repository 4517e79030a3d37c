"""moto's server, answering one request at a time, on kept-alive connections.

moto's own `moto_server` runs each request on its own thread, and its DynamoDB backend is not
safe for that: concurrent TransactWriteItems iterate and change the same dicts ("dictionary
changed size during iteration", HTTP 500). The tests must not pass by retrying through moto's
races, so this launcher serves moto's WSGI application (the one `moto.server.main` serves)
behind one lock: connections are still accepted concurrently, requests are handled one after
the other, and each response body is produced inside the lock.

It serves it with waitress, not werkzeug's development server: werkzeug sends `Connection:
close` on every response whatever the protocol version (and then waits up to 10 ms to drain the
socket), so each SDK request opened a new TCP connection (325 connections for 311 requests in
the 300-row parity test). AWS's endpoints keep connections alive; waitress does too.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import signal
import sys
import threading

import waitress
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)


def serialized(app):
    lock = threading.Lock()

    def handle(environ, start_response):
        with lock:
            # Materialize the body while holding the lock: the iterable may still touch moto.
            return list(app(environ, start_response))

    return handle


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    waitress.serve(
        serialized(app),
        host=args.host,
        port=args.port,
        # Connections wait for the lock, not for a thread: one per concurrent client
        # connection (the pipeline runs up to 4 chunks at once, each with a few requests).
        threads=16,
        ident="moto",
        _quiet=True,
    )


if __name__ == "__main__":
    main()

"""moto's server, answering one request at a time.

moto's own `moto_server` runs each request on its own thread, and its DynamoDB backend is not
safe for that: concurrent TransactWriteItems iterate and change the same dicts ("dictionary
changed size during iteration", HTTP 500). The tests must not pass by retrying through moto's
races, so this launcher serves moto's WSGI application exactly as `moto.server.main` does, but
behind one lock: connections are still accepted concurrently (threaded), requests are handled
one after the other, and each response body is produced inside the lock.

Usage: python moto_serial.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import signal
import sys
import threading

from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
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
    # Keep-alive, as AWS's endpoints do: werkzeug speaks HTTP/1.0 by default and closes the
    # connection after every response, so each request of the SDK opened a new one (a third of
    # the client's CPU in a pipeline test went to connecting).
    MotoRequestHandler.protocol_version = "HTTP/1.1"

    run_simple(
        args.host,
        args.port,
        serialized(app),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

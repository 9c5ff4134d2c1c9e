"""The AWS emulator for the tests: moto_server, but serving one request at a time.

`moto_server` answers on many threads, and moto applies a conditional write as a read, a check and a
write with no lock, so two concurrent writes to one item can both pass a condition that real
DynamoDB would let only one pass. The tests race requests on purpose (100 concurrent verifies, 50
concurrent wrong guesses) to prove the store's conditions; on a threaded emulator they would test
moto's race instead. Serving requests one by one gives every write the atomicity DynamoDB gives
each item.

Usage: python tests/emulator.py -H 127.0.0.1 -p PORT
"""

import argparse
import os
import signal
import sys

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import run_simple


def main(wrap=lambda app: app) -> None:
    """Serves moto on the host and port given on the command line; `wrap` may put a WSGI layer
    around it (bench/soak/emulator.py adds its message feed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    run_simple(
        args.host,
        args.port,
        wrap(app),
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

"""The AWS emulator for the tests: moto_server, but serving one request at a time.

`moto_server` answers on many threads, and moto applies a conditional write as a read, a check and a
write with no lock, so two concurrent writes to one item can both pass a condition that real
DynamoDB would let only one pass. The tests race requests on purpose (100 concurrent verifies, 50
concurrent wrong guesses) to prove the store's conditions; on a threaded emulator they would test
moto's race instead. Serving requests one by one gives every write the atomicity DynamoDB gives
each item.

Beside moto it serves a fake of End User Messaging SMS and Voice v2 (tests/sms_voice_v2.py, which
moto lacks), whose messages appear in /moto-api/data.json under "pinpoint-sms-voice-v2".

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

# sms_voice_v2.py sits beside this file, which is run as a script from anywhere and also loaded by
# its path (bench/soak/emulator.py): put this directory on the path (last, so it shadows nothing).
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.append(_HERE)
from sms_voice_v2 import SmsVoiceV2  # noqa: E402


def main(wrap=lambda app: app) -> None:
    """Serves moto and the SMS and Voice v2 fake on the host and port given on the command line;
    `wrap` may put a WSGI layer around both (bench/soak/emulator.py adds its message feed)."""
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
        wrap(SmsVoiceV2(app)),
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

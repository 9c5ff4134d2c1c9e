"""The AWS emulator for the tests: moto_server, but serving one request at a time.

`moto_server` answers on many threads, and moto applies a conditional write as a read, a check and a
write with no lock, so two concurrent writes to one item can both pass a condition that real
DynamoDB would let only one pass. The tests race requests on purpose (100 concurrent verifies, 50
concurrent wrong guesses) to prove the store's conditions; on a threaded emulator they would test
moto's race instead. Serving requests one by one gives every write the atomicity DynamoDB gives
each item.

Beside moto it serves a fake of End User Messaging SMS and Voice v2 (tests/sms_voice_v2.py, which
moto lacks), whose messages appear in /moto-api/data.json under "pinpoint-sms-voice-v2".

With OTP_EMULATOR_CONTENTION=1 in its environment, DynamoDB also answers as a hot item would
(tests/dynamodb_contention.py): a transaction holds the items it wrote for OTP_EMULATOR_HOLD_MS
(default 20), a transaction or write touching a held item is refused with DynamoDB's transaction
conflict errors, and an item takes at most OTP_EMULATOR_ITEM_WRITE_UNITS write units a second
(default 1000) before its writes are throttled; GET /_contention/stats counts what it refused.
Without that variable (or with 0) the layer is not installed and nothing changes.

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

# sms_voice_v2.py and dynamodb_contention.py sit beside this file, which is run as a script from anywhere and also loaded by
# its path (bench/soak/emulator.py): put this directory on the path (last, so it shadows nothing).
_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.append(_HERE)
import dynamodb_contention  # noqa: E402
from sms_voice_v2 import SmsVoiceV2  # noqa: E402


def main(wrap=lambda app: app) -> None:
    """Serves moto and the SMS and Voice v2 fake on the host and port given on the command line,
    with DynamoDB's contention model between them and moto if the environment asks for it;
    `wrap` may put a WSGI layer around all of them (bench/soak/emulator.py adds its message
    feed)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    app = DomainDispatcherApplication(create_backend_app)
    try:
        app = dynamodb_contention.from_environment(app)
    except dynamodb_contention.SettingError as error:
        parser.error(str(error))
    run_simple(
        args.host,
        args.port,
        wrap(SmsVoiceV2(app)),
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

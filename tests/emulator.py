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

`GET /moto-api/data.json?services=sns,ses` answers with those services' data alone (DataJsonServices).

Usage: python tests/emulator.py -H 127.0.0.1 -p PORT
"""

import argparse
import json
import os
import signal
import sys
from urllib.parse import parse_qs

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


class DataJsonServices:
    """`GET /moto-api/data.json?services=sns,ses`: moto's model data of those services only.

    moto's data.json serialises every model instance it has tracked, DynamoDB items included, and
    the emulator answers one request at a time: late in the suite one dump takes seconds, and every
    request queued behind it waits. The tests read what SNS and SES "sent" this way instead; without
    `services` the route is moto's own, unchanged."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == "/moto-api/data.json" and environ.get(
            "REQUEST_METHOD", "GET"
        ) == "GET":
            asked = parse_qs(environ.get("QUERY_STRING", "")).get("services")
            if asked:
                services = {name for value in asked for name in value.split(",") if name}
                body = json.dumps(self.model_data(services)).encode()
                start_response(
                    "200 OK",
                    [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
                )
                return [body]
        return self.app(environ, start_response)

    @staticmethod
    def model_data(services):
        """As moto.moto_api._internal.responses.MotoAPIResponse.model_data, for `services` only."""
        from moto.core.model_instances import model_data

        results = {}
        for service in sorted(set(model_data) & services):
            results[service] = {}
            for name, model in sorted(model_data[service].items()):
                instances = []
                for instance in model.instances_tracked:
                    fields = {}
                    for attr in dir(instance):
                        if attr.startswith("_"):
                            continue
                        try:
                            value = getattr(instance, attr)
                            json.dumps(value)
                        except (TypeError, AttributeError, ValueError):
                            continue
                        fields[attr] = value
                    instances.append(fields)
                results[service][name] = instances
        return results


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
        wrap(SmsVoiceV2(DataJsonServices(app))),
        threaded=False,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()

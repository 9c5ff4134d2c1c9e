"""A contention model of DynamoDB for the emulator: transaction conflicts and per-item throttling.

moto applies one request at a time here (tests/emulator.py) and never answers a transaction
conflict or a hot-item throttle, so a test of hot items would pass on it however hot they are.
`DynamoDbContention(app)`, a WSGI middleware that tests/emulator.py puts around moto only when
`OTP_EMULATOR_CONTENTION=1`, models both in time. It reads the DynamoDB JSON protocol requests
(`X-Amz-Target: DynamoDB_20120810.<Operation>`) and hands every other request to moto unchanged.

Settings (environment of tests/emulator.py, read by `from_environment`)
    OTP_EMULATOR_CONTENTION       1 (or true/yes/on) turns the model on; unset, empty or 0 leaves
                                  the emulator exactly as without this module (the layer is not
                                  even installed, and the two variables below are not read).
    OTP_EMULATOR_HOLD_MS          how long a successful transaction holds its items (default 20).
    OTP_EMULATOR_ITEM_WRITE_UNITS write units each item takes per second at most (default 1000).

Holds (transaction conflicts)
    A TransactWriteItems that moto answers with 200 holds every item it names (Put, Update,
    Delete and ConditionCheck alike; an item is its table, in the request's region, and its full
    primary key) for HOLD_MS of wall-clock time (`time.monotonic`, or the clock given). Serving
    one request at a time, the emulator cannot run two transactions at once; the hold stands for
    the time the transaction would still be in flight on DynamoDB, so "concurrent" means "within
    HOLD_MS of it". While an item is held:
      * a TransactWriteItems naming it is cancelled before moto sees it: 400
        `TransactionCanceledException` with a CancellationReasons entry per TransactItem, in
        order: {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
        for a held item, {"Code": "None"} for the others;
      * a PutItem, UpdateItem or DeleteItem of it is refused: 400 `TransactionConflictException`.
    These are the two cases of "Transaction conflict handling in DynamoDB"
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling):
    "A PutItem, UpdateItem, or DeleteItem request for an item conflicts with an ongoing
    TransactWriteItems request that includes the same item" (the request "fails with a
    TransactionConflictException") and "An item within a TransactWriteItems request is part of
    another ongoing TransactWriteItems request" (it "fails with a TransactionCanceledException").
    Plain writes hold nothing (they are over when moto answers), and reads are not modelled: a
    GetItem may succeed beside a transaction (the same page), and TransactGetItems is not used by
    the service.

    The 20 ms default is an assumption, not a measured or published figure: AWS documents no
    duration for which a transaction keeps its items. Its order of magnitude: DynamoDB performs
    "two underlying reads or writes of every item in the transaction: one to prepare the
    transaction and one to commit the transaction" (same page, "Capacity management for
    transactions"), the prepare of every item before the commit of any (Idziorek et al.,
    "Distributed Transactions at Scale in Amazon DynamoDB", USENIX ATC 2023), and each is a
    replicated write of the single-digit-millisecond kind AWS advertises for DynamoDB; two
    sequential rounds of a few milliseconds each, plus the transaction coordinator's hops, make
    some 10 to 20 ms. 20 ms is the pessimistic end (more conflicts, not fewer); a benchmark should
    also try 10 ms and say how much its results move.

Per-item write budget (throttling)
    Each item takes at most ITEM_WRITE_UNITS write units in any one second (a sliding window of
    1.0 s on the same clock): a transactional write costs 2 units per item (the prepare and the
    commit above; a ConditionCheck item too, since the page counts "every item in the
    transaction", though it writes nothing; a simplification), a PutItem,
    UpdateItem or DeleteItem 1. Item size is ignored (each is taken as at most 1 KB, one unit).
    1,000 is DynamoDB's per-partition write limit ("each partition on the table can serve up to
    ... 1,000 write request units", https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb);
    one item never spans partitions, so it is also the item's ceiling (the model charges items,
    not partitions: items that share a partition do not share a budget here). A request that
    would take any item past the budget writes nothing and answers:
      * a PutItem, UpdateItem or DeleteItem: 400 `ThrottlingException`, message "Throughput
        exceeds the current capacity of your table or index. DynamoDB is automatically scaling
        your table or index so please try again shortly. If exceptions persist, check if you have
        a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/bp-partition-key-design.html",
        throttlingReasons [{"reason": "TableWriteKeyRangeThroughputExceeded", "resource": the
        table's ARN}]. ThrottlingException, not ProvisionedThroughputExceededException: the
        issue asks for it, and it is what on-demand tables answer for a hot key in the wild (that
        message under `ThrottlingException`, e.g. github.com/praetorian-inc/chariot-ui/issues/684
        from a PutItem in 2024, github.com/cowinapi/developer.cowin/issues/151 in 2021); AWS's
        pages name the reason (KeyRangeThroughputExceeded, "in both modes",
        https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/TroubleshootingThrottling.html)
        but not which exception carries it;
      * a TransactWriteItems: 400 `TransactionCanceledException` whose reason for each item over
        budget is {"Code": "ThrottlingError", "Message": the message above}, and "None" for the
        others. Here the docs do say otherwise than the issue's "ThrottlingException": AWS's
        reference of TransactionCanceledException lists the cancellation reason ThrottlingError
        with that message, "returned when writes get throttled on an On-Demand table"
        (https://docs.aws.amazon.com/botocore/latest/reference/services/dynamodb/client/exceptions/TransactionCanceledException.html,
        the documentation of the shape in DynamoDB's service model, which every SDK carries).
        An item both held and over budget answers TransactionConflict.

    Only a request moto answers with 200 spends units or creates holds; a refused or cancelled
    one (by this model, or by moto: a failed condition) takes nothing. Real DynamoDB charges a
    write whose condition fails; the model does not, so it throttles a little later than
    DynamoDB would when many writes fail their conditions.

Wire format (as DynamoDB answers, the bodies quoted in github.com/aws/aws-sdk-net/issues/1292,
github.com/erlcloud/erlcloud/pull/607 and github.com/boto/boto3/issues/2657): status 400,
`Content-Type: application/x-amz-json-1.0`, `x-amzn-RequestId`, `x-amz-crc32` (of the body), and
    {"__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
     "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict", "Message": ...}],
     "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons
                 [None, TransactionConflict]"}
    {"__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException", "message": ...}
    {"__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException", "message": ...,
     "throttlingReasons": [...]}
(TransactionCanceledException's members are capitalised, the others' `message` is not, as in
botocore's model of DynamoDB.) Not verified against DynamoDB itself: the `message` of
TransactionConflictException (the model documents the exception as "Operation was rejected
because there is an ongoing transaction for the item"; the text used is the cancellation reason's)
and the namespace before `#ThrottlingException`; the SDKs read only the name after the `#`.

Counters: `GET /_contention/stats` answers
    {"enabled": true, "hold_ms": ..., "item_write_units": ...,
     "transactions_held": successful transactions (each held its items),
     "transaction_conflicts": transactions cancelled with TransactionConflict,
     "transactions_throttled": transactions cancelled with ThrottlingError only,
     "write_conflicts": PutItem/UpdateItem/DeleteItem refused with TransactionConflictException,
     "writes_throttled": PutItem/UpdateItem/DeleteItem refused with ThrottlingException,
     "conflicts": transaction_conflicts + write_conflicts,
     "throttles": transactions_throttled + writes_throttled,
     "writes_passed": plain writes moto accepted,
     "items_held": items held right now,
     "peak_item_units_per_second": the most units any one item took within a second}
`POST /_contention/reset` forgets holds, budgets and counters (moto's data stays);
`POST /moto-api/reset` does that too, and still resets moto. `/moto-api/data.json` is untouched.

Not modelled: BatchWriteItem, PartiQL (ExecuteStatement, ExecuteTransaction), TransactGetItems,
reads and their budget (3,000 read units), partitions shared by several items, adaptive capacity
and split-for-heat, the table-level on-demand ramp ("double the previous peak"), and writes
holding their item while in flight. A request this layer cannot read (not JSON, an unknown table)
goes to moto unchanged, so moto's own error answers it.
"""

import io
import json
import os
import re
import sys
import threading
import time
import uuid
import zlib
from collections import deque
from decimal import Decimal, InvalidOperation

from wsgi_call import call as call_wsgi

TARGET_PREFIX = "DynamoDB_20120810."
NAMESPACE = "com.amazonaws.dynamodb.v20120810"
JSON_1_0 = "application/x-amz-json-1.0"
DEFAULT_REGION = "us-east-1"
DEFAULT_HOLD_MS = 20.0
DEFAULT_ITEM_WRITE_UNITS = 1000
WINDOW_SECONDS = 1.0
TRANSACTIONAL_UNITS = 2
PLAIN_UNITS = 1

CONFLICT_MESSAGE = "Transaction is ongoing for the item"
THROTTLING_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "bp-partition-key-design.html"
)
THROTTLING_REASON = "TableWriteKeyRangeThroughputExceeded"

SWEEP_EVERY = 1000  # modelled requests between sweeps of expired holds and spent windows

PLAIN_WRITES = ("PutItem", "UpdateItem", "DeleteItem")
TRANSACT_ACTIONS = ("Put", "Update", "Delete", "ConditionCheck")

ENABLE = "OTP_EMULATOR_CONTENTION"
HOLD_MS = "OTP_EMULATOR_HOLD_MS"
ITEM_WRITE_UNITS = "OTP_EMULATOR_ITEM_WRITE_UNITS"


class SettingError(ValueError):
    """A contention variable the emulator cannot use."""


def settings(environ=None):
    """(enabled, hold_ms, item_write_units) from the environment; raises SettingError."""
    environ = os.environ if environ is None else environ
    switch = environ.get(ENABLE, "").strip().lower()
    if switch in ("", "0", "false", "no", "off"):
        return False, None, None
    if switch not in ("1", "true", "yes", "on"):
        raise SettingError(f"{ENABLE}={environ[ENABLE]!r}: expected 1 or 0")
    raw = environ.get(HOLD_MS, "").strip()
    try:
        hold_ms = float(raw) if raw else DEFAULT_HOLD_MS
    except ValueError:
        raise SettingError(f"{HOLD_MS}={raw!r}: expected milliseconds") from None
    if not hold_ms >= 0 or hold_ms == float("inf"):
        raise SettingError(f"{HOLD_MS}={raw!r}: expected a finite number >= 0")
    raw = environ.get(ITEM_WRITE_UNITS, "").strip()
    try:
        units = int(raw) if raw else DEFAULT_ITEM_WRITE_UNITS
    except ValueError:
        raise SettingError(f"{ITEM_WRITE_UNITS}={raw!r}: expected a whole number") from None
    if units < 1:
        raise SettingError(f"{ITEM_WRITE_UNITS}={raw!r}: expected at least 1")
    return True, hold_ms, units


def from_environment(app, environ=None, clock=time.monotonic, log=sys.stderr):
    """`app` wrapped in the model if the environment turns it on, else `app` itself."""
    enabled, hold_ms, units = settings(environ)
    if not enabled:
        return app
    if log is not None:
        print(f"DynamoDB contention model on: transactions hold their items {hold_ms:g} ms, "
              f"{units} write units per item per second", file=log, flush=True)
    return DynamoDbContention(app, hold_ms=hold_ms, item_write_units=units, clock=clock)


class _Unreadable(Exception):
    """A request the model cannot read: moto answers it."""


class DynamoDbContention:
    """WSGI middleware: the contention model in front of `app` (moto)."""

    def __init__(self, app, hold_ms=DEFAULT_HOLD_MS, item_write_units=DEFAULT_ITEM_WRITE_UNITS,
                 clock=time.monotonic):
        self.app = app
        self.hold = hold_ms / 1000.0
        self.hold_ms = hold_ms
        self.item_write_units = item_write_units
        self.clock = clock
        self._lock = threading.RLock()
        self.reset()

    # state

    def reset(self):
        with self._lock:
            self.holds = {}      # item -> monotonic time its hold ends
            self.spent = {}      # item -> deque of (time, units) within the window
            self.tables = {}     # (region, table name) -> (key attribute names, table ARN)
            self.counts = dict.fromkeys((
                "transactions_held", "transaction_conflicts", "transactions_throttled",
                "write_conflicts", "writes_throttled", "writes_passed",
            ), 0)
            self.peak = 0
            self.requests = 0

    def stats(self):
        with self._lock:
            now = self.clock()
            counts = dict(self.counts)
            return {
                "enabled": True,
                "hold_ms": self.hold_ms,
                "item_write_units": self.item_write_units,
                **counts,
                "conflicts": counts["transaction_conflicts"] + counts["write_conflicts"],
                "throttles": counts["transactions_throttled"] + counts["writes_throttled"],
                "items_held": sum(1 for until in self.holds.values() if now < until),
                "peak_item_units_per_second": self.peak,
            }

    # WSGI

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if path == "/_contention/stats" and method == "GET":
            return _reply(start_response, "200 OK", self.stats(), "application/json")
        if path == "/_contention/reset" and method == "POST":
            self.reset()
            return _reply(start_response, "200 OK", {"reset": True}, "application/json")
        if path == "/moto-api/reset" and method == "POST":
            self.reset()
            return self.app(environ, start_response)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if method != "POST" or not target.startswith(TARGET_PREFIX):
            return self.app(environ, start_response)
        operation = target[len(TARGET_PREFIX):]
        if operation in ("CreateTable", "DeleteTable"):
            with self._lock:
                self.tables.clear()  # learnt again from DescribeTable when next needed
            return self.app(environ, start_response)
        if operation != "TransactWriteItems" and operation not in PLAIN_WRITES:
            return self.app(environ, start_response)
        raw = _read_body(environ)
        environ = _with_body(environ, raw)
        with self._lock:
            try:
                writes = self._writes(environ, operation, raw)
            except _Unreadable:
                return self.app(environ, start_response)
            self.requests += 1
            if self.requests % SWEEP_EVERY == 0:
                self._sweep(self.clock())
            if operation == "TransactWriteItems":
                return self._transaction(environ, start_response, writes)
            return self._plain_write(environ, start_response, writes[0])

    # the model

    def _transaction(self, environ, start_response, writes):
        now = self.clock()
        reasons, conflict, throttled = [], False, False
        for item, _ in writes:
            if self._held(item, now):
                reasons.append({"Code": "TransactionConflict", "Message": CONFLICT_MESSAGE})
                conflict = True
            elif self._over_budget(item, TRANSACTIONAL_UNITS, now):
                reasons.append({"Code": "ThrottlingError", "Message": THROTTLING_MESSAGE})
                throttled = True
            else:
                reasons.append({"Code": "None"})
        if conflict or throttled:
            self.counts["transaction_conflicts" if conflict else "transactions_throttled"] += 1
            codes = ", ".join(reason["Code"] for reason in reasons)
            return _error(start_response, "TransactionCanceledException", {
                "CancellationReasons": reasons,
                "Message": "Transaction cancelled, please refer cancellation reasons for "
                           f"specific reasons [{codes}]",
            })
        status, headers, body = call_wsgi(self.app, environ)
        if status.startswith("200"):
            done = self.clock()
            self.counts["transactions_held"] += 1
            for item, _ in writes:
                self.holds[item] = done + self.hold
                self._spend(item, TRANSACTIONAL_UNITS, done)
        start_response(status, headers)
        return [body]

    def _plain_write(self, environ, start_response, write):
        item, arn = write
        now = self.clock()
        if self._held(item, now):
            self.counts["write_conflicts"] += 1
            return _error(start_response, "TransactionConflictException",
                          {"message": CONFLICT_MESSAGE})
        if self._over_budget(item, PLAIN_UNITS, now):
            self.counts["writes_throttled"] += 1
            return _error(start_response, "ThrottlingException", {
                "message": THROTTLING_MESSAGE,
                "throttlingReasons": [{"reason": THROTTLING_REASON, "resource": arn}],
            })
        status, headers, body = call_wsgi(self.app, environ)
        if status.startswith("200"):
            self.counts["writes_passed"] += 1
            self._spend(item, PLAIN_UNITS, self.clock())
        start_response(status, headers)
        return [body]

    def _sweep(self, now):
        """Forgets expired holds and empty windows, so that memory follows the hot items only."""
        for item in [item for item, until in self.holds.items() if now >= until]:
            del self.holds[item]
        for item in list(self.spent):
            self._window(item, now)

    def _held(self, item, now):
        until = self.holds.get(item)
        if until is None:
            return False
        if now < until:
            return True
        del self.holds[item]
        return False

    def _window(self, item, now):
        spent = self.spent.get(item)
        if spent is None:
            return 0
        while spent and spent[0][0] <= now - WINDOW_SECONDS:
            spent.popleft()
        if not spent:
            del self.spent[item]
            return 0
        return sum(units for _, units in spent)

    def _over_budget(self, item, units, now):
        return self._window(item, now) + units > self.item_write_units

    def _spend(self, item, units, now):
        total = self._window(item, now) + units
        self.spent.setdefault(item, deque()).append((now, units))
        self.peak = max(self.peak, total)

    # reading requests

    def _writes(self, environ, operation, raw):
        """[(item, table ARN)] the request writes, in order; raises _Unreadable."""
        try:
            body = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise _Unreadable() from None
        if not isinstance(body, dict):
            raise _Unreadable()
        region = _region(environ)
        if operation != "TransactWriteItems":
            return [self._item(environ, region, body, operation == "PutItem")]
        actions = body.get("TransactItems")
        if not isinstance(actions, list) or not actions:
            raise _Unreadable()
        writes = []
        for action in actions:
            if not isinstance(action, dict) or len(action) != 1:
                raise _Unreadable()
            [(kind, request)] = action.items()
            if kind not in TRANSACT_ACTIONS or not isinstance(request, dict):
                raise _Unreadable()
            writes.append(self._item(environ, region, request, kind == "Put"))
        if len({item for item, _ in writes}) != len(writes):
            raise _Unreadable()  # two actions on one item: moto's ValidationException
        return writes

    def _item(self, environ, region, request, is_put):
        """(item, table ARN) of one write: the item is (region, table, its primary key)."""
        name = request.get("TableName")
        if not isinstance(name, str):
            raise _Unreadable()
        match = re.fullmatch(r"arn:[^:]+:dynamodb:([^:]+):[^:]*:table/([^/]+)", name)
        if match:
            region, name = match.group(1), match.group(2)
        attributes, arn = self._table(environ, region, name)
        values = request.get("Item" if is_put else "Key")
        if not isinstance(values, dict):
            raise _Unreadable()
        try:
            key = tuple((attribute, _canonical(values[attribute])) for attribute in attributes)
        except (KeyError, TypeError, ValueError):
            raise _Unreadable() from None
        return (region, name, key), arn

    def _table(self, environ, region, name):
        """The table's key attribute names (hash first) and ARN, from moto's DescribeTable."""
        known = self.tables.get((region, name))
        if known is not None:
            return known
        question = _with_body(environ, json.dumps({"TableName": name}).encode())
        question["HTTP_X_AMZ_TARGET"] = TARGET_PREFIX + "DescribeTable"
        question["QUERY_STRING"] = ""
        status, _, body = call_wsgi(self.app, question)
        if not status.startswith("200"):
            raise _Unreadable()
        try:
            table = json.loads(body)["Table"]
            schema = sorted(table["KeySchema"], key=lambda part: part["KeyType"] != "HASH")
            known = tuple(part["AttributeName"] for part in schema), table["TableArn"]
        except (ValueError, KeyError, TypeError):
            raise _Unreadable() from None
        self.tables[(region, name)] = known
        return known


# --- helpers ----------------------------------------------------------------------------------

def _canonical(value):
    """A key attribute value as a hashable that equal DynamoDB values share (1 and 1.0 too)."""
    [(kind, scalar)] = value.items()
    if kind == "N":
        try:
            number = Decimal(scalar)
        except InvalidOperation:
            raise ValueError(scalar) from None
        return kind, "0" if number == 0 else str(number.normalize())
    if kind in ("S", "B") and isinstance(scalar, str):
        return kind, scalar
    raise ValueError(kind)


def _region(environ):
    match = re.search(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/[^/,\s]+/aws4_request",
                      environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else DEFAULT_REGION


def _error(start_response, code, members):
    body = {"__type": f"{NAMESPACE}#{code}", **members}
    return _reply(start_response, "400 Bad Request", body, JSON_1_0)


def _reply(start_response, status, value, content_type):
    body = json.dumps(value).encode()
    start_response(status, [
        ("Content-Type", content_type),
        ("x-amzn-RequestId", uuid.uuid4().hex.upper()),
        ("x-amz-crc32", str(zlib.crc32(body))),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def _read_body(environ):
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    length = environ.get("CONTENT_LENGTH") or "0"
    return stream.read(int(length)) if length.isdigit() else b""


def _with_body(environ, body):
    """A copy of `environ` whose input is `body` (read once here, to be read again by moto)."""
    environ = dict(environ)
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("wsgi.input_terminated", None)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ.pop("werkzeug.request", None)  # a parsed request of the old body, if any
    return environ



"""Tests of the emulator's DynamoDB contention model (tests/dynamodb_contention.py), driven by
boto3's DynamoDB client: every refusal is asserted by the exception class and the members boto3
builds from the reply, which proves the wire format.

Time is the test's: most tests serve moto wrapped in the model from this process, on werkzeug's
one-request-at-a-time server as tests/emulator.py serves it, with a clock the test sets, so that
"within the hold" and "after the window" are exact and nothing sleeps. Then tests/emulator.py
itself runs as a subprocess, with the model on (a hold of a minute, so that two requests in a row
are surely within it) and off, for the wiring and for the default being what it was.

Run: .venv/bin/python -m unittest discover -s tests -p 'test_dynamodb_contention.py'
"""

import json
import os
import subprocess
import sys
import threading
import unittest
import urllib.error
import urllib.request
import zlib

import boto3
from botocore.config import Config
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.append(HERE)
import dynamodb_contention  # noqa: E402
import emulator_process  # noqa: E402
from dynamodb_contention import DynamoDbContention, SettingError, from_environment  # noqa: E402
from emulator_process import free_port  # noqa: E402

REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
TABLE = "otp"
PAIRS = "pairs"  # a table with a sort key
HOLD_MS = 20
UNITS = 10
START = 1000.0
CONFLICT = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
NONE = {"Code": "None"}
THROTTLED_MESSAGE = (
    "Throughput exceeds the current capacity of your table or index. DynamoDB is automatically "
    "scaling your table or index so please try again shortly. If exceptions persist, check if you "
    "have a hot key: https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/"
    "bp-partition-key-design.html"
)
THROTTLED = {"Code": "ThrottlingError", "Message": THROTTLED_MESSAGE}


def dynamodb(endpoint, region=REGION):
    """boto3's DynamoDB client, with no retries: every refusal reaches the test."""
    return boto3.client("dynamodb", endpoint_url=endpoint, region_name=region,
                        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
                        **CREDENTIALS)


def post(endpoint, path):
    request = urllib.request.Request(endpoint + path, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response) if path.startswith("/_contention") else response.read()


def stats(endpoint):
    with urllib.request.urlopen(f"{endpoint}/_contention/stats", timeout=10) as response:
        return json.load(response)


def create_tables(client):
    client.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    client.create_table(
        TableName=PAIRS, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}])


def key(name, table=TABLE):
    """An item's key: a name in TABLE, a (partition, sort) pair in PAIRS."""
    if isinstance(name, tuple):
        return {"pk": {"S": name[0]}, "sk": {"S": name[1]}}
    return {"pk": {"S": name}}


def put(name, table=TABLE, **extra):
    return {"Put": {"TableName": table, "Item": {**key(name, table), "v": {"S": "tx"}}, **extra}}


def update(name, table=TABLE):
    return {"Update": {"TableName": table, "Key": key(name, table),
                       "UpdateExpression": "ADD n :one",
                       "ExpressionAttributeValues": {":one": {"N": "1"}}}}


def delete(name, table=TABLE):
    return {"Delete": {"TableName": table, "Key": key(name, table)}}


def check(name, table=TABLE):
    return {"ConditionCheck": {"TableName": table, "Key": key(name, table),
                               "ConditionExpression": "attribute_not_exists(pk)"}}


class QuietHandler(MotoRequestHandler):
    """tests/emulator.py's request handler, without a log line per request."""

    def log_request(self, *args, **kwargs):
        pass


class Clock:
    """The model's clock: it stands still until the test moves it."""

    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now

    def at(self, seconds_after_start):
        self.now = START + seconds_after_start


class Model(unittest.TestCase):
    """moto and the model (a 20 ms hold, 10 units per item per second) served in this process on
    a free port; each test starts from a reset, at START on the test's clock."""

    @classmethod
    def setUpClass(cls):
        cls.clock = Clock()
        app = DynamoDbContention(DomainDispatcherApplication(create_backend_app),
                                 hold_ms=HOLD_MS, item_write_units=UNITS, clock=cls.clock)
        cls.server = make_server("127.0.0.1", 0, app, threaded=False,
                                 request_handler=QuietHandler)
        cls.endpoint = f"http://127.0.0.1:{cls.server.server_port}"
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.thread.join(timeout=10)

    def setUp(self):
        post(self.endpoint, "/moto-api/reset")
        self.clock.at(0)
        self.db = dynamodb(self.endpoint)
        create_tables(self.db)

    # helpers

    def transact(self, *actions):
        return self.db.transact_write_items(TransactItems=list(actions))

    def cancelled(self, *actions):
        """The reply to a transaction that must be cancelled."""
        with self.assertRaises(self.db.exceptions.TransactionCanceledException) as caught:
            self.transact(*actions)
        return caught.exception.response

    def write(self, name, operation="update_item", table=TABLE):
        if operation == "put_item":
            return self.db.put_item(TableName=table, Item={**key(name, table), "v": {"S": "w"}})
        if operation == "delete_item":
            return self.db.delete_item(TableName=table, Key=key(name, table))
        return self.db.update_item(TableName=table, Key=key(name, table),
                                   UpdateExpression="ADD n :one",
                                   ExpressionAttributeValues={":one": {"N": "1"}})

    def refused(self, exception, name, operation="update_item", table=TABLE):
        with self.assertRaises(exception) as caught:
            self.write(name, operation, table)
        return caught.exception.response

    def item(self, name, table=TABLE):
        return self.db.get_item(TableName=table, Key=key(name, table), ConsistentRead=True).get("Item")

    def assert_reasons(self, reply, reasons):
        self.assertEqual(reply["CancellationReasons"], reasons)
        codes = ", ".join(reason["Code"] for reason in reasons)
        self.assertEqual(reply["Error"]["Message"], "Transaction cancelled, please refer "
                         f"cancellation reasons for specific reasons [{codes}]")
        self.assertEqual(reply["ResponseMetadata"]["HTTPStatusCode"], 400)

    # holds

    def test_a_transaction_on_a_held_item_is_cancelled_with_a_reason_per_item_in_order(self):
        self.transact(put("a"), put("b"))
        reply = self.cancelled(put("c"), update("b"), put("d"))
        self.assert_reasons(reply, [NONE, CONFLICT, NONE])
        reply = self.cancelled(update("a"), put("e"), update("b"))
        self.assert_reasons(reply, [CONFLICT, NONE, CONFLICT])
        # Nothing of a cancelled transaction reached moto.
        self.assertIsNone(self.item("c"))
        self.assertIsNone(self.item("e"))
        self.assertNotIn("n", self.item("b"))
        self.assertEqual(stats(self.endpoint)["transaction_conflicts"], 2)

    def test_every_kind_of_action_holds_its_item(self):
        self.transact(put("a"), update("b"), delete("c"), check("d"))
        for name in "abcd":
            with self.subTest(item=name):
                reply = self.cancelled(put("fresh-" + name), update(name))
                self.assert_reasons(reply, [NONE, CONFLICT])
        self.assertEqual(stats(self.endpoint)["items_held"], 4)

    def test_a_plain_write_on_a_held_item_is_a_transaction_conflict(self):
        self.transact(put("a"))
        for operation in ("put_item", "update_item", "delete_item"):
            with self.subTest(operation=operation):
                reply = self.refused(self.db.exceptions.TransactionConflictException, "a",
                                     operation)
                self.assertEqual(reply["Error"]["Code"], "TransactionConflictException")
                self.assertEqual(reply["Error"]["Message"], "Transaction is ongoing for the item")
                self.assertEqual(reply["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertEqual(self.item("a"), {"pk": {"S": "a"}, "v": {"S": "tx"}})
        self.assertEqual(stats(self.endpoint)["write_conflicts"], 3)

    def test_disjoint_items_do_not_conflict(self):
        self.transact(put("a"), put("b"), put(("p", "1"), PAIRS))
        self.transact(put("c"), update("d"))
        self.write("e")
        # The whole primary key names the item: the same partition key with another sort key,
        # and the same key in another table, are other items.
        self.transact(put(("p", "2"), PAIRS), put(("a", "1"), PAIRS))
        self.write(("p", "3"), table=PAIRS)
        # A table named by its ARN is the same table.
        arn = self.db.describe_table(TableName=TABLE)["Table"]["TableArn"]
        self.assert_reasons(self.cancelled(put("a", table=arn)), [CONFLICT])
        self.assertEqual(stats(self.endpoint)["conflicts"], 1)

    def test_regions_are_separate(self):
        eu = dynamodb(self.endpoint, "eu-west-1")
        create_tables(eu)
        self.transact(put("a"))
        eu.transact_write_items(TransactItems=[put("a")])
        with self.assertRaises(eu.exceptions.TransactionCanceledException):
            eu.transact_write_items(TransactItems=[put("a")])

    def test_the_hold_ends_after_hold_ms(self):
        self.transact(put("a"))
        self.clock.at(HOLD_MS / 1000 - 0.001)
        self.assert_reasons(self.cancelled(put("a")), [CONFLICT])
        self.refused(self.db.exceptions.TransactionConflictException, "a")
        self.clock.at(HOLD_MS / 1000)
        self.transact(put("a"))  # free again; and now held anew, from here
        self.assert_reasons(self.cancelled(update("a")), [CONFLICT])
        self.clock.at(2 * HOLD_MS / 1000)
        self.write("a")
        self.assertEqual(stats(self.endpoint)["items_held"], 0)

    def test_refused_requests_hold_nothing(self):
        self.transact(put("a"))
        self.cancelled(put("b"), put("a"))
        self.transact(put("b"))  # the cancelled transaction did not hold b
        # A transaction moto refuses (its condition fails) holds nothing either.
        reply = self.cancelled(put("c", ConditionExpression="attribute_exists(pk)"), put("d"))
        self.assertEqual([reason["Code"] for reason in reply["CancellationReasons"]],
                         ["ConditionalCheckFailed", "None"])
        self.write("c")
        self.transact(put("d"))
        self.assertEqual(stats(self.endpoint)["transactions_held"], 3)

    def test_plain_writes_hold_nothing(self):
        self.write("a")
        self.transact(update("a"))
        self.assertEqual(self.item("a")["n"], {"N": "2"})

    # the write budget

    def test_plain_writes_are_throttled_past_the_item_budget_and_recover_after_the_window(self):
        for _ in range(UNITS):
            self.write("a")
        reply = self.refused(self.db.exceptions.ThrottlingException, "a")
        self.assertEqual(reply["Error"]["Message"], THROTTLED_MESSAGE)
        arn = self.db.describe_table(TableName=TABLE)["Table"]["TableArn"]
        self.assertEqual(reply["throttlingReasons"],
                         [{"reason": "TableWriteKeyRangeThroughputExceeded", "resource": arn}])
        self.assertEqual(self.item("a")["n"], {"N": str(UNITS)})  # the refused one wrote nothing
        self.write("b")  # another item has its own budget
        self.clock.at(0.999)
        self.refused(self.db.exceptions.ThrottlingException, "a", "put_item")
        self.clock.at(1.0)
        self.write("a")
        self.assertEqual(self.item("a")["n"], {"N": str(UNITS + 1)})
        counts = stats(self.endpoint)
        self.assertEqual((counts["writes_throttled"], counts["throttles"]), (2, 2))
        self.assertEqual(counts["peak_item_units_per_second"], UNITS)

    def test_the_window_slides(self):
        for _ in range(UNITS // 2):
            self.write("a")
        self.clock.at(0.5)
        for _ in range(UNITS // 2):
            self.write("a")
        self.clock.at(0.9)
        self.refused(self.db.exceptions.ThrottlingException, "a")
        self.clock.at(1.0)  # the first half has left the window, the second has not
        for _ in range(UNITS // 2):
            self.write("a")
        self.refused(self.db.exceptions.ThrottlingException, "a")
        self.clock.at(1.5)
        self.write("a")

    def test_a_transaction_costs_two_units_per_item_and_is_cancelled_past_the_budget(self):
        for step in range(4):  # 8 units, each transaction after the previous one's hold
            self.clock.at(step * HOLD_MS / 1000)
            self.transact(update("a"))
        self.clock.at(0.1)
        self.write("a")  # 9
        reply = self.cancelled(put("b"), update("a"), check("c"))  # needs 2, 1 left
        self.assert_reasons(reply, [NONE, THROTTLED, NONE])
        self.assertIsNone(self.item("b"))
        self.write("a")  # 10: a plain write fits
        self.refused(self.db.exceptions.ThrottlingException, "a")
        counts = stats(self.endpoint)
        self.assertEqual((counts["transactions_throttled"], counts["writes_throttled"]), (1, 1))
        self.clock.at(1.0)
        self.transact(update("a"))  # the first transaction's units have left the window
        # A ConditionCheck item costs two units too.
        self.clock.at(2.0)
        for step in range(UNITS // 2):
            self.clock.at(2.0 + step * HOLD_MS / 1000)
            self.transact(check("c"))
        self.clock.at(2.5)
        self.assert_reasons(self.cancelled(check("c")), [THROTTLED])

    def test_a_held_item_over_budget_answers_the_conflict(self):
        for _ in range(UNITS):
            self.write("a")
        self.clock.at(1.0)
        for _ in range(UNITS // 2 - 1):
            self.write("a")
        self.transact(update("a"), put("b"))  # 10 units on a; both held
        self.assert_reasons(self.cancelled(update("a"), update("b")), [CONFLICT, CONFLICT])
        self.refused(self.db.exceptions.TransactionConflictException, "a")

    # the wire, the counters, and what the model leaves to moto

    def raw(self, target, body):
        request = urllib.request.Request(self.endpoint + "/", data=json.dumps(body).encode(),
                                         method="POST", headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"DynamoDB_20120810.{target}",
            "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/dynamodb/"
                             "aws4_request, SignedHeaders=host, Signature=00",
        })
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def test_the_refusals_are_dynamodbs_json_errors(self):
        self.transact(put("a"))
        status, headers, body = self.raw("TransactWriteItems",
                                         {"TransactItems": [put("b"), put("a")]})
        self.assertEqual((status, headers["Content-Type"]), (400, "application/x-amz-json-1.0"))
        self.assertEqual(headers["x-amz-crc32"], str(zlib.crc32(body)))
        self.assertTrue(headers["x-amzn-RequestId"])
        self.assertEqual(json.loads(body), {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
            "CancellationReasons": [NONE, CONFLICT],
            "Message": "Transaction cancelled, please refer cancellation reasons for specific "
                       "reasons [None, TransactionConflict]",
        })
        status, _, body = self.raw("UpdateItem", {"TableName": TABLE, "Key": key("a"),
                                                  "UpdateExpression": "SET v = :v",
                                                  "ExpressionAttributeValues": {":v": {"S": "x"}}})
        self.assertEqual((status, json.loads(body)), (400, {
            "__type": "com.amazonaws.dynamodb.v20120810#TransactionConflictException",
            "message": "Transaction is ongoing for the item",
        }))
        for _ in range(UNITS):
            self.write("z")
        status, _, body = self.raw("PutItem", {"TableName": TABLE, "Item": key("z")})
        reply = json.loads(body)
        self.assertEqual((status, reply["__type"], reply["message"]),
                         (400, "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                          THROTTLED_MESSAGE))

    def test_stats_and_reset(self):
        self.transact(put("a"))
        self.cancelled(put("a"))
        self.refused(self.db.exceptions.TransactionConflictException, "a")
        self.write("b")
        self.assertEqual(stats(self.endpoint), {
            "enabled": True, "hold_ms": HOLD_MS, "item_write_units": UNITS,
            "transactions_held": 1, "transaction_conflicts": 1, "transactions_throttled": 0,
            "write_conflicts": 1, "writes_throttled": 0, "conflicts": 2, "throttles": 0,
            "writes_passed": 1, "items_held": 1, "peak_item_units_per_second": 2,
        })
        self.assertEqual(post(self.endpoint, "/_contention/reset"), {"reset": True})
        counts = stats(self.endpoint)
        self.assertEqual([counts[name] for name in ("transactions_held", "conflicts",
                                                    "writes_passed", "items_held")], [0, 0, 0, 0])
        self.transact(put("a"))  # no longer held; and moto kept its items
        self.assertEqual(self.item("b")["n"], {"N": "1"})
        # moto's reset forgets the model's holds too (its tables are gone).
        post(self.endpoint, "/moto-api/reset")
        self.assertEqual(stats(self.endpoint)["transactions_held"], 0)
        create_tables(self.db)
        self.transact(put("a"))

    def test_what_the_model_cannot_read_is_moto_s_to_answer(self):
        self.transact(put("a"))
        with self.assertRaises(self.db.exceptions.ResourceNotFoundException):
            self.db.put_item(TableName="missing", Item=key("a"))
        # Two actions on one item: DynamoDB's validation error, not a conflict.
        with self.assertRaises(self.db.exceptions.ClientError) as caught:
            self.transact(put("a"), update("a"))
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        # A table deleted and made again with another key is read again.
        self.transact(put(("p", "1"), PAIRS))
        self.db.delete_table(TableName=PAIRS)
        self.db.create_table(
            TableName=PAIRS, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        item = {"id": {"S": "x"}}
        self.transact({"Put": {"TableName": PAIRS, "Item": item}})
        with self.assertRaises(self.db.exceptions.TransactionConflictException):
            self.db.put_item(TableName=PAIRS, Item=item)
        self.assertEqual(stats(self.endpoint)["conflicts"], 1)


class Settings(unittest.TestCase):
    def test_off_is_the_app_itself(self):
        app = object()
        for environ in ({}, {"OTP_EMULATOR_CONTENTION": ""}, {"OTP_EMULATOR_CONTENTION": "0"},
                        {"OTP_EMULATOR_CONTENTION": "0", "OTP_EMULATOR_HOLD_MS": "nonsense"}):
            with self.subTest(environ=environ):
                self.assertIs(from_environment(app, environ, log=None), app)

    def test_on_with_defaults_and_with_values(self):
        model = from_environment(object(), {"OTP_EMULATOR_CONTENTION": "1"}, log=None)
        self.assertIsInstance(model, DynamoDbContention)
        self.assertEqual((model.hold_ms, model.item_write_units), (20, 1000))
        model = from_environment(object(), {"OTP_EMULATOR_CONTENTION": "true",
                                            "OTP_EMULATOR_HOLD_MS": "7.5",
                                            "OTP_EMULATOR_ITEM_WRITE_UNITS": "3"}, log=None)
        self.assertEqual((model.hold_ms, model.item_write_units), (7.5, 3))

    def test_a_setting_it_cannot_use_is_refused_by_name(self):
        for name, value in (("OTP_EMULATOR_CONTENTION", "2"), ("OTP_EMULATOR_HOLD_MS", "abc"),
                            ("OTP_EMULATOR_HOLD_MS", "-1"), ("OTP_EMULATOR_HOLD_MS", "nan"),
                            ("OTP_EMULATOR_ITEM_WRITE_UNITS", "0"),
                            ("OTP_EMULATOR_ITEM_WRITE_UNITS", "1.5")):
            with self.subTest(name=name, value=value):
                environ = {"OTP_EMULATOR_CONTENTION": "1", name: value}
                with self.assertRaisesRegex(SettingError, name):
                    dynamodb_contention.settings(environ)


def start(**settings):
    """tests/emulator.py on a free port with `settings` as its only OTP_EMULATOR_* variables;
    returns (process, endpoint) once it answers."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTP_EMULATOR_")}
    return emulator_process.start(os.path.join(HERE, "emulator.py"), {**env, **settings})


class EmulatorScript(unittest.TestCase):
    """tests/emulator.py as tests/run.sh and the benchmarks start it."""

    def test_on_it_refuses_what_a_held_item_would(self):
        process, endpoint = start(OTP_EMULATOR_CONTENTION="1", OTP_EMULATOR_HOLD_MS="60000",
                                  OTP_EMULATOR_ITEM_WRITE_UNITS="7")
        try:
            counts = stats(endpoint)
            self.assertEqual((counts["enabled"], counts["hold_ms"], counts["item_write_units"]),
                             (True, 60000, 7))
            db = dynamodb(endpoint)
            create_tables(db)
            db.transact_write_items(TransactItems=[put("a")])
            with self.assertRaises(db.exceptions.TransactionCanceledException) as caught:
                db.transact_write_items(TransactItems=[put("b"), put("a")])
            self.assertEqual(caught.exception.response["CancellationReasons"], [NONE, CONFLICT])
            with self.assertRaises(db.exceptions.TransactionConflictException):
                db.put_item(TableName=TABLE, Item=key("a"))
            self.assertEqual(stats(endpoint)["conflicts"], 2)
        finally:
            emulator_process.stop(process)

    def test_off_nothing_changes(self):
        process, endpoint = start()
        try:
            db = dynamodb(endpoint)
            create_tables(db)
            db.transact_write_items(TransactItems=[put("a")])
            db.transact_write_items(TransactItems=[put("b"), put("a")])
            db.put_item(TableName=TABLE, Item=key("a"))
            with self.assertRaises(urllib.error.HTTPError) as caught:
                stats(endpoint)
            self.assertEqual(caught.exception.code, 404)
        finally:
            emulator_process.stop(process)

    def test_a_bad_setting_stops_it_with_the_variable_named(self):
        result = subprocess.run(
            [sys.executable, os.path.join(HERE, "emulator.py"), "-p", str(free_port())],
            cwd="/", capture_output=True, text=True, timeout=60,
            env=dict(os.environ, OTP_EMULATOR_CONTENTION="1", OTP_EMULATOR_HOLD_MS="-5"))
        self.assertEqual(result.returncode, 2)
        self.assertIn("OTP_EMULATOR_HOLD_MS", result.stderr)


if __name__ == "__main__":
    unittest.main()

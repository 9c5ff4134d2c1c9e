"""The soak's AWS emulator: tests/emulator.py's moto server (one request at a time, see there why),
with three changes that let it serve minutes of traffic at a steady cost.

1. A DynamoDB transaction saves and, if it fails, restores only the items it touches. moto deep-copies
   the whole table once per item of every TransactWriteItems (to roll back), so a send, one transaction
   of several items, costs time in proportion to the table: measured, 17 ms on an empty table, 300 ms
   at 1,000 items, 1 s at 3,000. A soak would slow down until every request timed out.
2. DynamoDB items, SMS and emails are not kept in moto's list of every model object ever made (the
   data behind /moto-api/data.json), which with those copies took the emulator to 7.9 GB of memory
   after 1,000 sends.
3. GET /_soak/messages hands over the SMS and emails sent since the last call, as
   [{"to": ..., "text": ...}] (an email's text is its HTML), and forgets them: the driver reads codes
   there in O(new messages). /moto-api/data.json serialises every tracked object on each call.

Usage: python bench/soak/emulator.py -H 127.0.0.1 -p PORT
       python bench/soak/emulator.py --check    checks change 1 in process, then exits
"""

import copy
import importlib.util
import json
import os
import sys
import time
from collections import OrderedDict
from pathlib import Path

from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.dynamodb import models as dynamodb_models
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler
from moto.ses.models import Message, ses_backends
from moto.sns.models import SMS, sns_backends

# tests/emulator.py, loaded by its path (this file has the same name).
_spec = importlib.util.spec_from_file_location(
    "test_emulator", Path(__file__).resolve().parents[2] / "tests" / "emulator.py"
)
test_emulator = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(test_emulator)

REGION = os.environ.get("AWS_REGION", "us-east-1")


# --- 1. transactions roll back the items they touch -------------------------------------------------

class _TablesNotCopied:
    """Stands in for the `copy` module inside moto.dynamodb.models: a table "copied" for rollback is
    the table itself (so moto's own rollback assigns it back unchanged); anything else is copied."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _item_key(table, operation):
    key = operation.get("Key") or operation["Item"]
    hash_value = DynamoType(key[table.hash_key_attr])
    range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
    return hash_value, range_value


def _restore(table, hash_value, range_value, saved):
    items = table.items[hash_value] if range_value is not None else table.items
    index = range_value if range_value is not None else hash_value
    if saved is None:
        items.pop(index, None)
    else:
        items[index] = saved
    if range_value is not None and not table.items[hash_value]:
        del table.items[hash_value]


_transact_write_items = dynamodb_models.DynamoDBBackend.transact_write_items


def transact_write_items(self, transact_items):
    saved = []
    for entry in transact_items:
        operation = next(iter(entry.values()), None)
        table = self.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
        if table is None:
            continue
        hash_value, range_value = _item_key(table, operation)
        current = table.get_item(hash_value, range_value)
        saved.append((table, hash_value, range_value, copy.deepcopy(current)))
    try:
        _transact_write_items(self, transact_items)
    except Exception:
        for table, hash_value, range_value, item in reversed(saved):
            _restore(table, hash_value, range_value, item)
        raise


dynamodb_models.copy = _TablesNotCopied
dynamodb_models.DynamoDBBackend.transact_write_items = transact_write_items


# --- 1b. TransactWriteItems honours its ClientRequestToken, as DynamoDB does (moto ignores it) -------
# The AWS SDK fills one in and keeps it across its retries: a retry of a transaction that was applied
# but whose reply came later than the SDK's 2 s attempt timeout succeeds without applying it again,
# instead of failing its own conditions (a send answered 429 "too soon" on a loaded machine).

# DynamoDB keeps a transaction's token for 10 minutes.
TOKEN_SECONDS = 600
_applied = OrderedDict()  # ClientRequestToken → (the transaction's items, when), oldest first
_handle_transact_write_items = DynamoHandler.transact_write_items


def transact_write_items_once(self):
    token = self.body.get("ClientRequestToken")
    items = json.dumps(self.body.get("TransactItems"), sort_keys=True)
    now = time.monotonic()
    while _applied and now - next(iter(_applied.values()))[1] > TOKEN_SECONDS:
        _applied.popitem(last=False)
    if token in _applied and _applied[token][0] == items:
        # Applied already: DynamoDB answers success and changes nothing.
        return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})
    result = _handle_transact_write_items(self)
    if token:
        _applied[token] = (items, now)
    return result


DynamoHandler.transact_write_items = transact_write_items_once


# --- 2. no list of every item and message ever made -------------------------------------------------

class _Untracked(list):
    def append(self, _instance):
        pass


for model in (Item, SMS, Message):
    model.instances_tracked = _Untracked()


# --- 3. the messages sent since the last call -------------------------------------------------------

def drain_messages():
    messages = []
    sns = sns_backends[DEFAULT_ACCOUNT_ID][REGION]
    while sns.sms_messages:
        message_id, (phone_number, text) = sns.sms_messages.popitem(last=False)
        sns.sms_message_objects.pop(message_id, None)
        messages.append({"to": phone_number, "text": text})
    ses = ses_backends[DEFAULT_ACCOUNT_ID][REGION]
    sent, ses.sent_messages = ses.sent_messages, []
    for email in sent:
        for address in email.destinations.get("ToAddresses", []):
            messages.append({"to": address, "text": email.body})
    return messages


def with_message_feed(app):
    def wsgi(environ, start_response):
        if environ.get("PATH_INFO") != "/_soak/messages":
            return app(environ, start_response)
        body = json.dumps(drain_messages()).encode()
        start_response(
            "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        )
        return [body]

    return wsgi


def check_rollback():
    """A cancelled transaction leaves no trace: an update, a put and a delete before the failing
    condition are all undone; a transaction that passes keeps all three."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        db = boto3.client("dynamodb", region_name=REGION)
        db.create_table(
            TableName="check", BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        )
        db.put_item(TableName="check", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
        db.put_item(TableName="check", Item={"pk": {"S": "gone"}})

        def transaction(condition):
            db.transact_write_items(TransactItems=[
                {"Update": {"TableName": "check", "Key": {"pk": {"S": "a"}},
                            "UpdateExpression": "SET n = :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}}}},
                {"Put": {"TableName": "check", "Item": {"pk": {"S": "b"}}}},
                {"Delete": {"TableName": "check", "Key": {"pk": {"S": "gone"}}}},
                {"ConditionCheck": {"TableName": "check", "Key": {"pk": {"S": "absent"}},
                                    "ConditionExpression": condition}},
            ])

        def state():
            return [db.get_item(TableName="check", Key={"pk": {"S": k}}, ConsistentRead=True)
                    .get("Item") for k in ("a", "b", "gone")]

        before = state()
        try:
            transaction("attribute_exists(pk)")
            sys.exit("check failed: the transaction with a false condition went through")
        except db.exceptions.TransactionCanceledException:
            pass
        if state() != before:
            sys.exit(f"check failed: a cancelled transaction left {state()}, not {before}")
        transaction("attribute_not_exists(pk)")
        after = [{"pk": {"S": "a"}, "n": {"N": "2"}}, {"pk": {"S": "b"}}, None]
        if state() != after:
            sys.exit(f"check failed: a transaction that passed left {state()}, not {after}")
    print("emulator check: a cancelled transaction is rolled back, a passed one kept")


def main() -> None:
    if sys.argv[1:] == ["--check"]:
        check_rollback()
        return
    test_emulator.main(wrap=with_message_feed)


if __name__ == "__main__":
    main()

"""Creates what the Rust functions need on the AWS emulator: the DynamoDB table and the service
secret in Secrets Manager. Prints {"table", "secret_arn", "secret"} as JSON on stdout.

The table has the shape `otp-local --store dynamodb --create-table` gives it
(shared/src/adapters/aws/dynamodb/table.rs, create_table_if_missing): partition key `pk` (string), on-demand
billing, TTL on `purge_at`.

Run with the bench venv's python (it has boto3):
    .venv/bin/python setup_emulator.py --endpoint http://127.0.0.1:PORT
"""

import argparse
import json
import secrets

import boto3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the emulator, http://127.0.0.1:PORT")
    parser.add_argument("--table", default="otp-coldstart")
    parser.add_argument("--secret-name", default="otp-coldstart-secret")
    args = parser.parse_args()
    if not args.endpoint.startswith("http://127.0.0.1:"):
        parser.error("the emulator must be on 127.0.0.1: this never talks to real AWS")

    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    dynamodb = session.client("dynamodb", endpoint_url=args.endpoint)
    dynamodb.create_table(
        TableName=args.table,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
    )
    dynamodb.get_waiter("table_exists").wait(
        TableName=args.table, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100}
    )
    dynamodb.update_time_to_live(
        TableName=args.table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "purge_at"},
    )

    # A fresh random secret each run (the functions need at least 32 bytes); the emulator and this
    # value live only as long as the benchmark.
    secret = secrets.token_urlsafe(48)
    arn = session.client("secretsmanager", endpoint_url=args.endpoint).create_secret(
        Name=args.secret_name, SecretString=secret
    )["ARN"]
    print(json.dumps({"table": args.table, "secret_arn": arn, "secret": secret}))


if __name__ == "__main__":
    main()

"""The check of recorded AWS calls against the function policies (infra/iam_calls.py) catches what it
is for. infra/fixtures/aws-calls.jsonl holds calls of each kind the integration tests record (one
of each, the table and secret names made generic). Run with infra/.venv/bin/python -m unittest
discover -s infra (.ci/run does)."""

import copy
import os
import unittest

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

import iam_calls

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATE, _ = decode_str(open(os.path.join(HERE, "..", "template.yaml")).read())
CALLS = iam_calls.load_calls(os.path.join(HERE, "fixtures", "aws-calls.jsonl"))


class NoManagedPolicies:
    def load(self):
        return {}


def check(template=TEMPLATE, calls=CALLS):
    source = copy.deepcopy(template)
    for resource in source["Resources"].values():
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://bucket/key"
    out = transform(copy.deepcopy(source), {"EmailFrom": "no-reply@example.com"}, NoManagedPolicies())
    return iam_calls.check(source, out["Resources"], calls)


def with_statements(function, statements):
    template = copy.deepcopy(TEMPLATE)
    template["Resources"][function]["Properties"]["Policies"][0]["Statement"] = statements
    return template


def send_statements(table_statements):
    """The send policy with these table statements and its own SNS, SES and secret ones."""
    policy = TEMPLATE["Resources"]["SendFunction"]["Properties"]["Policies"][0]["Statement"]
    # A statement under a condition (`!If`, the voice one) has no Action of its own: it is kept.
    rest = [s for s in policy if "dynamodb" not in str(s.get("Action", ""))]
    return copy.deepcopy(table_statements) + copy.deepcopy(rest)


TABLE = {"Fn::GetAtt": ["OtpTable", "Arn"]}


class TheCheck(unittest.TestCase):
    def test_the_template_allows_every_recorded_call(self):
        failures, _, _ = check()
        self.assertEqual(failures, [])

    def test_the_send_policy_before_the_fix_misses_the_release_of_an_idempotency_key(self):
        # template.yaml's send table statement until the check existed.
        old = send_statements([{
            "Sid": "Table", "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            "Resource": TABLE,
        }])
        failures, _, _ = check(with_statements("SendFunction", old))
        self.assertEqual(len(failures), 1, failures)
        self.assertIn("SendFunction calls dynamodb:DeleteItem on the table on keys idem#…", failures[0])
        self.assertIn("no statement of its policy grants dynamodb:DeleteItem", failures[0])

    def test_a_key_prefix_outside_the_leading_keys_is_refused(self):
        narrow = send_statements([{
            "Sid": "Table", "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"],
            "Resource": TABLE,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["code#*", "dest#*", "idem#*"]}},
        }])
        failures, _, _ = check(with_statements("SendFunction", narrow))
        self.assertEqual(
            [f for f in failures if "rate#" in f and "dynamodb:UpdateItem" in f and "LeadingKeys" in f],
            failures,
        )
        self.assertTrue(failures)

    def test_a_transaction_needs_each_items_action_not_one_named_after_it(self):
        transaction_only = send_statements([
            {"Sid": "Read", "Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": TABLE},
            {"Sid": "Tx", "Effect": "Allow", "Action": "dynamodb:TransactWriteItems", "Resource": TABLE},
        ])
        calls = [c for c in CALLS if c["action"] == "dynamodb:TransactWriteItems"]
        failures, _, _ = check(with_statements("SendFunction", transaction_only), calls)
        self.assertTrue(any("dynamodb:PutItem on the table on keys dest#… (in TransactWriteItems)" in f
                            for f in failures), failures)
        self.assertTrue(any("dynamodb:UpdateItem" in f for f in failures), failures)

    def test_a_new_call_of_the_verify_function_is_caught_without_knowing_it(self):
        guess = {"function": "VerifyFunction", "action": "dynamodb:TransactWriteItems", "resource": {
            "tables": ["otp-test-fixture"], "index": None, "keys_known": True,
            "items": [{"request": "Update", "key": "dest#"}, {"request": "Put", "key": "guess#"}],
        }}
        failures, _, _ = check(calls=[guess])
        self.assertTrue(any("VerifyFunction calls dynamodb:PutItem on the table on keys guess#…" in f
                            for f in failures), failures)

    def test_each_function_reads_only_its_own_secrets(self):
        # The send function reading the proof-signing or the TOTP secret could mint proof tokens or
        # open authenticator secrets: refused, as is enroll reading the code secret.
        base = "arn:aws:secretsmanager:us-east-1:123456789012:secret:otp-test-{}-x"
        calls = [
            {"action": "secretsmanager:GetSecretValue", "function": function,
             "resource": {"secret": base.format(secret)}}
            for function, secret in [
                ("SendFunction", "ProofSigningSecret"),
                ("SendFunction", "ServiceSecret"),
                ("EnrollFunction", "CodeSecret"),
                ("EnrollFunction", "ProofSigningSecret"),
            ]
        ]
        failures, _, _ = check(calls=calls)
        self.assertEqual(len(failures), 4, failures)
        for failure in failures:
            self.assertIn("not allowed", failure)
        allowed = [
            {"action": "secretsmanager:GetSecretValue", "function": "VerifyFunction",
             "resource": {"secret": base.format(secret)}}
            for secret in ["CodeSecret", "ProofSigningSecret", "ServiceSecret"]
        ]
        failures, _, _ = check(calls=allowed)
        self.assertEqual(failures, [])
        # The bot check's secret, given by the deployment: send's alone.
        captcha = [
            {"action": "secretsmanager:GetSecretValue", "function": function,
             "resource": {"secret": base.format("CaptchaSecretArn")}}
            for function in ["SendFunction", "VerifyFunction"]
        ]
        failures, _, _ = check(calls=captcha)
        self.assertEqual(len(failures), 1, failures)
        self.assertIn("VerifyFunction", failures[0])

    def test_publishing_to_a_topic_is_denied_and_an_unknown_call_is_not_guessed(self):
        topic = {"function": "SendFunction", "action": "sns:Publish",
                 "resource": {"arn": "arn:aws:sns:us-east-1:123456789012:other", "phone_number": False}}
        scan = {"function": "SendFunction", "action": "s3:GetObject", "resource": None}
        failures, _, _ = check(calls=[topic, scan])
        self.assertIn("denied on arn:aws:sns:us-east-1:123456789012:other by statement NoTopicsOrEndpoints",
                      failures[0])
        self.assertIn("cannot check", failures[1])

    def test_an_email_needs_both_identities_and_the_configuration_set(self):
        email = {"function": "SendFunction", "action": "ses:SendEmail",
                 "resource": {"from": "codes@mail.example.net", "configuration_set": "otp_events"}}
        failures, _, _ = check(calls=[email])
        self.assertEqual(failures, [])
        only_address = send_statements([])
        for statement in only_address:
            if statement.get("Sid") == "EmailFromConfiguredIdentity":
                statement["Resource"] = statement["Resource"][:1]
        failures, _, _ = check(with_statements("SendFunction", only_address), [email])
        self.assertTrue(any("identity/mail.example.net" in f for f in failures), failures)
        self.assertTrue(any("configuration-set/otp_events" in f for f in failures), failures)


if __name__ == "__main__":
    unittest.main()

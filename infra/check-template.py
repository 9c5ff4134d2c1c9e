"""Checks what `sam validate --lint` cannot: after SAM's own transform, each function may do exactly
what its code does (the DynamoDB operations the emulator tests count), and only the enrolment routes
require SigV4. Run with infra/.venv/bin/python (aws-sam-cli brings samtranslator and cfn-lint)."""

import os
import sys

from cfnlint.decode import decode_str
from samtranslator.translator.transform import transform

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
template, errors = decode_str(open(os.path.join(root, "template.yaml")).read())
if errors:
    sys.exit(f"template.yaml does not parse: {errors}")
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        # `sam build` replaces the local CodeUri; the transform only wants an S3 URI.
        resource["Properties"]["CodeUri"] = "s3://bucket/key"


class NoManagedPolicies:
    def load(self):
        return {}


out = transform(template, {"EmailFrom": "no-reply@example.com"}, NoManagedPolicies())
resources = out["Resources"]
failures = []

expected_actions = {
    "SendFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
        "sns:Publish", "ses:SendEmail", "secretsmanager:GetSecretValue",
    },
    "VerifyFunction": {"dynamodb:GetItem", "dynamodb:UpdateItem", "secretsmanager:GetSecretValue"},
    "EnrollFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
    },
}
for function, expected in expected_actions.items():
    role = resources[f"{function}Role"]["Properties"]
    allowed = set()
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Allow":
                actions = statement["Action"]
                allowed.update([actions] if isinstance(actions, str) else actions)
    if allowed != expected:
        failures.append(f"{function} may {sorted(allowed)}, expected {sorted(expected)}")

# Enrolment items only, for enroll; verify reads enrolments only.
for function, sid, keys in [
    ("EnrollFunction", "Enrolments", ["totp#*"]),
    ("VerifyFunction", "ReadEnrolments", ["totp#*"]),
    ("VerifyFunction", "Table", ["code#*", "totp#*"]),
]:
    statements = [
        s
        for p in resources[f"{function}Role"]["Properties"]["Policies"]
        for s in p["PolicyDocument"]["Statement"]
        if s.get("Sid") == sid
    ]
    leading = [
        s.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        for s in statements
    ]
    if leading != [keys]:
        failures.append(f"{function} {sid}: leading keys {leading}, expected {keys}")

paths = resources["HttpApi"]["Properties"]["Body"]["paths"]
routes = {(m.upper(), p): op.get("security") for p, ops in paths.items() for m, op in ops.items()}
expected_routes = {
    ("POST", "/v1/otp/send"): None,
    ("POST", "/v1/otp/verify"): None,
    ("GET", "/.well-known/jwks.json"): None,
    ("POST", "/v1/totp/enroll"): [{"AWS_IAM": []}],
    ("GET", "/v1/totp/enroll/{user_id}"): [{"AWS_IAM": []}],
    ("DELETE", "/v1/totp/enroll/{user_id}"): [{"AWS_IAM": []}],
}
if routes != expected_routes:
    failures.append(f"routes and their auth: {routes}, expected {expected_routes}")

if failures:
    sys.exit("template.yaml:\n  " + "\n  ".join(failures))
print(f"template.yaml: {len(expected_actions)} function policies and {len(routes)} routes as expected")

"""Checks what `sam validate --lint` cannot: after SAM's own transform, each function may do exactly
what its code does (the DynamoDB operations the emulator tests count), and every AWS call the
integration tests recorded (target/aws-calls.jsonl, or OTP_TEST_AWS_CALLS) is one its function's
policy allows (infra/iam_calls.py; --strict also fails on allowed actions no call needed); the HttpApi
events are exactly the route table's routes (infra/routes.json, generated from shared/src/routes.rs
and checked by tests/api/docs.rs) that are not otp-local's own, each on its function with its auth,
every /v1/server/ route requires SigV4 (AWS_IAM) and no other route does, and ServerCallerPolicy
allows exactly the /v1/server/ routes; every parameter behind an OTP_* variable
defaults to what docs/configuration.md's table (and so otp-local) says, within the same range; the
alarms exist and notify the alerts topic; the alarms and the dashboard use only metrics the
functions emit; and the delivery events reach the events function (configuration sets asking for the
event types the code maps, an encrypted topic only End User Messaging and SES of this account may
publish to) while that function may do nothing but write its logs. Run with infra/.venv/bin/python (aws-sam-cli brings samtranslator and cfn-lint)."""

import copy
import json
import os
import re
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


source = copy.deepcopy(template)
# A deployment that calls: the policies behind HasVoiceIdentity are in what is checked.
VOICE_IDENTITY = "arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-0123456789abcdef"
out = transform(
    template,
    {"EmailFrom": "no-reply@example.com", "VoiceOriginationIdentityArn": VOICE_IDENTITY},
    NoManagedPolicies(),
)
resources = out["Resources"]
failures = []

expected_actions = {
    "SendFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
        "dynamodb:BatchGetItem",
        "sns:Publish", "ses:SendEmail", "secretsmanager:GetSecretValue",
        "sms-voice:SendVoiceMessage", "sms-voice:SendTextMessage",
    },
    "VerifyFunction": {
        "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:PutItem", "secretsmanager:GetSecretValue",
        "sms-voice:PutMessageFeedback",
    },
    "EnrollFunction": {
        "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem",
        "secretsmanager:GetSecretValue",
    },
    # It calls no AWS API: no policy of its own (its logs come with the basic execution role,
    # checked below).
    "EventsFunction": set(),
}
for function, expected in expected_actions.items():
    role = resources[f"{function}Role"]["Properties"]
    allowed = set()
    for policy in role.get("Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            # A statement under a condition (HasVoiceIdentity): this deployment has it.
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            if statement["Effect"] == "Allow":
                actions = statement["Action"]
                allowed.update([actions] if isinstance(actions, str) else actions)
    if allowed != expected:
        failures.append(f"{function} may {sorted(allowed)}, expected {sorted(expected)}")

# Every AWS call the integration tests saw a function make, held to that function's policy
# (infra/iam_calls.py says how IAM is evaluated). tests/run.sh records them (OTP_TEST_AWS_CALLS);
# without the file there is nothing to hold the policies to, which fails. --strict also fails on
# an allowed action no recorded call needed (otherwise a warning: a rare path may need it).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import iam_calls  # noqa: E402

calls_file = os.environ.get("OTP_TEST_AWS_CALLS") or os.path.join(root, "target", "aws-calls.jsonl")
if not os.path.exists(calls_file):
    sys.exit(
        f"{calls_file}: no recorded AWS calls. Run the integration tests with "
        f"OTP_TEST_AWS_CALLS={calls_file} first (bash tests/run.sh does)"
    )
calls = iam_calls.load_calls(calls_file)
if not calls:
    failures.append(f"{calls_file} records no AWS call")
call_failures, call_warnings, calls_summary = iam_calls.check(source, resources, calls)
failures += call_failures
if "--strict" in sys.argv[1:]:
    failures += call_warnings
else:
    for warning in call_warnings:
        print(f"warning: {warning}", file=sys.stderr)

# Enrolment items only, for enroll; verify reads enrolments only; send touches each kind of item
# with the actions it needs only. (The recorded calls above show these are enough.)
for function, sid, keys in [
    ("SendFunction", "ReadSends", ["dest#*"]),
    ("SendFunction", "ReadCounterShards", ["rate#*"]),
    ("SendFunction", "PutSendsCodesAndKeys", ["dest#*", "code#*", "idem#*"]),
    ("SendFunction", "UpdateCodesCountersAndKeys", ["code#*", "rate#*", "idem#*"]),
    ("SendFunction", "ReleaseKeys", ["idem#*"]),
    ("EnrollFunction", "Enrolments", ["totp#*"]),
    ("VerifyFunction", "ReadEnrolmentsAndDestinations", ["totp#*", "dest#*"]),
    ("VerifyFunction", "Table", ["code#*", "totp#*", "dest#*"]),
    ("VerifyFunction", "WriteGuessLocks", ["dest#*"]),
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

# A secret per need, each readable only by the functions that need it (shared/src/crypto/keys.rs): send
# the code secret, verify all three, enroll the TOTP secret (ServiceSecret). The policy and the
# environment agree, and no function gets a secret through Globals.
expected_secrets = {
    # And the bot check's secret, which the deployment brings (CaptchaSecretArn), when it does.
    "SendFunction": {"OTP_CODE_SECRET_ARN": "CodeSecret", "OTP_CAPTCHA_SECRET_ARN": "CaptchaSecretArn"},
    "VerifyFunction": {
        "OTP_CODE_SECRET_ARN": "CodeSecret",
        "OTP_PROOF_SECRET_ARN": "ProofSigningSecret",
        "OTP_TOTP_SECRET_ARN": "ServiceSecret",
    },
    "EnrollFunction": {"OTP_TOTP_SECRET_ARN": "ServiceSecret"},
}
global_variables = source.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
for variable in global_variables:
    if "SECRET" in variable:
        failures.append(f"Globals give every function {variable}")
for function, expected in expected_secrets.items():
    readable = set()
    for policy in resources[f"{function}Role"]["Properties"]["Policies"]:
        for statement in policy["PolicyDocument"]["Statement"]:
            if "Fn::If" in statement:
                statement = statement["Fn::If"][1]
            if "secretsmanager:GetSecretValue" in str(statement["Action"]):
                targets = statement["Resource"]
                targets = targets if isinstance(targets, list) else [targets]
                while targets:
                    target = targets.pop()
                    if isinstance(target, dict) and "Fn::If" in target:
                        targets += target["Fn::If"][1:]
                    elif isinstance(target, dict) and target.get("Ref") != "AWS::NoValue":
                        readable.add(target.get("Ref") or json.dumps(target))
                    elif not isinstance(target, dict):
                        readable.add(target)
    if readable != set(expected.values()):
        failures.append(f"{function} may read the secrets {sorted(readable)}, expected {sorted(set(expected.values()))}")
    variables = source["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    given = {k: v.get("Ref") for k, v in variables.items() if "SECRET" in k}
    if given != expected:
        failures.append(f"{function}'s secret variables {given}, expected {expected}")

# Each function's reserved concurrency is its parameter's (0: none), so a flood of one function's
# requests cannot take the account's whole Lambda concurrency (SCALING.md).
for function, parameter in [
    ("SendFunction", "SendReservedConcurrency"),
    ("VerifyFunction", "VerifyReservedConcurrency"),
    ("EnrollFunction", "EnrollReservedConcurrency"),
    ("EventsFunction", "EventsReservedConcurrency"),
]:
    reserved = source["Resources"][function]["Properties"].get("ReservedConcurrentExecutions")
    if not (isinstance(reserved, dict) and reserved.get("Fn::If", [None, None])[1] == {"Ref": parameter}):
        failures.append(f"{function}: ReservedConcurrentExecutions {reserved}, expected !If on {parameter}")
    if parameter not in source["Parameters"]:
        failures.append(f"no parameter {parameter}")

# The route table (shared/src/routes.rs, written out as infra/routes.json by tests/api/docs.rs):
# every route not otp-local's own is an HttpApi event of its function, with SigV4 (AWS_IAM) for a
# server route and no authorizer for a public one; and no other event.
table = json.load(open(os.path.join(root, "infra", "routes.json"), encoding="utf-8"))
TABLE_AUTH = {"public": None, "server": "AWS_IAM"}
expected_events = {
    (route["method"], route["path"]): (route["function"], TABLE_AUTH[route["auth"]])
    for route in table
    if route["function"] is not None
}
if not expected_events or any(
    route["auth"] in TABLE_AUTH and route["function"] is None for route in table
):
    failures.append("infra/routes.json: no function's routes, or a public or server route with no function")
events = {}
for function, resource in source["Resources"].items():
    if resource["Type"] != "AWS::Serverless::Function":
        continue
    for name, event in resource["Properties"].get("Events", {}).items():
        if event["Type"] != "HttpApi":
            continue
        properties = event["Properties"]
        key = (str(properties.get("Method")).upper(), properties.get("Path"))
        if key in events:
            failures.append(f"{function}.{name}: {key[0]} {key[1]} is already {events[key][0]}'s")
        events[key] = (function, properties.get("Auth", {}).get("Authorizer"))
for key in sorted(set(events) | set(expected_events)):
    method, path = key
    if key not in expected_events:
        failures.append(f"{method} {path} ({events[key][0]}) is not in the route table (infra/routes.json)")
    elif key not in events:
        failures.append(
            f"{method} {path}: the route table gives it to {expected_events[key][0]}, template.yaml has no such event"
        )
    elif events[key] != expected_events[key]:
        failures.append(
            f"{method} {path}: function and authorizer {events[key]}, the route table says {expected_events[key]}"
        )

paths = resources["HttpApi"]["Properties"]["Body"]["paths"]
routes = {(m.upper(), p): op.get("security") for p, ops in paths.items() for m, op in ops.items()}
SIGV4 = [{"AWS_IAM": []}]
# After the transform: public routes (browsers, no credentials) and the backend's /v1/server/
# routes (SigV4 only), as the route table says.
expected_routes = {key: (SIGV4 if auth else None) for key, (_, auth) in expected_events.items()}
if routes != expected_routes:
    failures.append(f"routes and their auth: {routes}, expected {expected_routes}")
# Whatever the list above says: a /v1/server/ route without SigV4 would hand a browser the backend's
# powers, and SigV4 on any other route would lock browsers out.
for (method, path), security in sorted(routes.items()):
    server = path.startswith("/v1/server/")
    if server and security != SIGV4:
        failures.append(f"{method} {path} is a server route with auth {security}, expected {SIGV4}")
    if not server and security not in (None, []):
        failures.append(f"{method} {path} is a public route with auth {security}, expected none")
if resources["HttpApi"]["Properties"]["Body"].get("x-amazon-apigateway-cors", {}).get("allowOrigins") == ["*"]:
    failures.append("CORS allows any origin")

# ServerCallerPolicy allows execute-api:Invoke on exactly the route table's server routes (the
# /v1/server/ ones; a path parameter is a `*`), on any stage, and nothing else; its ARN is an
# output. EnrollCallerPolicy is gone.
ROUTE_ARN = "arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*/"
expected_arns = {
    ROUTE_ARN + method + re.sub(r"\{[^}]+\}", "*", path)
    for (method, path), (_, authorizer) in expected_events.items()
    if authorizer == "AWS_IAM"
}
caller = resources.get("ServerCallerPolicy", {})
if caller.get("Type") != "AWS::IAM::ManagedPolicy":
    failures.append("no AWS::IAM::ManagedPolicy ServerCallerPolicy")
else:
    statements = caller["Properties"]["PolicyDocument"]["Statement"]
    arns = set()
    for statement in statements:
        action = statement.get("Action")
        if statement.get("Effect") != "Allow" or action not in ("execute-api:Invoke", ["execute-api:Invoke"]):
            failures.append(f"ServerCallerPolicy: statement {statement}, expected Allow execute-api:Invoke")
        listed = statement.get("Resource")
        for resource in [listed] if not isinstance(listed, list) else listed:
            arns.add(resource.get("Fn::Sub") if isinstance(resource, dict) else resource)
    if arns != expected_arns:
        failures.append(
            f"ServerCallerPolicy allows {sorted(arns, key=str)}, expected the server routes {sorted(expected_arns)}"
        )
if "EnrollCallerPolicy" in resources:
    failures.append("EnrollCallerPolicy is still in the template (ServerCallerPolicy replaces it)")
outputs = source.get("Outputs", {})
if outputs.get("ServerCallerPolicyArn", {}).get("Value") != {"Ref": "ServerCallerPolicy"}:
    failures.append(f"output ServerCallerPolicyArn is {outputs.get('ServerCallerPolicyArn')}")
if "EnrollCallerPolicyArn" in outputs:
    failures.append("output EnrollCallerPolicyArn is still there")

# Parameter defaults = docs/configuration.md's table, generated from otp-local's defaults (tests/api/docs.rs):
# rows like | `OTP_MAX_ATTEMPTS` | 5 | meaning |, with (none) where the template's default is empty.
documented_defaults = {}
documented_meanings = {}
for line in open(os.path.join(root, "docs", "configuration.md"), encoding="utf-8"):
    row = re.match(r"\|\s*`(OTP_[A-Z0-9_]+)`\s*\|([^|]*)\|([^|]*)\|", line)
    if row:
        documented_defaults.setdefault(row[1], row[2].strip().strip("`"))
        documented_meanings.setdefault(row[1], row[3])
parameters = source["Parameters"]
variables = source["Globals"]["Function"]["Environment"]["Variables"]
checked_defaults = 0
for variable, value in variables.items():
    if not (variable.startswith("OTP_") and isinstance(value, dict) and value.get("Ref") in parameters):
        continue
    parameter = value["Ref"]
    checked_defaults += 1
    # No Default (EmailFrom: the deployer must give one) reads as empty, like (none).
    default = str(parameters[parameter].get("Default", ""))
    if variable not in documented_defaults:
        failures.append(f"{variable} (parameter {parameter}) is not in docs/configuration.md's table")
    elif default != ("" if documented_defaults[variable] == "(none)" else documented_defaults[variable]):
        failures.append(
            f"parameter {parameter} defaults to {default!r}, docs/configuration.md gives "
            f"{variable} {documented_defaults[variable]!r}"
        )
    # A number's range, as the docs row's first "(low–high)" gives it.
    bounds = re.search(r"\((\d+)–(\d+)", documented_meanings.get(variable, ""))
    if parameters[parameter].get("Type") == "Number" and bounds:
        template_range = (parameters[parameter].get("MinValue"), parameters[parameter].get("MaxValue"))
        if template_range != (int(bounds[1]), int(bounds[2])):
            failures.append(
                f"parameter {parameter} ranges over {template_range}, docs/configuration.md gives "
                f"{variable} {bounds[1]}–{bounds[2]}"
            )
if variables.get("OTP_METRICS_NAMESPACE") != {"Fn::Sub": "OtpLambda/${AWS::StackName}"}:
    failures.append(f"OTP_METRICS_NAMESPACE is {variables.get('OTP_METRICS_NAMESPACE')}")

# The metrics the functions emit (embedded metric format, namespace OtpLambda/<stack name>).
# Mirrors shared/src/metrics.rs: keep the two the same. Each name maps to its dimension sets, and
# each dimension to its values (None: any value, checked by COUNTRY instead for Country).
NAMESPACE = "OtpLambda/${AWS::StackName}"
CHANNELS = {"sms", "email", "voice"}
COUNTRY = re.compile(r"^[A-Z]{2}$")
REFUSAL_REASONS = {
    "resend-cooldown", "destination-send-limit", "client-send-limit", "country-send-limit",
    "global-sms-limit", "sms-budget-exhausted", "sms-country-not-allowed", "sms-number-type-not-allowed",
    "global-email-limit", "sms-too-long", "destination-locked", "captcha-failed",
    "voice-country-not-allowed", "voice-number-type-not-allowed", "country-voice-limit", "global-voice-limit",
}
# Why a message was not delivered (shared/src/delivery_events/event.rs, FAILURE_REASONS).
FAILURE_REASONS = {
    "blocked", "protect-blocked", "spam", "unreachable", "carrier-unreachable", "invalid",
    "invalid-message", "ttl-expired", "unknown", "busy", "no-answer", "rejected", "other",
}
FALLBACK_REASONS = {
    "sms-budget-exhausted", "sms-country-not-allowed", "sms-number-type-not-allowed",
    "country-send-limit", "global-sms-limit", "delivery-failed",
}
METRICS = {
    "CodesSent": ([("Channel",), ("Channel", "Country")], {"Channel": CHANNELS, "Country": None}),
    "CodesApproved": ([("Channel",), ("Channel", "Country")], {"Channel": CHANNELS, "Country": None}),
    "CodesIncorrect": ([()], {}),
    "CodesExpired": ([()], {}),
    "CodesLocked": ([()], {}),
    "NetworkGuessLocks": ([()], {}),
    "DestinationGuessLocks": ([()], {}),
    "DeliveryFailures": ([("Channel",)], {"Channel": CHANNELS}),
    "SendsRefused": ([("Reason",)], {"Reason": REFUSAL_REASONS}),
    "FallbacksUsed": ([("Reason",)], {"Reason": FALLBACK_REASONS}),
    "SmsSpend": ([()], {}),
    "SmsBudget": ([()], {}),
    "SmsSegments": ([()], {}),
    "TestDestinationSends": ([()], {}),
    "BotChecksFailedOpen": ([()], {}),
    "TotpApproved": ([()], {}),
    "TotpIncorrect": ([()], {}),
    "TotpReplaysRefused": ([()], {}),
    "TotpLocked": ([()], {}),
    "FeedbackFailures": ([("Channel",)], {"Channel": CHANNELS}),
    "MessagesDelivered": ([("Channel",), ("Channel", "Country")], {"Channel": CHANNELS, "Country": None}),
    "MessagesFailed": (
        [("Channel",), ("Channel", "Country"), ("Channel", "Reason")],
        {"Channel": CHANNELS, "Country": None, "Reason": FAILURE_REASONS},
    ),
    "EmailsBounced": ([("BounceType",)], {"BounceType": {"permanent", "transient"}}),
    "EmailsComplained": ([()], {}),
    "DeliveryRate": ([("Channel",), ("Channel", "Country")], {"Channel": CHANNELS, "Country": None}),
}

# The lists above must be what the code reports: the metric names in shared/src/metrics.rs, the refusal
# reasons in SendError::refusal_reason and the fallback reasons in FallbackReason::as_str.
import re  # noqa: E402

metrics_rs = open(os.path.join(root, "shared/src/metrics.rs")).read()
send_rs = open(os.path.join(root, "shared/src/usecases/send.rs")).read()
code_names = set(re.findall(r'"(\w+)"', metrics_rs.split("METRIC_NAMES")[1].split("];")[0]))
code_refusals = set(re.findall(r'"([a-z-]+)"', send_rs.split("fn refusal_reason")[1].split("fn fallback_reason")[0]))
code_fallbacks = set(re.findall(r'=> "([a-z-]+)"', send_rs.split("impl FallbackReason")[1].split("\n}\n")[0]))
delivery_rs = open(os.path.join(root, "shared/src/delivery_events/event.rs")).read()
code_failures = set(re.findall(r'"([a-z-]+)"', delivery_rs.split("pub const FAILURE_REASONS")[1].split("];")[0]))
for what, ours, theirs in [
    ("metric names", set(METRICS), code_names),
    ("refusal reasons", set(REFUSAL_REASONS), code_refusals),
    ("fallback reasons", set(FALLBACK_REASONS), code_fallbacks),
    ("delivery failure reasons", FAILURE_REASONS, code_failures),
]:
    if ours != theirs:
        failures.append(f"{what}: the check knows {sorted(ours)}, the code reports {sorted(theirs)}")


def check_metric(where, namespace, name, dimensions):
    """dimensions: {name: value}, a value None when a search leaves it open."""
    if namespace != NAMESPACE:
        failures.append(f"{where}: namespace {namespace!r}, expected {NAMESPACE!r}")
    if name not in METRICS:
        failures.append(f"{where}: metric {name!r} is not one the functions emit")
        return
    sets, values = METRICS[name]
    if tuple(sorted(dimensions)) not in [tuple(sorted(d)) for d in sets]:
        failures.append(f"{where}: {name} with dimensions {sorted(dimensions)}, expected one of {sets}")
    for dimension, value in dimensions.items():
        allowed = values.get(dimension)
        if value is None:
            continue
        if dimension == "Country" and not COUNTRY.match(value):
            failures.append(f"{where}: {name} Country {value!r}")
        elif allowed is not None and value not in allowed:
            failures.append(f"{where}: {name} {dimension} {value!r}, expected one of {sorted(allowed)}")


# The alarms: each notifies the alerts topic (both ways), and watches emitted metrics only.
expected_alarms = {
    "DeliveryFailuresAlarm", "SmsBudgetAlarm", "SmsConversionAlarm", "EmailConversionAlarm",
    "DestinationGuessLockAlarm", "DeliveryRateAlarm",
}
alarms = {k: r for k, r in resources.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
if set(alarms) != expected_alarms:
    failures.append(f"alarms {sorted(alarms)}, expected {sorted(expected_alarms)}")
topic = resources.get("AlertsTopic", {})
if topic.get("Type") != "AWS::SNS::Topic":
    failures.append("no AWS::SNS::Topic AlertsTopic")
elif "alias/aws/sns" in json.dumps(topic["Properties"].get("KmsMasterKeyId")):
    # CloudWatch alarms cannot publish to a topic under the AWS managed key.
    failures.append("AlertsTopic uses alias/aws/sns, which CloudWatch alarms cannot publish with")
for alarm, resource in alarms.items():
    properties = resource["Properties"]
    for key in ["AlarmActions", "OKActions", "InsufficientDataActions"]:
        actions = properties.get(key)
        if key != "InsufficientDataActions" and not actions:
            failures.append(f"{alarm}: no {key}")
        if any(a != {"Ref": "AlertsTopic"} for a in actions or []):
            failures.append(f"{alarm}: {key} {actions}, expected the alerts topic only")
    if properties.get("TreatMissingData") != "notBreaching":
        failures.append(f"{alarm}: TreatMissingData {properties.get('TreatMissingData')}")
    stats = [m["MetricStat"]["Metric"] for m in properties.get("Metrics", []) if "MetricStat" in m]
    if "MetricName" in properties:
        stats.append(properties)
    if not stats:
        failures.append(f"{alarm}: watches no metric")
    for metric in stats:
        namespace = metric.get("Namespace")
        namespace = namespace.get("Fn::Sub") if isinstance(namespace, dict) else namespace
        dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
        check_metric(alarm, namespace, metric["MetricName"], dimensions)

# The dashboard: valid JSON (a ${...} is inside a JSON string, or a Number parameter standing for a
# number), an alarm widget showing every alarm, and emitted metrics only, in graphs and in searches.
dashboard = resources.get("Dashboard", {})
body = dashboard.get("Properties", {}).get("DashboardBody", {})
body = body.get("Fn::Sub") if isinstance(body, dict) else None
if dashboard.get("Type") != "AWS::CloudWatch::Dashboard" or not isinstance(body, str):
    failures.append("no AWS::CloudWatch::Dashboard Dashboard with a DashboardBody !Sub string")
    body = '{"widgets": []}'
try:
    numbers = [p for p, d in parameters.items() if d["Type"] == "Number"]
    for parameter in numbers:
        body = body.replace("${" + parameter + "}", "1")
    widgets = json.loads(body)["widgets"]
except (json.JSONDecodeError, KeyError) as error:
    failures.append(f"Dashboard body is not JSON with widgets: {error}")
    widgets = []
shown_alarms = set()
graphed = set()
# SEARCH('{"namespace",Dimension,...} MetricName="Name" Dimension="value"', ...); the namespace holds ${...}.
SEARCH = re.compile(r"SEARCH\('\{((?:\$\{[^}]*\}|[^{}])*)\}([^']*)'")
for number, widget in enumerate(widgets):
    where = f"Dashboard widget {number} ({widget.get('properties', {}).get('title')})"
    if widget.get("type") == "alarm":
        for arn in widget["properties"].get("alarms", []):
            shown_alarms.add(re.fullmatch(r"\$\{(\w+)\.Arn\}", arn)[1] if arn.startswith("${") else arn)
        continue
    namespace = None
    for entry in widget.get("properties", {}).get("metrics", []):
        options = entry[-1] if entry and isinstance(entry[-1], dict) else {}
        fields = [f for f in entry if not isinstance(f, dict)]
        if "expression" in options:
            for schema, terms in SEARCH.findall(options["expression"]):
                space, *dimension_names = [p.strip().strip('"') for p in schema.split(",")]
                filters = dict(re.findall(r'(\w+)="?([\w-]+)"?', terms))
                name = filters.pop("MetricName", None)
                if name is None:
                    failures.append(f"{where}: a search names no MetricName")
                    continue
                graphed.add(name)
                check_metric(where, space, name, {d: filters.get(d) for d in dimension_names})
            continue
        if len(fields) < 2 or len(fields) % 2:
            failures.append(f"{where}: metric entry {entry}")
            continue
        # "." repeats the previous entry's namespace (CloudWatch's shorthand).
        namespace = namespace if fields[0] == "." else fields[0]
        graphed.add(fields[1])
        check_metric(where, namespace, fields[1], dict(zip(fields[2::2], fields[3::2])))
if shown_alarms != expected_alarms:
    failures.append(f"Dashboard alarm widgets show {sorted(shown_alarms)}, expected {sorted(expected_alarms)}")
if not graphed:
    failures.append("Dashboard graphs no metric")

# Delivery events (shared/src/delivery_events/, shared/src/delivery_handler.rs): End User Messaging
# SMS and Voice and SES configuration sets publish the event types the code maps to one topic,
# encrypted with its own key, which only those two services of this account may publish to and
# use; the events function is subscribed to it and may only write its logs.
SUBSCRIBED = re.compile(r"pub const SUBSCRIBED: &\[&str\] = &\[(.*?)\];", re.S)
code_eum_types = re.findall(r'"(\w+)"', SUBSCRIBED.search(open(os.path.join(root, "shared/src/delivery_events/eum.rs")).read())[1])
code_ses_types = re.findall(r'"(\w+)"', SUBSCRIBED.search(open(os.path.join(root, "shared/src/delivery_events/ses.rs")).read())[1])
TOPIC = {"Ref": "DeliveryEventsTopic"}
PUBLISHERS = {"sms-voice.amazonaws.com", "ses.amazonaws.com"}
SOURCE_ACCOUNT = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
source_resources = source["Resources"]


def resource_of(name, kind):
    resource = source_resources.get(name, {})
    if resource.get("Type") != kind:
        failures.append(f"no {kind} {name}")
        return {}
    return resource.get("Properties", {})


def principals(statement):
    services = statement.get("Principal", {}).get("Service", [])
    return set([services] if isinstance(services, str) else services)


topic = resource_of("DeliveryEventsTopic", "AWS::SNS::Topic")
if topic and topic.get("KmsMasterKeyId") != {"Ref": "DeliveryEventsKey"}:
    failures.append(f"DeliveryEventsTopic is encrypted with {topic.get('KmsMasterKeyId')}, expected its own DeliveryEventsKey")
key = resource_of("DeliveryEventsKey", "AWS::KMS::Key")
service_grants = [
    s for s in key.get("KeyPolicy", {}).get("Statement", []) if s.get("Principal", {}).get("Service")
]
if key and (
    len(service_grants) != 1
    or principals(service_grants[0]) != PUBLISHERS
    or set(service_grants[0].get("Action", [])) != {"kms:Decrypt", "kms:GenerateDataKey*"}
    or service_grants[0].get("Condition") != SOURCE_ACCOUNT
):
    failures.append(
        f"DeliveryEventsKey: services may {service_grants}, expected {sorted(PUBLISHERS)} kms:Decrypt and "
        f"kms:GenerateDataKey* for this account only"
    )
topic_policy = resource_of("DeliveryEventsTopicPolicy", "AWS::SNS::TopicPolicy")
statements = topic_policy.get("PolicyDocument", {}).get("Statement", [])
if topic_policy and (
    topic_policy.get("Topics") != [TOPIC]
    or len(statements) != 1
    or statements[0].get("Effect") != "Allow"
    or principals(statements[0]) != PUBLISHERS
    or statements[0].get("Action") != "sns:Publish"
    or statements[0].get("Resource") != TOPIC
    or statements[0].get("Condition") != SOURCE_ACCOUNT
):
    failures.append(
        f"DeliveryEventsTopicPolicy: {statements}, expected only {sorted(PUBLISHERS)} publishing to "
        f"DeliveryEventsTopic for this account"
    )
eum = resource_of("EumConfigurationSet", "AWS::SMSVOICE::ConfigurationSet")
destinations = eum.get("EventDestinations", [])
if eum and (
    len(destinations) != 1
    or destinations[0].get("SnsDestination") != {"TopicArn": TOPIC}
    or destinations[0].get("Enabled") is not True
    or destinations[0].get("MatchingEventTypes") != code_eum_types
):
    failures.append(
        f"EumConfigurationSet's event destinations {destinations}: expected one, enabled, to "
        f"DeliveryEventsTopic, for {code_eum_types} (shared/src/delivery_events/eum.rs)"
    )
ses_destination = resource_of("EmailConfigurationSetEventDestination", "AWS::SES::ConfigurationSetEventDestination")
resource_of("EmailConfigurationSet", "AWS::SES::ConfigurationSet")
destination = ses_destination.get("EventDestination", {})
if ses_destination and (
    ses_destination.get("ConfigurationSetName") != {"Ref": "EmailConfigurationSet"}
    or destination.get("SnsDestination") != {"TopicARN": TOPIC}
    or destination.get("Enabled") is not True
    or destination.get("MatchingEventTypes") != code_ses_types
):
    failures.append(
        f"EmailConfigurationSetEventDestination {ses_destination}: expected EmailConfigurationSet's, "
        f"enabled, to DeliveryEventsTopic, for {code_ses_types} (shared/src/delivery_events/ses.rs)"
    )
own_set = {"Fn::If": ["HasSesConfigurationSet", {"Ref": "SesConfigurationSet"}, {"Ref": "EmailConfigurationSet"}]}
if variables.get("OTP_SES_CONFIGURATION_SET") != own_set:
    failures.append(
        f"OTP_SES_CONFIGURATION_SET is {variables.get('OTP_SES_CONFIGURATION_SET')}, expected the "
        f"deployer's SesConfigurationSet, else the stack's EmailConfigurationSet"
    )
for output, value in [
    ("EumConfigurationSetName", {"Ref": "EumConfigurationSet"}),
    ("EmailConfigurationSetName", own_set),
    ("DeliveryEventsTopicArn", TOPIC),
]:
    if outputs.get(output, {}).get("Value") != value:
        failures.append(f"output {output} is {outputs.get(output)}, expected {value}")
events_function = resource_of("EventsFunction", "AWS::Serverless::Function")
if events_function:
    function_events = events_function.get("Events", {})
    if [(e.get("Type"), e.get("Properties")) for e in function_events.values()] != [("SNS", {"Topic": TOPIC})]:
        failures.append(f"EventsFunction's events {function_events}, expected DeliveryEventsTopic's notifications only")
    for forbidden in ["Policies", "Role", "Environment"]:
        if forbidden in events_function:
            failures.append(f"EventsFunction has {forbidden}: it calls no AWS API and reads nothing but Globals")
    role = resources.get("EventsFunctionRole", {}).get("Properties", {})
    managed = [str(arn) for arn in role.get("ManagedPolicyArns", [])]
    if len(managed) != 1 or not managed[0].endswith(":iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"):
        failures.append(f"EventsFunction's role has the managed policies {managed}, expected the basic execution role only")
    if source_resources.get("EventsFunction", {}).get("Metadata", {}).get("BuildProperties", {}).get("Binary") != "otp-events":
        failures.append("EventsFunction does not build the otp-events binary")
if "EventsFunctionLogGroup" not in source_resources:
    failures.append("EventsFunction has no log group (EventsFunctionLogGroup) with the stack's retention")

if failures:
    sys.exit("template.yaml:\n  " + "\n  ".join(failures))
print(
    f"template.yaml: {len(expected_actions)} function policies (allowing the {calls_summary}), "
    f"{len(routes)} routes (= infra/routes.json's, "
    f"{len(expected_arns)} SigV4, all in ServerCallerPolicy), "
    f"{checked_defaults} parameter defaults (= docs/configuration.md), {len(alarms)} alarms and "
    f"{len(widgets)} dashboard widgets ({len(graphed)} metrics) as expected"
)

"""Holds every AWS call the integration tests saw a function make to that function's IAM policy in
template.yaml (after SAM's transform). tests/api/calls.rs records the calls, one JSON object a line:
{"function": "SendFunction", "action": "dynamodb:TransactWriteItems", "resource": {...}}; see there.
infra/check-template.py runs `check`; infra/test_iam_calls.py shows it catching a missing permission.

IAM as evaluated here (identity policies of the function's role only; no SCPs, boundaries or
resource policies, none of which the stack has):
- A request is allowed when some Allow statement matches its action, resource and conditions and no
  Deny statement does. Actions match case-insensitively with `*` and `?`; resources and StringLike
  values case-sensitively with `*` and `?`. Resource "*" also matches a request on no resource (SNS
  to a phone number has no ARN).
- DynamoDB: an operation needs the action of its own name (dynamodb:GetItem, dynamodb:Query,
  dynamodb:BatchWriteItem, …) on the table (or index) ARN, except the transactions: each item of a
  TransactWriteItems / TransactGetItems needs the action of its kind, dynamodb:PutItem, UpdateItem,
  DeleteItem, ConditionCheckItem or GetItem, and there is no action named after the transaction.
  "Permissions for Put, Update, Delete, and Get actions are governed by the permissions used for the
  underlying PutItem, UpdateItem, DeleteItem, and GetItem operations. For the ConditionCheck action,
  you can use the dynamodb:ConditionCheckItem permission":
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
- dynamodb:LeadingKeys holds the partition key values a request touches, so a statement with
  `ForAllValues:StringLike: {dynamodb:LeadingKeys: [...]}` applies only when every one of them
  matches a pattern; and ForAllValues is also true when the request has no such key (a table-level
  operation):
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
  The recording keeps only a key's prefix up to its first `#` (`code#`); the check matches each
  pattern against that prefix followed by an unknown rest, so `code#*` covers it and `code#1*` not.
- SES v2 SendEmail needs ses:SendEmail on the sending identity and, when one is named, on the
  configuration set. SES authorizes the identity it sends as, which is the address or its domain
  depending on which the deployer verified (docs/deploy.md allows either): both must be allowed.
- Secrets Manager GetSecretValue needs secretsmanager:GetSecretValue on the secret's ARN.
- End User Messaging SMS and Voice v2 SendVoiceMessage / SendTextMessage need their action on the
  origination identity and on the configuration set (each a resource of the request);
  PutMessageFeedback has no resource type and is authorized on "*":
  https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsendusermessagingsmsandvoicev2.html

The template's parameters and resources are resolved for each call as the recording saw them: the
table a call names stands for OtpTable, a secret named after a `…SecretArn` parameter for that
parameter's secret (`otp-test-CaptchaSecretArn-…`), another for the template secret whose logical id its name
contains (`otp-test-CodeSecret-…` for CodeSecret; ServiceSecret, the TOTP secret, if none), and every
other template secret for some other ARN, so a function allowed only another secret is refused; the
sender for EmailFrom, the
configuration set (or none) for SesConfigurationSet. A condition, operator or intrinsic this module
does not know fails the check rather than guessing."""

import json
import re

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
# What stands for the rest of a key after its recorded prefix: matched by `*`, by nothing literal.
UNKNOWN_REST = "\u2026"
NO_VALUE = object()
# Parameters the template requires, as a deploy might give them (a call's own values win).
REQUIRED_PARAMETERS = {"EmailFrom": "no-reply@example.com"}

TRANSACTION_ITEM_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}


class Unsupported(Exception):
    """Something in the policy or a call this module cannot evaluate."""


def load_calls(path):
    with open(path, encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def like(pattern, value, case_sensitive=True):
    """IAM's wildcard match: `*` any run of characters, `?` any one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, 0 if case_sensitive else re.IGNORECASE) is not None


def as_list(value):
    return value if isinstance(value, list) else [value]


class Context:
    """The values of the template's parameters, pseudo parameters and resources for one call."""

    def __init__(self, template, parameters, refs, attributes):
        self.template = template
        self.parameters = {**REQUIRED_PARAMETERS, **parameters}
        self.refs = refs
        self.attributes = attributes

    def ref(self, name):
        pseudo = {
            "AWS::Partition": PARTITION,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": "otp",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": NO_VALUE,
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        declared = self.template.get("Parameters", {}).get(name)
        if declared is not None:
            return str(declared.get("Default", ""))
        # A resource the call does not touch: a value no ARN pattern of a call matches.
        return self.refs.get(name, f"<{name}>")

    def get_att(self, name, attribute):
        return self.attributes.get((name, attribute), f"<{name}.{attribute}>")

    def condition(self, name):
        return self.resolve(self.template["Conditions"][name])

    def resolve(self, node):
        if isinstance(node, list):
            return [v for v in (self.resolve(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::", "Condition")):
            return {key: self.resolve(value) for key, value in node.items()}
        (function, argument), = node.items()
        if function == "Ref":
            return self.ref(argument)
        if function == "Condition":
            return self.condition(argument)
        if function == "Fn::GetAtt":
            name, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
            return self.get_att(name, attribute)
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument
            variables = {key: self.resolve(value) for key, value in variables.items()}

            def substitute(match):
                name = match[1]
                if name in variables:
                    return str(variables[name])
                if "." in name and not name.startswith("AWS::"):
                    return str(self.get_att(*name.split(".", 1)))
                return str(self.ref(name))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text)
        if function == "Fn::If":
            condition, then, otherwise = argument
            return self.resolve(then if self.condition(condition) else otherwise)
        if function == "Fn::Equals":
            left, right = self.resolve(argument)
            return left == right
        if function == "Fn::Not":
            return not self.resolve(argument[0])
        if function == "Fn::And":
            return all(self.resolve(argument))
        if function == "Fn::Or":
            return any(self.resolve(argument))
        if function == "Fn::Select":
            index, items = self.resolve(argument)
            return items[int(index)]
        if function == "Fn::Split":
            separator, text = self.resolve(argument)
            return text.split(separator)
        if function == "Fn::Join":
            separator, items = self.resolve(argument)
            return separator.join(str(item) for item in items)
        raise Unsupported(f"{function}: not an intrinsic this check evaluates")


def table_arn(table, index=None):
    arn = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def secret_arn(secret):
    if secret.startswith("arn:"):
        return secret
    return f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret}"


class Request:
    """One authorization IAM makes for a call: an action on resources, with DynamoDB's leading keys
    (None: the call's keys are not known)."""

    def __init__(self, action, resources, leading_keys=(), context=None, note="", shown=None):
        self.action = action
        self.resources = resources
        # How a failure names each resource: the same for every test's table and secret.
        self.shown = dict(zip(resources, shown or resources))
        self.leading_keys = leading_keys
        self.context = context
        self.note = note

    def show(self, resource):
        return self.shown.get(resource) or "(no resource: a phone number)"

    def describe(self):
        on = ", ".join(self.show(r) for r in self.resources)
        keys = ""
        if self.leading_keys is None:
            keys = " with unknown keys"
        elif self.leading_keys:
            keys = " on keys " + ", ".join(f"{k}…" for k in sorted(set(self.leading_keys)))
        return f"{self.action} on {on}{keys}{self.note}"


def requests_of(call, template):
    """The IAM authorizations one recorded call needs."""
    service, operation = call["action"].split(":", 1)
    resource = call.get("resource") or {}

    def context(parameters=None, refs=None, attributes=None):
        return Context(template, parameters or {}, refs or {}, attributes or {})

    if service == "dynamodb":
        tables = [t for t in resource.get("tables", []) if t] or ["(no table named)"]
        out = []
        for table in dict.fromkeys(tables):
            ctx = context(
                refs={"OtpTable": table},
                attributes={("OtpTable", "Arn"): table_arn(table)},
            )
            arn = table_arn(table, resource.get("index"))
            shown = ["the table" + (f"'s index {resource['index']}" if resource.get("index") else "")]
            items = resource.get("items", [])
            if operation in ("TransactWriteItems", "TransactGetItems"):
                for item in items:
                    action = TRANSACTION_ITEM_ACTIONS.get(item["request"])
                    if action is None:
                        raise Unsupported(f"{call['action']}: an item of kind {item['request']}")
                    out.append(
                        Request(action, [arn], [item["key"]], ctx, f" (in {operation})", shown)
                    )
            else:
                keys = [item["key"] for item in items]
                known = resource.get("keys_known", True) and None not in keys
                out.append(Request(call["action"], [arn], keys if known else None, ctx, "", shown))
        return out
    if service == "sns" and operation == "Publish":
        return [Request(call["action"], [resource.get("arn")], context=context())]
    if service == "ses" and operation == "SendEmail":
        sender = resource.get("from") or ""
        address = re.sub(r"^.*<([^>]+)>\s*$", r"\1", sender)
        configuration_set = resource.get("configuration_set") or ""
        ctx = context(parameters={"EmailFrom": address, "SesConfigurationSet": configuration_set})
        identity = f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/"
        extra = [f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}"]
        extra = extra if configuration_set else []
        return [
            Request(call["action"], [identity + verified] + extra, context=ctx, note=note)
            for verified, note in [
                (address, " (EmailFrom verified as an address)"),
                (address.rpartition("@")[2], " (EmailFrom's domain verified)"),
            ]
        ]
    if service == "sms-voice" and operation in ("SendVoiceMessage", "SendTextMessage"):
        # IAM checks the message's origination identity (an ARN: the template's parameter is
        # one) and its configuration set, each a resource of the request.
        identity = resource.get("origination_identity") or ""
        configuration_set = resource.get("configuration_set") or ""
        ctx = context(
            parameters={"VoiceOriginationIdentityArn": identity},
            refs={"EumConfigurationSet": configuration_set},
        )
        arns = [identity]
        if configuration_set:
            arns.append(f"arn:{PARTITION}:sms-voice:{REGION}:{ACCOUNT}:configuration-set/{configuration_set}")
        return [Request(call["action"], arns, context=ctx)]
    if service == "sms-voice" and operation == "PutMessageFeedback":
        # No resource-level permission: IAM authorizes it on "*", for a deployment that calls
        # or texts through End User Messaging (else no message id is kept, and no feedback sent).
        ctx = context(
            parameters={
                "VoiceOriginationIdentityArn": f"arn:{PARTITION}:sms-voice:{REGION}:{ACCOUNT}:phone-number/any"
            }
        )
        return [Request(call["action"], [None], context=ctx)]
    if service == "secretsmanager" and operation == "GetSecretValue":
        arn = secret_arn(resource.get("secret") or "")
        secrets = [
            name
            for name, r in template.get("Resources", {}).items()
            if r.get("Type") == "AWS::SecretsManager::Secret"
        ]
        # A secret the deployment brings (a parameter such as CaptchaSecretArn) is named after it.
        given = [
            name
            for name, p in template.get("Parameters", {}).items()
            if name.endswith("SecretArn") and name in arn
        ]
        if given:
            ctx = context(parameters={given[0]: arn})
            return [Request(call["action"], [arn], context=ctx, shown=[f"the secret {given[0]}"])]
        named = [name for name in secrets if name in arn] or ["ServiceSecret"]
        refs = {name: f"{arn}-is-not-{name}" for name in secrets}
        refs[named[0]] = arn
        ctx = context(refs=refs)
        return [Request(call["action"], [arn], context=ctx, shown=[f"the secret {named[0]}"])]
    raise Unsupported(f"{call['action']}: a call this check cannot map to IAM actions; teach infra/iam_calls.py")


CONDITION_OPERATORS = {"ForAllValues:StringLike", "ForAllValues:StringEquals"}


def conditions_hold(statement, request):
    """Whether the statement's conditions hold for the request: True, False, or None when they
    depend on keys the recording does not know."""
    for operator, keys in statement.get("Condition", {}).items():
        for key, patterns in keys.items():
            if operator not in CONDITION_OPERATORS or key != "dynamodb:LeadingKeys":
                raise Unsupported(f"condition {operator} {key} (statement {statement.get('Sid')})")
            if request.leading_keys is None:
                return None
            for prefix in request.leading_keys:
                value = prefix + UNKNOWN_REST
                if operator == "ForAllValues:StringEquals":
                    matched = value in as_list(patterns)
                else:
                    matched = any(like(p, value) for p in as_list(patterns))
                if not matched:
                    return False
    return True


def leading_key_patterns(statement):
    patterns = []
    for operator in CONDITION_OPERATORS:
        patterns += as_list(statement.get("Condition", {}).get(operator, {}).get("dynamodb:LeadingKeys", []))
    return patterns


def matches(statement, request, resource):
    actions = statement.get("Action")
    if actions is not None:
        action_ok = any(like(a, request.action, False) for a in as_list(actions))
    else:
        action_ok = not any(like(a, request.action, False) for a in as_list(statement["NotAction"]))
    if not action_ok:
        return False
    resources = statement.get("Resource")

    def covers(pattern):
        return pattern == "*" or (resource is not None and like(pattern, resource))

    if resources is not None:
        return any(covers(p) for p in as_list(resources))
    return not any(covers(p) for p in as_list(statement["NotResource"]))


def evaluate(statements, request):
    """(None, used allow statements) when allowed, else (why not, [])."""
    used = []
    for resource in request.resources:
        on = request.show(resource)
        for statement in statements:
            if statement["Effect"] == "Deny" and matches(statement, request, resource):
                if conditions_hold(statement, request) is not False:
                    return f"denied on {on} by statement {statement.get('Sid', '(no Sid)')}", []
        candidates = [
            s for s in statements if s["Effect"] == "Allow" and matches(s, request, resource)
        ]
        holding = [s for s in candidates if conditions_hold(s, request)]
        if holding:
            used.extend(holding)
            continue
        if not candidates:
            return f"no statement of its policy grants {request.action} on {on}", []
        unknown = [s for s in candidates if conditions_hold(s, request) is None]
        if unknown:
            return f"the recorded call's keys are unknown, so {[s.get('Sid') for s in unknown]} cannot be checked", []
        limits = "; ".join(
            f"statement {s.get('Sid', '(no Sid)')} limits it to {json.dumps(s.get('Condition'))}"
            for s in candidates
        )
        return f"{request.action} on {on} is allowed only for other keys: {limits}", []
    return None, used


def policy_statements(resources, function, context):
    role = resources.get(f"{function}Role")
    if role is None:
        raise Unsupported(f"{function}: no role {function}Role in the transformed template")
    statements = []
    for policy in role["Properties"].get("Policies", []):
        for statement in as_list(context.resolve(policy["PolicyDocument"]["Statement"])):
            statements.append(statement)
    return statements


def check(template, resources, calls):
    """(failures, warnings, summary) for the recorded calls against the transformed template's
    function policies (`resources`); `template` (the source) gives parameters and conditions."""
    failures, warnings = [], []
    used = set()  # (function, Sid, action or leading key pattern) that allowed a recorded call
    checked = 0
    functions = sorted({call.get("function") for call in calls}, key=str)
    for call in calls:
        function = call.get("function")
        where = f"{function}: {call['action']}"
        try:
            for request in requests_of(call, template):
                statements = policy_statements(resources, function, request.context)
                why, allowing = evaluate(statements, request)
                checked += 1
                if why:
                    failures.append(f"{function} calls {request.describe()}, not allowed: {why}")
                for statement in allowing:
                    sid = statement.get("Sid")
                    for action in as_list(statement.get("Action", [])):
                        if like(action, request.action, False):
                            used.add((function, sid, action))
                    for pattern in leading_key_patterns(statement):
                        if any(like(pattern, k + UNKNOWN_REST) for k in request.leading_keys or []):
                            used.add((function, sid, pattern))
        except (Unsupported, LookupError, ValueError, TypeError) as error:
            failures.append(f"{where}: cannot check: {error!r}")
    # Allowed actions and leading keys no recorded call needed: maybe a rare path the suite does
    # not reach, maybe a permission to drop. Reported; check-template.py --strict fails on them.
    declared = [n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    for function in sorted(set(declared) | set(f for f in functions if f)):
        try:
            statements = policy_statements(resources, function, Context(template, {}, {}, {}))
        except Unsupported:
            continue
        for statement in statements:
            if statement["Effect"] != "Allow":
                continue
            sid = statement.get("Sid")
            for action in as_list(statement.get("Action", [])):
                if (function, sid, action) not in used:
                    warnings.append(f"{function}: statement {sid} allows {action}, which no recorded call needed")
            for pattern in leading_key_patterns(statement):
                if (function, sid, pattern) not in used:
                    warnings.append(
                        f"{function}: statement {sid} allows the keys {pattern}, which no recorded call needed"
                    )
    summary = f"{len(calls)} recorded calls ({checked} IAM authorizations) of {len(functions)} functions"
    return list(dict.fromkeys(failures)), warnings, summary

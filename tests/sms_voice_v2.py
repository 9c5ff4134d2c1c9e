"""A fake of AWS End User Messaging SMS and Voice v2 (`pinpoint-sms-voice-v2`) for the emulator.

moto has no such service. `SmsVoiceV2(app)`, a WSGI middleware that tests/emulator.py puts around
moto, answers the awsJson1_0 requests whose `X-Amz-Target` is `PinpointSMSVoiceV2.<Operation>` (or
that are signed for `sms-voice`), adds what it recorded to `GET /moto-api/data.json`, clears it on
`POST /moto-api/reset`, and hands every other request to moto unchanged.

Operations
    SendVoiceMessage, SendTextMessage, PutMessageFeedback   what the service uses;
    RequestPhoneNumber, CreateConfigurationSet, DescribePhoneNumbers   to set up what a send needs.
    Any other `PinpointSMSVoiceV2.*` target: 400 `UnknownOperationException`, as AWS JSON 1.0
    services answer.

Validation
    Every input is checked against the operation's input shape in botocore's own model of the
    service (required members, string lengths, patterns, enums, integer ranges, list and map sizes,
    JSON types), as the AWS API front end does before the service sees a request; then what the API
    reference adds:
      * DestinationPhoneNumber in E.164: a "+" and at most 15 digits (the model's pattern
        `\\+?[1-9][0-9]{1,18}` alone would allow no "+" and 19 digits);
      * a voice MessageBody of MessageBodyTextType TEXT (the default) is at most 3,000 characters,
        of SSML at most 6,000 (the model's maximum for the shape); SSML must be well-formed XML
        whose root is <speak> (AWS checks the SSML when the message is sent, and refuses it there
        too);
      * a text MessageBody is at most 1,600 characters: that is the model's maximum for
        SendTextMessage (the issue's 3,000 is the voice TEXT limit);
      * the origination identity (its PhoneNumber, PhoneNumberId or PhoneNumberArn; there are no
        pools, sender IDs or RCS agents) and the configuration set (name or ARN) must exist in the
        request's region, else `ResourceNotFoundException` (400) with ResourceType and ResourceId;
        a ProtectConfigurationId never exists here (none can be created); a voice message needs a
        number with the VOICE capability, a text message one with SMS.
    Failures are `ValidationException` with Message, Reason (MISSING_PARAMETER when only required
    members are missing, else FIELD_VALIDATION_FAILED or the specific reason) and Fields [{Name,
    Message}]. A body that is not a JSON object, or a member of the wrong JSON type, is a
    `SerializationException`.

Wire format (as AWS JSON 1.0 services answer): status 200 with exactly the output members, or 400
with `Content-Type: application/x-amz-json-1.0`, `x-amzn-ErrorType: <Code>:<namespace URL>` (the
header the Rust SDK reads first) and the body
`{"__type": "<namespace>#<Code>", "Message": ..., <the shape's other members>}` (botocore reads
`__type`); both name the same code once their prefix and suffix are cut.

The feed: `GET /moto-api/data.json` is moto's JSON plus one top-level key
    "pinpoint-sms-voice-v2": {
      "voice_messages":     [{"message_id", "sent_at", "region", "destination_phone_number",
                              "origination_identity" (as given), "origination_phone_number",
                              "origination_phone_number_id", "message_body",
                              "message_body_text_type", "voice_id", "time_to_live",
                              "configuration_set_name" (as given), "configuration_set" (its name),
                              "context", "max_price_per_minute", "message_feedback_enabled",
                              "protect_configuration_id", "dry_run"}],
      "text_messages":      [{"message_id", "sent_at", "region", "destination_phone_number",
                              "origination_identity", "origination_phone_number",
                              "origination_phone_number_id", "message_body", "message_type",
                              "keyword", "time_to_live", "configuration_set_name",
                              "configuration_set", "context", "destination_country_parameters",
                              "max_price", "message_feedback_enabled", "protect_configuration_id",
                              "dry_run"}],
      "message_feedback":   [{"message_id", "message_feedback_status", "at"}],
      "phone_numbers":      [DescribePhoneNumbers' PhoneNumberInformation of each, plus "region"],
      "configuration_sets": [{"ConfigurationSetArn", "ConfigurationSetName", "Tags",
                              "CreatedTimestamp", "region"}]
    }
Messages and feedback are in the order accepted. A parameter the request left out is null (the
recorded values are what the caller sent, not the service's defaults). Times are ISO 8601 UTC
("2025-01-31T12:00:00.000000Z"); CreatedTimestamp is epoch seconds, as the API returns it. A
DryRun message is recorded with "dry_run": true (AWS validates it and sends nothing).

`POST /moto-api/reset` clears all of it (and moto resets its own services as before).

Not modelled: prices (MaxPrice and MaxPricePerMinute are checked for form only), quotas and
throttling, the sandbox's verified destinations, opt-outs, a number's country against the
destination's, simulator numbers reaching only simulator destinations, keywords, registrations,
pools and sender IDs (unknown, so not found), and the hour after which feedback turns FAILED. A
validation message quotes the offending value, as AWS front ends do (a destination number too).
"""

import json
import re
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from datetime import datetime, timezone

import botocore.session

from wsgi_call import call as call_wsgi

SERVICE = "pinpoint-sms-voice-v2"
SIGNING_NAME = "sms-voice"
TARGET_PREFIX = "PinpointSMSVoiceV2."
NAMESPACE = "com.amazonaws.pinpointsmsvoicev2"
CORAL = "com.amazon.coral.service"
JSON_1_0 = "application/x-amz-json-1.0"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"  # moto's

# From the API reference (MessageBodyTextType): TEXT at most 3,000 characters, SSML at most 6,000.
VOICE_TEXT_MAX = 3000
E164 = re.compile(r"\+[1-9][0-9]{1,14}")

# Calling codes for RequestPhoneNumber's IsoCountryCode; another country is refused.
CALLING_CODES = {
    "US": "1", "CA": "1", "GB": "44", "IE": "353", "FR": "33", "DE": "49", "ES": "34", "IT": "39",
    "NL": "31", "BE": "32", "CH": "41", "AT": "43", "SE": "46", "NO": "47", "DK": "45", "FI": "358",
    "PL": "48", "PT": "351", "AU": "61", "NZ": "64", "JP": "81", "KR": "82", "SG": "65", "IN": "91",
    "BR": "55", "MX": "52", "ZA": "27", "IL": "972", "HK": "852", "PH": "63",
}
MONTHLY_PRICES = {"LONG_CODE": "1.00", "TOLL_FREE": "2.00", "TEN_DLC": "1.00", "SIMULATOR": "0.00"}


class ApiError(Exception):
    """An error reply: `code` is the shape's name, `members` its other members."""

    def __init__(self, code, message, namespace=NAMESPACE, **members):
        super().__init__(message)
        self.code, self.message, self.namespace = code, message, namespace
        self.members = {k: v for k, v in members.items() if v is not None}


def serialization_error(message):
    return ApiError("SerializationException", message, namespace=CORAL)


def validation_error(reason, fields, message=None):
    """`fields`: [(name, message)]."""
    if message is None:
        count = len(fields)
        message = (f"{count} validation error{'s' if count != 1 else ''} detected: "
                   + "; ".join(text for _, text in fields))
    return ApiError("ValidationException", message, Reason=reason,
                    Fields=[{"Name": name, "Message": text} for name, text in fields])


def not_found(resource_type, resource_id, what=None):
    return ApiError(
        "ResourceNotFoundException",
        f"{what or resource_type} {resource_id!r} does not exist",
        ResourceType=resource_type, ResourceId=resource_id,
    )


def _now():
    return datetime.now(timezone.utc)


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _shown(value):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 100 else text[:100] + "..."


# --- the model's constraints -----------------------------------------------------------------

class _Problems:
    def __init__(self):
        self.fields = []        # (name, message)
        self.only_missing = True

    def add(self, name, value, constraint, missing=False):
        self.only_missing = self.only_missing and missing
        shown = "null" if value is None else f"'{_shown(value)}'"
        self.fields.append(
            (name, f"Value {shown} at '{name}' failed to satisfy constraint: {constraint}")
        )


def _too_short(meta):
    return f"Member must have length greater than or equal to {meta['min']}"


def _too_long(meta):
    return f"Member must have length less than or equal to {meta['max']}"


def _check(shape, value, name, problems):
    """Checks `value` (present, not null) against `shape`; a wrong JSON type raises at once."""
    kind, meta = shape.type_name, shape.metadata
    if kind == "structure":
        if not isinstance(value, dict):
            raise serialization_error(f"Expected an object at '{name or 'the body'}'")
        for member in shape.required_members:
            if value.get(member) is None:
                problems.add(f"{name}.{member}" if name else member, None,
                             "Member must not be null", missing=True)
        for member, member_shape in shape.members.items():
            if value.get(member) is not None:
                _check(member_shape, value[member], f"{name}.{member}" if name else member,
                       problems)
    elif kind == "string":
        if not isinstance(value, str):
            raise serialization_error(f"Expected a string at '{name}', got {_shown(value)}")
        if "min" in meta and len(value) < meta["min"]:
            problems.add(name, value, _too_short(meta))
        if "max" in meta and len(value) > meta["max"]:
            problems.add(name, value, _too_long(meta))
        # AWS's front end matches the whole value against the pattern (Java's Pattern.matches).
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value):
            problems.add(name, value,
                         f"Member must satisfy regular expression pattern: {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            problems.add(name, value,
                         f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
    elif kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
            raise serialization_error(f"Expected an integer at '{name}', got {_shown(value)}")
        if "min" in meta and value < meta["min"]:
            problems.add(name, value,
                         f"Member must have value greater than or equal to {meta['min']}")
        if "max" in meta and value > meta["max"]:
            problems.add(name, value,
                         f"Member must have value less than or equal to {meta['max']}")
    elif kind == "boolean":
        if not isinstance(value, bool):
            raise serialization_error(f"Expected a boolean at '{name}', got {_shown(value)}")
    elif kind == "list":
        if not isinstance(value, list):
            raise serialization_error(f"Expected an array at '{name}'")
        _check_size(meta, value, name, problems)
        for index, item in enumerate(value):
            if item is not None:
                _check(shape.member, item, f"{name}.{index + 1}.member", problems)
    elif kind == "map":
        if not isinstance(value, dict):
            raise serialization_error(f"Expected an object at '{name}'")
        _check_size(meta, value, name, problems)
        for key, item in value.items():
            _check(shape.key, key, f"{name}.key", problems)
            if item is not None:
                _check(shape.value, item, f"{name}.{key}", problems)
    else:  # not used by the inputs implemented here
        raise serialization_error(f"Unsupported member type {kind} at '{name}'")


def _check_size(meta, value, name, problems):
    if "min" in meta and len(value) < meta["min"]:
        problems.add(name, value, f"Member must have length greater than or equal to {meta['min']}")
    if "max" in meta and len(value) > meta["max"]:
        problems.add(name, value, f"Member must have length less than or equal to {meta['max']}")


# --- the middleware --------------------------------------------------------------------------

class SmsVoiceV2:
    """WSGI middleware: the fake service in front of `app` (moto)."""

    OPERATIONS = (
        "SendVoiceMessage", "SendTextMessage", "PutMessageFeedback",
        "RequestPhoneNumber", "CreateConfigurationSet", "DescribePhoneNumbers",
    )

    def __init__(self, app, account_id=DEFAULT_ACCOUNT_ID):
        self.app = app
        self.account_id = account_id
        self.model = botocore.session.get_session().get_service_model(SERVICE)
        self._lock = threading.RLock()
        self.reset()

    # state

    def reset(self):
        with self._lock:
            self.voice_messages = []
            self.text_messages = []
            self.message_feedback = []
            self.phone_numbers = []        # PhoneNumberInformation + "region"
            self.configuration_sets = []   # CreateConfigurationSet's output + "region"
            self.messages = {}             # MessageId -> its record
            self.client_tokens = {}        # (operation, region, token) -> its reply
            self.number_sequence = 0

    def feed(self):
        with self._lock:
            return json.loads(json.dumps({
                "voice_messages": self.voice_messages,
                "text_messages": self.text_messages,
                "message_feedback": self.message_feedback,
                "phone_numbers": self.phone_numbers,
                "configuration_sets": self.configuration_sets,
            }))

    # WSGI

    def __call__(self, environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "GET")
        if self._is_for_us(environ):
            return self._serve(environ, start_response)
        if path == "/moto-api/reset" and method == "POST":
            self.reset()
            return self.app(environ, start_response)
        if path == "/moto-api/data.json" and method == "GET":
            return self._data_json(environ, start_response)
        return self.app(environ, start_response)

    def _is_for_us(self, environ):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target.startswith(TARGET_PREFIX):
            return True
        scope = self._credential_scope(environ)
        return scope is not None and scope[1] == SIGNING_NAME

    @staticmethod
    def _credential_scope(environ):
        """(region, service) from a SigV4 Authorization header, or None."""
        match = re.search(r"Credential=[^/,\s]+/\d{8}/([^/,\s]+)/([^/,\s]+)/aws4_request",
                          environ.get("HTTP_AUTHORIZATION", ""))
        return (match.group(1), match.group(2)) if match else None

    def _data_json(self, environ, start_response):
        status, headers, body = call_wsgi(self.app, environ)
        if status.startswith("200"):
            try:
                data = json.loads(body)
            except ValueError:
                data = None
            if isinstance(data, dict):
                data[SERVICE] = self.feed()
                body = json.dumps(data).encode()
                headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
                headers.append(("Content-Length", str(len(body))))
        start_response(status, headers)
        return [body]

    def _serve(self, environ, start_response):
        request_id = str(uuid.uuid4())
        try:
            result = self._dispatch(environ)
            status, body = "200 OK", json.dumps(result).encode()
            headers = [("Content-Type", JSON_1_0)]
        except ApiError as error:
            status = "400 Bad Request"
            reply = {"__type": f"{error.namespace}#{error.code}", "Message": error.message}
            reply.update(error.members)
            body = json.dumps(reply).encode()
            url = "http://internal.amazon.com/coral/" + error.namespace + "/"
            headers = [("Content-Type", JSON_1_0), ("x-amzn-ErrorType", f"{error.code}:{url}")]
        headers += [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))]
        start_response(status, headers)
        return [body]

    def _dispatch(self, environ):
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        operation = target[len(TARGET_PREFIX):] if target.startswith(TARGET_PREFIX) else ""
        if environ.get("REQUEST_METHOD") != "POST" or operation not in self.OPERATIONS:
            raise ApiError("UnknownOperationException",
                           f"Unknown operation {target or '(no X-Amz-Target)'}", namespace=CORAL)
        raw = _read_body(environ)
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (ValueError, UnicodeDecodeError):
            raise serialization_error("The request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise serialization_error("The request body must be a JSON object")
        problems = _Problems()
        _check(self.model.operation_model(operation).input_shape, body, "", problems)
        if problems.fields:
            reason = "MISSING_PARAMETER" if problems.only_missing else "FIELD_VALIDATION_FAILED"
            raise validation_error(reason, problems.fields)
        scope = self._credential_scope(environ)
        region = scope[0] if scope else DEFAULT_REGION
        with self._lock:
            return getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", operation).lower())(
                body, region)

    # lookups

    def _arn(self, region, resource):
        return f"arn:aws:{SIGNING_NAME}:{region}:{self.account_id}:{resource}"

    def _origination(self, identity, region, capability):
        """The phone number `identity` names (number, id or ARN) in `region`, or the error."""
        for number in self.phone_numbers:
            if number["region"] == region and identity in (
                number["PhoneNumber"], number["PhoneNumberId"], number["PhoneNumberArn"]
            ):
                break
        else:
            raise not_found(_identity_type(identity), identity, "Origination identity")
        if capability not in number["NumberCapabilities"]:
            reason = ("VOICE_CAPABILITY_NOT_AVAILABLE" if capability == "VOICE"
                      else "CHANNEL_NOT_ENABLED")
            raise validation_error(reason, [(
                "OriginationIdentity",
                f"The origination identity {identity!r} does not have the {capability} capability",
            )], message=f"The origination identity {identity!r} cannot send {capability} messages")
        return number

    def _configuration_set(self, name_or_arn, region):
        for config in self.configuration_sets:
            if config["region"] == region and name_or_arn in (
                config["ConfigurationSetName"], config["ConfigurationSetArn"]
            ):
                return config
        raise not_found("configuration-set", name_or_arn, "Configuration set")

    def _send_common(self, body, region, capability):
        destination = body["DestinationPhoneNumber"]
        if not E164.fullmatch(destination):
            raise validation_error("INVALID_PARAMETER", [(
                "DestinationPhoneNumber",
                f"Value '{destination}' at 'DestinationPhoneNumber' failed to satisfy constraint: "
                "Member must be a phone number in E.164 format (+ and up to 15 digits)",
            )])
        identity = body.get("OriginationIdentity")
        number = self._origination(identity, region, capability) if identity is not None else None
        config = body.get("ConfigurationSetName")
        config_set = self._configuration_set(config, region) if config is not None else None
        protect = body.get("ProtectConfigurationId")
        if protect is not None:
            raise not_found("protect-configuration", protect, "Protect configuration")
        message_id = str(uuid.uuid4())
        return {
            "message_id": message_id,
            "sent_at": _iso(_now()),
            "region": region,
            "destination_phone_number": destination,
            "origination_identity": identity,
            "origination_phone_number": number and number["PhoneNumber"],
            "origination_phone_number_id": number and number["PhoneNumberId"],
            "message_body": body.get("MessageBody"),
        }, config, config_set

    # operations

    def _send_voice_message(self, body, region):
        text_type = body.get("MessageBodyTextType") or "TEXT"
        message = body.get("MessageBody")
        if message is not None:
            if text_type == "TEXT" and len(message) > VOICE_TEXT_MAX:
                raise validation_error("FIELD_VALIDATION_FAILED", [(
                    "MessageBody",
                    f"Value at 'MessageBody' failed to satisfy constraint: Member must have length "
                    f"less than or equal to {VOICE_TEXT_MAX} when MessageBodyTextType is TEXT",
                )])
            if text_type == "SSML":
                _check_ssml(message)
        record, config, config_set = self._send_common(body, region, "VOICE")
        record.update({
            "message_body_text_type": body.get("MessageBodyTextType"),
            "voice_id": body.get("VoiceId"),
            "time_to_live": body.get("TimeToLive"),
            "configuration_set_name": config,
            "configuration_set": config_set and config_set["ConfigurationSetName"],
            "context": body.get("Context"),
            "max_price_per_minute": body.get("MaxPricePerMinute"),
            "message_feedback_enabled": body.get("MessageFeedbackEnabled"),
            "protect_configuration_id": body.get("ProtectConfigurationId"),
            "dry_run": body.get("DryRun"),
        })
        self.voice_messages.append(record)
        self.messages[record["message_id"]] = record
        return {"MessageId": record["message_id"]}

    def _send_text_message(self, body, region):
        record, config, config_set = self._send_common(body, region, "SMS")
        record.update({
            "message_type": body.get("MessageType"),
            "keyword": body.get("Keyword"),
            "time_to_live": body.get("TimeToLive"),
            "configuration_set_name": config,
            "configuration_set": config_set and config_set["ConfigurationSetName"],
            "context": body.get("Context"),
            "destination_country_parameters": body.get("DestinationCountryParameters"),
            "max_price": body.get("MaxPrice"),
            "message_feedback_enabled": body.get("MessageFeedbackEnabled"),
            "protect_configuration_id": body.get("ProtectConfigurationId"),
            "dry_run": body.get("DryRun"),
        })
        self.text_messages.append(record)
        self.messages[record["message_id"]] = record
        return {"MessageId": record["message_id"]}

    def _put_message_feedback(self, body, region):
        message_id, status = body["MessageId"], body["MessageFeedbackStatus"]
        message = self.messages.get(message_id)
        # A message has a feedback record only if it was sent (not a dry run), in this region,
        # with MessageFeedbackEnabled.
        if (message is None or message["region"] != region
                or not message["message_feedback_enabled"] or message["dry_run"]):
            raise not_found("message", message_id, "Message feedback record for message")
        self.message_feedback.append(
            {"message_id": message_id, "message_feedback_status": status, "at": _iso(_now())}
        )
        return {"MessageId": message_id, "MessageFeedbackStatus": status}

    def _request_phone_number(self, body, region):
        token = body.get("ClientToken")
        if token is not None and ("RequestPhoneNumber", region, token) in self.client_tokens:
            return self.client_tokens[("RequestPhoneNumber", region, token)]
        country = body["IsoCountryCode"]
        if country not in CALLING_CODES:
            raise validation_error("COUNTRY_NOT_ENABLED", [(
                "IsoCountryCode", f"Phone numbers cannot be requested for {country} here",
            )])
        opt_out = body.get("OptOutListName")
        default_list = ("Default", self._arn(region, "opt-out-list/Default"))
        if opt_out is not None and opt_out not in default_list:
            raise not_found("opt-out-list", opt_out, "Opt-out list")
        if body.get("PoolId"):
            raise not_found("pool", body["PoolId"], "Pool")
        if body.get("RegistrationId") is not None:
            raise not_found("registration", body["RegistrationId"], "Registration")
        self.number_sequence += 1
        code = CALLING_CODES[country]
        subscriber = f"2065550{self.number_sequence:03d}" if code == "1" \
            else f"70000{self.number_sequence:05d}"
        number_id = "phone-" + uuid.uuid4().hex
        info = {
            "PhoneNumberArn": self._arn(region, f"phone-number/{number_id}"),
            "PhoneNumberId": number_id,
            "PhoneNumber": f"+{code}{subscriber}",
            "Status": "ACTIVE",
            "IsoCountryCode": country,
            "MessageType": body["MessageType"],
            "NumberCapabilities": list(body["NumberCapabilities"]),
            "NumberType": body["NumberType"],
            "MonthlyLeasingPrice": MONTHLY_PRICES[body["NumberType"]],
            "TwoWayEnabled": False,
            "SelfManagedOptOutsEnabled": False,
            "OptOutListName": "Default",
            "InternationalSendingEnabled": bool(body.get("InternationalSendingEnabled")),
            "DeletionProtectionEnabled": bool(body.get("DeletionProtectionEnabled")),
            "CreatedTimestamp": _now().timestamp(),
        }
        self.phone_numbers.append(dict(info, region=region))
        reply = dict(info, Tags=list(body.get("Tags") or []))
        if token is not None:
            self.client_tokens[("RequestPhoneNumber", region, token)] = reply
        return reply

    def _create_configuration_set(self, body, region):
        token = body.get("ClientToken")
        if token is not None and ("CreateConfigurationSet", region, token) in self.client_tokens:
            return self.client_tokens[("CreateConfigurationSet", region, token)]
        name = body["ConfigurationSetName"]
        if any(c["region"] == region and c["ConfigurationSetName"] == name
               for c in self.configuration_sets):
            raise ApiError("ConflictException", f"Configuration set {name!r} already exists",
                           Reason="RESOURCE_ALREADY_EXISTS", ResourceType="configuration-set",
                           ResourceId=name)
        reply = {
            "ConfigurationSetArn": self._arn(region, f"configuration-set/{name}"),
            "ConfigurationSetName": name,
            "Tags": list(body.get("Tags") or []),
            "CreatedTimestamp": _now().timestamp(),
        }
        self.configuration_sets.append(dict(reply, region=region))
        if token is not None:
            self.client_tokens[("CreateConfigurationSet", region, token)] = reply
        return reply

    def _describe_phone_numbers(self, body, region):
        numbers = [n for n in self.phone_numbers if n["region"] == region]
        if body.get("Owner") == "SHARED":
            numbers = []
        ids = body.get("PhoneNumberIds")
        if ids:
            chosen = []
            for wanted in ids:
                match = [n for n in numbers if wanted in (n["PhoneNumberId"], n["PhoneNumberArn"])]
                if not match:
                    raise not_found("phone-number", wanted, "Phone number")
                chosen += match
            numbers = chosen
        for phone_filter in body.get("Filters") or []:
            numbers = [n for n in numbers if _filter_matches(n, phone_filter)]
        start = 0
        if body.get("NextToken") is not None:
            token = body["NextToken"]
            if not token.isdigit() or int(token) > len(numbers):
                raise validation_error("INVALID_NEXT_TOKEN", [("NextToken", "Invalid NextToken")])
            start = int(token)
        end = start + (body.get("MaxResults") or 100)
        reply = {"PhoneNumbers": [{k: v for k, v in n.items() if k != "region"}
                                  for n in numbers[start:end]]}
        if end < len(numbers):
            reply["NextToken"] = str(end)
        return reply


FILTER_FIELDS = {
    "status": "Status", "iso-country-code": "IsoCountryCode", "message-type": "MessageType",
    "number-capability": "NumberCapabilities", "number-type": "NumberType",
    "two-way-enabled": "TwoWayEnabled",
    "self-managed-opt-outs-enabled": "SelfManagedOptOutsEnabled",
    "opt-out-list-name": "OptOutListName",
    "deletion-protection-enabled": "DeletionProtectionEnabled",
    "two-way-channel-arn": "TwoWayChannelArn",
}


def _filter_matches(number, phone_filter):
    value = number.get(FILTER_FIELDS[phone_filter["Name"]])
    values = value if isinstance(value, list) else [value]
    texts = {str(v).lower() if isinstance(v, bool) else str(v) for v in values if v is not None}
    return bool(texts & set(phone_filter["Values"]))


def _identity_type(identity):
    """The ResourceType of an unknown origination identity, from its form."""
    arn = re.fullmatch(r"arn:[^:]+:[^:]+:[^:]*:[^:]*:([a-z-]+)/.+", identity)
    if arn:
        return arn.group(1)
    if identity.startswith("+") or identity.isdigit() or identity.startswith("phone-"):
        return "phone-number"
    if identity.startswith("pool-"):
        return "pool"
    return "sender-id"


def _check_ssml(message):
    # AWS validates the SSML when the message is sent (Amazon Polly renders it) and refuses a
    # message it cannot read; the fake refuses at once what is not well-formed XML with a <speak>
    # root.
    try:
        root = ElementTree.fromstring(message)
    except ElementTree.ParseError as error:
        raise validation_error("INVALID_PARAMETER", [(
            "MessageBody", f"MessageBody is not valid SSML: {error}",
        )]) from None
    if root.tag.rsplit("}", 1)[-1] != "speak":
        raise validation_error("INVALID_PARAMETER", [(
            "MessageBody",
            f"MessageBody is not valid SSML: the root element is <{root.tag}>, not <speak>",
        )])


def _read_body(environ):
    stream = environ["wsgi.input"]
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    length = environ.get("CONTENT_LENGTH") or "0"
    return stream.read(int(length)) if length.isdigit() else b""



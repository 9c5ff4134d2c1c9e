"""Tests of the emulator's End User Messaging SMS and Voice v2 fake (tests/sms_voice_v2.py), driven
by boto3 against tests/emulator.py run as a subprocess: every error is asserted by the exception
class boto3 builds from the reply, which proves the wire format, and every accepted message by what
/moto-api/data.json shows.

Run: .venv/bin/python -m unittest discover -s tests -p 'test_sms_voice_v2.py'
"""

import json
import os
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.session
from botocore.config import Config

import emulator_process

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SERVICE = "pinpoint-sms-voice-v2"
DESTINATION = "+447911123456"


def start(script):
    return emulator_process.start(script, os.environ)


def client(endpoint, service=SERVICE, validate=True):
    """A boto3 client; with validate=False it sends what boto3 would refuse itself, so that the
    emulator's own checks are what answer."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
                        **CREDENTIALS)


def data(endpoint):
    with urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=10) as response:
        return json.load(response)


def raw(endpoint, body, target="PinpointSMSVoiceV2.SendTextMessage"):
    """POSTs `body` (bytes) as the SDK would; returns (status, headers, parsed body)."""
    request = urllib.request.Request(endpoint + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": target,
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/sms-voice/"
                         "aws4_request, SignedHeaders=host, Signature=00",
    })
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.load(error)


class Emulator(unittest.TestCase):
    """One emulator for the class; each test starts from a reset."""

    @classmethod
    def setUpClass(cls):
        cls.process, cls.endpoint = start(os.path.join(HERE, "emulator.py"))

    @classmethod
    def tearDownClass(cls):
        emulator_process.stop(cls.process)

    def setUp(self):
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10
        ).read()
        self.sms = client(self.endpoint)
        self.loose = client(self.endpoint, validate=False)
        self.number = self.sms.request_phone_number(
            IsoCountryCode="US", MessageType="TRANSACTIONAL",
            NumberCapabilities=["SMS", "VOICE"], NumberType="SIMULATOR",
        )

    def feed(self):
        return data(self.endpoint)[SERVICE]

    def voice(self, sms=None, **overrides):
        params = {"DestinationPhoneNumber": DESTINATION,
                  "OriginationIdentity": self.number["PhoneNumberArn"],
                  "MessageBody": "Your code is 1 2 3 4 5 6."}
        params.update(overrides)
        return (sms or self.sms).send_voice_message(**{k: v for k, v in params.items()
                                                       if v is not None})

    def text(self, sms=None, **overrides):
        params = {"DestinationPhoneNumber": DESTINATION,
                  "OriginationIdentity": self.number["PhoneNumber"],
                  "MessageBody": "Your code is 123456"}
        params.update(overrides)
        return (sms or self.sms).send_text_message(**{k: v for k, v in params.items()
                                                      if v is not None})

    def refused(self, exception, call, *args, **kwargs):
        """Asserts that `call` raises `exception` (a boto3 modeled error class); returns the
        reply."""
        with self.assertRaises(exception) as caught:
            call(*args, **kwargs)
        return caught.exception.response

    def invalid(self, call, field, reason="FIELD_VALIDATION_FAILED", **kwargs):
        reply = self.refused(self.loose.exceptions.ValidationException, call, sms=self.loose,
                             **kwargs)
        self.assertEqual(reply["Reason"], reason, reply)
        self.assertIn(field, [f["Name"] for f in reply["Fields"]], reply)
        self.assertTrue(reply["Error"]["Message"])
        return reply


class Sending(Emulator):
    def test_a_voice_message_in_ssml_is_recorded_with_every_parameter(self):
        config = self.sms.create_configuration_set(ConfigurationSetName="otp-voice")
        ssml = '<speak>Your code is <say-as interpret-as="digits">123456</say-as>.</speak>'
        reply = self.sms.send_voice_message(
            DestinationPhoneNumber=DESTINATION,
            OriginationIdentity=self.number["PhoneNumberArn"],
            MessageBody=ssml, MessageBodyTextType="SSML", VoiceId="AMY",
            ConfigurationSetName=config["ConfigurationSetArn"],
            MaxPricePerMinute="0.50", TimeToLive=600, Context={"challenge": "c-1"},
            MessageFeedbackEnabled=True,
        )
        self.assertEqual(set(reply) - {"ResponseMetadata"}, {"MessageId"})
        self.assertRegex(reply["MessageId"],
                         r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")
        [message] = self.feed()["voice_messages"]
        sent_at = message.pop("sent_at")
        self.assertRegex(sent_at, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
        self.assertEqual(message, {
            "message_id": reply["MessageId"], "region": REGION,
            "destination_phone_number": DESTINATION,
            "origination_identity": self.number["PhoneNumberArn"],
            "origination_phone_number": self.number["PhoneNumber"],
            "origination_phone_number_id": self.number["PhoneNumberId"],
            "message_body": ssml, "message_body_text_type": "SSML", "voice_id": "AMY",
            "time_to_live": 600,
            "configuration_set_name": config["ConfigurationSetArn"],
            "configuration_set": "otp-voice",
            "context": {"challenge": "c-1"}, "max_price_per_minute": "0.50",
            "message_feedback_enabled": True, "protect_configuration_id": None, "dry_run": None,
        })
        self.assertEqual(self.feed()["text_messages"], [])

    def test_a_text_message_is_recorded(self):
        reply = self.text(MessageType="TRANSACTIONAL", ConfigurationSetName=None, TimeToLive=300,
                          DestinationCountryParameters={"IN_ENTITY_ID": "1234"})
        [message] = self.feed()["text_messages"]
        self.assertEqual(message["message_id"], reply["MessageId"])
        self.assertEqual(message["destination_phone_number"], DESTINATION)
        self.assertEqual(message["origination_identity"], self.number["PhoneNumber"])
        self.assertEqual(message["message_body"], "Your code is 123456")
        self.assertEqual(message["message_type"], "TRANSACTIONAL")
        self.assertEqual(message["time_to_live"], 300)
        self.assertEqual(message["destination_country_parameters"], {"IN_ENTITY_ID": "1234"})
        self.assertIsNone(message["configuration_set_name"])
        self.assertEqual(self.feed()["voice_messages"], [])

    def test_the_origination_identity_may_be_the_number_its_id_or_its_arn(self):
        for identity in ("PhoneNumber", "PhoneNumberId", "PhoneNumberArn"):
            self.voice(OriginationIdentity=self.number[identity])
        numbers = {m["origination_phone_number"] for m in self.feed()["voice_messages"]}
        self.assertEqual(numbers, {self.number["PhoneNumber"]})

    def test_a_configuration_set_by_name_or_arn(self):
        config = self.sms.create_configuration_set(ConfigurationSetName="otp")
        self.text(ConfigurationSetName="otp")
        self.text(ConfigurationSetName=config["ConfigurationSetArn"])
        self.assertEqual([m["configuration_set"] for m in self.feed()["text_messages"]],
                         ["otp", "otp"])

    def test_the_limits_themselves_are_accepted(self):
        self.voice(MessageBody="a" * 3000)
        ssml = "<speak>" + "a" * (6000 - len("<speak></speak>")) + "</speak>"
        self.voice(MessageBody=ssml, MessageBodyTextType="SSML")
        self.voice(TimeToLive=5)
        self.voice(TimeToLive=259200)
        self.text(MessageBody="a" * 1600)
        self.text(Context={str(i): "v" for i in range(5)})
        self.text(DestinationPhoneNumber="+123456789012345")  # 15 digits, E.164's most
        self.assertEqual(len(self.feed()["voice_messages"]), 4)
        self.assertEqual(len(self.feed()["text_messages"]), 3)

    def test_a_text_message_needs_no_origination_identity_as_the_model_says(self):
        self.text(OriginationIdentity=None)
        [message] = self.feed()["text_messages"]
        self.assertIsNone(message["origination_identity"])

    def test_a_dry_run_is_recorded_as_one(self):
        reply = self.voice(DryRun=True, MessageFeedbackEnabled=True)
        self.assertTrue(self.feed()["voice_messages"][0]["dry_run"])
        self.refused(self.sms.exceptions.ResourceNotFoundException, self.sms.put_message_feedback,
                     MessageId=reply["MessageId"], MessageFeedbackStatus="RECEIVED")


class Feedback(Emulator):
    def test_feedback_for_a_sent_message_is_recorded(self):
        voice = self.voice(MessageFeedbackEnabled=True)["MessageId"]
        text = self.text(MessageFeedbackEnabled=True)["MessageId"]
        reply = self.sms.put_message_feedback(MessageId=voice, MessageFeedbackStatus="RECEIVED")
        self.assertEqual({k: v for k, v in reply.items() if k != "ResponseMetadata"},
                         {"MessageId": voice, "MessageFeedbackStatus": "RECEIVED"})
        self.sms.put_message_feedback(MessageId=text, MessageFeedbackStatus="FAILED")
        feedback = self.feed()["message_feedback"]
        self.assertEqual([(f["message_id"], f["message_feedback_status"]) for f in feedback],
                         [(voice, "RECEIVED"), (text, "FAILED")])
        self.assertRegex(feedback[0]["at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

    def test_an_unknown_message_is_not_found(self):
        reply = self.refused(self.sms.exceptions.ResourceNotFoundException,
                             self.sms.put_message_feedback,
                             MessageId="00000000-0000-4000-8000-000000000000",
                             MessageFeedbackStatus="RECEIVED")
        self.assertEqual(reply["ResourceType"], "message")
        self.assertEqual(reply["ResourceId"], "00000000-0000-4000-8000-000000000000")
        self.assertEqual(self.feed()["message_feedback"], [])

    def test_a_message_sent_without_feedback_enabled_has_no_feedback_record(self):
        message = self.voice()["MessageId"]
        self.refused(self.sms.exceptions.ResourceNotFoundException, self.sms.put_message_feedback,
                     MessageId=message, MessageFeedbackStatus="RECEIVED")

    def test_the_status_and_id_are_validated(self):
        message = self.voice(MessageFeedbackEnabled=True)["MessageId"]
        for params, field, reason in (
            ({"MessageId": message, "MessageFeedbackStatus": "DELIVERED"},
             "MessageFeedbackStatus", "FIELD_VALIDATION_FAILED"),
            ({"MessageId": message}, "MessageFeedbackStatus", "MISSING_PARAMETER"),
            ({"MessageId": "a b", "MessageFeedbackStatus": "RECEIVED"}, "MessageId",
             "FIELD_VALIDATION_FAILED"),
            ({"MessageId": "a" * 65, "MessageFeedbackStatus": "RECEIVED"}, "MessageId",
             "FIELD_VALIDATION_FAILED"),
        ):
            with self.subTest(params=params):
                reply = self.refused(self.loose.exceptions.ValidationException,
                                     self.loose.put_message_feedback, **params)
                self.assertEqual(reply["Reason"], reason)
                self.assertEqual([f["Name"] for f in reply["Fields"]], [field])


class Validation(Emulator):
    def test_required_members(self):
        reply = self.refused(self.loose.exceptions.ValidationException,
                             self.loose.send_voice_message, MessageBody="hello")
        self.assertEqual(reply["Reason"], "MISSING_PARAMETER")
        self.assertEqual(sorted(f["Name"] for f in reply["Fields"]),
                         ["DestinationPhoneNumber", "OriginationIdentity"])
        self.assertTrue(reply["Error"]["Message"].startswith("2 validation errors detected"))
        self.invalid(self.text, "DestinationPhoneNumber", "MISSING_PARAMETER",
                     DestinationPhoneNumber=None)

    def test_the_destination_is_e164(self):
        for destination in ("447911123456", "+0447911123456", "+44 7911 123456", "+44791112345a",
                            "+1234567890123456", "", "+" + "1" * 20):
            with self.subTest(destination=destination):
                self.invalid(self.voice, "DestinationPhoneNumber",
                             reason=("INVALID_PARAMETER" if destination in
                                     ("447911123456", "+1234567890123456")
                                     else "FIELD_VALIDATION_FAILED"),
                             DestinationPhoneNumber=destination)
                self.invalid(self.text, "DestinationPhoneNumber",
                             reason=("INVALID_PARAMETER" if destination in
                                     ("447911123456", "+1234567890123456")
                                     else "FIELD_VALIDATION_FAILED"),
                             DestinationPhoneNumber=destination)
        self.assertEqual(self.feed()["voice_messages"] + self.feed()["text_messages"], [])

    def test_voice_body_lengths(self):
        self.invalid(self.voice, "MessageBody", MessageBody="a" * 3001)
        self.invalid(self.voice, "MessageBody", MessageBody="a" * 3001, MessageBodyTextType="TEXT")
        ssml = "<speak>" + "a" * (6001 - len("<speak></speak>")) + "</speak>"
        self.invalid(self.voice, "MessageBody", MessageBody=ssml, MessageBodyTextType="SSML")
        self.invalid(self.voice, "MessageBody", MessageBody="")
        self.invalid(self.voice, "MessageBody", MessageBody=" \n\t ")

    def test_ssml_must_be_well_formed_with_a_speak_root(self):
        for body in ("<speak>unclosed", "Your code is 123456", "<p>hello</p>",
                     "<speak>a</speak><speak>b</speak>"):
            with self.subTest(body=body):
                self.invalid(self.voice, "MessageBody", reason="INVALID_PARAMETER",
                             MessageBody=body, MessageBodyTextType="SSML")
        # The same bodies are fine as TEXT.
        self.voice(MessageBody="<speak>unclosed", MessageBodyTextType="TEXT")

    def test_text_body_length(self):
        self.invalid(self.text, "MessageBody", MessageBody="a" * 1601)
        self.invalid(self.text, "MessageBody", MessageBody="")
        self.invalid(self.text, "MessageBody", MessageBody="   ")

    def test_enums(self):
        self.invalid(self.voice, "VoiceId", VoiceId="ALEXA")
        self.invalid(self.voice, "VoiceId", VoiceId="amy")
        self.invalid(self.voice, "MessageBodyTextType", MessageBodyTextType="HTML")
        self.invalid(self.text, "MessageType", MessageType="OTP")
        self.invalid(self.text, "DestinationCountryParameters.key",
                     DestinationCountryParameters={"US_ENTITY_ID": "1"})

    def test_time_to_live_range(self):
        for ttl in (4, 0, -1, 259201):
            with self.subTest(ttl=ttl):
                self.invalid(self.voice, "TimeToLive", TimeToLive=ttl)
                self.invalid(self.text, "TimeToLive", TimeToLive=ttl)

    def test_prices_context_keyword_and_ids(self):
        for price in ("1", "100.0", "0.123456", "$1.00", "1.5.0"):
            with self.subTest(price=price):
                self.invalid(self.voice, "MaxPricePerMinute", MaxPricePerMinute=price)
                self.invalid(self.text, "MaxPrice", MaxPrice=price)
        self.invalid(self.voice, "Context", Context={str(i): "v" for i in range(6)})
        self.invalid(self.voice, "Context.key", Context={"a b": "v"})
        self.invalid(self.voice, "Context.key", Context={"k" * 101: "v"})
        self.invalid(self.voice, "Context.k", Context={"k": " leading"})
        self.invalid(self.voice, "Context.k", Context={"k": "v" * 801})
        self.invalid(self.text, "Keyword", Keyword="k" * 31)
        self.invalid(self.voice, "OriginationIdentity", OriginationIdentity="has space")
        self.invalid(self.voice, "OriginationIdentity", OriginationIdentity="a" * 257)
        self.invalid(self.voice, "ConfigurationSetName", ConfigurationSetName="has+plus")
        self.invalid(self.text, "ProtectConfigurationId", ProtectConfigurationId="")

    def test_several_problems_are_reported_together(self):
        reply = self.invalid(self.voice, "TimeToLive", TimeToLive=1, VoiceId="NOBODY")
        self.assertEqual(sorted(f["Name"] for f in reply["Fields"]), ["TimeToLive", "VoiceId"])

    def test_a_member_of_the_wrong_type_is_a_serialization_error(self):
        status, headers, body = raw(self.endpoint, json.dumps({
            "DestinationPhoneNumber": DESTINATION, "MessageBody": "x", "TimeToLive": "300",
        }).encode())
        self.assertEqual((status, body["__type"]),
                         (400, "com.amazon.coral.service#SerializationException"))

    def test_the_model_still_has_the_limits_these_tests_assume(self):
        model = botocore.session.get_session().get_service_model(SERVICE)
        voice = model.operation_model("SendVoiceMessage").input_shape.members
        text = model.operation_model("SendTextMessage").input_shape.members
        self.assertEqual(voice["MessageBody"].metadata["max"], 6000)
        self.assertEqual(text["MessageBody"].metadata["max"], 1600)
        self.assertEqual((voice["TimeToLive"].metadata["min"], voice["TimeToLive"].metadata["max"]),
                         (5, 259200))
        self.assertEqual(voice["DestinationPhoneNumber"].metadata["pattern"],
                         r"\+?[1-9][0-9]{1,18}")
        self.assertEqual(voice["Context"].metadata["max"], 5)


class Resources(Emulator):
    def test_an_unknown_origination_identity_is_not_found(self):
        other_region = self.number["PhoneNumberArn"].replace(REGION, "eu-west-1")
        for identity, resource_type in (
            ("+12065559999", "phone-number"),
            ("phone-00000000000000000000000000000000", "phone-number"),
            (other_region, "phone-number"),
            ("pool-00000000000000000000000000000000", "pool"),
            ("arn:aws:sms-voice:us-east-1:123456789012:pool/pool-0", "pool"),
            ("OTPCODE", "sender-id"),
        ):
            with self.subTest(identity=identity):
                for send in (self.voice, self.text):
                    reply = self.refused(self.sms.exceptions.ResourceNotFoundException, send,
                                         OriginationIdentity=identity)
                    self.assertEqual((reply["ResourceType"], reply["ResourceId"]),
                                     (resource_type, identity))
        self.assertEqual(self.feed()["voice_messages"] + self.feed()["text_messages"], [])

    def test_an_unknown_configuration_set_is_not_found(self):
        self.sms.create_configuration_set(ConfigurationSetName="otp")
        for name in ("other", "arn:aws:sms-voice:us-east-1:123456789012:configuration-set/other",
                     "arn:aws:sms-voice:eu-west-1:123456789012:configuration-set/otp"):
            with self.subTest(name=name):
                reply = self.refused(self.sms.exceptions.ResourceNotFoundException, self.voice,
                                     ConfigurationSetName=name)
                self.assertEqual((reply["ResourceType"], reply["ResourceId"]),
                                 ("configuration-set", name))

    def test_a_protect_configuration_is_not_found(self):
        reply = self.refused(self.sms.exceptions.ResourceNotFoundException, self.text,
                             ProtectConfigurationId="protect-0")
        self.assertEqual(reply["ResourceType"], "protect-configuration")

    def test_a_voice_message_needs_a_number_with_voice(self):
        sms_only = self.sms.request_phone_number(
            IsoCountryCode="GB", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"],
            NumberType="LONG_CODE")
        reply = self.invalid(self.voice, "OriginationIdentity", "VOICE_CAPABILITY_NOT_AVAILABLE",
                             OriginationIdentity=sms_only["PhoneNumberId"])
        self.assertIn("VOICE", reply["Error"]["Message"])
        self.text(OriginationIdentity=sms_only["PhoneNumberId"])
        voice_only = self.sms.request_phone_number(
            IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["VOICE"],
            NumberType="TOLL_FREE")
        self.invalid(self.text, "OriginationIdentity", "CHANNEL_NOT_ENABLED",
                     OriginationIdentity=voice_only["PhoneNumber"])

    def test_request_phone_number_and_describe(self):
        reply = {k: v for k, v in self.number.items() if k != "ResponseMetadata"}
        self.assertRegex(reply.pop("PhoneNumberId"), r"^phone-[0-9a-f]{32}$")
        self.assertRegex(
            reply.pop("PhoneNumberArn"),
            r"^arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-[0-9a-f]{32}$")
        self.assertRegex(reply.pop("PhoneNumber"), r"^\+1[2-9]\d{9}$")
        reply.pop("CreatedTimestamp")
        self.assertEqual(reply, {
            "Status": "ACTIVE", "IsoCountryCode": "US", "MessageType": "TRANSACTIONAL",
            "NumberCapabilities": ["SMS", "VOICE"], "NumberType": "SIMULATOR",
            "MonthlyLeasingPrice": "0.00", "TwoWayEnabled": False,
            "SelfManagedOptOutsEnabled": False, "OptOutListName": "Default",
            "InternationalSendingEnabled": False, "DeletionProtectionEnabled": False, "Tags": [],
        })
        second = self.sms.request_phone_number(
            IsoCountryCode="GB", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"],
            NumberType="LONG_CODE")
        self.assertTrue(second["PhoneNumber"].startswith("+44"))
        self.assertNotEqual(second["PhoneNumber"], self.number["PhoneNumber"])
        described = self.sms.describe_phone_numbers()["PhoneNumbers"]
        self.assertEqual([n["PhoneNumberId"] for n in described],
                         [self.number["PhoneNumberId"], second["PhoneNumberId"]])
        voice = self.sms.describe_phone_numbers(
            Filters=[{"Name": "number-capability", "Values": ["VOICE"]}])["PhoneNumbers"]
        self.assertEqual([n["PhoneNumber"] for n in voice], [self.number["PhoneNumber"]])
        by_arn = self.sms.describe_phone_numbers(PhoneNumberIds=[second["PhoneNumberArn"]])
        self.assertEqual(by_arn["PhoneNumbers"][0]["PhoneNumber"], second["PhoneNumber"])
        page = self.sms.describe_phone_numbers(MaxResults=1)
        rest = self.sms.describe_phone_numbers(MaxResults=1, NextToken=page["NextToken"])
        self.assertEqual(rest["PhoneNumbers"][0]["PhoneNumberId"], second["PhoneNumberId"])
        self.assertNotIn("NextToken", rest)
        self.refused(self.sms.exceptions.ResourceNotFoundException,
                     self.sms.describe_phone_numbers, PhoneNumberIds=["phone-0"])
        self.assertEqual(len(self.feed()["phone_numbers"]), 2)

    def test_request_phone_number_validation(self):
        for params, field in (
            ({"IsoCountryCode": "usa"}, "IsoCountryCode"),
            ({"NumberCapabilities": []}, "NumberCapabilities"),
            ({"NumberCapabilities": ["FAX"]}, "NumberCapabilities.1.member"),
            ({"NumberType": "SHORT_CODE"}, "NumberType"),
            ({"MessageType": None}, "MessageType"),
        ):
            with self.subTest(params=params):
                request = {"IsoCountryCode": "US", "MessageType": "TRANSACTIONAL",
                           "NumberCapabilities": ["SMS"], "NumberType": "LONG_CODE", **params}
                reply = self.refused(self.loose.exceptions.ValidationException,
                                     self.loose.request_phone_number,
                                     **{k: v for k, v in request.items() if v is not None})
                self.assertIn(field, [f["Name"] for f in reply["Fields"]])
        self.refused(self.sms.exceptions.ResourceNotFoundException, self.sms.request_phone_number,
                     IsoCountryCode="US", MessageType="TRANSACTIONAL", NumberCapabilities=["SMS"],
                     NumberType="LONG_CODE", OptOutListName="mine")

    def test_configuration_sets(self):
        reply = self.sms.create_configuration_set(ConfigurationSetName="otp_1-a",
                                                  Tags=[{"Key": "k", "Value": "v"}])
        self.assertEqual(reply["ConfigurationSetArn"],
                         "arn:aws:sms-voice:us-east-1:123456789012:configuration-set/otp_1-a")
        self.assertEqual(reply["Tags"], [{"Key": "k", "Value": "v"}])
        conflict = self.refused(self.sms.exceptions.ConflictException,
                                self.sms.create_configuration_set, ConfigurationSetName="otp_1-a")
        self.assertEqual(conflict["Reason"], "RESOURCE_ALREADY_EXISTS")
        for name in ("has space", "a" * 65, "arn:aws:x"):
            with self.subTest(name=name):
                self.refused(self.loose.exceptions.ValidationException,
                             self.loose.create_configuration_set, ConfigurationSetName=name)
        [config] = self.feed()["configuration_sets"]
        self.assertEqual(config["ConfigurationSetName"], "otp_1-a")
        # The same client token answers the same configuration set again.
        first = self.sms.create_configuration_set(ConfigurationSetName="t", ClientToken="tok")
        again = self.sms.create_configuration_set(ConfigurationSetName="t", ClientToken="tok")
        self.assertEqual(first["ConfigurationSetArn"], again["ConfigurationSetArn"])


class WireAndFeed(Emulator):
    def test_errors_are_aws_json_1_0(self):
        status, headers, body = raw(self.endpoint, json.dumps({"MessageBody": "x"}).encode())
        self.assertEqual(status, 400)
        self.assertEqual(headers["Content-Type"], "application/x-amz-json-1.0")
        self.assertEqual(headers["x-amzn-ErrorType"].split(":")[0], "ValidationException")
        self.assertEqual(body["__type"], "com.amazonaws.pinpointsmsvoicev2#ValidationException")
        self.assertEqual(body["Reason"], "MISSING_PARAMETER")
        self.assertEqual(body["Fields"][0]["Name"], "DestinationPhoneNumber")
        self.assertTrue(body["Message"])
        self.assertTrue(headers["x-amzn-RequestId"])

    def test_an_unknown_operation(self):
        status, headers, body = raw(self.endpoint, b"{}", target="PinpointSMSVoiceV2.DeletePool")
        self.assertEqual((status, body["__type"]),
                         (400, "com.amazon.coral.service#UnknownOperationException"))
        self.assertEqual(headers["x-amzn-ErrorType"].split(":")[0], "UnknownOperationException")
        # boto3 sees the code too, for an operation the fake does not implement.
        with self.assertRaises(self.sms.exceptions.ClientError) as caught:
            self.sms.describe_pools()
        self.assertEqual(caught.exception.response["Error"]["Code"], "UnknownOperationException")

    def test_a_body_that_is_not_a_json_object(self):
        for body in (b"", b"not json", b"[1]", b'"x"', b"\xff"):
            with self.subTest(body=body):
                status, _, reply = raw(self.endpoint, body)
                self.assertEqual((status, reply["__type"]),
                                 (400, "com.amazon.coral.service#SerializationException"))

    def test_a_successful_reply_has_exactly_the_output_members(self):
        message = self.voice(MessageFeedbackEnabled=True)["MessageId"]
        status, headers, body = raw(
            self.endpoint,
            json.dumps({"MessageId": message, "MessageFeedbackStatus": "FAILED"}).encode(),
            target="PinpointSMSVoiceV2.PutMessageFeedback")
        self.assertEqual((status, headers["Content-Type"]), (200, "application/x-amz-json-1.0"))
        self.assertEqual(body, {"MessageId": message, "MessageFeedbackStatus": "FAILED"})
        status, _, body = raw(self.endpoint, json.dumps({
            "DestinationPhoneNumber": DESTINATION, "MessageBody": "x",
            "OriginationIdentity": self.number["PhoneNumberId"],
        }).encode())
        self.assertEqual((status, list(body)), (200, ["MessageId"]))

    def test_reset_clears_the_feed(self):
        self.sms.create_configuration_set(ConfigurationSetName="otp")
        message = self.voice(MessageFeedbackEnabled=True)["MessageId"]
        self.text()
        self.sms.put_message_feedback(MessageId=message, MessageFeedbackStatus="RECEIVED")
        self.assertTrue(all(self.feed().values()))
        urllib.request.urlopen(
            urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST"), timeout=10)
        self.assertEqual(self.feed(), {"voice_messages": [], "text_messages": [],
                                       "message_feedback": [], "phone_numbers": [],
                                       "configuration_sets": []})
        self.refused(self.sms.exceptions.ResourceNotFoundException, self.voice)
        self.refused(self.sms.exceptions.ResourceNotFoundException,
                     self.sms.put_message_feedback, MessageId=message,
                     MessageFeedbackStatus="RECEIVED")
        # A GET does not reset (moto's own rule).
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{self.endpoint}/moto-api/reset", timeout=10)

    def test_sns_still_works_beside_it(self):
        sns = client(self.endpoint, "sns")
        published = sns.publish(PhoneNumber="+447911123457", Message="Your code is 654321")
        self.voice()
        everything = data(self.endpoint)
        [sms] = everything["sns"]["SMS"]
        self.assertEqual((sms["message_id"], sms["phone_number"], sms["message"]),
                         (published["MessageId"], "+447911123457", "Your code is 654321"))
        self.assertEqual(len(everything[SERVICE]["voice_messages"]), 1)

    def test_regions_are_separate(self):
        eu = boto3.client(SERVICE, endpoint_url=self.endpoint, region_name="eu-west-1",
                          **CREDENTIALS)
        self.refused(eu.exceptions.ResourceNotFoundException, eu.send_voice_message,
                     DestinationPhoneNumber=DESTINATION,
                     OriginationIdentity=self.number["PhoneNumber"], MessageBody="x")
        number = eu.request_phone_number(IsoCountryCode="IE", MessageType="TRANSACTIONAL",
                                         NumberCapabilities=["VOICE"], NumberType="LONG_CODE")
        self.assertIn(":eu-west-1:", number["PhoneNumberArn"])
        eu.send_voice_message(DestinationPhoneNumber=DESTINATION,
                              OriginationIdentity=number["PhoneNumberArn"], MessageBody="x")
        self.assertEqual(self.feed()["voice_messages"][0]["region"], "eu-west-1")


class SoakComposition(unittest.TestCase):
    """bench/soak/emulator.py loads tests/emulator.py by its path and wraps the app with its own
    layer: both layers answer."""

    def test_the_soak_emulator_serves_the_fake_and_its_own_feed(self):
        process, endpoint = start(os.path.join(ROOT, "bench", "soak", "emulator.py"))
        try:
            with urllib.request.urlopen(f"{endpoint}/_soak/messages", timeout=10) as response:
                self.assertEqual(json.load(response), [])
            sms = client(endpoint)
            number = sms.request_phone_number(IsoCountryCode="US", MessageType="TRANSACTIONAL",
                                              NumberCapabilities=["VOICE"], NumberType="SIMULATOR")
            sms.send_voice_message(DestinationPhoneNumber=DESTINATION, MessageBody="x",
                                   OriginationIdentity=number["PhoneNumber"])
            self.assertEqual(len(data(endpoint)[SERVICE]["voice_messages"]), 1)
        finally:
            emulator_process.stop(process)


if __name__ == "__main__":
    unittest.main()

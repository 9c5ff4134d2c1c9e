#!/usr/bin/env python3
"""The soak's traffic driver (bench/soak/run.sh runs it in the project's .venv).

  setup EMULATOR            make example.com a verified SES identity (otp-local emails from it)
  port                      print a free TCP port on 127.0.0.1
  wait URL SECONDS PID      wait until the process PID answers GET URL
  run URL EMULATOR PID EMULATOR_PID SECONDS WORKERS WARMUP SAMPLE LOG OUT
                            WORKERS threads drive a weighted mix of requests at otp-local (URL, process
                            PID) for SECONDS; the codes come from the emulator's GET /_soak/messages
                            (bench/soak/emulator.py). Writes OUT/report.json and OUT/report.md; exits
                            1 if any check failed.

Each worker owns its destinations and users, keeps a model of what each should answer, and checks
every reply's status against it: a right code approved, a wrong one incorrect, a replaced one
expired, a replay consumed, an unknown id not found, a resend inside the cooldown refused, malformed
bodies 400 (or 415), a server route without the key 401. Any other status, any 5xx and any transport
error fail the soak.

The front end's calls go to the public routes (/v1/otp/send, /v1/otp/verify, an authenticator code
against a challenge); the app's backend's to the server routes (/v1/server/…: enrolment, challenges,
sends with a reference, verifies by user id) with `Authorization: Bearer <server key>`: the key from
OTP_LOCAL_SERVER_KEY when it is set (otp-local reads the same variable), else the one otp-local
generated and wrote to its log (LOG).
"""

import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import re
import struct
import sys
import threading
import time
import urllib.request
import uuid
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from procs import free_port, wait  # noqa: E402

# otp-local's settings for the soak (run.sh passes them); the driver's model needs the cooldown.
RESEND_COOLDOWN_S = float(os.environ.get("OTP_RESEND_COOLDOWN_SECONDS", "30"))
MAX_ATTEMPTS = int(os.environ.get("OTP_MAX_ATTEMPTS", "5"))
TOTP_MAX_FAILURES = int(os.environ.get("OTP_TOTP_MAX_FAILURES", "10"))
# Codes are verified well inside their default 300 s life, and pending enrolments inside their
# 15 minutes, so that runs longer than those stay predictable; older ones are left alone.
CODE_USABLE_S = 240
PENDING_ENROLMENT_USABLE_S = 600

# RSS may end at most this far above its value after the warm-up. Why 1 MiB: before the outbox kept
# a bounded number of messages, a 300 s soak grew 1.7-2.2 MiB (about 330 bytes per send, linearly);
# since, 300 s soaks grow 0.3-0.55 MiB and 45 s ones 0.05-0.25 MiB. What still grows is the lazy DFA
# caches of the phone-number parser's regexes (the phonenumber crate's), which fill as new numbers are
# parsed: bounded by the regex crate's cache capacity, they levelled off near +4.5 MB after 200,000
# distinct UK and 200,000 German numbers on one thread, so a much longer soak needs a larger limit
# (a 900 s one grew 1.04 MiB). A leak of a few hundred bytes per request fails a 300 s run; a short
# run (~1,500 requests) catches only gross ones.
RSS_GROWTH_LIMIT_KIB = int(os.environ.get("SOAK_RSS_GROWTH_LIMIT_KIB", str(1024)))

# Relative weights of the actions a worker picks from; one it cannot do now (no code arrived yet,
# no active user…) becomes a new send.
WEIGHTS = {
    "send_sms": 12,
    "send_email": 12,
    "send_server": 4,
    "resend": 5,
    "resend_too_soon": 1,
    "send_idempotent": 2,
    "verify_right": 22,
    "verify_wrong": 7,
    "verify_replaced": 2,
    "verify_unknown": 4,
    "totp_enroll": 4,
    "totp_enroll_active": 1,
    "totp_verify": 8,
    "totp_wrong": 2,
    "totp_recovery": 1,
    "totp_status": 2,
    "totp_delete": 1,
    "totp_verify_removed": 1,
    "malformed": 3,
    "unauthorized": 1,
    "jwks": 1,
}

# Bodies every one of which must be refused as a client error, never a 5xx (a server route's with
# the server key). None as the media type: no Content-Type header.
MALFORMED = [
    ("POST", "/v1/otp/send", b'{"channel":"fax","to":"+447400000001"}', "application/json", 400),
    ("POST", "/v1/otp/send", b'{"channel":"sms","to":', "application/json", 400),
    ("POST", "/v1/otp/send", b'{"channel":"sms","to":"+44 12"}', "application/json", 400),
    # A server-only field on the public send.
    ("POST", "/v1/otp/send", b'{"channel":"email","to":"soak@example.com","length":8}',
     "application/json", 400),
    ("POST", "/v1/otp/send", b'{"channel":"email","to":"soak@example.com","profile":"nope"}',
     "application/json", 400),
    ("POST", "/v1/otp/send", b'channel=sms&to=%2B447400000001', "text/plain", 415),
    ("POST", "/v1/otp/send", b'{"channel":"sms","to":"+447400000001"}', None, 415),
    ("POST", "/v1/server/otp/send", b'{"channel":"email","to":"soak@example.com","length":99}',
     "application/json", 400),
    ("POST", "/v1/otp/verify", b'{"id":"not-an-id","code":"123456"}', "application/json", 400),
    ("POST", "/v1/otp/verify", b'[1,2,3]', "application/json", 400),
    # The public verify takes no user id, whoever the user.
    ("POST", "/v1/otp/verify", b'{"user_id":"soak-user","code":"123456"}', "application/json", 400),
    ("POST", "/v1/otp/verify", b'{"challenge_id":"not-one-of-ours","code":"123456"}',
     "application/json", 400),
    ("POST", "/v1/server/otp/verify", b'{"user_id":"soak-user","code":"12345a!"}',
     "application/json", 400),
    ("POST", "/v1/server/totp/enroll", b'{"user_id":"..","issuer":"Soak","account":"a"}',
     "application/json", 400),
    ("POST", "/v1/server/totp/enroll", b'{"user_id":"u","issuer":"So:ak","account":"a"}',
     "application/json", 400),
    ("POST", "/v1/server/totp/challenge", b'{"user_id":".."}', "application/json", 400),
]

SERVER_PREFIX = "/v1/server/"
ENROLLMENT_PREFIX = "/v1/server/totp/enroll/"
ROUTES = {
    "/v1/otp/send": "POST /v1/otp/send",
    "/v1/otp/verify": "POST /v1/otp/verify",
    "/v1/server/otp/send": "POST /v1/server/otp/send",
    "/v1/server/otp/verify": "POST /v1/server/otp/verify",
    "/v1/server/totp/enroll": "POST /v1/server/totp/enroll",
    "/v1/server/totp/challenge": "POST /v1/server/totp/challenge",
    "/.well-known/jwks.json": "GET /.well-known/jwks.json",
}


def route_of(method, path):
    if path.startswith(ENROLLMENT_PREFIX):
        return f"{method} {ENROLLMENT_PREFIX}{{user_id}}"
    return ROUTES.get(path, f"{method} {path}")


SERVER_KEY_LINE = re.compile(r"the server key for /v1/server/ routes is (\S+)")


def server_key(log):
    """The key the server routes take: OTP_LOCAL_SERVER_KEY, as otp-local reads it, or the one
    otp-local generated and announced in its log when that is not set."""
    key = os.environ.get("OTP_LOCAL_SERVER_KEY", "").strip()
    if key:
        return key
    text = Path(log).read_text(errors="replace") if Path(log).exists() else ""
    found = SERVER_KEY_LINE.search(re.sub(r"\x1b\[[0-9;]*m", "", text))
    if not found:
        raise SystemExit("no server key: set OTP_LOCAL_SERVER_KEY for otp-local and the driver, "
                         f"or let otp-local announce the one it generates in {log}")
    return found.group(1)


# --- small helpers -----------------------------------------------------------------------------------

def setup(emulator):
    import boto3  # in the .venv, with moto

    boto3.client(
        "sesv2", endpoint_url=emulator, region_name=os.environ.get("AWS_REGION", "us-east-1"),
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ).create_email_identity(EmailIdentity="example.com")


def totp(secret, step, digits=6, algorithm="SHA1"):
    """RFC 6238: HOTP (RFC 4226) of the time step, with the enrolment's hash and digits."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), getattr(hashlib, algorithm.lower())).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- the codes, as the emulator "sent" them ---------------------------------------------------------

SMS_CODE = re.compile(r"^(\d{6})\b")
EMAIL_CODE = re.compile(r"monospace\">([^<]+)</p>")


class Mailbox:
    """Polls the emulator for new SMS and emails; keeps each destination's codes in order."""

    def __init__(self, emulator, counters):
        self.url = f"{emulator}/_soak/messages"
        self.codes = defaultdict(list)
        self.last_seen = {}  # destination → when its last code arrived (set with each code)
        self.lock = threading.Lock()
        self.counters = counters
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.poll, daemon=True)

    def poll(self):
        while not self.stop.is_set():
            self.fetch()
            self.stop.wait(0.2)

    def fetch(self):
        try:
            with urllib.request.urlopen(self.url, timeout=10) as reply:
                messages = json.load(reply)
        except OSError as error:
            self.counters.problem("mailbox", f"the emulator's message feed failed: {error}")
            return
        with self.lock:
            for message in messages:
                found = SMS_CODE.search(message["text"]) or EMAIL_CODE.search(message["text"])
                if not found:
                    self.counters.problem("mailbox", "a message without a code")
                    continue
                code, now = found.group(1), time.monotonic()
                codes = self.codes[message["to"]]
                # An SDK retry of a Publish or SendEmail whose reply came late delivers the same
                # message again within its 5 s; the destination's next code waits for the cooldown.
                if (codes and codes[-1] == code
                        and now - self.last_seen[message["to"]] < RESEND_COOLDOWN_S):
                    continue
                self.last_seen[message["to"]] = now
                codes.append(code)

    def code(self, destination, index):
        with self.lock:
            codes = self.codes.get(destination, ())
            return codes[index] if index < len(codes) else None

    def count(self, destination):
        with self.lock:
            return len(self.codes.get(destination, ()))

    def forget(self, destination):
        with self.lock:
            self.codes.pop(destination, None)
            self.last_seen.pop(destination, None)


# --- what was seen ------------------------------------------------------------------------------------

class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.latencies = defaultdict(list)  # route → seconds
        self.statuses = defaultdict(Counter)  # route → status → n
        self.actions = defaultdict(Counter)  # action → status → n
        self.unexpected = Counter()  # (action, status, expected) → n
        self.examples = []  # the first few unexpected replies, without codes or addresses
        self.problems = Counter()  # kind → n (transport errors, mailbox trouble)
        self.problem_examples = []
        self.requests = 0

    def record(self, action, route, status, seconds):
        with self.lock:
            self.requests += 1
            self.latencies[route].append(seconds)
            self.statuses[route][status] += 1
            self.actions[action][status] += 1

    def wrong(self, action, status, expected, reply):
        with self.lock:
            self.unexpected[(action, status, expected)] += 1
            if len(self.examples) < 20:
                shown = {k: reply.get(k) for k in ("status", "type", "title", "detail", "field")
                         if isinstance(reply, dict) and k in reply}
                self.examples.append({"action": action, "status": status, "expected": expected,
                                      "reply": shown})

    def problem(self, kind, detail):
        with self.lock:
            self.problems[kind] += 1
            if len(self.problem_examples) < 20:
                self.problem_examples.append({"kind": kind, "detail": detail})


# --- one worker ---------------------------------------------------------------------------------------

class Worker(threading.Thread):
    def __init__(self, number, url, mailbox, counters, deadline, key):
        super().__init__(daemon=True)
        self.number = number
        self.key = key
        self.host, self.port = url.split("//", 1)[1].rsplit(":", 1)
        self.mailbox = mailbox
        self.counters = counters
        self.deadline = deadline
        self.random = random.Random(number)
        self.connection = None
        self.sent = 0
        self.destinations = {}  # to → {"sends", "last_started", "last_answered", "challenges"}
        self.pending = []  # challenges whose code may be verified: {"id", "to", "index", "wrong", "sent",
        #                    "server": sent by the backend, so verified on the server route}
        self.replaced = []  # ids a newer send replaced: verify answers expired
        self.users = []  # {"id", "secret", "digits", "algorithm", "period", "enrolled", "active",
        #                    "last_step", "failures", "recovery"}
        self.removed = []  # user ids whose enrolment was deleted
        self.actions = list(WEIGHTS)
        self.weights = [WEIGHTS[a] for a in self.actions]

    # HTTP ---------------------------------------------------------------------------------------------

    def call(self, action, method, path, body=None, expected=(200,), content_type="application/json",
             headers=None, key=True):
        """One request on this worker's keep-alive connection; checks the status against `expected`.
        A server route gets the server key unless `key` is false."""
        raw = body if isinstance(body, (bytes, type(None))) else json.dumps(body).encode()
        sent_headers = {"Content-Type": content_type} if raw is not None and content_type else {}
        if key and path.startswith(SERVER_PREFIX):
            sent_headers["Authorization"] = f"Bearer {self.key}"
        sent_headers.update(headers or {})
        route = route_of(method, path)
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, int(self.port), timeout=30)
        started = time.perf_counter()
        try:
            self.connection.request(method, path, body=raw, headers=sent_headers)
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()
            self.connection = None
            self.counters.problem("transport", f"{action}: {type(error).__name__}: {error}")
            time.sleep(0.1)  # a server that is gone refuses at once: do not spin
            return None, {}, {}
        elapsed = time.perf_counter() - started
        status = response.status
        self.counters.record(action, route, status, elapsed)
        try:
            reply = json.loads(data) if data else {}
        except ValueError:
            reply = {}
        if status not in expected:
            self.counters.wrong(action, status, "/".join(map(str, expected)), reply)
        return status, reply, response.headers

    # sent codes ----------------------------------------------------------------------------------------

    def new_destination(self, channel):
        self.sent += 1
        if channel == "email":
            return f"soak-{self.number}-{self.sent}@example.com"
        # UK and German mobile ranges, so two countries' SMS counters move.
        if self.sent % 2:
            return f"+4474{self.number:02d}{self.sent:06d}"
        return f"+49151{self.number:02d}{self.sent:06d}"

    def send(self, action, to, expected=(202,), headers=None, locale=None, server=False):
        """A send as the front end asks for it, or (`server`) as the backend does: with a reference
        and a shorter lifetime, which only it may set."""
        channel = "email" if "@" in to else "sms"
        locale = locale or self.random.choice(["en", "es", "fr", "de", "pt", "fr-CA"])
        body = {"channel": channel, "to": to, "purpose": "login", "locale": locale}
        path = "/v1/otp/send"
        if server:
            body.update(reference=f"soak-{self.number}-{self.sent}", ttl_seconds=CODE_USABLE_S + 30)
            path = "/v1/server/otp/send"
        started = time.monotonic()
        status, reply, response_headers = self.call(
            action, "POST", path, body, expected=expected, headers=headers)
        answered = time.monotonic()
        if status != 202:
            return status, reply, response_headers
        dest = self.destinations.setdefault(to, {"sends": 0, "challenges": []})
        if response_headers.get("idempotent-replayed") == "true":
            return status, reply, response_headers
        for earlier in dest["challenges"]:
            self.pending = [c for c in self.pending if c["id"] != earlier]
            self.replaced.append(earlier)
        if server and reply.get("reference") != body["reference"]:
            self.counters.wrong(action, status, "the reference echoed", reply)
        challenge = {"id": reply["id"], "to": to, "index": dest["sends"], "wrong": 0,
                     "sent": answered, "server": server}
        dest["sends"] += 1
        dest["last_started"], dest["last_answered"] = started, answered
        dest["challenges"] = [reply["id"]]
        self.pending.append(challenge)
        return status, reply, response_headers

    def send_new(self, channel):
        self.send(f"send_{channel}", self.new_destination(channel))

    def send_server(self):
        self.send("send_server", self.new_destination(self.random.choice(["sms", "email"])),
                  server=True)
        return True

    def resend(self):
        # A destination whose cooldown has surely passed (0.5 s spare for the clocks' rounding).
        now = time.monotonic()
        ready = [to for to, d in self.destinations.items()
                 if d["sends"] < 3 and now - d["last_answered"] >= RESEND_COOLDOWN_S + 0.5]
        if not ready:
            return False
        self.send("resend", self.random.choice(ready))
        return True

    def resend_too_soon(self):
        # Inside the cooldown with 2 s to spare for the request's own time.
        now = time.monotonic()
        soon = [to for to, d in self.destinations.items()
                if d["sends"] and now - d["last_started"] < RESEND_COOLDOWN_S - 2]
        if not soon:
            return False
        status, reply, _ = self.send("resend_too_soon", self.random.choice(soon), expected=(429,))
        if status == 429 and not reply.get("type", "").endswith(":resend-cooldown"):
            self.counters.wrong("resend_too_soon", status, "resend-cooldown", reply)
        return True

    def send_idempotent(self):
        to = self.new_destination(self.random.choice(["sms", "email"]))
        key = {"Idempotency-Key": str(uuid.uuid4())}
        status, first, _ = self.send("send_idempotent", to, headers=key, locale="en")
        if status != 202:
            return True
        # The same request again, as a client retries one whose reply it lost.
        status, again, headers = self.send("send_idempotent_retry", to, headers=key, locale="en")
        if status == 202 and (again.get("id") != first.get("id")
                              or headers.get("idempotent-replayed") != "true"):
            self.counters.wrong("send_idempotent_retry", status, "the first reply, replayed", again)
        return True

    def with_code(self):
        fresh = time.monotonic() - CODE_USABLE_S
        self.pending = [c for c in self.pending if c["sent"] > fresh]
        arrived = [c for c in self.pending if self.mailbox.code(c["to"], c["index"]) is not None]
        return self.random.choice(arrived) if arrived else None

    def verify_right(self):
        challenge = self.with_code()
        if challenge is None:
            return False
        code = self.mailbox.code(challenge["to"], challenge["index"])
        # A code the backend sent, its backend verifies (the server route takes every public form).
        path = "/v1/server/otp/verify" if challenge["server"] else "/v1/otp/verify"
        status, reply, _ = self.call("verify_right", "POST", path,
                                     {"id": challenge["id"], "code": code}, expected=(200,))
        if status == 200 and (reply.get("status") != "approved" or not reply.get("token")):
            self.counters.wrong("verify_right", status, "approved with a token", reply)
        if status == 200 and challenge["server"] and not reply.get("reference"):
            self.counters.wrong("verify_right", status, "the send's reference", reply)
        self.pending.remove(challenge)
        dest = self.destinations[challenge["to"]]
        # Approved, it is consumed: a resend no longer replaces it.
        dest["challenges"].remove(challenge["id"])
        if self.random.random() < 0.25:
            self.call("verify_consumed", "POST", "/v1/otp/verify",
                      {"id": challenge["id"], "code": code}, expected=(409,))
        if dest["sends"] >= 3:
            # Done with it: its codes need not be kept.
            del self.destinations[challenge["to"]]
            self.mailbox.forget(challenge["to"])
        return True

    def verify_wrong(self):
        challenge = self.with_code()
        if challenge is None or challenge["wrong"] >= min(2, MAX_ATTEMPTS - 1):
            return False
        code = self.mailbox.code(challenge["to"], challenge["index"])
        wrong = code
        while wrong == code:
            wrong = f"{self.random.randrange(10**6):06d}"
        status, reply, _ = self.call("verify_wrong", "POST", "/v1/otp/verify",
                                     {"id": challenge["id"], "code": wrong}, expected=(422,))
        challenge["wrong"] += 1
        if status == 422 and reply.get("status") != "incorrect":
            self.counters.wrong("verify_wrong", status, "incorrect", reply)
        return True

    def verify_replaced(self):
        if not self.replaced:
            return False
        challenge = self.replaced.pop(self.random.randrange(len(self.replaced)))
        self.call("verify_replaced", "POST", "/v1/otp/verify",
                  {"id": challenge, "code": f"{self.random.randrange(10**6):06d}"}, expected=(410,))
        return True

    def verify_unknown(self):
        unknown = base64.b32encode(os.urandom(20)).decode().lower()
        self.call("verify_unknown", "POST", "/v1/otp/verify",
                  {"id": unknown, "code": f"{self.random.randrange(10**6):06d}"}, expected=(404,))
        return True

    # authenticator apps -------------------------------------------------------------------------------

    def totp_enroll(self, replace_active=False):
        if replace_active:
            active = [u for u in self.users if u["active"]]
            if not active:
                return False
            user = self.random.choice(active)
            self.call("totp_enroll_active", "POST", "/v1/server/totp/enroll",
                      {"user_id": user["id"], "issuer": "Soak", "account": "someone"},
                      expected=(409,))
            return True
        self.sent += 1
        user_id = f"soak-{self.number}-{self.sent}"
        strong = self.random.random() < 0.25
        body = {"user_id": user_id, "issuer": "Soak", "account": f"user {self.sent}"}
        if strong:
            body.update(digits=8, algorithm="SHA256")
        status, reply, _ = self.call("totp_enroll", "POST", "/v1/server/totp/enroll", body,
                                     expected=(201,))
        if status == 201:
            self.users.append({
                "id": user_id, "secret": reply["secret"], "digits": reply["digits"],
                "algorithm": reply["algorithm"], "period": reply["period"],
                "enrolled": time.monotonic(), "active": False,
                "last_step": -1, "failures": 0, "recovery": list(reply["recovery_codes"]),
            })
        return True

    def live_users(self):
        """Users whose enrolment is active, or pending and far from lapsing."""
        fresh = time.monotonic() - PENDING_ENROLMENT_USABLE_S
        self.users = [u for u in self.users if u["active"] or u["enrolled"] > fresh]
        return self.users

    def window(self, user):
        """The step now and the codes of the steps the server accepts around it."""
        step = int(time.time()) // user["period"]
        codes = {s: totp(user["secret"], s, user["digits"], user["algorithm"])
                 for s in (step - 1, step, step + 1)}
        return step, codes

    def totp_verify(self):
        users = [u for u in self.live_users() if int(time.time()) // u["period"] > u["last_step"]]
        if not users:
            return False
        user = self.random.choice(users)
        step, codes = self.window(user)
        # If a neighbouring step's code is the same, the server may match that step instead: skip.
        if list(codes.values()).count(codes[step]) > 1:
            return False
        # Mostly as a front end does it: the backend asks for a challenge, the browser sends it with
        # the code; now and then the backend verifies the code by user id itself.
        body = self.challenged(user, "totp_challenge")
        if body is None:
            return True
        body["code"] = codes[step]
        path = "/v1/server/otp/verify" if "user_id" in body else "/v1/otp/verify"
        status, reply, _ = self.call("totp_verify", "POST", path, body, expected=(200,))
        if status == 200:
            if reply.get("status") != "approved" or reply.get("activated") == user["active"]:
                self.counters.wrong("totp_verify", status, "approved, activated when pending", reply)
            user.update(active=True, last_step=step, failures=0)
            if self.random.random() < 0.25:
                self.call("totp_replay", "POST", path, body, expected=(409,))
        return True

    def challenged(self, user, action):
        """A verify body for `user`: `challenge_id` from POST /v1/server/totp/challenge (three
        times in four), else `user_id` (for the server verify). None if the challenge was refused."""
        if self.random.random() < 0.25:
            return {"user_id": user["id"]}
        status, reply, _ = self.call(action, "POST", "/v1/server/totp/challenge",
                                     {"user_id": user["id"]}, expected=(201,))
        if status != 201:
            return None
        if reply.get("user_id") != user["id"] or not reply.get("challenge_id"):
            self.counters.wrong(action, status, "a challenge for the user", reply)
            return None
        return {"challenge_id": reply["challenge_id"]}

    def totp_wrong(self):
        users = [u for u in self.live_users() if u["failures"] < min(2, TOTP_MAX_FAILURES - 1)]
        if not users:
            return False
        user = self.random.choice(users)
        _, codes = self.window(user)
        wrong = codes[max(codes)]
        while wrong in codes.values():
            wrong = str(self.random.randrange(10 ** user["digits"])).zfill(user["digits"])
        self.call("totp_wrong", "POST", "/v1/server/otp/verify",
                  {"user_id": user["id"], "code": wrong}, expected=(422,))
        user["failures"] += 1
        return True

    def totp_recovery(self):
        users = [u for u in self.users if u["active"] and u["recovery"]]
        if not users:
            return False
        user = self.random.choice(users)
        code = user["recovery"].pop()
        body = self.challenged(user, "totp_challenge")
        if body is None:
            return True
        body["recovery_code"] = code
        path = "/v1/server/otp/verify" if "user_id" in body else "/v1/otp/verify"
        status, reply, _ = self.call("totp_recovery", "POST", path, body, expected=(200,))
        if status == 200 and reply.get("recovery_codes_remaining") != len(user["recovery"]):
            self.counters.wrong("totp_recovery", status, "the recovery codes left", reply)
        return True

    def totp_status(self):
        if not self.live_users():
            return False
        user = self.random.choice(self.users)
        status, reply, _ = self.call("totp_status", "GET", f"{ENROLLMENT_PREFIX}{user['id']}")
        want = "active" if user["active"] else "pending"
        if status == 200 and reply.get("status") != want:
            self.counters.wrong("totp_status", status, want, reply)
        return True

    def totp_delete(self):
        if len(self.live_users()) < 4:
            return False
        user = self.users.pop(self.random.randrange(len(self.users)))
        self.call("totp_delete", "DELETE", f"{ENROLLMENT_PREFIX}{user['id']}", expected=(204,))
        self.removed.append(user["id"])
        return True

    def totp_verify_removed(self):
        if not self.removed:
            return False
        user_id = self.removed.pop()
        self.call("totp_verify_removed", "POST", "/v1/server/otp/verify",
                  {"user_id": user_id, "code": "123456"}, expected=(404,))
        self.call("totp_challenge_removed", "POST", "/v1/server/totp/challenge",
                  {"user_id": user_id}, expected=(404,))
        return True

    # the rest ----------------------------------------------------------------------------------------

    def malformed(self):
        method, path, body, content_type, want = self.random.choice(MALFORMED)
        self.call("malformed", method, path, body, expected=(want,), content_type=content_type)
        return True

    def unauthorized(self):
        """A server route without the key, or with a wrong one: 401, whatever it asks."""
        method, path, body = self.random.choice([
            ("POST", "/v1/server/otp/send", {"channel": "sms", "to": "+447400000001"}),
            ("POST", "/v1/server/otp/verify", {"user_id": "soak-user", "code": "123456"}),
            ("POST", "/v1/server/totp/enroll", {"user_id": "soak-u", "issuer": "S", "account": "a"}),
            ("POST", "/v1/server/totp/challenge", {"user_id": "soak-user"}),
            ("GET", f"{ENROLLMENT_PREFIX}soak-user", None),
            ("DELETE", f"{ENROLLMENT_PREFIX}soak-user", None),
        ])
        headers = {"Authorization": "Bearer not-the-server-key"} if self.random.random() < 0.5 else {}
        status, reply, response_headers = self.call("unauthorized", method, path, body,
                                                    expected=(401,), headers=headers, key=False)
        if status == 401 and not response_headers.get("www-authenticate", "").startswith("Bearer"):
            self.counters.wrong("unauthorized", status, "WWW-Authenticate: Bearer", reply)
        return True

    def jwks(self):
        status, reply, _ = self.call("jwks", "GET", "/.well-known/jwks.json")
        if status == 200 and not reply.get("keys"):
            self.counters.wrong("jwks", status, "a key set", reply)
        return True

    def step(self):
        action = self.random.choices(self.actions, self.weights)[0]
        # Too many codes waiting for a verify: verify one instead (keeps each worker's state small).
        if len(self.pending) > 40:
            action = "verify_right"
        done = {
            "send_sms": lambda: self.send_new("sms") or True,
            "send_email": lambda: self.send_new("email") or True,
            "send_server": self.send_server,
            "resend": self.resend,
            "resend_too_soon": self.resend_too_soon,
            "send_idempotent": self.send_idempotent,
            "verify_right": self.verify_right,
            "verify_wrong": self.verify_wrong,
            "verify_replaced": self.verify_replaced,
            "verify_unknown": self.verify_unknown,
            "totp_enroll": self.totp_enroll,
            "totp_enroll_active": lambda: self.totp_enroll(replace_active=True),
            "totp_verify": self.totp_verify,
            "totp_wrong": self.totp_wrong,
            "totp_recovery": self.totp_recovery,
            "totp_status": self.totp_status,
            "totp_delete": self.totp_delete,
            "totp_verify_removed": self.totp_verify_removed,
            "malformed": self.malformed,
            "unauthorized": self.unauthorized,
            "jwks": self.jwks,
        }[action]()
        if not done:
            self.send_new(self.random.choice(["sms", "email"]))

    def run(self):
        try:
            while time.monotonic() < self.deadline:
                self.step()
        except Exception as error:  # a bug in the driver, or a reply it could not read
            self.counters.problem("driver", f"worker {self.number}: {type(error).__name__}: {error}")
        finally:
            if self.connection is not None:
                self.connection.close()


# --- the run and its report ---------------------------------------------------------------------------

def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def run(url, emulator, pid, emulator_pid, seconds, workers, warmup, sample, log, out):
    counters = Counters()
    key = server_key(log)
    cpu_before = {name: cpu_seconds(p) for name, p in (("otp-local", pid), ("emulator", emulator_pid))}
    mailbox = Mailbox(emulator, counters)
    mailbox.thread.start()
    started = time.monotonic()
    deadline = started + seconds
    team = [Worker(n, url, mailbox, counters, deadline, key) for n in range(workers)]
    for worker in team:
        worker.start()

    samples = []  # (seconds since start, RSS KiB, requests so far)
    alive = True
    while time.monotonic() < deadline:
        try:
            samples.append((time.monotonic() - started, rss_kib(pid), counters.requests))
        except OSError:
            alive = False
            break
        time.sleep(min(sample, max(0.0, deadline - time.monotonic())))
    for worker in team:
        worker.join(timeout=60)
    elapsed = time.monotonic() - started
    mailbox.stop.set()
    mailbox.thread.join(timeout=15)
    try:
        samples.append((elapsed, rss_kib(pid), counters.requests))
    except OSError:
        alive = False
    cpu = {}
    for name, p in (("otp-local", pid), ("emulator", emulator_pid)):
        try:
            cpu[name] = cpu_seconds(p) - cpu_before[name]
        except OSError:
            pass

    after_warmup = [s for s in samples if s[0] >= warmup] or samples[-1:]
    rss_start, rss_end = after_warmup[0][1], samples[-1][1]
    rss_max = max(s[1] for s in after_warmup)
    log_text = Path(log).read_text(errors="replace") if Path(log).exists() else ""
    server_errors = len(re.findall(r" ERROR |panicked", log_text))

    routes = {}
    for route in sorted(counters.latencies):
        lat = counters.latencies[route]
        routes[route] = {
            "requests": len(lat),
            "statuses": dict(sorted(counters.statuses[route].items())),
            "p50_ms": percentile(lat, 0.50) * 1e3,
            "p95_ms": percentile(lat, 0.95) * 1e3,
            "p99_ms": percentile(lat, 0.99) * 1e3,
            "max_ms": max(lat) * 1e3,
        }
    all_latencies = [x for lat in counters.latencies.values() for x in lat]
    five_xx = sum(n for st in counters.statuses.values() for s, n in st.items() if s >= 500)
    unexpected = sum(counters.unexpected.values())
    failures = []
    if not alive:
        failures.append("otp-local exited during the soak")
    if five_xx:
        failures.append(f"{five_xx} replies were 5xx")
    if counters.problems:
        failures.append("problems: " + ", ".join(f"{k} {n}" for k, n in counters.problems.items()))
    if unexpected:
        failures.append(f"{unexpected} replies had an unexpected status or content")
    if server_errors:
        failures.append(f"otp-local logged {server_errors} ERROR or panic lines")
    if rss_end - rss_start > RSS_GROWTH_LIMIT_KIB:
        failures.append(f"RSS grew {rss_end - rss_start} KiB after the warm-up "
                        f"(limit {RSS_GROWTH_LIMIT_KIB} KiB)")
    approvals = counters.actions["verify_right"][200] + counters.actions["totp_verify"][200]
    if approvals == 0:
        failures.append("no code was approved")

    report = {
        "setup": {"seconds": seconds, "workers": workers, "warmup_s": warmup, "sample_s": sample,
                  "rss_growth_limit_kib": RSS_GROWTH_LIMIT_KIB,
                  "settings": {k: v for k, v in os.environ.items() if k.startswith("OTP_")
                               and k not in ("OTP_SECRET", "OTP_LOCAL_SERVER_KEY")},
                  "profile": os.environ.get("SOAK_PROFILE", "release"), "cores": os.cpu_count()},
        "elapsed_s": elapsed,
        "requests": counters.requests,
        "requests_per_s": counters.requests / elapsed,
        "p50_ms": percentile(all_latencies, 0.50) * 1e3,
        "p99_ms": percentile(all_latencies, 0.99) * 1e3,
        "five_xx": five_xx,
        "unexpected": unexpected,
        "unexpected_by_kind": {f"{a} answered {s}, expected {e}": n
                               for (a, s, e), n in counters.unexpected.items()},
        "unexpected_examples": counters.examples,
        "problems": dict(counters.problems),
        "problem_examples": counters.problem_examples,
        "server_error_lines": server_errors,
        "cpu_s": cpu,
        "routes": routes,
        "actions": {a: dict(sorted(st.items())) for a, st in sorted(counters.actions.items())},
        "rss_kib": {"after_warmup": rss_start, "end": rss_end, "max_after_warmup": rss_max,
                    "growth": rss_end - rss_start,
                    "series": [{"t_s": round(t, 1), "rss_kib": r, "requests": n}
                               for t, r, n in samples]},
        "passed": not failures,
        "failures": failures,
    }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (Path(out) / "report.md").write_text(markdown(report))
    return report


def markdown(r):
    s, rss = r["setup"], r["rss_kib"]
    mib = lambda kib: f"{kib / 1024:.1f} MiB"  # noqa: E731
    lines = [
        "## Soak: otp-local on the AWS emulator",
        "",
        f"`bash bench/soak/run.sh`: otp-local ({s['profile']} build) with `--store dynamodb --delivery "
        f"aws` against bench/soak/emulator.py (moto), {s['workers']} workers for {s['seconds']} s "
        f"({r['elapsed_s']:.0f} s measured) on {s['cores']} cores; "
        "latency is the driver's, from writing a request to reading its reply, over the whole run.",
        "",
        f"**{'PASSED' if r['passed'] else 'FAILED'}**: {r['requests']:,} requests, "
        f"{r['requests_per_s']:.0f}/s, 5xx {r['five_xx']}, unexpected {r['unexpected']}, "
        f"transport errors {r['problems'].get('transport', 0)}, p50 {r['p50_ms']:.1f} ms, "
        f"p99 {r['p99_ms']:.1f} ms; RSS {mib(rss['after_warmup'])} after the {s['warmup_s']:.0f} s "
        f"warm-up, {mib(rss['end'])} at the end ({rss['growth']:+,} KiB; limit "
        f"+{s['rss_growth_limit_kib']:,} KiB), at most {mib(rss['max_after_warmup'])}"
        + "".join(f"; {name} used {used:.1f} s of CPU" for name, used in r["cpu_s"].items()) + ".",
        "",
        "| route | requests | statuses | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for route, x in r["routes"].items():
        statuses = ", ".join(f"{k}: {v:,}" for k, v in x["statuses"].items())
        lines.append(f"| `{route}` | {x['requests']:,} | {statuses} | {x['p50_ms']:.1f} "
                     f"| {x['p95_ms']:.1f} | {x['p99_ms']:.1f} | {x['max_ms']:.1f} |")
    lines += ["", "| action | statuses |", "|---|---|"]
    for action, statuses in r["actions"].items():
        lines.append(f"| {action} | {', '.join(f'{k}: {v:,}' for k, v in statuses.items())} |")
    series = r["rss_kib"]["series"]
    step = max(1, len(series) // 12)
    lines += ["", "RSS (KiB) over the run: " + ", ".join(
        f"{x['t_s']:.0f} s {x['rss_kib']:,}" for x in series[::step] + series[-1:]) + "."]
    if r["failures"]:
        lines += ["", "Failures: " + "; ".join(r["failures"]) + "."]
        for example in r["unexpected_examples"] + r["problem_examples"]:
            lines.append(f"- `{json.dumps(example)}`")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "setup":
        setup(args[0])
    elif command == "port":
        print(free_port())
    elif command == "wait":
        wait(args[0], float(args[1]), args[2])
    elif command == "run":
        url, emulator, pid, emulator_pid, seconds, workers, warmup, sample, log, out = args
        result = run(url, emulator, int(pid), int(emulator_pid), float(seconds), int(workers),
                     float(warmup), float(sample), log, out)
        print(markdown(result))
        sys.exit(0 if result["passed"] else 1)
    else:
        sys.exit(__doc__)

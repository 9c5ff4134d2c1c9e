"""Calls an otp-lambda server route from your backend, signed with SigV4: botocore and urllib only.

The credentials are the backend's own (its role, holding the stack's ServerCallerPolicy), found the
usual way (environment, ~/.aws, instance or task role); the region is the API's.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest


def call(api_url: str, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
    """Signs and sends one request to a /v1/server/ route; returns the status and the JSON reply
    (None for a 204)."""
    session = botocore.session.get_session()
    # https://ID.execute-api.REGION.amazonaws.com names its region; a custom domain takes AWS_REGION's.
    host = api_url.split("//")[-1]
    region = host.split(".")[2] if ".execute-api." in host else os.environ["AWS_REGION"]
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"content-type": "application/json"}
    request = AWSRequest(method=method, url=api_url.rstrip("/") + path, data=data, headers=headers)
    SigV4Auth(session.get_credentials(), "execute-api", region).add_auth(request)
    prepared = urllib.request.Request(request.url, data=data, headers=dict(request.headers), method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=10) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:  # 4xx / 5xx: a problem document (or API Gateway's 403)
        return error.code, json.load(error)


def main(api_url: str, user_id: str) -> None:
    """Asks for a TOTP challenge for user_id: hand its challenge_id to the browser, which verifies
    the user's authenticator code with it on the public POST /v1/otp/verify."""
    status, reply = call(api_url, "POST", "/v1/server/totp/challenge", {"user_id": user_id})
    print(status, json.dumps(reply))


if __name__ == "__main__":  # python call_server_route.py https://ID.execute-api.REGION.amazonaws.com user-42
    main(sys.argv[1], sys.argv[2])

"""Calling a WSGI app in process, for the emulator's middlewares (dynamodb_contention.py,
sms_voice_v2.py), which ask moto before or instead of answering."""


def call(app, environ):
    """Calls a WSGI app; returns (status, headers, body bytes)."""
    captured = {}

    def start_response(status, headers, exc_info=None):
        captured["status"], captured["headers"] = status, list(headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return captured["status"], captured["headers"], body

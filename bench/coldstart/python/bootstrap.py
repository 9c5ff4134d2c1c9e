"""A minimal Lambda runtime loop for the Python floor, on urllib (the standard library).

It imports the handler named by _HANDLER ("module.function") from LAMBDA_TASK_ROOT, then asks the
Runtime API for events forever. The managed Python runtime (awslambdaric) does a little more at
start; this floor is the least a Python function with boto3 can do.
"""

import importlib
import json
import os
import sys
import traceback
import urllib.request

BASE = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def call(method, route, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + route, data=data, method=method)
    if data is not None:
        request.add_header("content-type", "application/json")
    with urllib.request.urlopen(request) as response:
        return response.headers, response.read()


def error_body(error):
    return {
        "errorType": type(error).__name__,
        "errorMessage": str(error),
        "stackTrace": traceback.format_exception(error),
    }


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers["Lambda-Runtime-Aws-Request-Id"]
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms", "0"))


def main():
    try:
        module_name, function_name = os.environ.get("_HANDLER", "handler.handler").rsplit(".", 1)
        sys.path.insert(0, os.environ.get("LAMBDA_TASK_ROOT", os.getcwd()))
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # noqa: BLE001 - any init failure is reported, as Lambda does
        call("POST", "/init/error", error_body(error))
        sys.exit(1)
    while True:
        headers, body = call("GET", "/invocation/next")
        context = Context(headers)
        try:
            result = handler(json.loads(body), context)
        except Exception as error:  # noqa: BLE001
            call("POST", f"/invocation/{context.aws_request_id}/error", error_body(error))
        else:
            call("POST", f"/invocation/{context.aws_request_id}/response", result)


if __name__ == "__main__":
    main()

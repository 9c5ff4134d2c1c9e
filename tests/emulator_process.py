"""The AWS emulator as a process of a Python test: started on a free 127.0.0.1 port, waited for,
and stopped by its PID. Used by test_sms_voice_v2.py and test_dynamodb_contention.py."""

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(script, env):
    """Starts `script` (tests/emulator.py, or one built on it) with `env` on a free port, from a
    directory that is not the repo root; returns (process, endpoint) once it answers."""
    port = free_port()
    env = dict(env, AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    process = subprocess.Popen(
        [sys.executable, script, "-H", "127.0.0.1", "-p", str(port)],
        cwd="/", env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=5).read()
            return process, endpoint
        except (urllib.error.URLError, ConnectionError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError(f"{script} did not start: {process.stderr.read().decode()}")
            time.sleep(0.1)


def stop(process):
    process.terminate()  # by its PID
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stderr.close()

"""What the bench drivers (load/load.py, soak/soak.py) share for the processes they start: a free
127.0.0.1 port, and waiting for a process to answer."""

import os
import socket
import sys
import time
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url, seconds, pid):
    """Returns once `url` answers; exits if process `pid` is gone or `seconds` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                reply.read()
                return
        except OSError:
            if not os.path.exists(f"/proc/{pid}") or time.monotonic() > deadline:
                sys.exit(f"nothing answered {url} (process {pid})")
            time.sleep(0.05)

"""Test fixture for runtimes/test-runtimes.sh: behaves as ?mode= (or the first path segment) asks.

Modes: echo, binary, raise, unicode-raise, string, json, none, status, sleep (&seconds=N), fs, egress (&host=&port=),
oom (fills 600 MB), big (&mb=N: an N MiB response), exit (&code=N: the process exits mid-request), fork (leaves a child running),
procs (the other processes in the container).
"""

import os
import socket
import time


def handle(request):
    mode = request.query_params.get("mode") or request.path.strip("/").split("/")[0] or "echo"
    if mode == "echo":
        return {
            "status": 200,
            "body": {
                "method": request.method,
                "path": request.path,
                "query": request.query,
                "queryParams": request.query_params,
                "contentType": request.headers.get("content-type"),
                "json": request.json() if request.body else None,
            },
        }
    if mode == "binary":
        return bytes(range(256)) * 16
    if mode == "raise":
        raise ValueError("boom requested")
    if mode == "unicode-raise":
        raise RuntimeError("d\u00e9j\u00e0 vu \u2603\nsecond line")
    if mode == "string":
        return "plain string"
    if mode == "json":
        return [1, "two", {"three": 3}, None, True]
    if mode == "none":
        return None
    if mode == "status":
        return {"status": 201, "headers": {"X-Fixture": "yes"}, "body": "created"}
    if mode == "sleep":
        time.sleep(float(request.query_params.get("seconds", "1")))
        return "slept"
    if mode == "fs":
        return {"uid": os.getuid(), "gid": os.getgid(), "tmp": can_write("/tmp/probe"),
                "root": can_write("/probe"), "app": can_write("/app/probe"),
                "pycache": os.path.exists(os.path.join(os.path.dirname(__file__), "__pycache__"))}
    if mode == "fork":
        if os.fork() == 0:
            time.sleep(300)
            os._exit(0)
        return "forked"
    if mode == "procs":
        me = os.getpid()
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (me, 1))
    if mode == "oom":
        filled = b"x" * (600 * 1024 * 1024)
        return str(len(filled))
    if mode == "big":
        return b"x" * (int(request.query_params.get("mb", "1")) * 1024 * 1024)
    if mode == "exit":
        os._exit(int(request.query_params.get("code", "3")))
    if mode == "egress":
        host = request.query_params.get("host", "1.1.1.1")
        port = int(request.query_params.get("port", "80"))
        try:
            socket.create_connection((host, port), timeout=2).close()
            return {"connected": True}
        except OSError as exc:
            return {"connected": False, "error": str(exc)}
    return {"status": 404, "body": f"unknown mode {mode}"}


def can_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        os.remove(path)
        return True
    except OSError:
        return False

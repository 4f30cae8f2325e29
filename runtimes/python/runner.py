"""Canopy Python runner: serves the function in /app/handler.py over HTTP (docs/runtime-contract.md),
or a Serverledge handler(params, context) named in /app/.canopy/serverledge.json (docs/serverledge.md).

Standard library only, because the image is a bare Debian root or python:slim with nothing added.
"""

import sys

# The root filesystem and /app are read-only: never try to write __pycache__ next to the code.
sys.dont_write_bytecode = True

import importlib.util  # noqa: E402  (must follow the bytecode switch)
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import threading  # noqa: E402
import traceback  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qsl  # noqa: E402

APP_DIR = os.environ.get("CANOPY_APP_DIR", "/app")
HEALTH_PATH = "/__canopy/health"
LOAD_PATH = "/__canopy/load"
# Written by the dispatcher's Serverledge facade into packages it builds.
SERVERLEDGE_MANIFEST = ".canopy/serverledge.json"
REAP_STRAYS = os.getpid() == 1 or os.environ.get("CANOPY_REAP_STRAYS") == "1"
MAX_ERROR_HEADER = 1000
TEXT = "text/plain; charset=utf-8"
# RFC 9110 token and field-value; anything else would corrupt the response or fail half-way through it.
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")


class Request:
    """What the handler receives; attribute names follow docs/runtime-contract.md."""

    __slots__ = ("method", "path", "query", "query_params", "headers", "body")

    def __init__(self, method, path, query, query_params, headers, body):
        self.method = method
        self.path = path
        self.query = query
        self.query_params = query_params
        self.headers = headers
        self.body = body

    def text(self, encoding="utf-8"):
        return self.body.decode(encoding)

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Request({self.method} {self.path}?{self.query}, {len(self.body)} bytes)"


class HandlerError(Exception):
    """The function failed: its message becomes the 500 body and the X-Canopy-Error header."""


def load_handler():
    """Imports handle() once at start; a broken entry point is reported per request, not fatal."""
    manifest = os.path.join(APP_DIR, SERVERLEDGE_MANIFEST)
    if os.path.isfile(manifest):
        return load_serverledge(manifest)
    path = os.path.join(APP_DIR, "handler.py")
    # Sibling modules next to handler.py must be importable, as when running it locally.
    sys.path.insert(0, APP_DIR)
    try:
        spec = importlib.util.spec_from_file_location("handler", path)
        if spec is None or not os.path.isfile(path):
            raise FileNotFoundError(f"no handler.py in {APP_DIR}")
        module = importlib.util.module_from_spec(spec)
        sys.modules["handler"] = module
        spec.loader.exec_module(module)
    except BaseException as exc:  # SystemExit in module code must not stop the runner either
        traceback.print_exc()
        return None, f"loading handler.py failed: {describe(exc)}"
    handle = getattr(module, "handle", None)
    if not callable(handle):
        return None, "handler.py does not define handle(request)"
    return handle, None


def load_serverledge(manifest):
    """A function created through the Serverledge facade: `handler(params, context)` named
    `module.function` in the manifest, adapted to handle(request) (docs/serverledge.md)."""
    sys.path.insert(0, APP_DIR)
    try:
        with open(manifest, encoding="utf-8") as file:
            spec = json.load(file)["handler"]
        module_name, _, function_name = spec.rpartition(".")
        module = importlib.import_module(module_name)
        function = getattr(module, function_name, None)
    except BaseException as exc:
        traceback.print_exc()
        return None, f"loading Serverledge handler failed: {describe(exc)}"
    if not callable(function):
        return None, f"{module_name} does not define {function_name}(params, context)"
    return serverledge_adapter(function), None


class _Capture(threading.local):
    buffer = None


_capture = _Capture()


class _RoutedStream:
    """stdout/stderr that a request's own thread can capture (ReturnOutput) without touching
    other requests' output: the process-wide swap Serverledge does is not thread-safe."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        buffer = _capture.buffer
        if buffer is not None:
            buffer.append(text)
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def serverledge_adapter(function):
    sys.stdout = _RoutedStream(sys.stdout)
    sys.stderr = _RoutedStream(sys.stderr)

    def handle(request):
        call = request.json() if request.body else {}
        if not isinstance(call, dict):
            raise HandlerError("the request body must be a JSON object with Params")
        params = call.get("Params") or {}
        capture = bool(call.get("ReturnOutput"))
        context = {}
        _capture.buffer = [] if capture else None
        try:
            result = function(params, context)
        finally:
            output = "".join(_capture.buffer or [])
            _capture.buffer = None
        try:
            encoded = json.dumps(result)
        except (TypeError, ValueError) as exc:
            raise HandlerError(f"handler returned a value that is not JSON: {describe(exc)}") from exc
        return {"status": 200, "body": {"Result": encoded, "Output": output}}

    return handle


def describe(exc):
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def header_safe(message):
    """One printable-ASCII line, escaped the same way as the Node runner, so any HTTP client accepts it."""
    out = []
    for ch in message:
        code = ord(ch)
        if 0x20 <= code < 0x7F:
            out.append(ch)
        elif ch in "\r\n\t" or code < 0x20 or code == 0x7F:
            out.append(" ")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    return "".join(out).strip()[:MAX_ERROR_HEADER]


def encode_body(body):
    """Turns a returned body into bytes, choosing the content type the contract gives each kind."""
    if body is None:
        return b"", None
    if isinstance(body, str):
        return body.encode("utf-8"), TEXT
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body), "application/octet-stream"
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8"), "application/json"
    except (TypeError, ValueError) as exc:
        raise HandlerError(f"handler returned a value that is not JSON: {describe(exc)}") from exc


def to_response(result):
    """(status, headers, body) for what handle() returned."""
    headers = {}
    status = 200
    body = result
    if isinstance(result, dict) and "body" in result and ("status" in result or "headers" in result):
        status = result.get("status", 200)
        if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
            raise HandlerError(f"response status must be an integer from 200 to 599, got {status!r}")
        given = result.get("headers") or {}
        if not isinstance(given, dict):
            raise HandlerError("response headers must be a dict of name -> value")
        headers = {str(k): str(v) for k, v in given.items()}
        for name, value in headers.items():
            if not TOKEN.fullmatch(name) or not FIELD_VALUE.fullmatch(value):
                raise HandlerError(f"invalid response header {name!r}")
        body = result["body"]
    data, content_type = encode_body(body)
    names = {k.lower() for k in headers}
    if content_type and "content-type" not in names:
        headers["Content-Type"] = content_type
    return status, headers, data


class RunnerHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every response carries Content-Length
    # Buffer each response so headers and body leave in one write (flushed per request).
    wbufsize = -1

    def setup(self):
        super().setup()
        # Nagle's algorithm plus the client's delayed ACK would hold small responses ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self):
        return "canopy-python"

    def __getattr__(self, name):
        # BaseHTTPRequestHandler dispatches on do_<METHOD>; every method goes to the function.
        if name.startswith("do_"):
            return self.invoke
        raise AttributeError(name)

    def invoke(self):
        path, _, query = self.path.partition("?")
        try:
            body = self.read_body()
        except ValueError as exc:
            self.close_connection = True  # the framing is lost, so the connection cannot be reused
            return self.reply(400, {"Content-Type": TEXT}, f"bad request: {exc}".encode())
        if self.command == "GET" and path == HEALTH_PATH:
            return self.reply(200, {"Content-Type": TEXT}, b"ok")
        if self.command == "POST" and path == LOAD_PATH and self.server.blank:
            return self.load()

        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        request = Request(
            self.command, path, query, dict(parse_qsl(query, keep_blank_values=True)), headers, body
        )
        try:
            if self.server.handle_fn is None:
                raise HandlerError(self.server.load_error)
            status, out_headers, data = to_response(self.server.handle_fn(request))
        except HandlerError as exc:
            return self.fail(str(exc))
        except BaseException as exc:  # handler code may raise anything, even SystemExit
            traceback.print_exc()
            self.fail(describe(exc))
        else:
            self.reply(status, out_headers, data)
        # The response is out; nothing the function started may outlive its task in a warm
        # container that the next task of the function reuses.
        self.wfile.flush()
        reap_strays()

    def load(self):
        """A blank container (CANOPY_BLANK=1) starts before its function is known; the worker puts
        the code under /app and then asks once to load it. It never loads another: a container that
        held one function's code is never given to another."""
        with self.server.load_lock:
            if self.server.loading:
                return self.reply(409, {"Content-Type": TEXT}, b"a function is already loaded")
            self.server.loading = True
            self.server.handle_fn, self.server.load_error = load_handler()
        # A load error is answered per request, as for a container started with its code.
        message = b"loaded" if self.server.handle_fn else f"error: {self.server.load_error}".encode()
        self.reply(200, {"Content-Type": TEXT}, message)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self.read_chunked()
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        if not (length.isascii() and length.isdigit()):
            raise ValueError("invalid Content-Length")
        return self.rfile.read(int(length))

    def read_chunked(self):
        parts = []
        while True:
            size_line = self.rfile.readline(1024).split(b";", 1)[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError:
                raise ValueError("invalid chunk size") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers carry nothing the function needs
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def fail(self, message):
        self.reply(
            500,
            {"Content-Type": TEXT, "X-Canopy-Error": header_safe(message) or "error"},
            f"error: {message}".encode("utf-8", "replace"),
        )

    def reply(self, status, headers, data):
        if status in (204, 304):
            data = b""  # these statuses carry no body, and a stray one would break keep-alive framing
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format, *args):
        pass  # the worker records each task; per-request lines would only bury handler output


def reap_strays():
    """Kills every other process in the container (what a function forked and left behind) and
    collects the exits, as PID 1 must. Only as the container's PID 1 (or when asked): run on a
    host, "every other process" would be the host's."""
    if not REAP_STRAYS:
        return
    keep = {os.getpid(), os.getppid(), 1}
    killed = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in keep:
            try:
                os.kill(int(entry), signal.SIGKILL)
                killed.append(int(entry))
            except (ProcessLookupError, PermissionError):
                pass
    for pid in killed:
        try:
            os.waitpid(pid, 0)  # SIGKILL cannot be ignored: this returns at once
        except ChildProcessError:
            pass  # not our child (its parent collects it)
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class RunnerServer(ThreadingHTTPServer):
    daemon_threads = True  # a stuck handler must not keep the process alive on SIGTERM


def main():
    # As PID 1 the default SIGTERM action is ignored; `docker stop` should not wait for SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    port = int(os.environ.get("PORT", "8080"))
    blank = os.environ.get("CANOPY_BLANK") == "1"
    if blank:
        handle_fn, load_error = None, "no function is loaded in this container yet"
    else:
        handle_fn, load_error = load_handler()
    server = RunnerServer(("0.0.0.0", port), RunnerHandler)
    server.handle_fn, server.load_error = handle_fn, load_error
    server.blank, server.loading, server.load_lock = blank, False, threading.Lock()
    print(f"canopy python runner listening on :{server.server_address[1]}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""End-to-end latency of real tasks: create -> result through the dispatcher, a real worker and
Docker, for cold starts (a function version the worker never ran) and warm starts.

Starts its own platform from release binaries (embedded PostgreSQL in a temp state dir), so run
`cargo build --release -p canopy-dispatcher -p canopy-worker` and have Docker plus the runtime
images ready (scripts/ensure-docker, runtimes/build-offline.sh all) first.

Also measures warm invocations through the Serverledge facade (`POST /invoke/{name}`) in the same run,
printed beside the native API's.

Usage: bench/e2e_latency.py [--warm N] [--cold N] [--facade N]
"""

import argparse
import base64
import http.client
import http.server
import io
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# CANOPY_BENCH_BIN: another build directory (e.g. target/debug for a memory-only run).
BIN = os.environ.get("CANOPY_BENCH_BIN", os.path.join(ROOT, "target", "release"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, token=None, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    request = urllib.request.Request(url, data=data, method=method)
    if isinstance(body, (dict, list)):
        request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_ready(base):
    for _ in range(300):
        try:
            if call("GET", f"{base}/readyz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit("the dispatcher did not become ready")


def code_zip(path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(path, "handler.py")
    return buffer.getvalue()


def deploy(base, token, name):
    status, body = call("POST", f"{base}/v1/function", token, {"name": name, "lang": "PY", "type": "DOCKER"})
    assert status == 201, body
    function = json.loads(body)["id"]
    archive = code_zip(os.path.join(ROOT, "examples", "python-hello", "handler.py"))
    status, body = call("POST", f"{base}/v1/build/{function}", token, archive, {"content-type": "application/zip"})
    assert status == 201, body
    return function


class Client:
    """One keep-alive HTTP/1.1 connection, as a real caller (or a load balancer) holds: a new TCP
    connection and urllib's request machinery per call would be timed as the platform's."""

    def __init__(self, base, token):
        self.base, self.token = base, token
        self.connection = http.client.HTTPConnection(base.split("//", 1)[1], timeout=120)

    def post(self, path, body=b"", headers=None):
        headers = {"authorization": f"Bearer {self.token}", **(headers or {})}
        try:
            self.connection.request("POST", path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            # The server closed the connection after an idle spell (its keep-alive timeout).
            self.connection.close()
            self.connection.request("POST", path, body=body, headers=headers)
            response = self.connection.getresponse()
        self.last_task = response.getheader("x-canopy-task-id")
        return response.status, response.read()


def invoke(client, function):
    started = time.perf_counter()
    status, body = client.post(f"/v1/task/{function}?name=bench", headers={"prefer": "wait=60"})
    elapsed = (time.perf_counter() - started) * 1000
    assert status == 200 and body == b"Hello, bench!", (status, body)
    return elapsed


class Instant(http.server.BaseHTTPRequestHandler):
    """Answers every POST at once, like a dispatcher with nothing to do: the harness alone."""
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without this, Nagle holds the body for the client's
    # delayed ACK (40 ms), which would be timed as the harness's cost.
    disable_nagle_algorithm = True

    def do_POST(self):
        self.rfile.read(int(self.headers.get("content-length", 0)))
        body = b"Hello, bench!"
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def harness_alone(count):
    """The same client's sequential calls to an in-process server that answers at once (ms)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Instant)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = Client(f"http://127.0.0.1:{server.server_address[1]}", "none")
        return [invoke(client, "f") for _ in range(count)]
    finally:
        server.shutdown()


def create_facade_function(base, token):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(os.path.join(ROOT, "examples", "serverledge-isprime", "isprime.py"), "isprime.py")
    body = {"Name": "isprime", "Runtime": "python310", "MemoryMB": 128, "Handler": "isprime.handler",
            "TarFunctionCode": base64.b64encode(buffer.getvalue()).decode()}
    status, answer = call("POST", f"{base}/create", token, body)
    assert status == 200, answer


def invoke_facade(client):
    started = time.perf_counter()
    status, body = client.post("/invoke/isprime", json.dumps({"Params": {"n": 7919}}).encode(),
                               {"content-type": "application/json"})
    elapsed = (time.perf_counter() - started) * 1000
    assert status == 200 and json.loads(body)["Result"] == '{"IsPrime": true}', (status, body)
    return elapsed


def docker_baselines(count, image="canopy-runtime-python:1"):
    """`docker run --rm` and `docker exec` of the same image, timed like a cold start (ms)."""
    def timed(command):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        return (time.perf_counter() - started) * 1000

    runs = [timed(["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c", "pass"])
            for _ in range(count)]
    container = subprocess.run(["docker", "run", "-d", "--network", "none", image], check=True,
                               capture_output=True, text=True).stdout.strip()
    try:
        execs = [timed(["docker", "exec", container, "python3", "-c", "pass"]) for _ in range(count)]
    finally:
        subprocess.run(["docker", "rm", "-f", container], stdout=subprocess.DEVNULL, check=False)
    return runs, execs


def throughput(base, token, function, clients, seconds):
    """Warm no-op tasks per second with `clients` sequential callers at once."""
    done = [0] * clients
    stop = time.perf_counter() + seconds

    def client(index):
        caller = Client(base, token)
        while time.perf_counter() < stop:
            invoke(caller, function)
            done[index] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warm", type=int, default=200)
    parser.add_argument("--cold", type=int, default=10)
    parser.add_argument("--facade", type=int, default=200, help="warm Serverledge /invoke calls (0: skip)")
    parser.add_argument("--cold-gap-ms", type=int, default=1000,
                        help="pause before each cold start (the worker refills its blank containers meanwhile)")
    parser.add_argument("--blank-containers", type=int, default=1, help="the worker's --blank-containers")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients of the throughput run (0: skip)")
    parser.add_argument("--seconds", type=float, default=10, help="length of the throughput run")
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="canopy-bench-", dir="/tmp")
    os.chmod(state, 0o755)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CANOPY_STATE_DIR=os.path.join(state, "dispatcher"), CANOPY_LISTEN=f"127.0.0.1:{port}",
               CANOPY_AUTH_AUTO_ACTIVATE="true", RUST_LOG="warn")
    env.pop("CANOPY_DATABASE_URL", None)
    processes = []
    try:
        subprocess.run([f"{BIN}/canopy-dispatcher", "admin", "create", "--email", "bench@example.com"],
                       env=dict(env, CANOPY_ADMIN_PASSWORD="Bench!pass1"), check=True, stdout=subprocess.DEVNULL)
        processes.append(subprocess.Popen([f"{BIN}/canopy-dispatcher"], env=env))
        wait_ready(base)
        _, body = call("POST", f"{base}/v1/auth/login", body={"email": "bench@example.com", "password": "Bench!pass1"})
        token = json.loads(body)["accessToken"]
        _, body = call("POST", f"{base}/v1/user/apiKey", token, {"name": "bench"})
        config = os.path.join(state, "worker.toml")
        subprocess.run([f"{BIN}/canopy-worker", "--config", config, "register", "--dispatcher", base],
                       env=dict(env, CANOPY_API_KEY=json.loads(body)["key"]), check=True, stdout=subprocess.DEVNULL)
        processes.append(subprocess.Popen([f"{BIN}/canopy-worker", "--config", config, "run",
                                           "--cache-dir", os.path.join(state, "cache"),
                                           "--blank-containers", str(args.blank_containers),
                                           "--max-concurrency", str(max(args.clients, 1))], env=env))
        time.sleep(1)

        caller = Client(base, token)
        cold = []
        for index in range(args.cold):
            time.sleep(args.cold_gap_ms / 1000)
            cold.append(invoke(caller, deploy(base, token, f"Cold{index}")))
        warm_function = deploy(base, token, "Warm")
        invoke(caller, warm_function)  # makes it warm
        warm, warm_tasks = [], []
        for _ in range(args.warm):
            warm.append(invoke(caller, warm_function))
            warm_tasks.append(caller.last_task)
        # The worker's share (container start + handler, whole ms as the task records them).
        in_worker = []
        for task in warm_tasks[-100:]:
            _, view = call("GET", f"{base}/v1/task/{task}", token)
            timings = json.loads(view)["timings"]
            in_worker.append((timings.get("initMs") or 0) + (timings.get("execMs") or 0))
        rate = throughput(base, token, warm_function, args.clients, args.seconds) if args.clients else None
        facade = []
        if args.facade:
            create_facade_function(base, token)
            invoke_facade(caller)  # makes it warm
            facade = [invoke_facade(caller) for _ in range(args.facade)]

        runs, execs = docker_baselines(max(3, args.cold))
        alone = harness_alone(max(args.warm, 100))

        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
        print(f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}")
        print(f"cold start (create -> result, {len(cold)} function versions, --blank-containers "
              f"{args.blank_containers}): p50 {statistics.median(cold):.1f} ms, "
              f"min {min(cold):.1f} ms, max {max(cold):.1f} ms")
        print(f"same run: docker run --rm p50 {statistics.median(runs):.1f} ms, docker exec p50 "
              f"{statistics.median(execs):.1f} ms; cold p50 = {statistics.median(cold) / statistics.median(runs):.2f}x "
              f"docker run --rm")
        print(f"warm (create -> result, {len(warm)} sequential, one keep-alive connection): p50 "
              f"{statistics.median(warm):.2f} ms, p99 {percentile(warm, 0.99):.2f} ms, min {min(warm):.2f} ms")
        print(f"of which in the worker (initMs + execMs of the last {len(in_worker)}, whole ms): p50 "
              f"{statistics.median(in_worker):.0f} ms, max {max(in_worker)} ms")
        print(f"same run, the harness alone (same client, an in-process server answering at once): p50 "
              f"{statistics.median(alone):.3f} ms, p99 {percentile(alone, 0.99):.3f} ms")
        if rate is not None:
            print(f"throughput: {rate:.0f} warm tasks/s with {args.clients} concurrent clients for {args.seconds:.0f} s")
        if facade:
            print(f"serverledge facade warm (/invoke, {len(facade)} sequential): p50 {statistics.median(facade):.2f} ms, "
                  f"p99 {percentile(facade, 0.99):.2f} ms; p50 {statistics.median(facade) / statistics.median(warm):.2f}x "
                  f"the native API's in this run")
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()

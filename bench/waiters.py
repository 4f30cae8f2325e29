#!/usr/bin/env python3
"""Memory of result lookups: the dispatcher's resident memory before and after 100k lookups of
unknown tasks' results (`GET /v1/task/<random>/result?wait=30`) and abandoned waits on a queued
task, the audit's leak (issue 16: 300k lookups once added 65 MB that was never freed).

Starts a release dispatcher (embedded PostgreSQL in a temp state dir); run
`cargo build --release -p canopy-dispatcher` first. No worker or Docker is needed.

Usage: bench/waiters.py [--lookups N] [--abandoned N] [--clients N]
"""

import argparse
import http.client
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_latency import BIN, call, deploy, free_port, wait_ready  # noqa: E402


def resident_mb(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def lookups(port, token, count, clients):
    """`count` lookups of random task ids over `clients` keep-alive connections; every answer
    must be a 404."""
    errors = []

    def client(share):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for _ in range(share):
            connection.request("GET", f"/v1/task/{uuid.uuid4().hex}/result?wait=30",
                               headers={"authorization": f"Bearer {token}"})
            response = connection.getresponse()
            response.read()
            if response.status != 404:
                errors.append(response.status)
        connection.close()

    threads = [threading.Thread(target=client, args=(count // clients,)) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"{len(errors)} lookups were not answered 404 (first: {errors[0]})")
    return count / (time.monotonic() - started)


def abandon(port, token, task, count):
    """Waits on a queued task whose callers hang up after 50 ms."""
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=0.05)
        try:
            connection.request("GET", f"/v1/task/{task}/result?wait=1",
                               headers={"authorization": f"Bearer {token}"})
            connection.getresponse().read()
        except OSError:
            pass
        finally:
            connection.close()


def awaited(base):
    _, body = call("GET", f"{base}/metrics")
    for line in body.decode().splitlines():
        if line.startswith("canopy_awaited_tasks "):
            return float(line.split()[1])
    return -1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lookups", type=int, default=100_000)
    parser.add_argument("--abandoned", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()

    state = tempfile.mkdtemp(prefix="canopy-bench-", dir="/tmp")
    os.chmod(state, 0o755)  # the embedded PostgreSQL runs as another user
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CANOPY_STATE_DIR=os.path.join(state, "dispatcher"), CANOPY_LISTEN=f"127.0.0.1:{port}",
               CANOPY_AUTH_AUTO_ACTIVATE="true", RUST_LOG="warn")
    env.pop("CANOPY_DATABASE_URL", None)
    dispatcher = None
    try:
        subprocess.run([f"{BIN}/canopy-dispatcher", "admin", "create", "--email", "bench@example.com"],
                       env=dict(env, CANOPY_ADMIN_PASSWORD="Bench!pass1"), check=True, stdout=subprocess.DEVNULL)
        # Quiet: every unknown task is a logged 404, and 100k log lines would cost more than the lookups.
        dispatcher = subprocess.Popen([f"{BIN}/canopy-dispatcher"], env=dict(env, RUST_LOG="error"),
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(base)
        _, body = call("POST", f"{base}/v1/auth/login", body={"email": "bench@example.com", "password": "Bench!pass1"})
        token = json.loads(body)["accessToken"]
        function = deploy(base, token, "Queued")
        status, body = call("POST", f"{base}/v1/task/{function}", token, b"")
        assert status == 201, (status, body)
        task = json.loads(body)["id"]

        # Warm-up: allocator arenas, connection pools and caches reach their working size.
        lookups(port, token, args.lookups // 10, args.clients)
        time.sleep(1)
        before = resident_mb(dispatcher.pid)
        rate = lookups(port, token, args.lookups, args.clients)
        abandon(port, token, task, args.abandoned)
        time.sleep(2)  # the abandoned waits run to their 1 s end
        after = resident_mb(dispatcher.pid)
        left = awaited(base)

        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
        print(f"machine: {os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}")
        print(f"{args.lookups} lookups of unknown tasks ({args.clients} clients, {rate:.0f}/s) "
              f"+ {args.abandoned} abandoned waits on a queued task")
        print(f"dispatcher resident memory: {before:.1f} MB before, {after:.1f} MB after: "
              f"{after - before:+.1f} MB, ratio {after / before:.3f}; waiters left: {left:.0f}")
    finally:
        if dispatcher:
            dispatcher.terminate()
            dispatcher.wait(timeout=30)
        shutil.rmtree(state, ignore_errors=True)


if __name__ == "__main__":
    main()

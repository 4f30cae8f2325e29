#!/usr/bin/env python3
"""Memory of code uploads and artifact downloads (issue 16): starts a release dispatcher (its own
embedded PostgreSQL), uploads N code packages in parallel, each the audit's kind (a ~200 KB zip
that unpacks to MiB of zeros, within the unpacked-size limit), then makes N parallel artifact
downloads of them with a node token, and reports the dispatcher's peak RSS (VmHWM in
/proc/<pid>/status) against its idle RSS. Give several --bin to compare builds in one run, e.g.
the main branch's binary and this one:

    bench/transfers.py --bin old=/tmp/old/canopy-dispatcher --bin new=target/release/canopy-dispatcher

Needs the dispatcher's embedded PostgreSQL (PostgreSQL 15 binaries) and psql.
"""

import argparse
import concurrent.futures
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import zipfile

PASSWORD = "Bench!pass1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(method, url, token=None, body=None, data=None, timeout=300):
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        headers["Content-Type"] = "application/zip"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def download(url, token):
    """Reads the body in 1 MiB pieces, keeping none: (status, bytes received)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            total = 0
            while piece := response.read(1 << 20):
                total += len(piece)
            return response.status, total
    except urllib.error.HTTPError as error:
        return error.code, 0


def zip_bomb(unpacked_mib, tag):
    """A zip of `unpacked_mib` MiB of zeros and a handler unique to `tag` (distinct packages)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("handler.py", f"def handle(request):\n    return {tag!r}\n")
        zeros = bytes(1 << 20)
        with archive.open("data/zeros.bin", "w", force_zip64=True) as member:
            for _ in range(unpacked_mib):
                member.write(zeros)
    return out.getvalue()


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) // 1024
    return fields


def wait_ready(base, process):
    for _ in range(600):
        if process.poll() is not None:
            raise SystemExit("the dispatcher exited")
        try:
            if call("GET", f"{base}/readyz", timeout=2)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the dispatcher did not become ready")


def run(name, binary, args, zips):
    state = tempfile.mkdtemp(prefix="canopy-transfers-", dir="/tmp")
    os.chmod(state, 0o755)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, CANOPY_STATE_DIR=os.path.join(state, "dispatcher"), CANOPY_LISTEN=f"127.0.0.1:{port}",
               CANOPY_AUTH_AUTO_ACTIVATE="true", RUST_LOG="warn")
    env.pop("CANOPY_DATABASE_URL", None)
    log = open(os.path.join(state, "dispatcher.log"), "w")
    process = subprocess.Popen([binary, *args.dispatcher_arg], env=env, stdout=log, stderr=log)
    try:
        wait_ready(base, process)
        email = "bench@example.com"
        call("POST", f"{base}/v1/auth/register", body={"name": "B", "surname": "B", "email": email, "password": PASSWORD})
        token = json.loads(call("POST", f"{base}/v1/auth/login", body={"email": email, "password": PASSWORD})[1])["accessToken"]
        functions = []
        for index in range(len(zips)):
            status, body = call("POST", f"{base}/v1/function", token, {"name": f"Bomb{index}", "lang": "PY", "type": "DOCKER"})
            assert status == 201, body
            functions.append(json.loads(body)["id"])
        time.sleep(1)
        idle = memory(process.pid)

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(len(zips)) as pool:
            uploads = list(pool.map(lambda pair: call("POST", f"{base}/v1/build/{pair[0]}", token, data=pair[1])[0],
                                    zip(functions, zips)))
        upload_s = time.monotonic() - started
        after_uploads = memory(process.pid)

        node = uuid.uuid4().hex
        status, body = call("POST", f"{base}/v1/node/{node}", token, {"description": "bench"})
        assert status == 201, body
        node_token = json.loads(body)["token"]
        psql = ["psql", "-h", os.path.join(state, "dispatcher", "pgrun"), "-U", "canopy", "-d", "canopy", "-tA", "-c"]
        # A grant, as a prewarm would give, lets the node fetch every package.
        subprocess.run(psql + [f"INSERT INTO artifact_grants (node_id, artifact_sha256, expires_at) "
                               f"SELECT '{node}'::uuid, sha256, now() + interval '1 hour' FROM artifacts"],
                       check=True, stdout=subprocess.DEVNULL)
        shas = subprocess.run(psql + ["SELECT sha256 FROM artifacts"], check=True, capture_output=True,
                              text=True).stdout.split()
        started = time.monotonic()
        wanted = [shas[index % len(shas)] for index in range(args.downloads)] if shas else []
        with concurrent.futures.ThreadPoolExecutor(max(len(wanted), 1)) as pool:
            downloads = list(pool.map(lambda sha: download(f"{base}/v1/worker/artifact/{sha}", node_token), wanted))
        download_s = time.monotonic() - started
        peak = memory(process.pid)
        return {
            "name": name, "binary": binary,
            "idle_rss_mib": idle["VmRSS"], "idle_hwm_mib": idle["VmHWM"],
            "hwm_after_uploads_mib": after_uploads["VmHWM"], "peak_hwm_mib": peak["VmHWM"],
            "uploads": uploads, "upload_s": round(upload_s, 1),
            "downloads": [status for status, _ in downloads],
            "downloaded_mib": round(sum(size for _, size in downloads) / (1 << 20)), "download_s": round(download_s, 1),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        if not args.keep:
            shutil.rmtree(state, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", action="append", default=[],
                        help="NAME=PATH of a dispatcher binary (repeatable; default new=target/release/canopy-dispatcher)")
    parser.add_argument("--uploads", type=int, default=5, help="parallel uploads (default 5)")
    parser.add_argument("--downloads", type=int, default=5, help="parallel artifact downloads (default 5)")
    parser.add_argument("--unpacked-mib", type=int, default=190, help="MiB of zeros in each zip (limit: 200)")
    parser.add_argument("--dispatcher-arg", action="append", default=[], help="one more dispatcher flag (repeatable)")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep each run's state directory")
    args = parser.parse_args()
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bins = [item.split("=", 1) for item in args.bin] or [["new", os.path.join(repo, "target/release/canopy-dispatcher")]]
    zips = [zip_bomb(args.unpacked_mib, index) for index in range(args.uploads)]
    print(f"{args.uploads} uploads of a {len(zips[0]) // 1024} KiB zip unpacking to {args.unpacked_mib} MiB, "
          f"then {args.downloads} downloads")
    results = [run(name, path, args, zips) for name, path in bins]
    print(f"{'build':<8} {'idle RSS':>9} {'peak (HWM)':>11} {'peak/idle':>9} {'after uploads':>14}  uploads / downloads")
    for r in results:
        print(f"{r['name']:<8} {r['idle_rss_mib']:>6} MiB {r['peak_hwm_mib']:>7} MiB {r['peak_hwm_mib'] / max(r['idle_rss_mib'], 1):>8.1f}x "
              f"{r['hwm_after_uploads_mib']:>10} MiB  {r['uploads']} in {r['upload_s']} s / {r['downloads']} "
              f"({r['downloaded_mib']} MiB) in {r['download_s']} s")
    if len(results) > 1:
        base, last = results[0], results[-1]
        print(f"peak {base['name']}/{last['name']}: {base['peak_hwm_mib'] / max(last['peak_hwm_mib'], 1):.1f}x")
    if args.out:
        with open(args.out, "w") as out:
            json.dump(results, out, indent=2)


if __name__ == "__main__":
    main()

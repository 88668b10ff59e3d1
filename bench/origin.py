#!/usr/bin/env python3
"""The HTTP origin under a boot storm: N clients (default 200) download one file (default 32 MiB) at once
from tftp-server, three ways in one run: from ROOT, through --origin with an empty cache (cold: the first
request starts the one fetch, the rest join it), and again with the cache filled (warm). nginx (Debian
nginx-light, one process) serves the origin from tmpfs on 127.0.0.1.

Reports per way: transfers complete and byte-exact, wall time until the last one ended, aggregate MB/s, the
server's CPU (every process of it, by cgroup, as bench.py counts) per MiB served, its peak memory, and the
GET requests nginx logged. Writes the section "## Origin" of bench/RESULTS.md (the rest is kept).
"""

import argparse
import contextlib
import datetime
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))
import interop  # noqa: E402
from bench import Accounting, MIB, section_span  # noqa: E402

HEADING = "## Origin"


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def nginx(root, temp):
    """nginx in the foreground, one process (so its CPU is one pid's), serving root on a free port."""
    port = free_tcp_port()
    conf = os.path.join(temp, "nginx.conf")
    log = os.path.join(temp, "access.log")
    with open(conf, "w") as f:
        f.write(f"""daemon off; master_process off; worker_processes 1; user root;
error_log {temp}/error.log; pid {temp}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log {log};
  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
  uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
""")
    process = subprocess.Popen(["/usr/sbin/nginx", "-c", conf, "-p", temp], stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("nginx did not start")
            time.sleep(0.05)
        yield port, log
    finally:
        process.terminate()
        process.wait(timeout=10)


def gets(log, path):
    with contextlib.suppress(FileNotFoundError), open(log) as f:
        return sum(1 for line in f if f'"GET {path} ' in line)
    return 0


def storm(args, extra, root, work, name, expected, label, origin_log=None):
    port = interop.free_udp_port()
    command = [args.server, "--listen", f"127.0.0.1:{port}", "--quiet", "--max-sessions-per-client", "1000",
               "--user", "root", *extra, root]
    before_gets = gets(origin_log, "/" + name) if origin_log else 0
    with interop.running(command, "127.0.0.1", port) as process:
        accounting = Accounting(process.pid, f"tftp-bench-origin-{label.split()[0]}")
        cpu_before = accounting.cpu_seconds()
        start = time.monotonic()
        clients = [subprocess.Popen([args.client, "get", f"127.0.0.1:{port}", name, os.path.join(work, f"c{i}"),
                                     "--quiet", "--blksize", "1428", "--windowsize", "8", "--tsize"],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                   for i in range(args.clients)]
        codes = [c.wait(timeout=args.limit) for c in clients]
        wall = time.monotonic() - start
        cpu = accounting.cpu_seconds() - cpu_before
        peak = accounting.peak_kib()
    accounting.close()
    good = 0
    for i, code in enumerate(codes):
        path = os.path.join(work, f"c{i}")
        if code == 0 and os.path.exists(path):
            with open(path, "rb") as f:
                good += hashlib.sha256(f.read()).hexdigest() == expected
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    served_mib = good * args.size_mib
    row = {"label": label, "good": good, "wall": wall, "rate": served_mib * MIB / wall / 1e6,
           "cpu": cpu, "cpu_per_mib": cpu / max(served_mib, 1) * 1e3, "peak": peak,
           "gets": (gets(origin_log, "/" + name) - before_gets) if origin_log else None,
           "method": accounting.method}
    print(f"{label:>13}: {good}/{args.clients} exact in {wall:.1f} s, {row['rate']:.0f} MB/s, "
          f"{cpu:.2f} CPU s ({row['cpu_per_mib']:.2f} ms/MiB), peak {peak} KiB, origin GETs {row['gets']}",
          flush=True)
    return row


def write(args, rows):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [HEADING, "",
             f"{args.clients} clients (tftp-client, blksize 1428, windowsize 8, tsize) download one "
             f"{args.size_mib} MiB file at once; nginx on 127.0.0.1 serves the origin from tmpfs. "
             f"Measured {now} by `bench/origin.py`; server CPU and memory by {rows[0]['method']}.", "",
             "| source | exact | wall s | MB/s | server CPU s | CPU ms/MiB | peak KiB | origin GETs |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['label']} | {r['good']}/{args.clients} | {r['wall']:.1f} | {r['rate']:.0f} | "
                     f"{r['cpu']:.2f} | {r['cpu_per_mib']:.2f} | {r['peak']} | "
                     f"{'-' if r['gets'] is None else r['gets']} |")
    text = ""
    with contextlib.suppress(FileNotFoundError), open(args.output) as f:
        text = f.read()
    span = section_span(text, HEADING)
    if span:
        text = text[:span[0]] + text[span[1]:]
    text = text.rstrip("\n") + "\n\n" + "\n".join(lines) + "\n"
    with open(args.output, "w") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True, help="path of tftp-server (a release build)")
    parser.add_argument("--client", required=True, help="path of tftp-client")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--limit", type=float, default=600, help="seconds the whole storm may take")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args()
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="tftp-bench-origin-", dir=base) as temp:
        root, www, work, cache = (os.path.join(temp, d) for d in ("root", "www", "work", "cache"))
        for d in (root, www, work):
            os.makedirs(d)
        os.chmod(temp, 0o755)
        data = os.urandom(args.size_mib * MIB)
        expected = hashlib.sha256(data).hexdigest()
        for d in (root, www):
            with open(os.path.join(d, "boot.img"), "wb") as f:
                f.write(data)
        rows = [storm(args, [], root, work, "boot.img", expected, "ROOT")]
        with nginx(www, temp) as (port, log):
            origin = ["--origin", f"http://127.0.0.1:{port}/", "--origin-only", "--cache-dir", cache,
                      "--cache-ttl", "3600"]
            rows.append(storm(args, origin, root, work, "boot.img", expected, "origin, cold", log))
            rows.append(storm(args, origin, root, work, "boot.img", expected, "origin, warm", log))
        shutil.rmtree(cache, ignore_errors=True)
    write(args, rows)


if __name__ == "__main__":
    main()

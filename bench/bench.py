#!/usr/bin/env python3
"""Side-by-side TFTP throughput on loopback: this project's server and client against tftpd-hpa, atftpd and
their clients, in one run, interleaved rounds, medians, ratios to the best peer pair (bench/README.md).

Writes a table to stdout and bench/RESULTS.md. Files live on tmpfs (/dev/shm) so disks do not matter.
"""

import argparse
import contextlib
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))
import interop  # noqa: E402  (server and client command lines, readiness probe)

MIB = 1 << 20

# (block size, window): the configurations of issue 9.
CONFIGS = [(512, 1), (1468, 1), (8192, 1), (65464, 1), (1468, 8), (1468, 16), (1468, 64), (65464, 8),
           (65464, 16), (65464, 64)]
SERVERS = ["ours", "tftpd-hpa", "atftpd"]
CLIENTS = ["ours", "tftp-hpa", "atftp", "busybox", "curl"]


def speaks(client, server, block, window, op):
    """Whether the pair can run this configuration at all."""
    if window > 1 and not ({client, server} <= {"ours", "atftp", "atftpd"}):
        return False  # only atftp/atftpd and ours speak windowsize
    if client == "tftp-hpa" and block != 512:
        return False  # the tftp-hpa 5.2 client cannot ask for blksize
    if client == "curl" and op == "put" and block > 512:
        return False  # curl sends blksize on uploads but fails with larger blocks against some servers
    return True


class Accounting:
    """CPU time and peak memory of a server and every process and thread it starts, from a cgroup made for
    it (v2, or v1 cpuacct + memory). /proc/PID/stat would miss tftpd-hpa's per-transfer children: it ignores
    SIGCHLD, so they are never waited for and never added to its cutime. Without cgroups (not root), falls
    back to that: the table then says so."""

    def __init__(self, pid, name):
        self.pid, self.dirs, self.v2 = pid, [], os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        bases = ["/sys/fs/cgroup"] if self.v2 else ["/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/memory"]
        try:
            for base in bases:
                path = os.path.join(base, f"{name}-{os.getpid()}")
                os.makedirs(path, exist_ok=True)
                self.dirs.append(path)
                with open(os.path.join(path, "cgroup.procs"), "w") as f:
                    f.write(str(pid))
        except OSError as error:
            print(f"no cgroup for {name}: {error}", flush=True)
            self.dirs = []
        self.method = "cgroup" if self.dirs else "/proc (children not waited for are missed)"
        # A moved process's pages stay charged where they were: count what it held when it moved.
        self.rss_at_move = self._vm("VmRSS")

    def _vm(self, field):
        with open(f"/proc/{self.pid}/status") as f:
            return next((int(line.split()[1]) for line in f if line.startswith(field + ":")), 0)

    def _read(self, index, name):
        with open(os.path.join(self.dirs[index], name)) as f:
            return f.read()

    def cpu_seconds(self):
        if not self.dirs:
            with open(f"/proc/{self.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")
        if self.v2:
            usage = dict(line.split() for line in self._read(0, "cpu.stat").splitlines())
            return int(usage["usage_usec"]) / 1e6
        return int(self._read(0, "cpuacct.usage")) / 1e9

    def peak_kib(self):
        name = "memory.peak" if self.v2 else "memory.max_usage_in_bytes"
        if not self.dirs or not os.path.exists(os.path.join(self.dirs[-1], name)):
            return self._vm("VmHWM")  # no memory controller in that cgroup: the main process only
        return self.rss_at_move + int(self._read(-1, name)) // 1024

    def close(self):
        for path in self.dirs:
            for _ in range(50):  # empty once the server and its last children have exited
                try:
                    os.rmdir(path)
                    break
                except OSError:
                    time.sleep(0.1)


def timed(command, limit):
    """A run that exceeds `limit` counts as failed ("stalled"), so one stalling peer cannot hold the bench."""
    start = time.monotonic()
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=limit)
    except subprocess.TimeoutExpired:
        return time.monotonic() - start, None, f"stalled: over {limit} s"
    return time.monotonic() - start, result.returncode, result.stderr.decode(errors="replace")[-300:]


def one_transfer(args, server, client, port, root, work, op, block, window, name, host="127.0.0.1", netns=None):
    local = os.path.join(work, "local-" + name) if op == "get" else os.path.join(root, name)
    remote = name if op == "get" else f"up-{client}-{server}-{name}"
    # Our client asks for a window of 8 unless told: lock-step cells say window 1 to it.
    command = interop.client_command(client, args, op, host, port, remote, local,
                                     block if not (client == "tftp-hpa") else None,
                                     window if window > 1 or client == "ours" else None)
    if netns:
        command = ["ip", "netns", "exec", netns] + command
    seconds, code, err = timed(command, args.limit)
    target = local if op == "get" else os.path.join(root, remote)
    ok = code == 0 and os.path.exists(target) and os.path.getsize(target) == os.path.getsize(os.path.join(root, name))
    with contextlib.suppress(FileNotFoundError):
        os.unlink(target)
    return seconds if ok else None, err


def throughput(args, root, work, size):
    """results[(server, client, op, block, window)] = list of seconds (None for a failed run)."""
    results = {}
    ports = {}
    processes = {}
    with contextlib.ExitStack() as stack:
        for server in args.servers:
            if not interop.peer_available(server):
                print(f"skip {server}: not installed")
                continue
            port = interop.free_udp_port()
            args.retries = None
            processes[server] = stack.enter_context(
                interop.running(interop.server_command(server, args, root, "127.0.0.1", port), "127.0.0.1", port))
            ports[server] = port
        for round_ in range(args.rounds):
            for block, window in args.configs:
                for server in ports:
                    for client in args.clients:
                        if not interop.peer_available(client):
                            continue
                        for op in ("get", "put"):
                            if not speaks(client, server, block, window, op):
                                continue
                            seconds, err = one_transfer(args, server, client, ports[server], root, work, op, block,
                                                        window, "big.bin")
                            results.setdefault((server, client, op, block, window), []).append(seconds)
                            shown = "failed: " + err.strip().replace("\n", " ") if seconds is None else \
                                f"{size / seconds / 1e6:8.1f} MB/s"
                            print(f"round {round_ + 1} {server:>9} <- {client:<8} {op} {block:>5}/{window:<2} {shown}",
                                  flush=True)
    return results


def concurrency(args, root, work, count):
    """count simultaneous 4 MiB downloads at blksize 512 by the same client (tftp-hpa) from each server."""
    rows = []
    for server in args.servers:
        if not interop.peer_available(server):
            continue
        port = interop.free_udp_port()
        args.retries = None
        with interop.running(interop.server_command(server, args, root, "127.0.0.1", port), "127.0.0.1",
                             port) as process:
            accounting = Accounting(process.pid, f"tftp-bench-{server}")
            before = accounting.cpu_seconds()
            start = time.monotonic()
            clients = [subprocess.Popen(["tftp", "127.0.0.1", str(port), "-m", "binary", "-c", "get", "small.bin",
                                         os.path.join(work, f"c{i}")], stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(count)]
            codes = [c.wait(timeout=600) for c in clients]
            wall = time.monotonic() - start
            cpu = accounting.cpu_seconds() - before
            rss = accounting.peak_kib()
        accounting.close()
        good = sum(1 for i, code in enumerate(codes)
                   if code == 0 and os.path.getsize(os.path.join(work, f"c{i}")) == 4 * MIB)
        for i in range(count):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(work, f"c{i}"))
        blocks = good * (4 * MIB // 512 + 1)
        rows.append((server, count, good, good * 4 * MIB / wall / 1e6, cpu, cpu / max(blocks, 1) * 1e6, rss,
                     accounting.method))
        print(f"{server:>9}: {count} clients, {good} complete, {rows[-1][3]:.1f} MB/s aggregate, "
              f"{cpu:.2f} CPU s ({rows[-1][5]:.2f} us/block), peak memory {rss} KiB", flush=True)
    return rows


# (block size, window) under loss, and the pairs that run them: ours/ours against each peer's own pair.
LOSSY_RATES = [0.01, 0.05]
LOSSY_CONFIGS = [(512, 1), (1428, 1), (1428, 8)]
LOSSY_PAIRS = [("ours", "ours"), ("tftpd-hpa", "tftp-hpa"), ("atftpd", "atftp")]


def lossy(args, root, work, size):
    """results[(rate, block, window, op, server, client)] = list of seconds (None: failed or over the limit).
    Both ends in a network namespace whose loopback drops each UDP datagram with probability `rate`
    (iptables statistic, as the interop loss tests)."""
    results = {}
    host = "10.254.254.1"
    for rate in LOSSY_RATES:
        with interop.lossy_namespace(rate) as netns:
            ports = {}
            with contextlib.ExitStack() as stack:
                for server, _ in LOSSY_PAIRS:
                    if not interop.peer_available(server):
                        print(f"skip {server}: not installed")
                        continue
                    port = interop.free_udp_port()
                    args.retries = None
                    stack.enter_context(interop.running(interop.server_command(server, args, root, host, port), host,
                                                        port, netns))
                    ports[server] = port
                for round_ in range(args.rounds):
                    for block, window in LOSSY_CONFIGS:
                        for server, client in LOSSY_PAIRS:
                            if server not in ports or not interop.peer_available(client):
                                continue
                            for op in ("get", "put"):
                                if not speaks(client, server, block, window, op):
                                    continue
                                seconds, err = one_transfer(args, server, client, ports[server], root, work, op, block,
                                                            window, "lossy.bin", host, netns)
                                results.setdefault((rate, block, window, op, server, client), []).append(seconds)
                                shown = "failed: " + err.strip().replace("\n", " ") if seconds is None else \
                                    f"{seconds:6.2f} s"
                                print(f"loss {rate:.0%} round {round_ + 1} {server:>9} <- {client:<8} {op} "
                                      f"{block:>5}/{window:<2} {shown}", flush=True)
    return results


def udp_ceiling(args):
    output = subprocess.run([args.udp_ceiling, "2"], capture_output=True, text=True, timeout=60).stdout
    return float(output.split()[1])


THROUGHPUT = "## Throughput"
CONCURRENCY = "## Concurrent"
LOSSY = "## Lossy link"


def section_span(text, heading):
    """[start, end) of the section of a RESULTS.md text that starts with heading (up to the next "## "), or
    None."""
    start = text.find(heading)
    if start < 0:
        return None
    end = text.find("\n## ", start + 1)
    return start, end + 1 if end >= 0 else len(text)


def kept_section(path, heading):
    """The section of an earlier RESULTS.md that starts with heading, for a run that did not measure it."""
    with contextlib.suppress(FileNotFoundError), open(path) as f:
        text = f.read()
        span = section_span(text, heading)
        if span:
            return text[span[0]:span[1]].rstrip("\n").split("\n")
    return []


def lossy_lines(args, lossy_size, lossy_results, now):
    if lossy_results is None:
        return kept_section(args.output, LOSSY) + [""]
    lines = [f"{LOSSY}: seconds for {lossy_size // MIB} MiB (median) and the ratio of the best peer pair's time to "
             "ours", "",
             f"Measured {now}: both ends in a network namespace that drops each UDP datagram with the given "
             f"probability, {args.rounds} interleaved rounds, medians; a run over {args.limit:.0f} s counts as "
             "failed. Ratio above 1: ours is faster.", "",
             "| loss | blksize/window | op | ours/ours | tftpd-hpa/tftp-hpa | atftpd/atftp | ratio |",
             "|---|---|---|---|---|---|---|"]
    for rate in LOSSY_RATES:
        for block, window in LOSSY_CONFIGS:
            for op in ("get", "put"):
                cells = {}
                for server, client in LOSSY_PAIRS:
                    runs = lossy_results.get((rate, block, window, op, server, client))
                    if runs is None:
                        continue
                    good = [r for r in runs if r is not None]
                    cells[server] = statistics.median(good) if len(good) == len(runs) else None
                if not cells:
                    continue
                ours = cells.get("ours")
                peers = [v for k, v in cells.items() if k != "ours" and v is not None]
                ratio = f"{min(peers) / ours:.1f}x" if ours and peers else "-"

                def shown(server):
                    if server not in cells:
                        return "-"
                    return "fail" if cells[server] is None else f"{cells[server]:.2f}"
                lines.append(f"| {rate:.0%} | {block}/{window} | {op} | {shown('ours')} | {shown('tftpd-hpa')} | "
                             f"{shown('atftpd')} | {ratio} |")
    return lines + [""]


def report(args, size, results, conc, ceiling, lossy_size=None, lossy_results=None):
    now = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    lines = [f"# Benchmark results", "",
             f"- machine: {platform.node()}, {os.cpu_count()} cores, {platform.platform()}",
             f"- raw UDP ceiling (64 KB datagrams, one way): {ceiling / 1e9:.2f} GB/s ({now})", ""]
    if results is None:
        lines += kept_section(args.output, THROUGHPUT) + [""]
    else:
        lines += [f"{THROUGHPUT} (MB/s, median) and ratio of our pair to the best peer pair", "",
                  f"Measured {now}: a {size // MIB} MiB file on tmpfs, {args.rounds} interleaved rounds, medians; "
                  "loopback.", "",
                  "| blksize/window | op | ours/ours | best peer pair | ratio | every pair (server <- client: MB/s) |",
                  "|---|---|---|---|---|---|"]
        for block, window in args.configs:
            for op in ("get", "put"):
                cells = {}
                for (server, client, o, b, w), runs in results.items():
                    if (o, b, w) != (op, block, window):
                        continue
                    good = [r for r in runs if r is not None]
                    cells[(server, client)] = size / statistics.median(good) / 1e6 if len(good) == len(runs) else None
                if not cells:
                    continue
                ours = cells.get(("ours", "ours"))
                peers = {k: v for k, v in cells.items() if "ours" not in k and v is not None}
                best = max(peers.items(), key=lambda kv: kv[1]) if peers else None
                ratio = f"{ours / best[1]:.2f}x" if ours and best else "-"
                every = ", ".join(f"{s} <- {c}: {'fail' if v is None else f'{v:.0f}'}"
                                  for (s, c), v in sorted(cells.items()))
                lines.append(f"| {block}/{window} | {op} | {'fail' if ours is None else f'{ours:.1f}'} | "
                             f"{f'{best[1]:.1f} ({best[0][0]} <- {best[0][1]})' if best else '-'} | {ratio} | {every} |")
        lines.append("")
    if conc is None:
        lines += kept_section(args.output, CONCURRENCY) + [""]
    else:
        methods = sorted({row[7] for row in conc})
        lines += [f"{CONCURRENCY} 4 MiB downloads at blksize 512 (tftp-hpa client for every server)", "",
                  f"Measured {now}. Server CPU and peak memory count every process and thread of the server "
                  f"(measured by {', '.join(methods)}).", "",
                  "| server | clients | complete | aggregate MB/s | server CPU s | CPU us/block | peak memory KiB |",
                  "|---|---|---|---|---|---|---|"]
        for server, count, good, mbs, cpu, per_block, rss, _ in conc:
            lines.append(f"| {server} | {count} | {good} | {mbs:.1f} | {cpu:.2f} | {per_block:.2f} | {rss} |")
        lines.append("")
    lines += lossy_lines(args, lossy_size, lossy_results, now)
    for heading in ("## Origin", "## Boot storms"):  # bench/origin.py's and bench/storm.py's, measured on their own
        kept = kept_section(args.output, heading)
        if kept:
            lines += [""] + kept
    text = "\n".join(lines).rstrip("\n") + "\n"
    print(text)
    with open(args.output, "w") as f:
        f.write(text)


def configs(text):
    return [tuple(int(n) for n in item.split("/")) for item in text.split(",")]


def names(text):
    return text.split(",")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True, help="path of tftp-server (a release build)")
    parser.add_argument("--client", required=True, help="path of tftp-client")
    parser.add_argument("--udp-ceiling", required=True, help="path of udp_ceiling")
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--skip-concurrency", action="store_true")
    parser.add_argument("--skip-lossy", action="store_true")
    parser.add_argument("--lossy-size-mib", type=int, default=1)
    parser.add_argument("--only", choices=["throughput", "concurrency", "lossy"],
                        help="measure one section; the others are kept from the existing --output file")
    parser.add_argument("--limit", type=float, default=120, help="seconds before one transfer counts as stalled")
    parser.add_argument("--configs", type=configs, default=CONFIGS,
                        help="throughput configurations BLOCK/WINDOW, comma-separated (default: all)")
    parser.add_argument("--servers", type=names, default=SERVERS, help="comma-separated, of " + ",".join(SERVERS))
    parser.add_argument("--clients", type=names, default=CLIENTS, help="comma-separated, of " + ",".join(CLIENTS))
    args = parser.parse_args()
    size = args.size_mib * MIB
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.TemporaryDirectory(prefix="tftp-bench-", dir=base) as temp:
        root, work = os.path.join(temp, "root"), os.path.join(temp, "work")
        os.makedirs(root)
        os.makedirs(work)
        os.chmod(temp, 0o755)
        os.chmod(root, 0o777)
        with open(os.path.join(root, "big.bin"), "wb") as f:
            for _ in range(args.size_mib):
                f.write(os.urandom(MIB))
        with open(os.path.join(root, "small.bin"), "wb") as f:
            f.write(os.urandom(4 * MIB))
        lossy_size = args.lossy_size_mib * MIB
        with open(os.path.join(root, "lossy.bin"), "wb") as f:
            f.write(os.urandom(lossy_size))
        ceiling = udp_ceiling(args)
        only = args.only
        results = throughput(args, root, work, size) if only in (None, "throughput") else None
        conc = [] if args.skip_concurrency and only is None else \
            concurrency(args, root, work, 50) + concurrency(args, root, work, 200) if only in (None, "concurrency") \
            else None
        measure_lossy = only == "lossy" or (only is None and not args.skip_lossy)
        lossy_results = lossy(args, root, work, lossy_size) if measure_lossy else None  # None: kept as it was
        report(args, size, results, conc, ceiling, lossy_size, lossy_results)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Boot storms (issue 22): thousands of simulated UEFI PXE clients (tftp-storm, one process, one thread)
against this project's server, tftpd-hpa and atftpd, one server after the other in one run. Each server runs
in a cgroup of its own, so its CPU and peak memory count every process and thread it starts (bench.py's
Accounting); the file is served from tmpfs (/dev/shm).

Writes the section "## Boot storms" of bench/RESULTS.md (a table per storm; storms not run are kept from the
existing section, the rest of the file is left as it is), one line per client to --times-dir, and a chart of
each storm's time-to-complete distribution (CDF), ours next to the peers: bench/storms.png.
"""

import argparse
import contextlib
import datetime
import glob
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "interop"))
import interop  # noqa: E402
from bench import Accounting, SERVERS, section_span  # noqa: E402

HEADING = "## Boot storms"

# name: (clients, file KiB, blksize, window, loss, ramp s)
STORMS = {
    "lockstep": (2000, 8 * 1024, 1468, 1, 0.0, 5),
    "window4": (2000, 8 * 1024, 1468, 4, 0.0, 5),
    "lossy": (2000, 8 * 1024, 1468, 1, 0.01, 5),
    "ten-thousand": (10000, 1024, 1468, 1, 0.0, 10),
    "smoke": (200, 256, 1468, 1, 0.0, 1),
}


def shape(args, name):
    clients, kib, block, window, loss, ramp = STORMS[name]
    return {
        "clients": args.clients or clients,
        "kib": args.size_kib or kib,
        "blksize": args.blksize or block,
        "window": args.window or window,
        "loss": loss if args.loss is None else args.loss,
        "ramp": ramp if args.ramp is None else args.ramp,
    }


def describe(s):
    loss = f", {s['loss']:.0%} loss" if s["loss"] else ""
    size = f"{s['kib'] // 1024} MiB" if s["kib"] % 1024 == 0 else f"{s['kib']} KiB"
    return f"{s['clients']} clients, {size}, blksize {s['blksize']}, window {s['window']}{loss}, ramp {s['ramp']} s"


def server_command(server, args, root, port, clients):
    """interop's command line, with the limits a storm needs."""
    command = interop.server_command(server, args, root, "127.0.0.1", port)
    if server == "ours":
        # Loopback clients count only against --max-sessions (README, Admission): room for every client's
        # probe and download at once.
        command += ["--max-sessions", str(min(100000, max(1000, 2 * clients)))]
        if args.workers is not None:
            command += ["--workers", str(args.workers)]
    if server == "atftpd":
        command[command.index("--maxthread") + 1] = str(max(200, clients))
    return command


def run_storm(args, name, server, root, file_name, times_dir):
    """One storm against one server: tftp-storm's JSON, with the server's CPU and peak memory."""
    s = shape(args, name)
    port = interop.free_udp_port()
    args.retries = None
    times = os.path.join(times_dir, f"{name}-{server}.tsv")
    command = [args.storm, "--server", "127.0.0.1", "--port", str(port), "--file", file_name,
               "--expect", os.path.join(root, file_name), "--clients", str(s["clients"]), "--ramp", str(s["ramp"]),
               "--blksize", str(s["blksize"]), "--window", str(s["window"]), "--loss", str(s["loss"]),
               "--seed", str(args.seed), "--stall-fraction", str(args.stall_fraction),
               "--stall-seconds", str(args.stall_seconds), "--max-seconds", str(args.max_seconds), "--json",
               "--times", times]
    log = os.path.join(times_dir, f"{name}-{server}.log")
    with open(log, "w") as log_file, interop.running(server_command(server, args, root, port, s["clients"]),
                                                     "127.0.0.1", port, stderr=log_file) as process:
        accounting = Accounting(process.pid, f"tftp-storm-{server}")
        before = accounting.cpu_seconds()
        result = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=args.max_seconds + 120)
        cpu = accounting.cpu_seconds() - before
        peak = accounting.peak_kib()
        exited = process.poll()
    stop_leftovers(accounting)
    accounting.close()
    if result.returncode != 0:
        raise RuntimeError(f"tftp-storm failed ({result.returncode}): {result.stderr.strip()}")
    row = json.loads(result.stdout)
    row.update(server=server, server_cpu=cpu, peak_kib=peak, method=accounting.method,
               server_exited=None if exited is None else f"{exited}{last_line(log)}")
    failures = ", ".join(f"{why}: {count}" for why, count in row["failures"].items()) or "none"
    print(f"{name:>12} {server:>9}: {row['exact']}/{row['clients']} exact, failures {failures}, "
          f"p50 {row['p50']:.2f} p99 {row['p99']:.2f} max {row['max']:.2f} s, server CPU {cpu:.1f} s "
          f"({per_block(row):.1f} us/block), peak {peak / 1024:.1f} MiB; generator CPU {row['cpu_seconds']:.1f} s, "
          f"wall {row['wall_seconds']:.1f} s" + (f"; the server exited ({exited})" if exited is not None else ""),
          flush=True)
    return row


def stop_leftovers(accounting):
    """Processes the server left behind: tftpd-hpa's per-transfer children outlive it and would load the
    next storm's server."""
    for path in accounting.dirs[:1]:
        with contextlib.suppress(OSError), open(os.path.join(path, "cgroup.procs")) as f:
            for pid in f.read().split():
                with contextlib.suppress(OSError):
                    os.kill(int(pid), signal.SIGKILL)


def last_line(path):
    """What a server that exited said last, e.g. atftpd's abort."""
    with open(path, errors="replace") as f:
        lines = [line.strip() for line in f if line.strip()]
    return f": {lines[-1]}" if lines else ""


def per_block(row):
    return row["server_cpu"] / max(row["blocks"], 1) * 1e6


def table(name, s, rows, notes, now):
    generator = ", ".join(f"{r['server']} {r['cpu_seconds']:.1f} s of {r['wall_seconds']:.1f} s" for r in rows)
    lines = [f"### {name}: {describe(s)}", "", f"Measured {now}; tftp-storm's own CPU (of its wall time): {generator}.",
             ""]
    if notes:
        lines += notes + [""]
    lines += ["| server | clients | complete exact | failures | p50 s | p90 s | p99 s | max s | server CPU s | "
              "CPU us/block | peak memory MiB | KiB/session |",
              "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        failures = ", ".join(f"{why}: {count}" for why, count in sorted(r["failures"].items())) or "none"
        if r["mismatched"]:
            failures += f", mismatched: {r['mismatched']}"
        if r["server_exited"] is not None:
            failures += f" (the server exited with {r['server_exited']})"
        # Percentiles of the clients that completed: none completed, none to show.
        times = " | ".join(f"{r[q]:.2f}" if r["exact"] else "-" for q in ("p50", "p90", "p99", "max"))
        lines.append(f"| {r['server']} | {r['clients']} | {r['exact']} | {failures} | {times} | {r['server_cpu']:.1f} | "
                     f"{per_block(r):.1f} | {r['peak_kib'] / 1024:.1f} | {r['peak_kib'] / r['clients']:.1f} |")
    return lines + [""]


def kept_storms(text):
    """The tables of the existing section, by storm name."""
    span = section_span(text, HEADING)
    if not span:
        return {}
    parts = text[span[0]:span[1]].split("\n### ")[1:]
    return {part.split(":", 1)[0]: ("### " + part).rstrip("\n").split("\n") + [""] for part in parts}


def write(args, tables, methods):
    now = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    text = ""
    with contextlib.suppress(FileNotFoundError), open(args.output) as f:
        text = f.read()
    kept = kept_storms(text)
    kept.update(tables)
    lines = [HEADING, "",
             f"Measured by `bench/storm.py` on {platform.node()}, {os.cpu_count()} cores, {platform.platform()} "
             f"(latest run {now}). Each client of `tftp-storm` (one process, one thread, the library's Receiver "
             "per client, a socket per client) does what a UEFI ROM does: an RRQ with tsize and blksize whose "
             "OACK it declines with ERROR 8, then the real RRQ from a new port (blksize, tsize, windowsize when "
             "above 1); it hashes every byte and compares it with the file. Times run from a client's first RRQ "
             "to its last block; its retransmission timeout is 1 s (fixed, backed off), its give-up time 31 s. "
             f"Server CPU and peak memory count every process and thread of the server ({', '.join(methods)}); "
             "KiB/session is the peak over the whole run divided by the clients, not a per-session measurement. "
             "Chart: bench/storms.png (one panel per storm, fraction of clients complete and exact by time).", ""]
    for name in STORMS:
        lines += kept.get(name, [])
    section = "\n".join(lines).rstrip("\n") + "\n"
    span = section_span(text, HEADING)
    if span:
        text = text[:span[0]] + section + ("\n" if span[1] < len(text) else "") + text[span[1]:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(args.output, "w") as f:
        f.write(text)
    print(section)


def read_times(path):
    """Seconds of the clients complete and exact, sorted, and the number of clients."""
    seconds, clients = [], 0
    with open(path) as f:
        for line in f:
            if line.startswith("#"):
                continue
            clients += 1
            _, _, result, value = line.rstrip("\n").split("\t")
            if result == "exact":
                seconds.append(float(value))
    return sorted(seconds), clients


def chart(args, times_dir):
    """One panel per storm with times on disk: the fraction of clients complete and exact by time, a line
    per server. Clients that failed keep a line below 1."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print("no chart: matplotlib is missing (Debian python3-matplotlib, scripts/setup.sh; run with "
              "/usr/bin/python3 where another python3 comes first)")
        return
    storms = [name for name in STORMS if glob.glob(os.path.join(times_dir, f"{name}-*.tsv"))]
    if not storms:
        return
    columns = min(3, len(storms))
    rows = (len(storms) + columns - 1) // columns
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 4 * rows), squeeze=False)
    for axis in axes.flat[len(storms):]:
        axis.set_visible(False)
    for axis, name in zip(axes.flat, storms):
        every = []
        for server in SERVERS:
            path = os.path.join(times_dir, f"{name}-{server}.tsv")
            if not os.path.exists(path):
                continue
            seconds, clients = read_times(path)
            every += seconds
            fractions = [(i + 1) / clients for i in range(len(seconds))]
            axis.step(seconds, fractions, where="post", label=f"{server} ({len(seconds)}/{clients})",
                      linewidth=2 if server == "ours" else 1.2)
        axis.set_title(name)
        if every and min(every) > 0 and max(every) / min(every) > 20:  # servers apart by orders of magnitude
            axis.set_xscale("log")
            axis.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
            axis.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axis.set_xlabel("seconds from first RRQ to last block")
        axis.set_ylim(0, 1.02)
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize="small", loc="lower right")
    for row in axes:
        row[0].set_ylabel("fraction of clients complete and exact")
    figure.tight_layout()
    figure.savefig(args.chart, dpi=110)
    print(f"chart: {args.chart}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", required=True, help="path of tftp-server (a release build)")
    parser.add_argument("--storm", required=True, help="path of tftp-storm (a release build)")
    parser.add_argument("storms", nargs="*", default=["lockstep", "window4", "lossy", "ten-thousand"],
                        help=f"which of {', '.join(STORMS)} (default: all but smoke)")
    parser.add_argument("--servers", nargs="+", default=SERVERS, choices=SERVERS)
    parser.add_argument("--clients", type=int, help="override the storm's clients")
    parser.add_argument("--size-kib", type=int, help="override the storm's file size")
    parser.add_argument("--ramp", type=float, help="override the storm's ramp (s)")
    parser.add_argument("--blksize", type=int)
    parser.add_argument("--window", type=int)
    parser.add_argument("--loss", type=float)
    parser.add_argument("--stall-fraction", type=float, default=0.0)
    parser.add_argument("--stall-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=22)
    parser.add_argument("--workers", type=int, help="our server's --workers (default: its own, one per CPU)")
    parser.add_argument("--max-seconds", type=float, default=600, help="bound of each storm against one server")
    parser.add_argument("--output", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--times-dir", default=os.path.join(HERE, "storm-times"))
    parser.add_argument("--chart", default=os.path.join(HERE, "storms.png"))
    parser.add_argument("--no-write", action="store_true", help="print only: leave RESULTS.md and the chart")
    args = parser.parse_args()
    unknown = [name for name in args.storms if name not in STORMS]
    if unknown:
        parser.error(f"unknown storm {', '.join(unknown)}: {', '.join(STORMS)}")

    now = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    os.makedirs(args.times_dir, exist_ok=True)
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    tables, methods = {}, set()
    with tempfile.TemporaryDirectory(prefix="tftp-storm-", dir=base) as temp:
        root = os.path.join(temp, "root")
        os.makedirs(root)
        os.chmod(temp, 0o755)
        os.chmod(root, 0o755)
        for name in args.storms:
            s = shape(args, name)
            file_name = f"boot-{s['kib']}k.bin"
            path = os.path.join(root, file_name)
            if not os.path.exists(path):
                with open(path, "wb") as f:
                    f.write(os.urandom(s["kib"] * 1024))
            rows, notes = [], []
            for server in args.servers:
                if not interop.peer_available(server):
                    print(f"skip {server}: not installed")
                    continue
                try:
                    rows.append(run_storm(args, name, server, root, file_name, args.times_dir))
                except RuntimeError as error:  # the server did not start or answer
                    notes.append(f"- {server}: {error}")
                    print(f"{name:>12} {server:>9}: {error}", flush=True)
            methods.update(r["method"] for r in rows)
            tables[name] = table(name, s, rows, notes, now)
    if not args.no_write:
        write(args, tables, sorted(methods))
        chart(args, args.times_dir)


if __name__ == "__main__":
    main()

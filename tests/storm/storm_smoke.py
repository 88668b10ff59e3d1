#!/usr/bin/env python3
"""Boot storm smoke test (issue 22): 200 simulated UEFI clients (tftp-storm) fetch a 256 KiB file from
tftp-server on 127.0.0.1 over a 2 s ramp. Passes when every client completes with every byte right and none
fails; timings are printed, never asserted (bench/storm.py measures them)."""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
import interop  # noqa: E402  (the server's command line, readiness probe)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", required=True, help="path of tftp-server")
    parser.add_argument("--storm", required=True, help="path of tftp-storm")
    parser.add_argument("--clients", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tftp-storm-smoke-") as root:
        with open(os.path.join(root, "boot.efi"), "wb") as f:
            f.write(random.Random(22).randbytes(256 * 1024))
        port = interop.free_udp_port()
        with interop.running(interop.server_command("ours", args, root, "127.0.0.1", port), "127.0.0.1", port):
            result = subprocess.run([args.storm, "--server", "127.0.0.1", "--port", str(port), "--file", "boot.efi",
                                     "--expect", os.path.join(root, "boot.efi"), "--clients", str(args.clients),
                                     "--ramp", "2", "--max-seconds", "60", "--json"],
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    print(result.stdout + result.stderr, flush=True)
    if result.returncode != 0:
        print(f"FAIL: tftp-storm exited with {result.returncode}")
        return 1
    report = json.loads(result.stdout)
    if report["exact"] != args.clients or report["mismatched"] or report["failures"]:
        print(f"FAIL: {report['exact']}/{args.clients} exact, {report['mismatched']} mismatched, "
              f"failures {report['failures']}")
        return 1
    print(f"PASS: {args.clients} clients exact, p99 {report['p99']:.2f} s (not asserted)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

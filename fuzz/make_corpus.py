#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ in each target's input format.

Run from anywhere: python3 fuzz/make_corpus.py. Seeds are rewritten; other files in the corpus
directories (inputs that found bugs, named crash-* or regress-*) are left alone.
"""
import pathlib
import struct

ROOT = pathlib.Path(__file__).resolve().parent / "corpus"


def u16(v):
    return struct.pack(">H", v)


def u64(v):
    return struct.pack(">Q", v)


def opts(*pairs):
    return b"".join(n + b"\0" + v + b"\0" for n, v in pairs)


def request(opcode, name, mode, *pairs):
    return u16(opcode) + name + b"\0" + mode + b"\0" + opts(*pairs)


def packet_seeds():
    seeds = {
        "rrq_octet": request(1, b"file.bin", b"octet"),
        "rrq_netascii": request(1, b"dir/readme.txt", b"netascii"),
        "rrq_mode_case": request(1, b"f", b"OcTeT"),
        "rrq_all_options": request(1, b"pxelinux.0", b"octet", (b"blksize", b"1428"), (b"timeout", b"3"),
                                   (b"tsize", b"0"), (b"windowsize", b"8")),
        "rrq_option_case": request(1, b"f", b"octet", (b"BLKSIZE", b"65464"), (b"TSize", b"0")),
        "rrq_unknown_option": request(1, b"f", b"octet", (b"multicast", b""), (b"x-vendor", b"any value")),
        "rrq_padded": request(1, b"boot", b"octet", (b"blksize", b"512")) + b"\0" * 6,
        "rrq_blksize_limits": request(1, b"f", b"octet", (b"blksize", b"8"), (b"windowsize", b"65535")),
        "rrq_tsize_max": request(1, b"f", b"octet", (b"tsize", b"18446744073709551615")),
        "wrq_octet": request(2, b"upload.bin", b"octet", (b"tsize", b"1048576")),
        "wrq_netascii": request(2, b"notes.txt", b"NETASCII"),
        "data_1": u16(3) + u16(1) + b"hello, world\n",
        "data_empty": u16(3) + u16(2),
        "data_wrap": u16(3) + u16(65535) + bytes(range(256)),
        "ack_0": u16(4) + u16(0),
        "ack_65535": u16(4) + u16(65535),
        "error_padded": u16(5) + u16(0) + b"padded\0\0\0junk",
        "error_unknown_code": u16(5) + u16(99) + b"\0",
        "oack_all": u16(6) + opts((b"blksize", b"1428"), (b"timeout", b"3"), (b"tsize", b"4096"), (b"windowsize", b"8")),
        "oack_tsize": u16(6) + opts((b"tsize", b"0")),
        # Refused packets: the parser must say why, not crash.
        "bad_truncated_mode": u16(1) + b"file\0oct",
        "bad_opcode": u16(7) + b"\0",
        "bad_mail": request(1, b"f", b"mail"),
        "bad_duplicate": request(1, b"f", b"octet", (b"blksize", b"512"), (b"BlkSize", b"1024")),
        "bad_value_sign": request(1, b"f", b"octet", (b"blksize", b"+512")),
        "bad_value_overflow": request(1, b"f", b"octet", (b"tsize", b"18446744073709551616")),
        "bad_empty_name": request(1, b"f", b"octet", (b"", b"1")),
        "bad_too_large": request(1, b"f" * 520, b"octet"),
        "bad_ack_long": u16(4) + u16(1) + b"\0",
        "bad_oack_empty": u16(6),
        "bad_padding_junk": request(1, b"f", b"octet") + b"\0\0x",
    }
    for code, message in enumerate([b"Not defined", b"File not found", b"Access violation", b"Disk full",
                                    b"Illegal TFTP operation", b"Unknown transfer ID", b"File already exists",
                                    b"No such user", b"Option negotiation failed"]):
        seeds[f"error_{code}"] = u16(5) + u16(code) + message + b"\0"
    return seeds


def policy(max_block=65464, max_window=64, min_timeout=1, max_timeout=255, max_upload=None, write=False,
           file_size=None):
    out = u16(max_block) + u16(max_window) + bytes([min_timeout, max_timeout])
    out += b"\1" + u64(max_upload) if max_upload is not None else b"\0"
    out += b"\1" if write else b"\0"
    out += b"\1" + u64(file_size) if file_size is not None else b"\0"
    return out


def client(block=None, window=None, timeout=None, tsize=None):
    out = b""
    out += b"\1" + u16(block) if block is not None else b"\0"
    out += b"\1" + u16(window) if window is not None else b"\0"
    out += b"\1" + bytes([timeout]) if timeout is not None else b"\0"
    out += b"\1" + u64(tsize) if tsize is not None else b"\0"
    return out


def options_seeds():
    all_opts = opts((b"blksize", b"1428"), (b"timeout", b"3"), (b"tsize", b"0"), (b"windowsize", b"8"))
    requested = opts((b"blksize", b"1024"), (b"windowsize", b"4"), (b"timeout", b"2"), (b"tsize", b"0"))
    return {
        "client_all": b"\0" + policy(file_size=123456) + client(1428, 8, 3, 0),
        "client_none": b"\0" + policy() + client(),
        "client_capped": b"\0" + policy(max_block=1024, max_window=4, file_size=1) + client(65535, 65535, 1, 0),
        "client_below_range": b"\0" + policy(max_block=2, max_window=0) + client(2, 0, 0),
        "client_write_refused": b"\0" + policy(max_upload=1000, write=True) + client(512, None, None, 1001),
        "client_timeout_outside": b"\0" + policy(min_timeout=5, max_timeout=10) + client(None, None, 3),
        "request_all": b"\1" + policy(file_size=99) + all_opts,
        "request_case": b"\1" + policy(file_size=0) + opts((b"BlkSize", b"65464"), (b"TSIZE", b"0")),
        "request_edges": b"\1" + policy(max_block=8) + opts((b"blksize", b"7"), (b"windowsize", b"0"),
                                                            (b"timeout", b"256"), (b"tsize", b"0")),
        "request_unknown": b"\1" + policy() + opts((b"x-unknown", b"value"), (b"blksize", b"99999999999999999999")),
        "request_write": b"\1" + policy(max_upload=10, write=True) + opts((b"tsize", b"10"), (b"blksize", b"1468")),
        "request_no_size": b"\1" + policy() + opts((b"tsize", b"0")),
        "oack_accepted": b"\2" + policy() + bytes([len(requested)]) + requested +
                         opts((b"blksize", b"512"), (b"windowsize", b"4"), (b"timeout", b"2"), (b"tsize", b"77")),
        "oack_too_big": b"\2" + policy() + bytes([len(requested)]) + requested + opts((b"blksize", b"2048")),
        "oack_unrequested": b"\2" + policy() + bytes([len(requested)]) + requested + opts((b"x-extra", b"1")),
        "oack_timeout_changed": b"\2" + policy() + bytes([len(requested)]) + requested + opts((b"timeout", b"3")),
    }


def netascii(blksize, chunks, text):
    return u16(blksize - 1) + bytes(c - 1 for c in chunks) + text


def netascii_seeds():
    return {
        "lines": netascii(512, [7, 64, 1, 200], b"first line\nsecond line\n\nlast line without newline"),
        "crlf_at_block_end": netascii(4, [1, 2, 3, 4], b"abc\nab\r\n\n\n\r\r"),
        "lone_cr_end": netascii(8, [3, 3, 3, 3], b"text\r"),
        "cr_nul_wire": netascii(2, [1, 1, 1, 1], b"\r\0\r\n\rx\r\r\n\n\0"),
        "binary": netascii(16, [5, 9, 13, 17], bytes(range(256))),
        "tiny_blocks": netascii(1, [1, 1, 1, 1], b"\n\r\n\r"),
        "empty": netascii(512, [1, 1, 1, 1], b""),
        "exact_multiple": netascii(8, [8, 8, 8, 8], b"12345\n" + b"1234567\n"),
    }


def frame(max_payload, reads, drain_mask, stream):
    return u16(max_payload) + bytes(r - 1 for r in reads) + bytes([drain_mask]) + stream


def framed(payload):
    return struct.pack(">I", len(payload)) + payload


def frame_seeds():
    header = b'{"name":"report.pdf","size":12345}'
    return {
        "one_header": frame(65535, [256, 256, 256, 256], 0xFF, framed(header)),
        "header_then_data": frame(4096, [3, 1, 7, 64], 0x55, framed(header) + framed(b"\0\1\2\3" * 8) + framed(b"")),
        "sticky": frame(64, [255, 255, 255, 255], 0x00, framed(b"a") + framed(b"bc") + framed(b"") + framed(b"def")),
        "split_header": frame(16, [1, 1, 2, 3], 0xAA, framed(b"0123456789abcdef") + b"\0\0"),
        "too_long": frame(8, [5, 5, 5, 5], 0xFF, framed(b"ok") + struct.pack(">I", 9) + b"never read"),
        "huge_length": frame(65535, [4, 4, 4, 4], 0x01, b"\xff\xff\xff\xff"),
        "limit_zero": frame(0, [2, 2, 2, 2], 0xFF, framed(b"") + framed(b"") + framed(b"x")),
        "truncated": frame(100, [10, 10, 10, 10], 0x0F, framed(b"whole") + struct.pack(">I", 50) + b"part"),
        "header_escapes": frame(4096, [9, 9, 9, 9], 0xFF,
                                framed(b' { "size" : 0 , "name" : "a\\u00e9\\ud83d\\ude00\\n\\/\\"b\\\\" } ')),
        "header_bad": frame(4096, [200, 200, 200, 200], 0xFF,
                            framed(b'{"name":"x","size":01}') + framed(b'{"name":"x","size":1,"name":"y"}') +
                            framed(b'{"name":"\\ud800","size":1}') + framed(b'{"name":"x","size":9007199254740992}') +
                            framed(b'{"name":"x","size":9007199254740991,"mode":"r"}') + framed(b'{"name":"\xc3(","size":1}')),
    }


def config(min_ms=10, spread_ms=1000, initial=64, retries=3, dally_ms=200, adaptive=True, unanswered=None,
           first_window_shift=None):
    reach = (0x80 | unanswered if unanswered is not None else 0) | \
        (0x40 | first_window_shift << 2 if first_window_shift is not None else 0)
    return bytes([min_ms - 1]) + u16(spread_ms) + bytes([initial, retries]) + u16(dally_ms) + bytes([adaptive, reach])


def wanted(block=None, window=None, timeout=None, tsize=False):
    present = (block is not None) | (window is not None) << 1 | (timeout is not None) << 2 | tsize << 3
    out = bytes([present])
    out += u16(block) if block is not None else b""
    out += u16(window) if window is not None else b""
    out += bytes([timeout]) if timeout is not None else b""
    return out


def server(max_block=65464, max_window=8, min_t=1, max_t=255, max_upload=None):
    out = u16(max_block) + u16(max_window) + bytes([min_t, max_t])
    return out + (b"\1" + u16(max_upload) if max_upload is not None else b"\0")


NO_FAILURE = b"\0"


def fail_at(index):
    return bytes([0xF0 + index])


# Adversary events (see adversary_events): the low nibble is the op, the high nibble milliseconds to wait.
def ev_data(delta=0, kind=0, short=0):
    return b"\x10" + bytes([delta & 0xFF, kind]) + (u16(short) if kind == 1 else b"")


def ev_ack(delta=0):
    return b"\x12" + bytes([delta & 0xFF])


EV_TIMEOUT = b"\x08\x00"
EV_EARLY = b"\x0b\x80"
EV_ECHO = b"\x07"
EV_REQUEST = b"\x0d"
EV_ABORT = b"\x0c\x00"


def ev_oack(max_block=1024, max_window=4):
    return b"\x04" + u16(max_block) + bytes([max_window])


def ev_error(code):
    return b"\x05" + bytes([code])


def ev_raw(data):
    return b"\x06" + bytes([len(data)]) + data


def adversary(role, size, options, policy, failure, events, **cfg):
    return bytes([role]) + config(**cfg) + u16(size) + options + policy + failure + events


def pair(kind, size, options, policy, failures, fates=b"", **cfg):
    return bytes([kind]) + config(**cfg) + u16(size) + options + policy + failures + fates


def transfer_seeds():
    opts = wanted(block=64, window=4, timeout=None, tsize=True)
    return {
        # serve_read: OACK out, ACK 0, then ACKs of the windows; a duplicate ACK; timeouts.
        "serve_read_windows": adversary(0, 600, opts, server(), NO_FAILURE,
                                        ev_ack(-1) + ev_ack(4) + ev_ack(0) + ev_ack(0) + EV_EARLY + EV_TIMEOUT +
                                        ev_ack(0) + ev_ack(0) + ev_ack(0)),
        "serve_read_plain": adversary(0, 1024, wanted(), server(), NO_FAILURE,
                                      ev_ack(0) + ev_ack(0) + ev_ack(0) + EV_TIMEOUT + ev_ack(0)),
        "serve_read_error": adversary(0, 100, wanted(block=8), server(), NO_FAILURE, ev_ack(-1) + ev_error(2)),
        "serve_read_read_fails": adversary(0, 2000, wanted(block=512, window=8), server(), fail_at(2),
                                           ev_ack(-1) + ev_ack(0)),
        "serve_read_reflected": adversary(0, 50, wanted(), server(), NO_FAILURE, EV_ECHO + EV_REQUEST + ev_raw(b"\0\4")),
        # Reach: a forged ACK 0, then silence; a small first window, then windows that grow.
        "serve_read_forged_ack0": adversary(0, 4000, wanted(block=512, window=8), server(), NO_FAILURE,
                                            ev_ack(0) + EV_TIMEOUT + EV_TIMEOUT + EV_TIMEOUT, unanswered=2,
                                            first_window_shift=1),
        "serve_read_slow_start": adversary(0, 9000, wanted(block=512, window=8), server(), NO_FAILURE,
                                           ev_ack(0) + ev_ack(0) + ev_ack(0) + ev_ack(0) + ev_ack(0) + ev_ack(0),
                                           unanswered=1, first_window_shift=1),
        # serve_write: OACK out, DATA in, a duplicate, a gap, the short end, then a repeated final DATA.
        "serve_write_blocks": adversary(1, 0, opts, server(), NO_FAILURE,
                                        ev_data() + ev_data() + ev_data(-1) + ev_data(2) + ev_data() +
                                        ev_data(0, 1, 10) + ev_data(-1, 1, 10) + EV_TIMEOUT),
        "serve_write_refused": adversary(1, 0, wanted(tsize=True), server(max_upload=10), NO_FAILURE, b""),
        "serve_write_oversize": adversary(1, 0, wanted(block=16), server(), NO_FAILURE, ev_data(0, 3)),
        "serve_write_disk_full": adversary(1, 0, wanted(), server(), fail_at(1), ev_data() + ev_data() + ev_data()),
        # client_write: WRQ out, OACK or ACK 0 in, then ACKs.
        "client_write_oack": adversary(2, 300, opts, server(), NO_FAILURE,
                                       ev_oack() + ev_ack(0) + ev_ack(0) + EV_TIMEOUT + ev_ack(0) + ev_ack(0)),
        "client_write_plain": adversary(2, 512, wanted(), server(), NO_FAILURE, ev_ack(0) + ev_ack(1) + ev_ack(0)),
        "client_write_bad_oack": adversary(2, 10, wanted(block=512), server(), NO_FAILURE,
                                           ev_raw(b"\0\6blksize\0" + b"9999\0")),
        # client_read: RRQ out, OACK or DATA 1 in, then DATA.
        "client_read_oack": adversary(3, 0, opts, server(), NO_FAILURE,
                                      ev_oack() + ev_data() + ev_data() + ev_data(0, 1, 3) + EV_TIMEOUT + EV_TIMEOUT),
        "client_read_plain": adversary(3, 0, wanted(), server(), NO_FAILURE,
                                       ev_data() + ev_data(0, 2) + ev_data(-1, 2) + EV_TIMEOUT),
        "client_read_error": adversary(3, 0, wanted(), server(), NO_FAILURE, ev_error(1)),
        "client_read_abort": adversary(3, 0, wanted(), server(), NO_FAILURE, ev_data() + EV_ABORT),
        # Pairs: fates per datagram (0xC0 lost, 0x30 duplicated, low nibble delay); past the end: no loss.
        "pair_download_clean": pair(4, 1500, opts, server(), NO_FAILURE + NO_FAILURE),
        "pair_download_reach_lossy": pair(4, 3000, wanted(block=64, window=8), server(), NO_FAILURE + NO_FAILURE,
                                          bytes([0x00, 0xC0, 0x05, 0x00, 0xC0, 0x31] * 10), unanswered=2,
                                          first_window_shift=0),
        "pair_download_lossy": pair(4, 700, wanted(block=32, window=8), server(), NO_FAILURE + NO_FAILURE,
                                    bytes([0x00, 0xC0, 0x3F, 0x05, 0xC0, 0xC0, 0x31, 0x0F] * 12)),
        "pair_download_oack_lost": pair(4, 64, wanted(block=64, tsize=True), server(), NO_FAILURE + NO_FAILURE,
                                        b"\x00\xc0\xc0\x00"),
        "pair_download_disk_full": pair(4, 900, wanted(block=128), server(), fail_at(3) + NO_FAILURE),
        "pair_download_lockstep_slow": pair(4, 1024, wanted(), server(), NO_FAILURE + NO_FAILURE,
                                            bytes([0x0F] * 16), min_ms=1, spread_ms=5, retries=1),
        "pair_upload_clean": pair(5, 2048, wanted(block=256, window=2, tsize=True), server(), NO_FAILURE + NO_FAILURE),
        "pair_upload_lossy": pair(5, 513, wanted(block=8, window=16), server(max_window=16), NO_FAILURE + NO_FAILURE,
                                  bytes([0xC0, 0x00, 0x30, 0xC1, 0x02, 0x33] * 20)),
        "pair_upload_refused": pair(5, 100, wanted(tsize=True), server(max_upload=99), NO_FAILURE + NO_FAILURE),
        "pair_upload_read_fails": pair(5, 800, wanted(block=100), server(), fail_at(4) + NO_FAILURE),
        "pair_upload_timeout_option": pair(5, 300, wanted(timeout=2), server(min_t=1, max_t=5), NO_FAILURE + NO_FAILURE,
                                           b"\xc0\xc0\x00\xc0"),
    }


# endpoint: a configuration, then actions (see endpoint_fuzzer.cpp): 0 a datagram (peer, socket pick: even
# is the listening socket, datagram kind, fields), 3 a well-behaved answer, 5 time passes (u16 ms), 6 the
# next deadline, 7 a shutdown.
def endpoint_config(single_port=False, writes=False, mtu=False, small_window=False, sessions=4, per_client=2,
                    resends=2, timeout=50, retries=3, window=8, ports=8):
    bits = (1 if single_port else 0) | (2 if writes else 0) | (4 if mtu else 0) | (8 if small_window else 0)
    return bytes([bits, sessions - 1, per_client - 1, resends, timeout, retries, window - 1, ports - 1])


def ep_options(block=None, window=None, tsize=None):
    bits = (1 if block is not None else 0) | (2 if window is not None else 0) | (4 if tsize is not None else 0)
    out = bytes([bits])
    if block is not None:
        out += u16(block)
    if window is not None:
        out += bytes([window])
    if tsize is not None:
        out += u16(tsize)
    return out


def ep_rrq(peer, name, netascii=False, options=b"\0", socket=0):
    return bytes([0, peer, socket, 0, name, 1 if netascii else 0]) + options


def ep_wrq(peer, name, options=b"\0"):
    return bytes([0, peer, 0, 1, name]) + options


def ep_ack(peer, block, socket):
    return bytes([0, peer, socket, 3]) + u16(block)


def ep_answer(flag=1, n=1):
    return bytes([3, flag]) * n


EP_ON_TIME = bytes([6])


def ep_wait(ms):
    return bytes([5]) + u16(ms)


def endpoint_seeds():
    return {
        "download_window": endpoint_config() + ep_rrq(0, 2, options=ep_options(block=1428, window=4)) + ep_answer(n=80),
        "download_lockstep": endpoint_config() + ep_rrq(1, 1) + ep_answer(n=4) + EP_ON_TIME * 3,
        "download_netascii_tsize": endpoint_config() + ep_rrq(2, 1, True, ep_options(tsize=0)) + ep_answer(n=6),
        "upload": endpoint_config(writes=True) + ep_wrq(0, 3) + bytes([3, 1, 0]) + ep_answer(n=5) + EP_ON_TIME * 4,
        "upload_refused": endpoint_config() + ep_wrq(0, 3) + ep_wrq(1, 1),
        "flood_then_client": endpoint_config(sessions=2, per_client=1) + b"".join(ep_rrq(p % 4, 2) for p in range(8)) +
                             ep_rrq(4, 1) + ep_answer(n=6) + EP_ON_TIME * 8,
        "stranger": endpoint_config() + ep_rrq(0, 2) + ep_ack(2, 1, 1) + ep_answer(n=3) + ep_ack(3, 1, 3),
        "single_port": endpoint_config(single_port=True) + ep_rrq(0, 2, options=ep_options(window=4)) + ep_answer(n=10) +
                       ep_ack(1, 1, 0) + ep_ack(2, 1, 0),
        "repeat_request": endpoint_config() + ep_rrq(0, 1) + ep_rrq(0, 1) + ep_answer(n=3),
        "shutdown": endpoint_config(writes=True) + ep_rrq(0, 2) + ep_answer(n=2) + bytes([7, 20]) + ep_rrq(1, 1) +
                    ep_wait(300) + EP_ON_TIME,
        "no_ports": endpoint_config(ports=1) + ep_rrq(0, 2) + ep_rrq(2, 2),
        "mtu_small_window": endpoint_config(mtu=True, small_window=True) +
                            ep_rrq(0, 2, options=ep_options(block=65464, window=16)) + ep_answer(n=20),
    }


def write(target, seeds):
    directory = ROOT / target
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in seeds.items():
        (directory / name).write_bytes(data)


def main():
    write("packet", packet_seeds())
    write("options", options_seeds())
    write("netascii", netascii_seeds())
    write("frame", frame_seeds())
    write("transfer", transfer_seeds())
    write("endpoint", endpoint_seeds())


if __name__ == "__main__":
    main()

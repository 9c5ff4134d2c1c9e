#!/usr/bin/env python3
"""Helpers for bench/load/run.sh (python3 standard library only).

  port                      print a free TCP port on 127.0.0.1
  wait URL SECONDS PID      wait until otp-local (process PID) answers GET URL
  prepare URL OUT COUNT     send COUNT codes to distinct email addresses, read the codes from
                            GET /_local/outbox and write "id code" lines to OUT (a verify pool)
  brief FILE                one line on a wrk run (for the console)
  rate FILE                 the requests/s of a wrk run
  reused FILE               how many verifies of a verify.lua run re-used a pair (its pool ran out)
  report RUNS JSON MD K=V…  every wrk output in RUNS → raw figures in JSON, the report section in MD
"""

import asyncio
import json
import re
import statistics
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from procs import free_port, wait  # noqa: E402


# --- a verify pool ---------------------------------------------------------------------------------

async def send_many(host, port, addresses, ids, batch=64):
    """One keep-alive connection sending email codes, pipelined: it writes a batch of sends, then
    reads their replies in order (the server answers a connection's requests in order); keeps each
    reply's id."""
    reader, writer = await asyncio.open_connection(host, port)
    for start in range(0, len(addresses), batch):
        chunk = addresses[start:start + batch]
        for _, address in chunk:
            body = b'{"channel":"email","to":"%s"}' % address.encode()
            writer.write(
                b"POST /v1/otp/send HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (host.encode(), len(body), body)
            )
        for i, address in chunk:
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
            reply = await reader.readexactly(length)
            if status != 202:
                sys.exit(f"a send to {address} answered {status}: {reply[:300]!r}")
            ids[i] = re.search(rb'"id":"(\w+)"', reply).group(1).decode()
    writer.close()


async def send_all(host, port, addresses, connections=8):
    ids = [None] * len(addresses)
    numbered = list(enumerate(addresses))
    await asyncio.gather(
        *(send_many(host, port, numbered[c::connections], ids) for c in range(connections))
    )
    return ids


# otp-local's outbox keeps its most recent 1,000 messages (Outbox::CAPACITY): codes are read back
# after each chunk of sends at most that long.
OUTBOX_KEPT = 1000


def prepare(url, out, count):
    """The challenges a verify-only run approves, made as a client makes them: by sending. The codes
    come from otp-local's outbox (the stand-in for the phone or mailbox), matched by address; the
    addresses are named after OUT, so each pool's are new to the server."""
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    tag = Path(out).stem
    addresses = [f"load-{tag}-{i}@example.com" for i in range(count)]
    ids = []
    codes = {}
    sending = reading = 0.0
    for start in range(0, count, OUTBOX_KEPT):
        chunk = addresses[start:start + OUTBOX_KEPT]
        started = time.monotonic()
        ids += asyncio.run(send_all(host, int(port), chunk))
        sent = time.monotonic()
        with urllib.request.urlopen(f"{url}/_local/outbox", timeout=300) as reply:
            outbox = json.load(reply)
        wanted = set(chunk)
        for entry in outbox:
            if entry["to"] in wanted:
                # The email's text: "Your verification code is:\n\n123456\n\n…", the only 6-digit run.
                codes[entry["to"]] = re.search(r"(?<!\d)\d{6}(?!\d)", entry["body"]).group(0)
        sending += sent - started
        reading += time.monotonic() - sent
    missing = [a for a in addresses if a not in codes]
    if missing:
        sys.exit(f"{len(missing)} of {count} sends have no code in the outbox")
    with open(out, "w") as pool:
        pool.writelines(f"{ids[i]} {codes[a]}\n" for i, a in enumerate(addresses))
    print(
        f"  pool {tag}: {count} challenges sent in {sending:.1f} s, "
        f"codes read from the outbox in {reading:.1f} s"
    )


# --- wrk outputs ---------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def parse_run(path):
    """The figures of one wrk output, plus the lines run.sh and the Lua scripts append."""
    text = Path(path).read_text()
    run = {"name": Path(path).stem}
    meta = re.search(r"^META (.*)$", text, re.M)
    if not meta:
        sys.exit(f"{path}: no META line (did wrk fail?)\n{text[-2000:]}")
    for key, value in (kv.split("=", 1) for kv in meta.group(1).split()):
        run[key] = float(value) if re.fullmatch(r"[\d.]+", value) else value
    done = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", text, re.M)
    if not done:
        sys.exit(f"{path}: no wrk summary\n{text[-2000:]}")
    run["requests"] = int(done.group(1))
    run["elapsed_s"] = float(done.group(2)) * UNITS[done.group(3)] / 1e3
    run["requests_per_s"] = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.M):
        run[f"p{pct}_ms"] = float(value) * UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    run["non_2xx"] = int(non2xx.group(1)) if non2xx else 0
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    run["socket_errors"] = dict(
        zip(("connect", "read", "write", "timeout"), map(int, errors.groups()) if errors else (0,) * 4)
    )
    ticks, hz = map(int, re.search(r"^SERVER_CPU (\d+) (\d+)$", text, re.M).groups())
    run["server_cpu_s"] = ticks / hz
    user, system = map(float, re.search(r"^WRK_CPU ([\d.]+) ([\d.]+)$", text, re.M).groups())
    run["wrk_cpu_s"] = user + system  # the whole wrk process, its set-up included
    busy, total = map(int, re.search(r"^MACHINE_CPU (\d+) (\d+)$", text, re.M).groups())
    run["machine_busy"] = busy / total if total else 0.0
    run["machine_cpu_capacity_s"] = total / hz  # the wall time wrk ran × the number of cores
    run["log_bytes"] = int(re.search(r"^LOG_BYTES (\d+)$", text, re.M).group(1))
    extra = re.search(r"^LOADJSON (.*)$", text, re.M)
    if extra:
        run.update(json.loads(extra.group(1)))
    served = max(run["requests"], 1)
    run["server_cpu_us_per_request"] = run["server_cpu_s"] / served * 1e6
    run["log_bytes_per_request"] = run["log_bytes"] / served
    return run


def brief(path):
    r = parse_run(path)
    notes = f", non-2xx {r['non_2xx']}" if r["non_2xx"] else ""
    if r.get("reused"):
        notes += f", POOL RAN OUT: {r['reused']} verifies re-used a pair"
    print(
        f"  {r['name']}: {r['requests_per_s']:.0f} req/s, p50 {r['p50_ms']:.2f} ms, "
        f"p99 {r['p99_ms']:.2f} ms, server {r['server_cpu_us_per_request']:.0f} µs CPU/request{notes}"
    )


# --- the report ----------------------------------------------------------------------------------

SCENARIOS = {
    "verify": "verify-only",
    "pairs": "send+verify pairs",
    "send-email": "send-only, email",
    "send-sms": "send-only, SMS",
}


def spread(values, fmt="{:,.0f}"):
    """Median (min–max) of the runs; just the value when there is one."""
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def summarise(runs):
    return {
        "requests_per_s": statistics.median(r["requests_per_s"] for r in runs),
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "server_cpu_us_per_request": statistics.median(r["server_cpu_us_per_request"] for r in runs),
    }


def cpu_shares(run, cores):
    """Of the machine's cores while wrk ran (its set-up included): the server, wrk, everything else."""
    capacity = run["machine_cpu_capacity_s"] or run["elapsed_s"] * cores
    server = run["server_cpu_s"] / capacity
    wrk = min(run["wrk_cpu_s"] / capacity, 1.0)
    other = max(run["machine_busy"] - server - wrk, 0.0)
    return server, wrk, other


def report(runs_dir, json_out, md_out, settings):
    setup = {k: (int(v) if v.isdigit() else v) for k, v in (s.split("=", 1) for s in settings)}
    cores = setup["cores"]
    runs = [parse_run(p) for p in sorted(Path(runs_dir).glob("*.txt")) if p.name != "server-errors.txt"]
    errors_file = Path(runs_dir) / "server-errors.txt"
    server_errors = sum(
        int(line.split()[1]) for line in errors_file.read_text().splitlines()
    ) if errors_file.exists() else 0
    by = lambda scenario, kind: [r for r in runs if r["scenario"] == scenario and r["kind"] == kind]  # noqa: E731

    rows = []
    summary = {}
    for key, title in SCENARIOS.items():
        group = by(key, "timed")
        if not group:
            continue
        summary[key] = summarise(group)
        shares = [cpu_shares(r, cores) for r in group]
        share = "/".join(f"{statistics.median(s[i] for s in shares):.0%}" for i in range(3))
        if key == "pairs":
            notes = f"{statistics.median(r['requests_per_s'] for r in group) / 2:,.0f} pairs/s; " + (
                ", ".join(f"{w} {n:,}" for w, n in sorted(total_statuses(group).items()))
            )
        elif key == "verify":
            pool = sum(r.get("pool", 0) for r in group)
            reused = sum(r.get("reused", 0) for r in group)
            notes = f"{reused:,} of {pool:,} pooled pairs re-used" if reused else "no pair re-used"
        else:
            notes = ""
        rows.append(
            f"| {title} | {spread([r['requests_per_s'] for r in group])} "
            f"| {spread([r['p50_ms'] for r in group], '{:.2f}')} "
            f"| {spread([r['p99_ms'] for r in group], '{:.2f}')} "
            f"| {sum(r['non_2xx'] for r in group):,} "
            f"| {spread([r['server_cpu_us_per_request'] for r in group])} "
            f"| {statistics.median(r['log_bytes_per_request'] for r in group):,.0f} "
            f"| {share} | {notes} |"
        )

    lines = [
        "## Load on otp-local",
        "",
        f"[wrk](https://github.com/wg/wrk) (Debian's) against `otp-local` built with `--release`: in-memory "
        f"store, outbox delivery, `RUST_LOG={setup['rust_log']}` with its output (log lines and each "
        f"message's text) going to a file, limits raised to their maxima (`bench/load/run.sh` lists the "
        f"settings). {setup['connections']} keep-alive connections from {setup['threads']} wrk "
        f"thread{'s' if setup['threads'] != 1 else ''}, on 127.0.0.1; wrk runs on the same {cores} cores as the server and takes its share "
        f"(the CPU column). Each run starts a fresh server: {setup['warmup']} s of warm-up, then "
        f"{setup['duration']} s measured; {setup['repeats']} runs per scenario, shown as median "
        f"(min–max). p50/p99: wrk's latency, from writing a request to reading its reply.",
        "",
        "- **verify-only**: approvals only. Before each run, codes are sent to distinct email addresses "
        "(as a client would) and read from the outbox; wrk then verifies each id with its right code once "
        "(parse, HMAC-SHA256 of the code, one store operation, open the sealed address, sign the EdDSA "
        "proof token, reply).",
        "- **send+verify pairs**: each send goes to one of "
        f"{setup['connections']} test destinations (`OTP_TEST_DESTINATIONS`: a fixed code, no delivery, "
        "no limits, an audit log line) under a purpose of its own; wrk reads the id from the reply and "
        "verifies it with the fixed code on the next free connection. So: the send use case without "
        "limits, code draw or delivery, plus a full approval. wrk's `response()` callback is on here.",
        "- **send-only**: every send to an address or number no earlier send used (email: "
        "`load-…@example.com`; SMS: UK mobiles +44 74…): the full send path (SMS rules, per-client, "
        "per-country, global and budget counters, CSPRNG, hashing, sealing, store, rendering, delivery "
        "to the outbox, logs).",
        "",
        "| scenario | requests/s | p50 ms | p99 ms | non-2xx | server CPU µs/request¹ "
        "| log bytes/request | CPU server/wrk/other | notes |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "¹ the server's user + system time over the run ÷ requests: the work per request plus the "
        "runtime's own (tokio's spinning and work stealing), so it rises somewhat when the server has "
        "more of the cores. CPU server/wrk/other: shares of all cores while wrk ran.",
        "",
    ]

    verify = summary.get("verify")
    if verify:
        rate, p99 = verify["requests_per_s"], verify["p99_ms"]
        met = rate >= 10_000 and p99 < 5.0
        gaps = []
        if rate < 10_000:
            gaps.append(f"{10_000 - rate:,.0f} req/s short ({rate / 10_000:.0%} of the budget)")
        if p99 >= 5.0:
            gaps.append(f"p99 {p99 - 5.0:.2f} ms over")
        lines.append(
            f"**verify-only: {rate:,.0f} req/s, p99 {p99:.2f} ms (budget ≥ 10,000/s, p99 < 5 ms): "
            + ("met**" if met else f"GAP** — {'; '.join(gaps)}.")
        )
        lines.append("")
        if not met:
            lines.extend(limits(by, verify, cores))

    diagnostics = diagnostics_lines(by, summary)
    if diagnostics:
        lines += [
            f"Diagnostics (one run each, {setup['diag_duration']} s after a {setup['warmup']} s warm-up, "
            "otherwise the same set-up):", "", *diagnostics, ""]

    problems = []
    if server_errors:
        problems.append(f"the servers logged {server_errors} error or panic lines (see the log)")
    for r in runs:
        if r["kind"] != "warmup" and sum(r["socket_errors"].values()):
            problems.append(f"{r['name']}: socket errors {r['socket_errors']}")
        if r["kind"] != "warmup" and r.get("reused"):
            problems.append(f"{r['name']}: the pool ran out ({r['reused']:,} verifies re-used a pair)")
    if problems:
        lines += ["Problems: " + "; ".join(problems) + ".", ""]

    Path(json_out).write_text(
        json.dumps({"setup": setup, "summary": summary, "server_errors": server_errors, "runs": runs},
                   indent=2) + "\n"
    )
    Path(md_out).write_text("\n".join(lines).rstrip() + "\n")


def total_statuses(group):
    seen = {}
    for r in group:
        for word, n in r.get("statuses", {}).items():
            seen[word] = seen.get(word, 0) + n
    return seen


def limits(by, verify, cores):
    """What the measurements say limits verify-only: the CPU, and who has it."""
    group = by("verify", "timed")
    shares = [cpu_shares(r, cores) for r in group]
    server, wrk, other = (statistics.median(s[i] for s in shares) for i in range(3))
    cpu = verify["server_cpu_us_per_request"]
    out = [
        f"What limits it: during the measured runs the {cores} cores were "
        f"{statistics.median(r['machine_busy'] for r in group):.0%} busy — otp-local "
        f"{server:.0%}, wrk {wrk:.0%}, other processes {other:.0%} of them. otp-local spends "
        f"{cpu:,.0f} µs of CPU per verify, so even with every core to itself it would serve at most "
        f"≈ {cores * 1e6 / cpu:,.0f} verifies/s; with wrk's share taken, ≈ "
        f"{(1 - wrk - other) * cores * 1e6 / cpu:,.0f}/s."
    ]
    if other > 0.1:
        out[0] += " Other processes took a share: figures from a busy machine understate the service."
    p99 = verify["p99_ms"]
    if p99 >= 5.0:
        connections = int(group[0]["connections"])
        out[0] += (
            f" The p99 ({p99:.2f} ms) is mostly queueing: each of the {connections} connections keeps a "
            f"request in flight, so the mean latency is connections ÷ rate (Little's law); below 5 ms "
            f"at {connections} connections needs more than {connections / 0.005:,.0f} req/s."
        )
        c16 = by("verify-c16", "diagnostic")
        if c16:
            out[0] += (
                f" At 16 connections one run gave {c16[0]['requests_per_s']:,.0f} req/s with p50 "
                f"{c16[0]['p50_ms']:.2f} ms, p99 {c16[0]['p99_ms']:.2f} ms."
            )
    warn = by("verify-warn", "diagnostic")
    if warn:
        w = warn[0]
        out[0] += (
            f" With `RUST_LOG=warn` (no per-request log line) one run gave {w['requests_per_s']:,.0f} "
            f"req/s at {w['server_cpu_us_per_request']:,.0f} µs CPU per verify."
        )
    return out + [""]


def diagnostics_lines(by, summary):
    out = []
    tally = by("verify-tally", "diagnostic")
    if tally:
        t = tally[0]
        fast = summary.get("verify", {}).get("requests_per_s")
        words = ", ".join(f"{w} {n:,}" for w, n in sorted(t.get("statuses", {}).items()))
        fast_wrk = [r["wrk_cpu_s"] / max(r["requests"], 1) * 1e6 for r in by("verify", "timed")]
        out.append(
            f"- verify-only with wrk's `response()` callback tallying each reply's `status`: "
            f"{t['requests_per_s']:,.0f} req/s, p99 {t['p99_ms']:.2f} ms, wrk "
            f"{t['wrk_cpu_s'] / max(t['requests'], 1) * 1e6:.1f} µs CPU per request"
            + (f" (fast path above: {fast:,.0f} req/s, wrk {statistics.median(fast_wrk):.1f} µs)"
               if fast else "")
            + f"; statuses seen: {words}. The timed runs use wrk's fast path (no callback): a 200 is "
            "an approval there, any other answer is counted as non-2xx."
        )
    c16 = by("verify-c16", "diagnostic")
    if c16:
        c = c16[0]
        out.append(
            f"- verify-only at 16 connections: {c['requests_per_s']:,.0f} req/s, p50 {c['p50_ms']:.2f} ms, "
            f"p99 {c['p99_ms']:.2f} ms, {c['server_cpu_us_per_request']:,.0f} µs server CPU per request."
        )
    for key, base, what in (("verify-warn", "verify", "verify-only"),
                            ("send-email-warn", "send-email", "send-only, email")):
        warn = by(key, "diagnostic")
        if warn:
            w = warn[0]
            b = summary.get(base)
            out.append(
                f"- {what} with `RUST_LOG=warn`: {w['requests_per_s']:,.0f} req/s, p99 "
                f"{w['p99_ms']:.2f} ms, {w['server_cpu_us_per_request']:,.0f} µs server CPU per request, "
                f"{w['log_bytes_per_request']:,.0f} log bytes per request"
                + (
                    f" (at `info`: {b['requests_per_s']:,.0f} req/s, "
                    f"{b['server_cpu_us_per_request']:,.0f} µs)" if b else ""
                )
                + "."
            )
    return out


if __name__ == "__main__":
    command, args = (sys.argv[1], sys.argv[2:]) if len(sys.argv) > 1 else ("", [])
    if command == "port":
        print(free_port())
    elif command == "wait":
        wait(args[0], float(args[1]), args[2])
    elif command == "prepare":
        prepare(args[0], args[1], int(args[2]))
    elif command == "brief":
        brief(args[0])
    elif command == "rate":
        print(parse_run(args[0])["requests_per_s"])
    elif command == "reused":
        print(parse_run(args[0]).get("reused", 0))
    elif command == "report":
        report(args[0], args[1], args[2], args[3:])
    else:
        sys.exit(__doc__)

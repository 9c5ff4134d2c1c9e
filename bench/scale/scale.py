#!/usr/bin/env python3
"""The scale benchmark's driver (bench/scale/run.sh; python3 standard library only).

  port                      print a free TCP port on 127.0.0.1
  wait URL SECONDS PID      wait until the process PID answers GET URL
  run URL EMULATOR SENDERS SECONDS WARMUP LOG OUT [K=V…]
                            SENDERS concurrent senders POST /v1/otp/send (SMS) to otp-local at URL for
                            WARMUP + SECONDS, each from a client address of its own and always to a
                            new destination; only the last SECONDS are counted. Before and after the
                            counted part it reads the emulator's GET /_contention/stats, and counts
                            otp-local's log lines (LOG) written meanwhile. Writes one run's figures
                            (with the K=V settings) as JSON to OUT and prints a line.
  report JSON MD RUN.json…  every run → the raw figures in JSON, the side-by-side tables in MD

A sender sends one request at a time (a closed loop: the next send leaves when the last one's answer
arrives), so SENDERS is the number of sends in flight. The latency is from the connection's opening
to the answer.

Client addresses: every send is a connection of its own from an address of its own, 127.S.x.y for
sender S (all of 127.0.0.0/8 is this machine's loopback on Linux). otp-local charges each send to
its client address's hourly counter, one item per address, in the send's transaction. From one
address (127.0.0.1) every send would write that one item: a hot item that sharding the shared
counters does not touch, and that no real deployment has (its clients are many, each held to
OTP_CLIENT_SENDS_PER_HOUR). And a sender's consecutive sends from one address would meet their own
client item still held by the contention model (it holds a transaction's items for the hold time
after the emulator answered, where DynamoDB would answer after the commit): a conflict a single
sender makes with itself.

Destinations: +44 71SS SNNNNN, sender S (0-255) and its Nth send; valid UK mobile numbers, all
distinct within a run (every run has a table of its own).
"""

import asyncio
import json
import os
import re
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from procs import free_port, wait  # noqa: E402

# otp-local's log line when a send lost the race on its items SEND_ATTEMPTS (8) times and is refused
# (shared/src/adapters/aws/dynamodb/challenges.rs, `begin`): the contention refusals.
GAVE_UP = "concurrent sends to one destination kept winning the race"
TIMEOUT_S = 60.0  # one request's limit: an answer later than this counts as a transport error


def client_address(sender, n):
    return f"127.{sender}.{n // 250 % 256}.{n % 250 + 1}"


def destination(sender, n):
    return f"+4471{sender:03d}{n:05d}"


def contention_stats(emulator):
    with urllib.request.urlopen(f"{emulator}/_contention/stats", timeout=30) as reply:
        return json.load(reply)


def contention_reset(emulator):
    request = urllib.request.Request(f"{emulator}/_contention/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


async def read_reply(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    body = await reader.readexactly(int(length.group(1))) if length else b""
    return status, body


async def sender(k, host, port, phase, results):
    """Sends until phase["stop"]; appends (counted, status, problem type, seconds) per answer."""
    n = 0
    while not phase["stop"]:
        body = json.dumps(
            {"channel": "sms", "to": destination(k, n), "purpose": "login"}
        ).encode()
        source = client_address(k, n)
        n += 1
        started = time.monotonic()
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(host, port, local_addr=(source, 0)), TIMEOUT_S
            )
            writer.write(
                b"POST /v1/otp/send HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
                % (host.encode(), len(body), body)
            )
            status, reply = await asyncio.wait_for(read_reply(reader), TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as error:
            results.append((phase["counted"] and not phase["stop"], "transport",
                            type(error).__name__, time.monotonic() - started))
            await asyncio.sleep(0.1)
            continue
        finally:
            if writer is not None:
                writer.close()
        elapsed = time.monotonic() - started
        kind = None
        if status >= 300:
            try:
                kind = json.loads(reply).get("type")
            except ValueError:
                kind = None
            kind = (kind or f"(no problem type: {reply[:80]!r})").removeprefix(
                "urn:problem-type:otp-lambda:"
            )
        # A request counts if its answer came in the counted part (throughput: answers per second).
        results.append((phase["counted"] and not phase["stop"], status, kind, elapsed))


async def drive(url, senders, seconds, warmup, on_count_start, on_count_stop):
    host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    phase = {"counted": False, "stop": False}
    results = []
    tasks = [asyncio.create_task(sender(k, host, int(port), phase, results)) for k in range(senders)]
    await asyncio.sleep(warmup)
    on_count_start()
    phase["counted"] = True
    started = time.monotonic()
    await asyncio.sleep(seconds)
    phase["stop"] = True
    elapsed = time.monotonic() - started
    on_count_stop()
    # Requests in flight finish, uncounted (at most TIMEOUT_S).
    await asyncio.gather(*tasks)
    return results, elapsed


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def process_ticks(pid):
    """User + system time of process PID so far, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def machine_ticks():
    """Busy and total ticks of all cores so far (/proc/stat)."""
    user, nice, system, idle, iowait, irq, softirq, steal = map(
        int, Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]
    )
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def cpu_sample(pids):
    own = os.times()
    return {
        "machine": machine_ticks(),
        "driver": round((own.user + own.system) * os.sysconf("SC_CLK_TCK")),
        **{name: process_ticks(pid) for name, pid in pids.items()},
    }


def cpu_shares(before, after, seconds):
    """Each process's CPU over the counted part, as a share of one core, and the machine's cores
    busy with anything else (other), as cores."""
    hz = os.sysconf("SC_CLK_TCK")
    shares = {
        name: (after[name] - before[name]) / hz / seconds for name in before if name != "machine"
    }
    busy = (after["machine"][0] - before["machine"][0]) / hz / seconds
    shares["other"] = max(busy - sum(shares.values()), 0.0)
    shares["cores"] = os.cpu_count()
    return shares


def run(url, emulator, senders, seconds, warmup, log, out, settings):
    contention_reset(emulator)
    pids = {"emulator": int(settings.pop("emulator_pid")), "otp_local": int(settings.pop("server_pid"))}
    marks = {}

    def count_start():
        marks["load_before"] = Path("/proc/loadavg").read_text().split()[0]
        marks["stats"] = contention_stats(emulator)
        marks["log"] = Path(log).stat().st_size
        marks["cpu"] = cpu_sample(pids)

    def count_stop():
        marks["cpu_after"] = cpu_sample(pids)
        # (Blocks the senders for one request to the emulator: they are stopping anyway.)
        marks["after"] = contention_stats(emulator)
        marks["log_end"] = Path(log).stat().st_size
        marks["load_after"] = Path("/proc/loadavg").read_text().split()[0]

    results, elapsed = asyncio.run(
        drive(url, int(senders), float(seconds), float(warmup), count_start, count_stop)
    )
    after = marks["after"]
    with open(log, "rb") as f:
        f.seek(marks["log"])
        logged = f.read(marks["log_end"] - marks["log"]).decode("utf-8", "replace")
    logged = re.sub(r"\x1b\[[0-9;]*m", "", logged)  # tracing's colours
    counted = [r for r in results if r[0]]
    accepted = [r for r in counted if isinstance(r[1], int) and 200 <= r[1] < 300]
    refused = Counter(f"{r[1]} {r[2]}" for r in counted if not (isinstance(r[1], int) and r[1] < 300))
    delta = {
        key: after[key] - marks["stats"][key]
        for key in after
        if isinstance(after[key], int) and key not in ("items_held", "peak_item_units_per_second")
    }
    gave_up = logged.count(GAVE_UP)
    record = {
        **settings,
        "senders": int(senders),
        "seconds": elapsed,
        "requests": len(counted),
        "accepted": len(accepted),
        "accepted_per_s": len(accepted) / elapsed,
        "requests_per_s": len(counted) / elapsed,
        "refusals": dict(sorted(refused.items())),
        "refused": sum(refused.values()),
        "warmup_requests": len(results) - len(counted),
        "contention": delta,
        "peak_item_units_per_second": after["peak_item_units_per_second"],
        # The machine's 1-minute load average as the counted part began and ended (anything else
        # running shares the cores with the emulator, otp-local and this driver).
        "loadavg": [float(marks["load_before"]), float(marks["load_after"])],
        # CPU over the counted part, in cores: the emulator (one thread: 1.0 is all it can do),
        # otp-local, this driver, and everything else on the machine.
        "cpu": cpu_shares(marks["cpu"], marks["cpu_after"], elapsed),
        # Every cancelled send transaction is decided again (and retried) unless it was the
        # send's last attempt, which otp-local refuses and logs (GAVE_UP).
        "gave_up": gave_up,
        "retries": delta.get("transaction_conflicts", 0) + delta.get("transactions_throttled", 0) - gave_up,
        "server_errors_logged": len(re.findall(r" ERROR |panicked", logged)),
        "errors_logged": dict(Counter(
            re.sub(r"\s+", " ", m).strip()
            for m in re.findall(r" ERROR (?:\S*\{.*?\}: )?[\w:]+: (.{0,60})", logged)
        )),
        "p50_ms": ms(percentile([r[3] for r in counted], 50)),
        "p99_ms": ms(percentile([r[3] for r in counted], 99)),
        "accepted_p50_ms": ms(percentile([r[3] for r in accepted], 50)),
        "accepted_p99_ms": ms(percentile([r[3] for r in accepted], 99)),
    }
    Path(out).write_text(json.dumps(record, indent=1) + "\n")
    c = record["contention"]
    print(
        f"  {record.get('variant', '')} {senders:>3} senders: {record['accepted_per_s']:.1f} sends/s "
        f"accepted ({record['accepted']} of {record['requests']}), refused {dict(refused) or 0}, "
        f"conflicts {c.get('conflicts', 0)}, throttles {c.get('throttles', 0)}, gave up {gave_up}, "
        f"p50 {fmt_ms(record['p50_ms'])} p99 {fmt_ms(record['p99_ms'])}, CPU emulator "
        f"{record['cpu']['emulator']:.2f} otp-local {record['cpu']['otp_local']:.2f} driver "
        f"{record['cpu']['driver']:.2f} other {record['cpu']['other']:.2f}"
    )


def ms(seconds):
    return None if seconds is None else seconds * 1000


def fmt_ms(value):
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def refusals_text(run):
    if not run["refusals"]:
        return "0"
    return ", ".join(f"{count:,} × {kind}" for kind, count in run["refusals"].items())


def conflicts_text(run):
    c = run["contention"]
    text = f"{c.get('conflicts', 0):,}"
    return text + (f" (+{c['throttles']:,} throttled)" if c.get("throttles") else "")


def share(part, whole):
    return f"{part / whole:.0%}" if whole else "–"


HEADING = "## Scale: SMS sends against a contended DynamoDB"

INTRO = """\
`bash bench/scale/run.sh` (issue 22, item 4; not part of the test command): `otp-local` built with
`--release`, on the Lambdas' own AWS adapters (`--store dynamodb --delivery {delivery}`), against the
AWS emulator with its DynamoDB contention model on (`OTP_EMULATOR_CONTENTION=1`,
tests/dynamodb_contention.py): a committed transaction holds its items for the hold below, a
transaction meeting a held item is cancelled (`TransactionConflict`), and each item takes at most
{units:,} write units a second. The emulator is bench/soak/emulator.py: the test emulator's moto,
serving **one request at a time**, with a transaction's cost kept independent of the table's size.
Each sender sends SMS codes in a closed loop (its next send leaves when the last one's answer
arrives), every send to a new +44 71… number and from a client address of its own (127.S.x.y, so that
the per-client counter, one item per address, is not itself the hot item; no real deployment has all
its sends from one address). Per-client, per-country, global and budget limits are raised out of the
way: nothing but contention, or the emulator, refuses a send. Each cell is one run on a fresh
`otp-local`, a fresh table and the model reset: {warmup:g} s of warm-up, then {seconds:g} s counted.

- **before**: `OTP_COUNTER_SHARDS=1`, the same binary with each shared counter (SMS per hour in all,
  per country, the day's spend) in one item, which every SMS send writes in its transaction: as hot
  as the layout before issue 22. This is not a build of the commit before the issue (668c3f3): that commit
  did not read a filling counter's shards (with the limits out of the way, not done here either),
  did not retry a transaction cancelled for `ThrottlingError` (none was: the conflicts columns
  would say "throttled"), and sent no client request token with its transaction; it had the same
  8 attempts with the same back-off.
- **after**: `OTP_COUNTER_SHARDS={shards_after}` (the default): a send charges one shard of each counter.

sends/s: 2xx answers a second in the counted part. refused: the other answers, by status and problem
type. conflicts: send transactions the model cancelled in the counted part; each was decided again
and retried, except a send's 8th, which otp-local answers 429 `resend-cooldown` ("concurrent sends to
one destination kept winning the race" in its log). p50 / p99: every answer's latency, from opening
the connection to the answer."""


def section(runs):
    first = runs[0]
    lines = [
        HEADING,
        "",
        INTRO.format(
            delivery=first.get("delivery", "aws"), units=int(first["item_write_units"]),
            warmup=first["warmup"], seconds=first["seconds_asked"],
            shards_after=next((r["shards"] for r in runs if r["variant"] == "after"), "16"),
        ),
        "",
        f"Run {first.get('date', '')} at commit {first.get('commit', '?')}, on "
        f"{first['cpu']['cores'] if 'cpu' in first else os.cpu_count()} cores shared by the emulator, "
        "`otp-local` and the driver.",
    ]
    holds = sorted({r["hold_ms"] for r in runs}, key=lambda h: -float(h))
    for hold in holds:
        at_hold = [r for r in runs if r["hold_ms"] == hold]
        by = {(r["variant"], r["senders"]): r for r in at_hold}
        levels = sorted({r["senders"] for r in at_hold})
        lines += [
            "",
            f"**Hold {hold} ms**" + (" (the model's default)" if float(hold) == 20 else ""),
            "",
            "| senders | sends/s before | sends/s after | refused before | refused after "
            "| conflicts before | conflicts after | p50 / p99 ms before | p50 / p99 ms after |",
            "|---:|---:|---:|---|---|---:|---:|---:|---:|",
        ]
        for level in levels:
            pair = [by.get(("before", level)), by.get(("after", level))]
            cells = [str(level)]
            cells += [f"{r['accepted_per_s']:.1f}" if r else "–" for r in pair]
            cells += [refusals_text(r) if r else "–" for r in pair]
            cells += [conflicts_text(r) if r else "–" for r in pair]
            cells += [f"{fmt_ms(r['p50_ms'])} / {fmt_ms(r['p99_ms'])}" if r else "–" for r in pair]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Per run: answers, accepted, conflicts per accepted send, sends given up after 8 attempts, "
        "accepted sends' latency, CPU in cores (the emulator is one thread: 1.00 is all it can "
        "do; other: everything else on the machine), errors `otp-local` logged:",
        "",
        "| hold | run | answers | accepted | conflicts / accepted | gave up "
        "| accepted p50 / p99 ms | CPU emulator / otp-local / driver / other | errors logged |",
        "|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for hold in holds:
        for r in sorted((r for r in runs if r["hold_ms"] == hold),
                        key=lambda r: (r["senders"], r["variant"] != "before")):
            cpu = r.get("cpu")
            cpu_text = (f"{cpu['emulator']:.2f} / {cpu['otp_local']:.2f} / {cpu['driver']:.2f} / "
                        f"{cpu['other']:.2f}") if cpu else "–"
            errors = ", ".join(
                f"{n:,} × {re.sub(r'^[a-z_]+(?:::[a-z_]+)+: ', '', what)}"
                for what, n in r.get("errors_logged", {}).items()
            )
            per = r["contention"].get("conflicts", 0) / r["accepted"] if r["accepted"] else 0
            lines.append(
                f"| {hold} | {r['variant']}, {r['senders']} | {r['requests']:,} | {r['accepted']:,} "
                f"| {per:.2f} | {r['gave_up']:,} | {fmt_ms(r['accepted_p50_ms'])} / "
                f"{fmt_ms(r['accepted_p99_ms'])} | {cpu_text} | {errors or 0} |"
            )
    lines += reading(runs)
    return "\n".join(lines) + "\n"


def span(values, fmt="{:.1f}"):
    values = sorted(values)
    if not values:
        return "–"
    if fmt.format(values[0]) == fmt.format(values[-1]):
        return fmt.format(values[0])
    return f"{fmt.format(values[0])}–{fmt.format(values[-1])}"


def refusals_of(runs, prefix):
    return sum(n for r in runs for kind, n in r["refusals"].items() if kind.startswith(prefix))


def reading(runs):
    """What the figures say, computed from them; the mechanisms behind them are in the text."""
    lines = ["", "Reading:", ""]
    holds = sorted({r["hold_ms"] for r in runs}, key=lambda h: -float(h))
    for hold in holds:
        at = [r for r in runs if r["hold_ms"] == hold]
        before = [r for r in at if r["variant"] == "before"]
        after = [r for r in at if r["variant"] == "after"]
        many_b = [r for r in before if r["senders"] >= 16]
        many_a = [r for r in after if r["senders"] >= 16]
        ceiling = 1000 / float(hold)
        if many_b:
            answers = sum(r["requests"] for r in many_b)
            gave_up = refusals_of(many_b, "429 resend-cooldown")
            lines.append(
                f"- **Hold {hold} ms, one shard (before)**: every SMS send's transaction names the "
                f"same three counter items, and the model lets one transaction at a time hold them "
                f"for {hold} ms: at most {ceiling:.0f} commits a second, fewer with the back-off "
                f"between tries"
                + (" (and here the emulator's own ceiling, below, is lower still)"
                   if many_a and ceiling > max(r["accepted_per_s"] for r in many_a) else "")
                + ". Measured at 16 senders and more: "
                f"{span([r['accepted_per_s'] for r in many_b])} sends/s, "
                f"{span([r['contention'].get('conflicts', 0) / max(r['accepted'], 1) for r in many_b], '{:.1f}')} "
                f"conflicts per accepted send, and {gave_up:,} of {answers:,} answers "
                f"({share(gave_up, answers)}) refused 429 `resend-cooldown`: sends that lost all 8 "
                "tries on the counters."
            )
        if many_a:
            gave_up = sum(r["gave_up"] for r in after)
            pairs = [
                (b, a) for b in many_b for a in many_a
                if b["senders"] == a["senders"] and b["accepted_per_s"]
            ]
            lines.append(
                f"- **Hold {hold} ms, {many_a[0]['shards']} shards (after)**: "
                f"{span([r['contention'].get('conflicts', 0) / max(r['accepted'], 1) for r in many_a], '{:.2f}')} "
                f"conflicts per accepted send at 16 senders and more, {gave_up:,} sends given up; "
                f"{span([r['accepted_per_s'] for r in many_a])} sends/s"
                + (f", {span([a['accepted_per_s'] / b['accepted_per_s'] for b, a in pairs], '{:.1f}')}× "
                   "before's at the same senders" if pairs else "")
                + "."
            )
    with_cpu = [r for r in runs if "cpu" in r]
    busy_after = [r for r in with_cpu if r["variant"] == "after" and r["senders"] >= 16]
    if busy_after:
        default = [r for r in busy_after if float(r["hold_ms"]) == 20] or busy_after
        by_level = {r["senders"]: r for r in default}
        growth = ""
        if 16 in by_level and 64 in by_level:
            lo, hi = by_level[16], by_level[64]
            growth = (
                f" From 16 to 64 senders (hold {lo['hold_ms']} ms) the after column's sends/s went "
                f"from {lo['accepted_per_s']:.1f} to {hi['accepted_per_s']:.1f} while its p50 went "
                f"from {fmt_ms(lo['p50_ms'])} to {fmt_ms(hi['p50_ms'])} ms: a queue in front of "
                "one server."
            )
        lines.append(
            "- **What limits the after column is the emulator**, not the counters: it serves one "
            "request at a time, a send is three of them (the destination's `GetItem`, the "
            "`TransactWriteItems`, SNS's `Publish`; with `--delivery outbox` two), and it used "
            f"{span([r['cpu']['emulator'] for r in busy_after], '{:.2f}')} of a core (1.00 is all it "
            f"can) in those runs.{growth} So these sends/s are moto's ceiling on this machine, not "
            "DynamoDB's (SCALING.md: about 3,300 SMS sends/s per table by its write quota, 800/s "
            "per counter at 16 shards if the 20 ms hold is right)."
        )
    lone = {(r["hold_ms"], r["variant"]): r for r in runs if r["senders"] == 1}
    for hold in holds:
        b, a = lone.get((hold, "before")), lone.get((hold, "after"))
        if b and a:
            lines.append(
                f"- **1 sender** (hold {hold} ms): {b['contention'].get('conflicts', 0) / max(b['accepted'], 1):.2f} "
                f"conflicts per send before, {a['contention'].get('conflicts', 0) / max(a['accepted'], 1):.2f} "
                "after. The model holds a transaction's items for the hold *after* answering, where "
                "DynamoDB answers after the commit, so a lone sender's next send meets its own "
                "previous one's counters; on DynamoDB one client in sequence would not conflict with "
                "itself. The row shows the model's pessimism and what a conflict costs "
                f"(p50 {fmt_ms(b['p50_ms'])} ms before, {fmt_ms(a['p50_ms'])} ms after), "
                "not a single client's penalty."
            )
            break
    top = max(r["senders"] for r in runs)
    timed_out = {
        variant: sum(
            refusals_of([r], "503") + refusals_of([r], "502")
            for r in runs if r["senders"] == top and r["variant"] == variant
        )
        for variant in ("before", "after")
    }
    if any(timed_out.values()):
        lines.append(
            f"- **{top} senders**: answers 503 `unavailable` (the store's call) or 502 "
            f"`delivery-failed` (SNS's): {timed_out['before']:,} before, {timed_out['after']:,} "
            "after, over the holds. The emulator takes one connection at a time from a listen "
            "queue of 128 (werkzeug, one request per connection), so at this level otp-local's AWS "
            "calls wait past the SDK's timeouts (connect 1 s, attempt 2 s, operation 5 s). The "
            "emulator's limit, not the service's; more of them after, whose sends spend less time "
            "backing off and so keep more requests waiting at the emulator."
        )
    other = max((r["cpu"]["other"] for r in with_cpu), default=0)
    if other >= 0.2:
        worst = max(with_cpu, key=lambda r: r["cpu"]["other"])
        lines.append(
            f"- Other processes on the machine used up to {other:.2f} of its "
            f"{worst['cpu']['cores']} cores during a counted part (hold {worst['hold_ms']} ms, "
            f"{worst['variant']}, {worst['senders']} sender{'s' if worst['senders'] != 1 else ''}; the CPU column above has each "
            "run's): the emulator shares those cores, so such runs' sends/s are low by up to that "
            "much."
        )
    return lines


def report(json_out, md_out, files):
    runs = [json.loads(Path(f).read_text()) for f in files]
    Path(json_out).write_text(json.dumps(runs, indent=1) + "\n")
    Path(md_out).write_text(section(runs))


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "port":
        print(free_port())
    elif command == "wait":
        wait(args[0], float(args[1]), int(args[2]))
    elif command == "run":
        url, emulator, senders, seconds, warmup, log, out = args[:7]
        settings = dict(kv.split("=", 1) for kv in args[7:])
        settings.update(seconds_asked=float(seconds), warmup=float(warmup))
        run(url, emulator, senders, seconds, warmup, log, out, settings)
    elif command == "report":
        report(args[0], args[1], args[2:])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()

"""Turns what a benchmark step measured into its section of BENCHMARKS.md (target/bench/<part>.md)
and its raw figures (target/bench/<part>.json), and assembles BENCHMARKS.md from the sections.

    python3 bench/render.py micro TARGET/criterion       criterion's hot_paths estimates
    python3 bench/render.py allocations LOG              ALLOCATIONS lines of the allocation test
    python3 bench/render.py requests LOG                 REQUESTS lines of the request-count tests
    python3 bench/render.py report OUT.md PART...        BENCHMARKS.md from target/bench/PART.md

Standard library only. Timings are reported, never judged here: the budgets are judged by the
sections that own them, and nothing fails on a slow figure.
"""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "target" / "bench"


def write(part: str, figures, markdown: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{part}.json").write_text(json.dumps(figures, indent=2) + "\n")
    (OUT / f"{part}.md").write_text(markdown.rstrip() + "\n")
    print(markdown)


def duration(ns: float) -> str:
    """A time with a unit that keeps three significant figures readable."""
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def criterion_figures(bench_dir: Path) -> dict:
    """Median (criterion's estimate) and the min–max of the per-iteration time over its samples."""
    estimates = json.loads((bench_dir / "new" / "estimates.json").read_text())
    sample = json.loads((bench_dir / "new" / "sample.json").read_text())
    per_iteration = [t / n for t, n in zip(sample["times"], sample["iters"])]
    return {
        "median_ns": estimates["median"]["point_estimate"],
        "median_ci_ns": [
            estimates["median"]["confidence_interval"]["lower_bound"],
            estimates["median"]["confidence_interval"]["upper_bound"],
        ],
        "min_ns": min(per_iteration),
        "max_ns": max(per_iteration),
        "samples": len(per_iteration),
    }


MICRO = [
    ("code_generation/6_digits", "draw a 6-digit code from the OS CSPRNG (rejection sampling)"),
    ("code_generation/8_alphanumeric", "draw an 8-symbol alphanumeric code"),
    ("code_generation/challenge_id", "draw a challenge id"),
    ("code_hash/hash_and_compare_right", "HMAC-SHA256(id ‖ code) + constant-time compare, match"),
    ("code_hash/hash_and_compare_wrong", "the same, no match"),
    ("code_hash/parse_attempt_hash_compare", "parse what the user typed, hash, compare"),
    ("render/sms_built_in_en", "SMS, built-in English text, with brand"),
    ("render/sms_built_in_fr_ca", "SMS, fr-CA → fr fallback"),
    ("render/sms_custom_template", "SMS, the caller's template"),
    ("render/email_built_in_en", "email: subject, text and HTML"),
    ("proof_token/sign_eddsa_jwt", "sign the approval's EdDSA JWT"),
    ("init/keys_derive", "derive every key from the service secret (HKDF), once per cold start"),
    ("init/proof_signer_new", "build the proof signer (Ed25519 keys, kids, header), once per cold start"),
    ("init/profiles_parse_10", "parse and check a 10-profile file (examples/profiles.json, every SMS text rendered at its longest), once per cold start"),
]


def micro(criterion_dir: str) -> None:
    rows, figures = [], {}
    for bench, what in MICRO:
        f = criterion_figures(Path(criterion_dir) / bench)
        figures[bench] = f
        rows.append(
            f"| `{bench}` | {what} | **{duration(f['median_ns'])}** "
            f"| {duration(f['min_ns'])} – {duration(f['max_ns'])} |"
        )
    write(
        "micro",
        figures,
        "\n".join(
            [
                "## Hot paths in process (criterion)",
                "",
                "`cargo bench -p otp-shared --bench hot_paths` (shared/benches/hot_paths.rs), in the release",
                "profile the Lambdas ship with (opt-level \"z\", but 3 for sha1, sha2, totp-rs",
                "and curve25519-dalek; fat LTO). Median is criterion's estimate; min–max is the",
                "per-iteration time of its fastest and slowest sample. The proof signer keeps its",
                "Ed25519 key and the encoded header, so a token costs one signature and the claims' JSON.",
                "",
                "| benchmark | what | median | min – max |",
                "|---|---|---|---|",
                *rows,
            ]
        ),
    )


def allocations(log: str) -> None:
    counts = dict(
        (m.group(1), int(m.group(2)))
        for m in re.finditer(r"ALLOCATIONS (\S+) = (\d+)$", Path(log).read_text(), re.M)
    )
    budget = {
        "code_hash_and_compare(true)": ("≤ 1", "hash + compare, right code"),
        "code_hash_and_compare(false)": ("≤ 1", "hash + compare, wrong code"),
        "parse_hash_and_compare": ("≤ 2", "parse the typed attempt, hash, compare"),
        "totp_matching_step": ("0", "TOTP check of a wrong code: all three steps (−1, 0, +1)"),
        "totp_authenticator_for_checking": ("—", "build the TOTP checker from the stored secret"),
    }
    rows = [
        f"| {what} | **{counts[name]}** | {limit} |" for name, (limit, what) in budget.items()
    ]
    write(
        "allocations",
        counts,
        "\n".join(
            [
                "## Heap allocations on the hot paths (counted, asserted)",
                "",
                "A counting global allocator in shared/tests/allocations.rs; the budgets are assertions of",
                "`cargo test`, so a change that allocates more fails CI.",
                "",
                "| path | allocations | asserted |",
                "|---|---|---|",
                *rows,
            ]
        ),
    )


def requests(log: str) -> None:
    seen = dict(
        (m.group(1), m.group(2).split(" + ") if m.group(2) else [])
        for m in re.finditer(r"REQUESTS (.+?) = (.*)$", Path(log).read_text(), re.M)
    )
    rows = [f"| {what} | {len(ops)} | {', '.join(ops)} |" for what, ops in seen.items()]
    write(
        "requests",
        seen,
        "\n".join(
            [
                "## Requests per operation (counted against the emulator, asserted)",
                "",
                "Every request the real AWS SDK clients send, recorded by an interceptor in",
                "tests/api/aws.rs; the tests assert these exact lists. Budget: an approval = 1 DynamoDB",
                "request (a wrong code 1 more to count it against the guess budget, the one that starts a",
                "lock 1 transaction more), send ≤ 2 + 1 delivery, TOTP verify ≤ 2: **met**.",
                "",
                "| operation | requests | which |",
                "|---|---|---|",
                *rows,
            ]
        ),
    )


def size(log: str) -> None:
    text = Path(log).read_text()
    binaries = {
        m.group(1): {"arch": m.group(2), "bytes": int(m.group(3))}
        for m in re.finditer(r"^(otp-\S+) \((\S+)\): (\d+) bytes", text, re.M)
    }
    stack = re.search(r"^one HTTP/TLS stack: (.*)$", text, re.M)
    # "hyper v1.12.0 ring v0.17.14 …" → ["hyper v1.12.0", "ring v0.17.14", …]
    stack_crates = re.findall(r"\S+ v\S+", stack.group(1)) if stack else None
    limit = 8 * 1048576
    rows = [
        f"| {name} | {b['arch']} | {b['bytes']:,} | **{b['bytes'] / 1048576:.2f} MiB** "
        f"| {'met' if b['bytes'] <= limit else 'OVER'} |"
        for name, b in binaries.items()
    ]
    write(
        "size",
        {"binaries": binaries, "tls_stack": stack_crates},
        "\n".join(
            [
                "## Binary size (asserted by the build)",
                "",
                "`bash infra/build-lambdas.sh` (run by CI): `cargo lambda build --release --arm64`, opt-level",
                "\"z\", fat LTO, one codegen unit, panic = abort, stripped. The build fails on a bootstrap",
                "over 8 MiB, or when `cargo tree -d` shows a second rustls, hyper, h2 or crypto provider.",
                "",
                "| bootstrap | arch | bytes | size | ≤ 8 MiB |",
                "|---|---|---|---|---|",
                *rows,
                "",
                f"One HTTP/TLS stack: {', '.join(stack_crates) if stack_crates else 'not reported'}.",
            ]
        ),
    )


def command(*args: str) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "not found"


def machine() -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    return "\n".join(
        [
            f"- CPU: {model.group(1) if model else platform.processor()}, {os.cpu_count()} logical cores",
            f"- memory: {int(mem.group(1)) / 1048576:.1f} GiB" if mem else "- memory: unknown",
            f"- OS: {platform.system()} {platform.release()} ({platform.machine()})",
            f"- {command('rustc', '--version')}; node {command('node', '--version')}; "
            f"Python {platform.python_version()}",
            f"- commit: {command('git', '-C', str(ROOT), 'rev-parse', '--short', 'HEAD')}"
            # This file itself is always rewritten, so it does not count as a change to what was measured.
            + (" (with uncommitted changes)" if command('git', '-C', str(ROOT), 'status', '--porcelain', '--', '.', ':!BENCHMARKS.md') else ""),
            f"- date: {command('date', '-u', '+%Y-%m-%d %H:%M UTC')}",
        ]
    )


HOW_TO_RUN = """## How to run

| figures | one command | takes (2 cores) |
|---|---|---|
| all of them, rewriting this file | `bash bench/run.sh` | ~25 min from a clean target dir |
| hot paths (criterion) | `bash bench/micro.sh` (or `cargo bench -p otp-shared --bench hot_paths`) | ~3 min |
| TOTP beside pyotp and otplib | `bash bench/totp/run.sh` | ~3 min |
| heap allocations | `bash bench/allocations.sh` (asserted in `cargo test`) | < 1 min |
| requests per operation | `bash bench/requests.sh` (asserted in the test command) | ~1 min |
| cold start beside Node.js and Python | `bash bench/coldstart/run.sh` | ~5 min |
| cold start with ten profiles compiled in, beside none | `bash bench/coldstart-profiles.sh` | ~12 min |
| load on otp-local | `bash bench/load/run.sh` | ~6–10 min |
| scale: sends against a contended DynamoDB, before and after sharding (`SCALE_HOLDS="20 10"` adds a 10 ms hold) | `bash bench/scale/run.sh` | ~4 min (~7 with two holds) |
| binary size | `bash bench/size.sh` (= `bash infra/build-lambdas.sh`, run by CI) | ~8 min |

`bash bench/run.sh PART…` runs only those parts and rewrites this file, keeping the other parts'
last results from `target/bench/`. Raw figures of every run are in `target/bench/*.json`."""


def load_json(part: str):
    path = OUT / f"{part}.json"
    return json.loads(path.read_text()) if path.exists() else None


def verdict(met: bool) -> str:
    return "met" if met else "**GAP** (see its section)"


def budgets() -> str:
    """One row per budget of the issue, from the parts' raw figures; a part not run says so."""
    rows = []
    totp = load_json("totp")
    if totp:
        for lib, need in (("pyotp", 30), ("otplib", 40)):
            b = totp["budgets"][lib]
            rows.append(
                f"| TOTP verify (±1 step) vs {lib} | ≥ {need}× | worst case {b['worst_ratio']:.0f}× "
                f"({b['worst_case'].replace('_', ' ')}) | {verdict(b['met'])} |"
            )
    cold = load_json("coldstart")
    if cold:
        for metric, budget in (("init", "≤ 1/5"), ("peak memory", "≤ 1/3")):
            against_node = [
                b for b in cold["budgets"] if b["metric"] == metric and b["floor"].startswith("Node")
            ]
            if against_node:
                worst = max(against_node, key=lambda b: b["ours"] / b["floor_value"])
                rows.append(
                    f"| cold start {metric} vs the Node.js floor | {budget} | worst {worst['fraction']} "
                    f"({worst['candidate']}) | {verdict(all(b['met'] for b in against_node))} |"
                )
        # Issue 22's goals for otp-send's cold path (not its baseline's, which a run may add).
        for goal in cold.get("goals", []):
            if goal["candidate"] not in ("otp-send", "otp-send @ 256 MB"):
                continue
            target = ("≤" if goal["goal"].startswith("first") else "<") + f" {goal['target_ms']} ms"
            rows.append(
                f"| cold start (issue 22): otp-send's {goal['goal']} | {target} | "
                f"{goal['ms']:.1f} ms | {verdict(goal['met'])} |"
            )
    requests_seen = load_json("requests")
    if requests_seen:
        def most(prefix: str) -> int:
            return max(len(ops) for what, ops in requests_seen.items() if what.startswith(prefix))

        approval = len(requests_seen.get("verify (approved)", []))
        met = (
            approval == 1
            and most("verify (incorrect") <= 3
            and most("send") <= 3
            and most("TOTP verify") <= 2
        )
        rows.append(
            f"| requests: approval / wrong code / send / TOTP verify | 1 / ≤ 3 / ≤ 2 + 1 / ≤ 2 | {approval} / "
            f"{most('verify (incorrect')} / {most('send')} / {most('TOTP verify')} (asserted) | {verdict(met)} |"
        )
    load = load_json("load")
    if load and "verify" in load.get("summary", {}):
        v = load["summary"]["verify"]
        met = v["requests_per_s"] >= 10_000 and v["p99_ms"] < 5
        rows.append(
            f"| load: verify-only on otp-local | ≥ 10,000/s, p99 < 5 ms | {v['requests_per_s']:,.0f}/s, "
            f"p99 {v['p99_ms']:.1f} ms | {verdict(met)} |"
        )
    size_figures = load_json("size")
    if size_figures and size_figures.get("binaries"):
        largest = max(size_figures["binaries"].items(), key=lambda kv: kv[1]["bytes"])
        met = largest[1]["bytes"] <= 8 * 1048576 and bool(size_figures.get("tls_stack"))
        rows.append(
            f"| bootstrap size, one TLS stack | ≤ 8 MiB each | largest {largest[0]} "
            f"{largest[1]['bytes'] / 1048576:.2f} MiB ({largest[1]['arch']}) | {verdict(met)} |"
        )
    allocations_seen = load_json("allocations")
    if allocations_seen:
        met = (
            max(allocations_seen["code_hash_and_compare(true)"], allocations_seen["code_hash_and_compare(false)"]) <= 1
            and allocations_seen["totp_matching_step"] == 0
        )
        rows.append(
            f"| allocations: code hash + compare / TOTP step | ≤ 1 / 0 | "
            f"{allocations_seen['code_hash_and_compare(true)']} / {allocations_seen['totp_matching_step']} "
            f"(asserted) | {verdict(met)} |"
        )
    return "\n".join(
        [
            "## Budgets at a glance",
            "",
            "| budget (issue 7) | target | measured | |",
            "|---|---|---|---|",
            *rows,
        ]
    )


def report(target: str, parts: list[str]) -> None:
    sections = []
    for part in parts:
        path = OUT / f"{part}.md"
        sections.append(path.read_text().rstrip() if path.exists() else f"## {part}\n\n(not run)")
    Path(target).write_text(
        "\n".join(
            [
                "# Benchmarks",
                "",
                "Every figure below comes from one command, `bash bench/run.sh`, which rewrites this file.",
                "Each part also runs alone (`bash bench/<part>.sh`, or `bash bench/<part>/run.sh`); see",
                "[How to run](#how-to-run). Timings are benchmarks and are never asserted by the test suite;",
                "counts and sizes are.",
                "",
                "## The machine",
                "",
                machine(),
                "",
                budgets(),
                "",
                "\n\n".join(sections),
                "",
                HOW_TO_RUN,
                "",
            ]
        )
    )


if __name__ == "__main__":
    kind, *rest = sys.argv[1:]
    if kind == "report":
        report(rest[0], rest[1:])
    else:
        {"micro": micro, "allocations": allocations, "requests": requests, "size": size}[kind](*rest)

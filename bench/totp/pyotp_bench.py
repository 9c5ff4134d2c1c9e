"""TOTP verify (±1 step) with pyotp, timed by the standard library's timeit.

The same five cases as shared/benches/totp.rs and node/otplib_bench.mjs. Each is timed as timeit
is meant to be used: `autorange()` picks a loop count that takes at least 0.2 s, then `repeat()`
times that many loops REPEATS times; each repeat gives one per-call figure (its time / loops).
Prints one JSON object: {"harness", "python", "pyotp", "cases": {id: {median_ns, min_ns, max_ns,
loops, repeats}}}.
"""

import hashlib
import importlib.metadata
import json
import platform
import statistics
import sys
import timeit

import pyotp

SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"  # RFC 6238's SHA1 seed "12345678901234567890"
T = 1_700_000_000  # 20 s into step 56_666_666
# From oathtool 2.6.7 (see shared/benches/totp.rs), independent of pyotp.
PREVIOUS, CURRENT, NEXT, WRONG = "276857", "921300", "732303", "000000"
REPEATS = int(sys.argv[1]) if len(sys.argv) > 1 else 15

CASES = [
    ("current_step", CURRENT, True),
    ("previous_step", PREVIOUS, True),
    ("next_step", NEXT, True),
    ("wrong_code", WRONG, False),
]


def main() -> None:
    totp = pyotp.TOTP(SECRET, digits=6, digest=hashlib.sha1, interval=30)

    timers = {}
    for case, code, want in CASES:
        got = totp.verify(code, for_time=T, valid_window=1)
        assert got is want, f"{case}: verify gave {got}, want {want}"
        timers[case] = timeit.Timer(
            "totp.verify(code, for_time=T, valid_window=1)",
            globals={"totp": totp, "code": code, "T": T},
        )
    build = "pyotp.TOTP(SECRET, digits=6, digest=sha1, interval=30).verify(code, for_time=T, valid_window=1)"
    names = {"pyotp": pyotp, "SECRET": SECRET, "sha1": hashlib.sha1, "code": CURRENT, "T": T}
    assert eval(build, names) is True, "build_and_verify"
    timers["build_and_verify"] = timeit.Timer(build, globals=names)

    cases = {}
    for case, timer in timers.items():
        loops, _ = timer.autorange()
        per_call = [t / loops * 1e9 for t in timer.repeat(repeat=REPEATS, number=loops)]
        cases[case] = {
            "median_ns": statistics.median(per_call),
            "min_ns": min(per_call),
            "max_ns": max(per_call),
            "loops": loops,
            "repeats": REPEATS,
        }
        print(f"pyotp {case}: {cases[case]['median_ns']:.0f} ns", file=sys.stderr)

    print(
        json.dumps(
            {
                "harness": f"timeit (autorange, then repeat={REPEATS})",
                "python": platform.python_version(),
                "pyotp": importlib.metadata.version("pyotp"),
                "cases": cases,
            }
        )
    )


if __name__ == "__main__":
    main()

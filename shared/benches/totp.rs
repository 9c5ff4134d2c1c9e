//! TOTP verify (±1 step), the figure `bench/totp/run.sh` sets beside pyotp and otplib.
//!
//! The same five cases as `bench/totp/pyotp_bench.py` and `bench/totp/node/otplib_bench.mjs`: one
//! fixed secret (RFC 6238's SHA1 seed), SHA1, 6 digits, 30 s, and one fixed time `T` 20 s into its
//! step. Four cases check a code on an `Authenticator` built once (how each library is normally
//! used for a check); the fifth builds it from the secret on every call, as our verify use case
//! does per request. The bench profile inherits release: opt-level "z", fat LTO, one codegen unit,
//! what ships in the Lambdas.
//!
//! Estimates land in `target/criterion/totp_verify/<case>/new/{estimates,sample}.json`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use otp_shared::crypto::TotpSecret;
use otp_shared::totp::{Authenticator, TotpParams};

/// RFC 6238 Appendix B's SHA1 seed; base32 GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ.
const SECRET: [u8; 20] = *b"12345678901234567890";
/// 2023-11-14T22:13:20Z: step 56_666_666, 20 s into it (not a step boundary).
const T: u64 = 1_700_000_000;
const STEP: u64 = T / 30;

// The codes came from oathtool 2.6.7, independently of the code under test:
//   oathtool --totp -b GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --now @1699999970   -> 276857
//   oathtool --totp -b GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --now @1700000000   -> 921300
//   oathtool --totp -b GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ --now @1700000030   -> 732303
// (pyotp 2.12.0 `TOTP(...).at(t)` gives the same three.)
/// The code of the step before T's.
const PREVIOUS: &str = "276857";
/// The code of T's step.
const CURRENT: &str = "921300";
/// The code of the step after T's.
const NEXT: &str = "732303";
/// The code of none of the three steps: every step in the window is computed.
const WRONG: &str = "000000";

/// Each case: its bench id, the code checked at T, and the step it must match.
const CASES: [(&str, &str, Option<u64>); 4] = [
    ("current_step", CURRENT, Some(STEP)),
    ("previous_step", PREVIOUS, Some(STEP - 1)),
    ("next_step", NEXT, Some(STEP + 1)),
    ("wrong_code", WRONG, None),
];

fn totp_verify(c: &mut Criterion) {
    let secret = TotpSecret::from_bytes(SECRET);
    let params = TotpParams::default();
    let authenticator = Authenticator::for_checking(&secret, params);

    // Sanity before timing: each case gives the answer it is meant to.
    for (id, code, want) in CASES {
        assert_eq!(authenticator.matching_step(code, T), want, "{id}");
    }
    assert_eq!(
        Authenticator::for_checking(&secret, params).matching_step(CURRENT, T),
        Some(STEP),
        "build_and_verify"
    );

    let mut group = c.benchmark_group("totp_verify");
    for (id, code, _) in CASES {
        group.bench_function(id, |b| {
            b.iter(|| authenticator.matching_step(black_box(code), black_box(T)));
        });
    }
    group.bench_function("build_and_verify", |b| {
        b.iter(|| {
            Authenticator::for_checking(black_box(&secret), black_box(params))
                .matching_step(black_box(CURRENT), black_box(T))
        });
    });
    group.finish();
}

criterion_group!(benches, totp_verify);
criterion_main!(benches);

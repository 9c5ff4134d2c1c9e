//! Micro-benchmarks of what a send and a verify compute in process: drawing a code, the keyed hash
//! and its constant-time comparison, rendering the message, and signing the proof token. (TOTP verify
//! has its own bench, `totp`, set beside pyotp and otplib.)
//!
//! `cargo bench -p otp-shared --bench hot_paths`. The bench profile inherits the release profile
//! (opt-level "z", fat LTO): this measures the code the Lambdas ship.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use otp_shared::ServiceSecret;
use otp_shared::adapters::OsRandomness;
use otp_shared::crypto::Keys;
use otp_shared::domain::{
    Alphabet, Brand, ChallengeId, Channel, Code, CodeAttempt, CodeLength, CodeSpec, Locale,
    Purpose, Ttl,
};
use otp_shared::messages::{CustomTemplate, MessageInput, render};
use otp_shared::proof::{Proof, ProofSettings, ProofSigner, ProofSubject};
use time::OffsetDateTime;

fn keys() -> Keys {
    Keys::derive(&ServiceSecret::parse("a benchmark's service secret, 32 bytes or more").unwrap())
}

fn code_generation(c: &mut Criterion) {
    let mut group = c.benchmark_group("code_generation");
    let digits = CodeSpec::default();
    let alphanumeric = CodeSpec {
        alphabet: Alphabet::Alphanumeric,
        length: CodeLength::parse(8).unwrap(),
    };
    group.bench_function("6_digits", |b| {
        b.iter(|| Code::generate(black_box(digits), &OsRandomness))
    });
    group.bench_function("8_alphanumeric", |b| {
        b.iter(|| Code::generate(black_box(alphanumeric), &OsRandomness))
    });
    group.bench_function("challenge_id", |b| {
        b.iter(|| ChallengeId::generate(&OsRandomness))
    });
    group.finish();
}

fn code_hash(c: &mut Criterion) {
    let mut group = c.benchmark_group("code_hash");
    let keys = keys();
    let id = ChallengeId::generate(&OsRandomness);
    let stored = keys.code_hash(id.as_str(), "493817");
    group.bench_function("hash_and_compare_right", |b| {
        b.iter(|| keys.code_hash(black_box(id.as_str()), black_box("493817")) == stored)
    });
    group.bench_function("hash_and_compare_wrong", |b| {
        b.iter(|| keys.code_hash(black_box(id.as_str()), black_box("493818")) == stored)
    });
    group.bench_function("parse_attempt_hash_compare", |b| {
        b.iter(|| {
            let attempt = CodeAttempt::parse(black_box(" 493 817 ")).unwrap();
            keys.code_hash(id.as_str(), attempt.expose()) == stored
        })
    });
    group.finish();
}

fn rendering(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    let code = Code::generate(CodeSpec::default(), &OsRandomness);
    let brand = Brand::parse("Acme Bank").unwrap();
    let purpose = Purpose::parse("login").unwrap();
    let english = Locale::parse("en").unwrap();
    let canadian_french = Locale::parse("fr-CA").unwrap();
    let template = CustomTemplate::parse(
        "{brand}: {code} is your code to {purpose}. It expires in {minutes} minutes.",
    )
    .unwrap();
    let ttl = Ttl::parse(300).unwrap();
    let input = |locale, brand, template| MessageInput {
        code: &code,
        brand,
        ttl,
        purpose: &purpose,
        locale,
        template,
        sms_binding: None,
        transaction: None,
        voice_repeats: otp_shared::messages::DEFAULT_REPEATS,
    };
    group.bench_function("sms_built_in_en", |b| {
        b.iter(|| render(Channel::Sms, black_box(input(&english, Some(&brand), None))))
    });
    group.bench_function("sms_built_in_fr_ca", |b| {
        b.iter(|| {
            render(
                Channel::Sms,
                black_box(input(&canadian_french, Some(&brand), None)),
            )
        })
    });
    group.bench_function("sms_custom_template", |b| {
        b.iter(|| {
            render(
                Channel::Sms,
                black_box(input(&english, Some(&brand), Some(&template))),
            )
        })
    });
    group.bench_function("email_built_in_en", |b| {
        b.iter(|| {
            render(
                Channel::Email,
                black_box(input(&english, Some(&brand), None)),
            )
        })
    });
    group.finish();
}

fn proof_signing(c: &mut Criterion) {
    let mut group = c.benchmark_group("proof_token");
    let keys = keys();
    let signer = ProofSigner::new(&keys, ProofSettings::default());
    let id = ChallengeId::generate(&OsRandomness);
    let proof = Proof {
        jti: id.as_str(),
        subject: ProofSubject::PhoneNumber("+447400123456"),
        method: "sms",
        purpose: Some("login"),
        reference: Some("order-1234"),
        transaction: None,
        audience: None,
    };
    let now = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    group.bench_function("sign_eddsa_jwt", |b| {
        b.iter(|| signer.sign(black_box(&proof), now))
    });
    group.finish();
}

/// What each cold start computes once: every key from the service secret, and the proof signer.
fn init(c: &mut Criterion) {
    let mut group = c.benchmark_group("init");
    let secret = ServiceSecret::parse("a benchmark's service secret, 32 bytes or more").unwrap();
    group.bench_function("keys_derive", |b| {
        b.iter(|| Keys::derive(black_box(&secret)))
    });
    let keys = keys();
    group.bench_function("proof_signer_new", |b| {
        b.iter(|| ProofSigner::new(black_box(&keys), ProofSettings::default()))
    });
    // The ten example profiles: parsed and checked (every SMS text rendered at its longest) once
    // per cold start when a deployment compiles in such a file.
    let builtin = otp_shared::Settings::default()
        .profiles
        .default_profile()
        .as_ref()
        .clone();
    let ten = include_str!("../../examples/profiles.json");
    group.bench_function("profiles_parse_10", |b| {
        b.iter(|| {
            otp_shared::profiles::Profiles::parse(black_box(ten), builtin.clone())
                .expect("the example profiles load")
        })
    });
    group.finish();
}

criterion_group!(
    hot_paths,
    code_generation,
    code_hash,
    rendering,
    proof_signing,
    init
);
criterion_main!(hot_paths);

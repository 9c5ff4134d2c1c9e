//! Generated codes: for every length and alphabet a send can ask for, exactly that many symbols,
//! only that alphabet's, and what the user types back parses to the same code; through the server
//! send too (only the app's backend may choose them), where the recorded message's code approves,
//! a choice weaker than the profile's code is refused, and the public send refuses any choice.

use otp_shared::adapters::{OsRandomness, SeededRandomness};
use otp_shared::domain::{Alphabet, Code, CodeAttempt, CodeLength, CodeSpec};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::any_json::{Function, code_in, handle, json_call, server_call, service};

const ALPHABETS: [(Alphabet, &str); 3] = [
    (Alphabet::Digits, "digits"),
    (Alphabet::Letters, "letters"),
    (Alphabet::Alphanumeric, "alphanumeric"),
];

fn specs() -> impl Strategy<Value = (Alphabet, &'static str, u64)> {
    (
        prop::sample::select(ALPHABETS.to_vec()),
        u64::from(CodeLength::MIN)..=u64::from(CodeLength::MAX),
    )
        .prop_map(|((alphabet, name), length)| (alphabet, name, length))
}

fn assert_shape(code: &str, alphabet: Alphabet, length: u64) -> Result<(), TestCaseError> {
    prop_assert_eq!(code.len() as u64, length);
    prop_assert!(
        code.bytes().all(|b| alphabet.symbols().contains(&b)),
        "{:?} has a symbol outside {:?}",
        code,
        alphabet
    );
    let typed = CodeAttempt::parse(code).map_err(|e| TestCaseError::fail(e.0))?;
    prop_assert_eq!(typed.expose(), code);
    // As a person might type it: lower case, grouped with a space and a dash.
    let (head, tail) = code.split_at(code.len() / 2);
    let sloppy = format!(" {}-{} ", head.to_lowercase(), tail.to_lowercase());
    let retyped = CodeAttempt::parse(&sloppy).unwrap();
    prop_assert_eq!(retyped.expose(), code);
    Ok(())
}

#[test]
fn generated_codes_have_their_length_and_alphabet_and_parse_back() {
    proptest!(super::config(512), |((alphabet, _name, length) in specs(), seed in any::<u64>())| {
        let spec = CodeSpec { alphabet, length: CodeLength::parse(length).unwrap() };
        let seeded = Code::generate(spec, &SeededRandomness::new(seed));
        assert_shape(seeded.expose(), alphabet, length)?;
        let os = Code::generate(spec, &OsRandomness);
        assert_shape(os.expose(), alphabet, length)?;
    });
}

/// Whether a code of `length` symbols of `alphabet` has at least the combinations of the default
/// profile's code (6 digits), as a server send's choice must.
fn as_strong_as_the_default(alphabet: Alphabet, length: u64) -> bool {
    (alphabet.symbols().len() as u128).pow(length as u32) >= 10u128.pow(6)
}

#[test]
fn a_send_delivers_a_code_of_the_length_and_alphabet_it_asked_for() {
    let runtime = super::runtime();
    proptest!(super::config(48), |((alphabet, name, length) in specs(), sms in any::<bool>())| {
        runtime.block_on(async {
            let (otp, recorder) = service();
            let to = if sms { "+447911123456" } else { "ana@example.com" };
            let body = json!({
                "channel": if sms { "sms" } else { "email" },
                "to": to,
                "length": length,
                "alphabet": name,
            });
            // A browser may not choose: the public send refuses the first server-only field.
            let public = handle(&otp, Function::Send, json_call("/v1/otp/send", body.clone())).await;
            prop_assert_eq!(public.status(), 400);
            let problem: Value = serde_json::from_slice(public.body().as_ref()).unwrap();
            prop_assert_eq!(&problem["field"], "length");
            prop_assert!(recorder.0.lock().unwrap().is_empty());
            let sent =
                handle(&otp, Function::Send, server_call("/v1/server/otp/send", body)).await;
            if !as_strong_as_the_default(alphabet, length) {
                prop_assert_eq!(sent.status(), 400);
                let problem: Value = serde_json::from_slice(sent.body().as_ref()).unwrap();
                prop_assert_eq!(&problem["field"], "length");
                prop_assert!(recorder.0.lock().unwrap().is_empty());
                return Ok(());
            }
            prop_assert_eq!(sent.status(), 202);
            let sent: Value = serde_json::from_slice(sent.body().as_ref()).unwrap();
            let code = code_in(&recorder.0.lock().unwrap()[0]);
            assert_shape(&code, alphabet, length)?;
            let verify = json!({"id": sent["id"], "code": code.to_lowercase()});
            let verified =
                handle(&otp, Function::Verify, json_call("/v1/otp/verify", verify)).await;
            prop_assert_eq!(verified.status(), 200);
            Ok(())
        })?;
    });
}

/// With a fixed seed, so it cannot flake: every symbol of every alphabet turns up in 500 codes.
#[test]
fn every_symbol_of_every_alphabet_is_drawn() {
    let random = SeededRandomness::new(8);
    for (alphabet, _) in ALPHABETS {
        let spec = CodeSpec {
            alphabet,
            length: CodeLength::parse(10).unwrap(),
        };
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..500 {
            seen.extend(Code::generate(spec, &random).expose().bytes());
        }
        assert_eq!(seen.len(), alphabet.symbols().len(), "{alphabet:?}");
    }
}

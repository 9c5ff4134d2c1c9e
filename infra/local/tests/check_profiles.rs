//! `otp-local check-profiles FILE` and `otp-local --profiles FILE`: a file that fails validation is
//! refused with a message naming the profile and the field, before anything is served.

use std::process::Command;

fn otp_local(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_otp-local"))
        .args(args)
        .env_remove("OTP_PROFILES_FILE")
        .env_remove("OTP_SECRET")
        .output()
        .expect("otp-local runs")
}

fn file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("otp-local-profiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_repository_and_example_files_pass() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    for path in ["profiles.json", "examples/profiles.json"] {
        let output = otp_local(&["check-profiles", &format!("{root}/{path}")]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{path}: {stdout}");
        assert!(stdout.contains("all valid"), "{stdout}");
    }
}

#[test]
fn a_bad_profile_is_refused_naming_profile_and_field() {
    let cases = [
        (
            r#"{"profiles": {"shop": {"length": 5}}}"#,
            "`shop`",
            "`length`",
        ),
        (
            r#"{"profiles": {"shop": {"ttl_seconds": 1200}}}"#,
            "`shop`",
            "`ttl_seconds`",
        ),
        (
            r#"{"profiles": {"sms": {"templates": {"sms": {"en": "{code} aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}}}}}"#,
            "`sms`",
            "`templates.sms.en`",
        ),
        (
            r#"{"profiles": {"web": {"web_otp_origins": ["https://example.com/login"]}}}"#,
            "`web`",
            "`web_otp_origins`",
        ),
    ];
    for (index, (text, profile, field)) in cases.into_iter().enumerate() {
        let path = file(&format!("bad-{index}.json"), text);
        for args in [
            vec!["check-profiles", path.to_str().unwrap()],
            // At start, too: the server never listens on a bad file.
            vec![
                "--addr",
                "127.0.0.1:0",
                "--profiles",
                path.to_str().unwrap(),
            ],
        ] {
            let output = otp_local(&args);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{args:?} accepted {text}");
            assert!(
                stderr.contains(profile) && stderr.contains(field),
                "{args:?}: {stderr}"
            );
        }
    }
}

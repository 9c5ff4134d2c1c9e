//! Chooses the profile file compiled into every binary: `OTP_PROFILES_FILE` at build time (a path
//! relative to the workspace root, or absolute), else the repository's `profiles.json`. Profiles are
//! configuration as code: a build (`sam build`, `cargo lambda build`) ships them, and a change of
//! the file or of the variable rebuilds. Also writes the phone-number metadata grouped by calling
//! code (build/phone_metadata.rs).

use std::path::{Path, PathBuf};

#[path = "build/phone_metadata.rs"]
mod phone_metadata;

fn main() {
    // Depends only on the `phonenumber` build-dependency, whose change reruns this script.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/phone_metadata.rs");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    phone_metadata::write(&out.join("phone-metadata.postcard"));

    println!("cargo:rerun-if-env-changed=OTP_PROFILES_FILE");
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest.parent().expect("shared/ sits in the workspace");
    let file = match std::env::var("OTP_PROFILES_FILE") {
        Ok(path) if !path.trim().is_empty() => {
            let path = Path::new(path.trim());
            if path.is_absolute() {
                path.to_path_buf()
            } else {
                workspace.join(path)
            }
        }
        _ => workspace.join("profiles.json"),
    };
    assert!(
        file.is_file(),
        "the profile file {} does not exist (OTP_PROFILES_FILE)",
        file.display()
    );
    println!("cargo:rerun-if-changed={}", file.display());
    println!("cargo:rustc-env=OTP_EMBEDDED_PROFILES={}", file.display());
}

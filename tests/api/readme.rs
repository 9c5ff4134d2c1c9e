//! The README is part of the contract: its configuration table must match the code.

use otp_shared::Settings;
use otp_shared::runtime::AWS_VARIABLES;

#[test]
fn the_configuration_table_lists_every_variable_with_its_default() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for (name, default, _) in Settings::VARIABLES.iter().chain(AWS_VARIABLES) {
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("README has no row for {name}"));
        assert!(
            row.contains(&format!("| {default} |")),
            "README gives another default for {name}: {row}"
        );
    }
}

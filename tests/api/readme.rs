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

#[test]
fn the_backend_example_is_the_file_the_tests_run() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let example =
        std::fs::read_to_string(format!("{root}/examples/backend/verify_token.py")).unwrap();
    let block = readme
        .split("<!-- backend-example:start -->\n```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- backend-example:end -->").next())
        .expect("README has the backend example block");
    assert_eq!(
        block, example,
        "README and examples/backend/verify_token.py differ"
    );
}

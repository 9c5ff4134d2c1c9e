//! The documentation is part of the contract: docs/configuration.md's table must match the code, and
//! docs/api.md's backend example must be the file the tests run.

use otp_shared::Settings;
use otp_shared::runtime::AWS_VARIABLES;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../{path}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_configuration_table_lists_every_variable_with_its_default() {
    let table = read("docs/configuration.md");
    for (name, default, _) in Settings::VARIABLES.iter().chain(AWS_VARIABLES) {
        let row = table
            .lines()
            .find(|line| line.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("docs/configuration.md has no row for {name}"));
        assert!(
            row.contains(&format!("| {default} |")),
            "docs/configuration.md gives another default for {name}: {row}"
        );
    }
}

#[test]
fn the_backend_example_is_the_file_the_tests_run() {
    let api = read("docs/api.md");
    let example = read("examples/backend/verify_token.py");
    let block = api
        .split("<!-- backend-example:start -->\n```python\n")
        .nth(1)
        .and_then(|rest| rest.split("```\n<!-- backend-example:end -->").next())
        .expect("docs/api.md has the backend example block");
    assert_eq!(
        block, example,
        "docs/api.md and examples/backend/verify_token.py differ"
    );
}

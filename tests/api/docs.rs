//! The documentation is part of the contract: docs/configuration.md's table of variables is
//! generated from the code's tables, and docs/api.md's backend example is the file the tests run.

use otp_shared::Settings;
use otp_shared::runtime::AWS_VARIABLES;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CONFIGURATION: &str = "docs/configuration.md";
const START: &str = "<!-- settings:start -->\n";
const END: &str = "<!-- settings:end -->";
/// Set (to anything but empty) to rewrite docs/configuration.md's table instead of checking it.
const BLESS: &str = "OTP_BLESS_DOCS";

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{ROOT}/{path}")).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The table between the markers: every variable the Lambdas and otp-local read, as
/// `| `NAME` | default | meaning |` rows (infra/check-template.py reads them in this form).
fn configuration_table() -> String {
    // Blank lines around it, so no renderer takes a marker for part of the table.
    let mut table = String::from("\n| variable | default | meaning |\n|---|---|---|\n");
    let variables = AWS_VARIABLES
        .iter()
        .chain(Settings::VARIABLES)
        .chain(otp_local::VARIABLES);
    for (name, default, meaning) in variables {
        assert!(
            !format!("{default}{meaning}").contains(['|', '\n']),
            "{name}: a `|` or a line break would break the table's row"
        );
        table.push_str(&format!("| `{name}` | {default} | {meaning} |\n"));
    }
    table.push('\n');
    table
}

#[test]
fn the_configuration_table_is_generated_from_the_variables_the_code_reads() {
    let page = read(CONFIGURATION);
    let (before, rest) = page
        .split_once(START)
        .unwrap_or_else(|| panic!("{CONFIGURATION} has no {START}"));
    let (table, after) = rest
        .split_once(END)
        .unwrap_or_else(|| panic!("{CONFIGURATION} has no {END} after {START}"));
    let generated = configuration_table();
    if std::env::var_os(BLESS).is_some_and(|value| !value.is_empty()) {
        if table != generated {
            let page = format!("{before}{START}{generated}{END}{after}");
            std::fs::write(format!("{ROOT}/{CONFIGURATION}"), page).unwrap();
        }
        return;
    }
    if table != generated {
        let (written, expected) = table
            .lines()
            .map(Some)
            .chain(std::iter::repeat(None))
            .zip(generated.lines().map(Some).chain(std::iter::repeat(None)))
            .find(|(written, expected)| written != expected)
            .expect("the tables differ, so a line does");
        panic!(
            "{CONFIGURATION}'s table is not the one Settings::VARIABLES, runtime::AWS_VARIABLES and \
             otp_local::VARIABLES give; regenerate it with\n  \
             {BLESS}=1 cargo test -p otp-tests --test api docs::\n\
             first difference:\n  written:   {}\n  generated: {}",
            written.unwrap_or("(nothing)"),
            expected.unwrap_or("(nothing)"),
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

//! The documentation is part of the contract: docs/configuration.md's table of variables is
//! generated from the code's tables, README.md's table of routes and infra/routes.json (which
//! infra/check-template.py holds template.yaml to) from the route table, and docs/api.md's backend
//! example is the file the tests run.

use otp_shared::Settings;
use otp_shared::lambda::AWS_VARIABLES;
use otp_shared::routes::{Auth, ROUTES, Route};

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const CONFIGURATION: &str = "docs/configuration.md";
const START: &str = "<!-- settings:start -->\n";
const END: &str = "<!-- settings:end -->";
const README: &str = "README.md";
const ROUTES_START: &str = "<!-- routes:start -->\n";
const ROUTES_END: &str = "<!-- routes:end -->";
const ROUTES_JSON: &str = "infra/routes.json";
/// Set (to anything but empty) to rewrite the generated blocks and files instead of checking them.
const BLESS: &str = "OTP_BLESS_DOCS";

fn blessing() -> bool {
    std::env::var_os(BLESS).is_some_and(|value| !value.is_empty())
}

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

/// Checks that `path`'s block between `start` and `end` is `generated`, or with [`BLESS`] rewrites
/// it; `from` says what it is generated from.
fn check_block(path: &str, start: &str, end: &str, generated: &str, from: &str) {
    let page = read(path);
    let (before, rest) = page
        .split_once(start)
        .unwrap_or_else(|| panic!("{path} has no {start}"));
    let (block, after) = rest
        .split_once(end)
        .unwrap_or_else(|| panic!("{path} has no {end} after {start}"));
    check_text(path, block, generated, from, |generated| {
        format!("{before}{start}{generated}{end}{after}")
    });
}

/// Checks that `written` (what `path` holds, or its block) is `generated`, or with [`BLESS`]
/// writes `page(generated)` to `path`.
fn check_text(
    path: &str,
    written: &str,
    generated: &str,
    from: &str,
    page: impl FnOnce(&str) -> String,
) {
    if blessing() {
        if written != generated {
            std::fs::write(format!("{ROOT}/{path}"), page(generated)).unwrap();
        }
        return;
    }
    if written != generated {
        let (written, expected) = written
            .lines()
            .map(Some)
            .chain(std::iter::repeat(None))
            .zip(generated.lines().map(Some).chain(std::iter::repeat(None)))
            .find(|(written, expected)| written != expected)
            .expect("the texts differ, so a line does");
        panic!(
            "{path} is not what {from} gives; regenerate it with\n  \
             {BLESS}=1 cargo test -p otp-tests --test api docs::\n\
             first difference:\n  written:   {}\n  generated: {}",
            written.unwrap_or("(nothing)"),
            expected.unwrap_or("(nothing)"),
        );
    }
}

#[test]
fn the_configuration_table_is_generated_from_the_variables_the_code_reads() {
    check_block(
        CONFIGURATION,
        START,
        END,
        &configuration_table(),
        "Settings::VARIABLES, lambda::AWS_VARIABLES and otp_local::VARIABLES",
    );
}

/// README.md's table of routes: a row per method and route of [`ROUTES`], consecutive routes with
/// the same method, auth and purpose in one row.
fn routes_table() -> String {
    let mut table = String::from("\n| method | path | auth | what it does |\n|---|---|---|---|\n");
    let mut rows: Vec<(&Route, Vec<String>)> = Vec::new();
    for route in ROUTES {
        let path = format!("`{}`", route.path);
        match rows.last_mut() {
            Some((last, paths))
                if (last.method, last.auth, last.purpose)
                    == (route.method, route.auth, route.purpose) =>
            {
                paths.push(path)
            }
            _ => rows.push((route, vec![path])),
        }
    }
    for (route, paths) in rows {
        table.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            route.method,
            paths.join(", "),
            route.auth.label(),
            route.purpose
        ));
    }
    table.push('\n');
    table
}

#[test]
fn the_readme_table_of_routes_is_generated_from_the_route_table() {
    check_block(
        README,
        ROUTES_START,
        ROUTES_END,
        &routes_table(),
        "otp_shared::routes::ROUTES",
    );
}

/// infra/routes.json: the route table for infra/check-template.py, which holds template.yaml's
/// HttpApi events to it. `function` is template.yaml's logical id (`null`: otp-local only); `auth`
/// is `public`, `server`, `local` or `loopback`.
fn routes_json() -> String {
    let routes: Vec<serde_json::Value> = ROUTES
        .iter()
        .map(|route| {
            let auth = match route.auth {
                Auth::Public => "public",
                Auth::Server => "server",
                Auth::Local => "local",
                Auth::Loopback => "loopback",
            };
            serde_json::json!({
                "method": route.method,
                "path": route.path,
                "function": route.function.logical_id(),
                "auth": auth,
                "purpose": route.purpose,
            })
        })
        .collect();
    let mut json = serde_json::to_string_pretty(&routes).expect("JSON");
    json.push('\n');
    json
}

#[test]
fn infra_routes_json_is_the_route_table() {
    let generated = routes_json();
    let written = std::fs::read_to_string(format!("{ROOT}/{ROUTES_JSON}")).unwrap_or_default();
    check_text(
        ROUTES_JSON,
        &written,
        &generated,
        "otp_shared::routes::ROUTES",
        |generated| generated.to_owned(),
    );
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

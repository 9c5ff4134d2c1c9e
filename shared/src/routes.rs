//! The route table: every route of the HTTP API and of otp-local, in one place. The Lambdas' routing
//! ([`crate::http`]) and otp-local's dispatch read it; the tests check openapi.json, README.md's
//! table and `infra/routes.json` (which infra/check-template.py holds template.yaml to) against it.
//!
//! Plain data: nothing else of the crate.

use std::sync::LazyLock;

/// Where the routes for the app's backend live: `AWS_IAM` on API Gateway, a bearer key in otp-local.
/// Exactly the [`Auth::Server`] routes are under it (a test says so).
pub const SERVER_PREFIX: &str = "/v1/server/";

/// Where the proof-token keys are published.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// Where otp-local's demo backend answers the demo page: each of its routes stands for the server
/// route at the same path under [`SERVER_PREFIX`] instead (a test says so).
pub const DEMO_PREFIX: &str = "/_local/demo/";

/// Which of template.yaml's functions serves a route, or otp-local alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Function {
    /// `SendFunction`.
    Send,
    /// `VerifyFunction`.
    Verify,
    /// `EnrollFunction`.
    Enroll,
    /// No function: the route exists only in otp-local.
    Local,
}

impl Function {
    /// The function's logical id in template.yaml; none for a local-only route.
    pub fn logical_id(self) -> Option<&'static str> {
        match self {
            Self::Send => Some("SendFunction"),
            Self::Verify => Some("VerifyFunction"),
            Self::Enroll => Some("EnrollFunction"),
            Self::Local => None,
        }
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Auth {
    /// Anyone, with no credentials: browsers.
    Public,
    /// The app's backend only: SigV4 (`AWS_IAM`) on AWS, otp-local's server key locally.
    Server,
    /// otp-local only, with no credentials.
    Local,
    /// otp-local only, and only from this machine (the demo backend).
    Loopback,
}

impl Auth {
    /// As README.md's table says it (and `infra/routes.json`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Server => "server",
            Self::Local => "otp-local only",
            Self::Loopback => "otp-local only (loopback)",
        }
    }

    /// Whether only otp-local has the route.
    pub fn is_local_only(self) -> bool {
        matches!(self, Self::Local | Self::Loopback)
    }
}

/// Which handler answers a route. One handler may answer several routes (the public and the server
/// send), and one path's methods always share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Handler {
    Send,
    Verify,
    Jwks,
    /// `POST` an enrolment.
    Enroll,
    /// Read or remove the enrolment of the path's `{user_id}`.
    Enrolment,
    TotpChallenge,
    /// otp-local's outbox.
    Outbox,
    /// otp-local's demo backend: the server route the path stands for.
    DemoBackend,
    /// otp-local's OpenAPI document.
    OpenApi,
    /// otp-local's demo page: one of its static files.
    DemoPage,
}

/// One method on one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// Upper case, as HTTP says it.
    pub method: &'static str,
    /// A path, or a path template whose `{name}` stands for one non-empty path segment.
    pub path: &'static str,
    pub function: Function,
    pub auth: Auth,
    pub handler: Handler,
    /// One line, Markdown, for README.md's table.
    pub purpose: &'static str,
}

const fn route(
    method: &'static str,
    path: &'static str,
    function: Function,
    auth: Auth,
    handler: Handler,
    purpose: &'static str,
) -> Route {
    Route {
        method,
        path,
        function,
        auth,
        handler,
        purpose,
    }
}

use Auth::{Local, Loopback, Public, Server};

/// Every route, in README.md's and openapi.json's order. A path's methods are listed in the order
/// a `405`'s `Allow` names them.
pub const ROUTES: &[Route] = &[
    route(
        "POST",
        "/v1/otp/send",
        Function::Send,
        Public,
        Handler::Send,
        "send a code by SMS, email or a call, as its [profile](docs/profiles.md) allows",
    ),
    route(
        "POST",
        "/v1/otp/verify",
        Function::Verify,
        Public,
        Handler::Verify,
        "check a sent code by its id, or an authenticator or recovery code against a challenge",
    ),
    route(
        "GET",
        JWKS_PATH,
        Function::Verify,
        Public,
        Handler::Jwks,
        "the keys that verify proof tokens",
    ),
    route(
        "POST",
        "/v1/server/otp/send",
        Function::Send,
        Server,
        Handler::Send,
        "send a code, with a length, lifetime, text, reference or payment of your own",
    ),
    route(
        "POST",
        "/v1/server/otp/verify",
        Function::Verify,
        Server,
        Handler::Verify,
        "check any code, by id, challenge or user id",
    ),
    route(
        "POST",
        "/v1/server/totp/enroll",
        Function::Enroll,
        Server,
        Handler::Enroll,
        "enrol a user's authenticator app: secret, QR code, recovery codes",
    ),
    route(
        "GET",
        "/v1/server/totp/enroll/{user_id}",
        Function::Enroll,
        Server,
        Handler::Enrolment,
        "an enrolment's state, never its secret",
    ),
    route(
        "DELETE",
        "/v1/server/totp/enroll/{user_id}",
        Function::Enroll,
        Server,
        Handler::Enrolment,
        "remove a user's authenticator",
    ),
    route(
        "POST",
        "/v1/server/totp/challenge",
        Function::Enroll,
        Server,
        Handler::TotpChallenge,
        "a 5-minute challenge for the browser to verify a user's authenticator code",
    ),
    route(
        "GET",
        "/_local/outbox",
        Function::Local,
        Local,
        Handler::Outbox,
        "the messages otp-local \"sent\", codes included",
    ),
    route(
        "POST",
        "/_local/demo/totp/enroll",
        Function::Local,
        Loopback,
        Handler::DemoBackend,
        "the demo page's backend: enrol an authenticator",
    ),
    route(
        "GET",
        "/_local/demo/totp/enroll/{user_id}",
        Function::Local,
        Loopback,
        Handler::DemoBackend,
        "the demo page's backend: an enrolment's state",
    ),
    route(
        "POST",
        "/_local/demo/totp/challenge",
        Function::Local,
        Loopback,
        Handler::DemoBackend,
        "the demo page's backend: a challenge",
    ),
    route(
        "GET",
        "/openapi.json",
        Function::Local,
        Local,
        Handler::OpenApi,
        "the OpenAPI document",
    ),
    route(
        "GET",
        "/",
        Function::Local,
        Local,
        Handler::DemoPage,
        "the [demo page](docs/walkthroughs.md#demo-page)",
    ),
    route(
        "GET",
        "/demo.js",
        Function::Local,
        Local,
        Handler::DemoPage,
        "the [demo page](docs/walkthroughs.md#demo-page)",
    ),
    route(
        "GET",
        "/demo.css",
        Function::Local,
        Local,
        Handler::DemoPage,
        "the [demo page](docs/walkthroughs.md#demo-page)",
    ),
];

/// Each path's `Allow`: its methods, in the table's order, `, `-separated.
static ALLOWS: LazyLock<Vec<(&'static str, String)>> = LazyLock::new(|| {
    let mut allows: Vec<(&'static str, String)> = Vec::new();
    for route in ROUTES {
        match allows.iter_mut().find(|(path, _)| *path == route.path) {
            Some((_, allow)) => {
                allow.push_str(", ");
                allow.push_str(route.method);
            }
            None => allows.push((route.path, route.method.to_owned())),
        }
    }
    allows
});

/// What [`Route::matching`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// The route for this method and path.
    Route(&'static Route),
    /// The path is a route's, not with this method: `405` with this `Allow`.
    MethodNotAllowed {
        /// A route of the path (its handler answers the path whatever the method).
        route: &'static Route,
        allow: &'static str,
    },
    /// No route has this path: `404`.
    NotFound,
}

impl Route {
    /// The route for `method` on `path`, a request's path: equal to a route's path, or with one
    /// non-empty segment for each `{name}` of its template.
    pub fn matching(method: &str, path: &str) -> Match {
        let mut at = Self::at(path).peekable();
        let Some(first) = at.peek().copied() else {
            return Match::NotFound;
        };
        match at.find(|route| route.method == method) {
            Some(route) => Match::Route(route),
            None => Match::MethodNotAllowed {
                route: first,
                allow: first.allow(),
            },
        }
    }

    /// The routes whose path `path` is (every method of one path, since templates never overlap).
    pub fn at(path: &str) -> impl Iterator<Item = &'static Route> + '_ {
        ROUTES
            .iter()
            .filter(move |route| segments_match(route.path, path, false))
    }

    /// The routes of `function` whose path `path` ends with: behind API Gateway a stage name may
    /// come before a route's path.
    pub fn served_by(function: Function, path: &str) -> impl Iterator<Item = &'static Route> + '_ {
        ROUTES.iter().filter(move |route| {
            route.function == function && segments_match(route.path, path, true)
        })
    }

    /// The first route of `handler` in the table.
    pub fn of(handler: Handler) -> &'static Route {
        ROUTES
            .iter()
            .find(|route| route.handler == handler)
            .expect("every handler has a route")
    }

    /// Whether `method` is one of this route's path's.
    pub fn allows(&self, method: &str) -> bool {
        ROUTES
            .iter()
            .any(|route| route.path == self.path && route.method == method)
    }

    /// This route's path's `Allow`: all its methods.
    pub fn allow(&self) -> &'static str {
        ALLOWS
            .iter()
            .find(|(path, _)| *path == self.path)
            .map(|(_, allow)| allow.as_str())
            .expect("every route's path has its methods")
    }

    /// The path before its first `{name}` (all of it if it has none).
    pub fn fixed_prefix(&self) -> &'static str {
        self.path.split('{').next().unwrap_or(self.path)
    }

    /// Whether the route's path has a `{name}` segment.
    pub fn is_template(&self) -> bool {
        self.path.contains('{')
    }
}

/// Whether `path` is `template` (or, with `tail`, ends with it at a segment boundary): a `{name}`
/// segment stands for one non-empty segment, any other must be equal.
fn segments_match(template: &str, path: &str, tail: bool) -> bool {
    if !template.contains('{') {
        return if tail {
            path.ends_with(template)
        } else {
            path == template
        };
    }
    let wanted: Vec<&str> = template.split('/').collect();
    let given: Vec<&str> = path.split('/').collect();
    let given = match given.len().checked_sub(wanted.len()) {
        Some(0) => &given[..],
        // Segments before the template's (a stage name): the template's leading `""` then lines up
        // with the last of them, and the template starts at the `/` after it.
        Some(extra) if tail => &given[extra..],
        _ => return false,
    };
    wanted
        .iter()
        .zip(given)
        .enumerate()
        .all(|(i, (want, got))| {
            if want.starts_with('{') && want.ends_with('}') {
                !got.is_empty()
            } else if i == 0 && tail {
                // The template's leading `""`: whatever segment it lines up with ends at a `/`.
                want.is_empty()
            } else {
                want == got
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_the_server_routes_are_under_the_server_prefix() {
        for route in ROUTES {
            assert_eq!(
                route.auth == Auth::Server,
                route.path.starts_with(SERVER_PREFIX),
                "{} {}",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn local_only_routes_have_no_function_and_the_others_one() {
        for route in ROUTES {
            assert_eq!(
                route.auth.is_local_only(),
                route.function == Function::Local,
                "{} {}",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn each_demo_route_stands_for_a_server_route_with_the_same_method() {
        for route in ROUTES.iter().filter(|r| r.handler == Handler::DemoBackend) {
            let rest = route
                .path
                .strip_prefix(DEMO_PREFIX)
                .expect("under /_local/demo/");
            let server = format!("{SERVER_PREFIX}{rest}");
            assert!(
                ROUTES.iter().any(|r| r.path == server
                    && r.method == route.method
                    && r.auth == Auth::Server),
                "{} {}",
                route.method,
                route.path
            );
        }
    }

    #[test]
    fn each_method_of_a_path_once_one_handler_per_path_one_function_per_handler() {
        for (i, a) in ROUTES.iter().enumerate() {
            for b in &ROUTES[i + 1..] {
                assert!(
                    (a.method, a.path) != (b.method, b.path),
                    "{} {} twice",
                    a.method,
                    a.path
                );
                if a.path == b.path {
                    assert_eq!(a.handler, b.handler, "{}", a.path);
                }
                if a.handler == b.handler {
                    assert_eq!(a.function, b.function, "{:?}", a.handler);
                }
                // No concrete path is two routes' paths.
                assert!(
                    a.path == b.path
                        || !(segments_match(a.path, &concrete(b.path), false)
                            || segments_match(b.path, &concrete(a.path), false)),
                    "{} and {} overlap",
                    a.path,
                    b.path
                );
            }
            assert!(a.method.bytes().all(|b| b.is_ascii_uppercase()));
            assert!(!a.purpose.contains(['|', '\n']), "{}", a.path);
        }
    }

    fn concrete(path: &str) -> String {
        path.replace("{user_id}", "someone")
    }

    #[test]
    fn matching_finds_the_route_the_allow_list_or_nothing() {
        let enrolment = "/v1/server/totp/enroll/user-1";
        assert!(
            matches!(Route::matching("GET", enrolment), Match::Route(r) if r.path == "/v1/server/totp/enroll/{user_id}" && r.method == "GET")
        );
        assert!(matches!(
            Route::matching("POST", enrolment),
            Match::MethodNotAllowed {
                allow: "GET, DELETE",
                ..
            }
        ));
        assert!(matches!(
            Route::matching("GET", "/v1/otp/send"),
            Match::MethodNotAllowed { allow: "POST", .. }
        ));
        for path in [
            "/v1/server/totp/enroll/",
            "/v1/server/totp/enroll/a/b",
            "/v1/otp/send/",
            "/v1",
            "",
            "/_local/demo/totp/enroll/",
        ] {
            assert_eq!(Route::matching("GET", path), Match::NotFound, "{path}");
        }
    }

    #[test]
    fn served_by_allows_a_stage_before_the_path() {
        let handlers = |function, path| {
            Route::served_by(function, path)
                .map(|r| r.handler)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            handlers(Function::Verify, "/prod/.well-known/jwks.json"),
            [Handler::Jwks]
        );
        assert_eq!(
            handlers(Function::Verify, "/v1/server/otp/verify"),
            [Handler::Verify]
        );
        assert_eq!(
            handlers(Function::Enroll, "/prod/v1/server/totp/enroll/u"),
            [Handler::Enrolment, Handler::Enrolment]
        );
        assert_eq!(
            handlers(Function::Enroll, "/v1/server/totp/enroll/u"),
            [Handler::Enrolment, Handler::Enrolment]
        );
        assert_eq!(
            handlers(Function::Enroll, "/v1/server/totp/challenge"),
            [Handler::TotpChallenge]
        );
        assert!(handlers(Function::Enroll, "/x/v1/server/totp/enroll//").is_empty());
        assert!(handlers(Function::Enroll, "/xv1/server/totp/enroll/u").is_empty());
    }
}

//! AWS faults, injected by a proxy between the real SDK clients (with the Lambdas' own timeouts and
//! retries) and the emulator: throttling, 5xx replies, slow replies and dropped connections. What must
//! hold through all of them: a dependency that stays down is a 503 with `Retry-After`, never an opaque
//! 500; a code is never approved twice; a code whose delivery failed is never usable; a verify whose
//! write outcome is unknown is an error, never an approval.

use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;
use otp_shared::Settings;
use otp_shared::adapters::aws::DynamoStore;
use serde_json::json;

use crate::fault_proxy::{Fault, FaultProxy, Times};
use crate::helpers::{Emulator, Reply, TestApp, wrong_code};
use crate::totp::App;

const VERIFY: &str = "/v1/otp/verify";

/// otp-local whose DynamoDB, SNS and SES clients all go through a fresh fault proxy.
struct Faulty {
    proxy: FaultProxy,
    app: TestApp,
    /// The table, read directly (not through the proxy).
    direct: aws_sdk_dynamodb::Client,
}

async fn behind_proxy() -> Faulty {
    let emulator = Emulator::get().await;
    let proxy = FaultProxy::start(&emulator.endpoint).await;
    let sdk = proxy.sdk().await;
    let store = DynamoStore::new(crate::calls::dynamodb(&sdk), emulator.fresh_table().await);
    let delivery = emulator.delivery_by(crate::calls::sns(&sdk), crate::calls::ses(&sdk));
    let app = emulator.spawn(store, delivery, Settings::default()).await;
    Faulty {
        proxy,
        app,
        direct: aws_sdk_dynamodb::Client::new(&emulator.sdk),
    }
}

/// Runs one request, and prints what the service answered to the fault, how long it took and how
/// many AWS requests (attempts) it made, as a row of RELIABILITY.md's table (`tests/faults.sh`
/// collects the rows).
async fn timed(faulty: &Faulty, fault: &str, request: impl Future<Output = Reply>) -> Reply {
    let requests = faulty.proxy.requests();
    let started = Instant::now();
    let reply = request.await;
    let elapsed = started.elapsed();
    let answer = reply.body["status"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let kind = reply.body["type"].as_str().unwrap_or_default();
            kind.rsplit(':').next().unwrap_or(kind).to_owned()
        });
    println!(
        "FAULT-REPORT | {fault} | {} `{answer}` | {:.2} s | {} |",
        reply.status,
        elapsed.as_secs_f64(),
        faulty.proxy.requests() - requests
    );
    reply
}

/// A 503 problem document with `Retry-After`, as `openapi.json` documents it for `path`, naming no
/// code and no address.
fn assert_unavailable(reply: &Reply, path: &str, secrets: &[&str]) {
    crate::openapi::assert_conforms(&crate::openapi::document(), "post", path, reply);
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert_eq!(reply.content_type(), "application/problem+json");
    assert_eq!(
        reply.body["type"],
        "urn:problem-type:otp-lambda:unavailable"
    );
    assert_eq!(reply.body["status"], 503);
    assert_eq!(reply.retry_after(), 5);
    assert_eq!(reply.body["retry_after"], 5);
    let text = reply.body.to_string();
    for secret in secrets {
        assert!(!text.contains(secret), "{text} names {secret}");
    }
}

#[tokio::test]
async fn a_briefly_throttled_table_is_retried_and_the_verify_approves() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123101").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::Throttled, Times::Next(1));
    faulty
        .proxy
        .inject("UpdateItem", Fault::ThrottlingException, Times::Next(1));

    let reply = timed(
        &faulty,
        "verify: `UpdateItem` throttled twice (`ProvisionedThroughputExceededException`, then `ThrottlingException`)",
        faulty.app.verify(&id, &code),
    )
    .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "approved");
    assert_eq!(
        faulty.proxy.attempts("UpdateItem"),
        3,
        "two throttled, one through"
    );
}

#[tokio::test]
async fn a_table_that_stays_throttled_is_a_503_and_the_code_survives_it() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123102").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::Throttled, Times::Always);

    let reply = timed(
        &faulty,
        "verify: `UpdateItem` always throttled",
        faulty.app.verify(&id, &code),
    )
    .await;

    assert_unavailable(&reply, VERIFY, &[&code, "447911123102"]);
    assert_eq!(
        faulty.proxy.attempts("UpdateItem"),
        3,
        "the SDK's three attempts"
    );
    // Nothing reached the table, so once it recovers the same code still works, once.
    faulty.proxy.heal();
    assert_eq!(
        faulty.app.verify(&id, &code).await.body["status"],
        "approved"
    );
    assert_eq!(
        faulty.app.verify(&id, &code).await.body["status"],
        "consumed"
    );
}

#[tokio::test]
async fn server_errors_on_every_table_call_make_each_route_a_503() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123103").await;
    // A user signing in with an authenticator app, whose backend got a challenge before the outage.
    let enrolled = faulty
        .app
        .enroll(json!({"user_id": "user-503", "issuer": "Acme", "account": "ana@example.com"}))
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let challenge = faulty.app.challenge_id("user-503").await;
    faulty
        .proxy
        .inject("*", Fault::ServerError(500), Times::Next(3));
    faulty
        .proxy
        .inject("*", Fault::ServerError(503), Times::Always);

    let send = timed(
        &faulty,
        "send: every DynamoDB call 500, then 503",
        faulty
            .app
            .send(&json!({"channel": "email", "to": "ines.faria@example.com"})),
    )
    .await;
    let verify = timed(
        &faulty,
        "verify: every DynamoDB call 503",
        faulty.app.verify(&id, &code),
    )
    .await;
    let enroll = timed(
        &faulty,
        "enroll: every DynamoDB call 503",
        faulty
            .app
            .enroll(json!({"user_id": "user-504", "issuer": "Acme", "account": "ana@example.com"})),
    )
    .await;
    let new_challenge = timed(
        &faulty,
        "TOTP challenge: every DynamoDB call 503",
        faulty.app.challenge("user-503"),
    )
    .await;
    let totp = timed(
        &faulty,
        "TOTP verify: every DynamoDB call 503",
        faulty.app.verify_challenge(&challenge, "123456"),
    )
    .await;

    assert_unavailable(&send, "/v1/otp/send", &["ines.faria"]);
    assert_unavailable(&verify, VERIFY, &[&code]);
    assert_unavailable(&enroll, "/v1/server/totp/enroll", &[]);
    assert_unavailable(&new_challenge, "/v1/server/totp/challenge", &[]);
    assert_unavailable(&totp, VERIFY, &[&challenge]);
    assert_eq!(
        faulty.proxy.attempts("SendEmail"),
        0,
        "nothing is delivered when the send cannot be recorded"
    );
}

#[tokio::test]
async fn connections_dropped_before_the_request_arrives_are_retried() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123104").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::DropRequest, Times::Next(2));

    let reply = timed(
        &faulty,
        "verify: connection closed before forwarding, twice",
        faulty.app.verify(&id, &code),
    )
    .await;

    assert_eq!(reply.body["status"], "approved", "{}", reply.body);
    assert_eq!(faulty.proxy.attempts("UpdateItem"), 3);
}

/// The first attempt's write lands, its reply is lost; the SDK retries. The retry must report the
/// first attempt's approval (it is this request's own), not `consumed`, and approve nothing twice.
#[tokio::test]
async fn a_lost_reply_to_an_approving_write_is_still_one_approval() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123105").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::DropReply, Times::Next(1));

    let reply = timed(
        &faulty,
        "verify, right code: the approving write lands, its reply is lost once",
        faulty.app.verify(&id, &code),
    )
    .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["status"], "approved");
    assert!(
        reply.body["token"].is_string(),
        "the approval carries its proof"
    );
    assert_eq!(faulty.proxy.attempts("UpdateItem"), 2);
    assert_eq!(
        faulty.app.verify(&id, &code).await.body["status"],
        "consumed"
    );
}

/// The same for a reply held back past the SDK's 2 s attempt timeout.
#[tokio::test]
async fn a_slow_reply_is_cut_off_retried_and_still_one_approval() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123106").await;
    faulty.proxy.inject(
        "UpdateItem",
        Fault::SlowReply(Duration::from_millis(2_500)),
        Times::Next(1),
    );

    let reply = timed(
        &faulty,
        "verify, right code: the write lands, its reply held 2.5 s (past the 2 s attempt timeout)",
        faulty.app.verify(&id, &code),
    )
    .await;

    assert_eq!(reply.body["status"], "approved", "{}", reply.body);
    assert_eq!(faulty.proxy.attempts("UpdateItem"), 2);
    assert_eq!(
        faulty.app.verify(&id, &code).await.body["status"],
        "consumed"
    );
}

/// A wrong code whose reply is lost counts as one wrong attempt, not two.
#[tokio::test]
async fn a_lost_reply_to_a_wrong_code_counts_one_attempt() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123107").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::DropReply, Times::Next(1));

    let reply = timed(
        &faulty,
        "verify, wrong code: the write lands, its reply is lost once",
        faulty.app.verify(&id, &wrong_code(&code)),
    )
    .await;

    assert_eq!(reply.body["status"], "incorrect", "{}", reply.body);
    assert_eq!(reply.body["attempts_remaining"], 4);
    // The code's write twice (the retry finds its own attempt), the guess count once.
    assert_eq!(faulty.proxy.attempts("UpdateItem"), 3);
    let again = faulty.app.verify(&id, &wrong_code(&code)).await;
    assert_eq!(again.body["attempts_remaining"], 3);
}

/// Every reply lost: the code was consumed by the first attempt, but nobody can know that it was
/// this request's. The caller gets an error, and the code is never approved afterwards.
#[tokio::test]
async fn a_verify_whose_write_outcome_stays_unknown_is_an_error_never_an_approval() {
    let faulty = behind_proxy().await;
    let (id, code) = faulty.app.issue("+447911123108").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::DropReply, Times::Always);

    let reply = timed(
        &faulty,
        "verify, right code: every reply lost (outcome unknown)",
        faulty.app.verify(&id, &code),
    )
    .await;

    assert_unavailable(&reply, VERIFY, &[&code]);
    assert!(reply.body.get("token").is_none());
    faulty.proxy.heal();
    let after = faulty.app.verify(&id, &code).await;
    assert_eq!(after.status, 409, "{}", after.body);
    assert_eq!(after.body["status"], "consumed");
}

/// The same for authenticator apps: a TOTP code or a recovery code whose approving write landed but
/// whose reply was lost is approved once (not reported as replayed or unknown), and not again.
#[tokio::test]
async fn a_lost_reply_to_a_totp_or_recovery_code_is_still_one_approval() {
    let faulty = behind_proxy().await;
    let enrolled = faulty
        .app
        .enroll(
            json!({"user_id": "user-lost-reply", "issuer": "Acme", "account": "ana@example.com"}),
        )
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    let authenticator = App::scan(&enrolled);
    let recovery = enrolled.body["recovery_codes"][0]
        .as_str()
        .unwrap()
        .to_owned();
    crate::logs::sensitive(&recovery);
    let confirm = authenticator.code(&faulty.app, 0);
    crate::logs::sensitive(&confirm);
    // The browser's verify, with the challenge its backend got; the backend's, by user id, after.
    let challenge = faulty.app.challenge_id("user-lost-reply").await;
    faulty
        .proxy
        .inject("UpdateItem", Fault::DropReply, Times::Next(1));

    let reply = timed(
        &faulty,
        "TOTP verify, right code: the write lands, its reply is lost once",
        faulty.app.verify_challenge(&challenge, &confirm),
    )
    .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["activated"], true);
    assert_eq!(
        faulty.app.verify_challenge(&challenge, &confirm).await.body["status"],
        "consumed"
    );
    assert_eq!(
        faulty
            .app
            .verify_totp("user-lost-reply", &confirm)
            .await
            .body["status"],
        "consumed"
    );

    faulty
        .proxy
        .inject("UpdateItem", Fault::DropReply, Times::Next(1));
    let reply = timed(
        &faulty,
        "recovery code: the write lands, its reply is lost once",
        faulty.app.recover("user-lost-reply", &recovery),
    )
    .await;

    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["recovery_codes_remaining"], 9);
    assert_eq!(
        faulty.app.recover("user-lost-reply", &recovery).await.body["status"],
        "incorrect"
    );
}

/// SNS takes the message but every reply is lost: the send fails, so the code is withdrawn, and the
/// code the phone did receive (the emulator has it) is refused even by someone who knows its id.
#[tokio::test]
async fn a_code_whose_delivery_failed_is_never_usable() {
    let faulty = behind_proxy().await;
    faulty
        .proxy
        .inject("Publish", Fault::DropReply, Times::Always);
    let to = "+447911123109";
    // The emulator outlives this test: only what this send delivers counts.
    let earlier = received_texts(&faulty, to).await.len();

    let reply = timed(
        &faulty,
        "send: SNS `Publish` takes the message, every reply lost",
        faulty.app.send(&json!({"channel": "sms", "to": to})),
    )
    .await;

    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(
        reply.body["type"],
        "urn:problem-type:otp-lambda:delivery-failed"
    );
    assert!(reply.body.get("id").is_none());
    let received = received_texts(&faulty, to).await.split_off(earlier);
    // Each of the SDK's attempts reached SNS: the phone got the code up to three times.
    assert!(!received.is_empty(), "SNS did take the message");
    let id = only_code_id(&faulty).await;
    for text in received {
        let code = text.split_whitespace().next().unwrap();
        crate::logs::sensitive(code);
        let verify = faulty.app.verify(&id, code).await;
        assert_eq!(verify.body["status"], "expired", "{}", verify.body);
    }
}

/// Concurrent verifies of the right code while the table throttles, drops connections before and
/// after writing, and answers slowly, at random: at most one approval, whatever happens.
#[tokio::test]
async fn under_random_faults_a_code_is_never_approved_twice() {
    let faulty = behind_proxy().await;
    for round in 0..3 {
        let (id, code) = faulty.app.issue(&format!("+44791112301{round}")).await;
        faulty.proxy.heal();
        for fault in [
            Fault::Throttled,
            Fault::ServerError(500),
            Fault::DropRequest,
            Fault::DropReply,
            Fault::SlowReply(Duration::from_millis(2_100)),
        ] {
            faulty
                .proxy
                .inject("UpdateItem", fault, Times::Sometimes(15));
        }

        let requests = faulty.proxy.requests();
        let started = Instant::now();
        let replies =
            futures::future::join_all((0..12).map(|_| faulty.app.verify(&id, &code))).await;
        let elapsed = started.elapsed();

        let statuses: Vec<&str> = replies
            .iter()
            .map(|r| r.body["status"].as_str().unwrap_or("(problem)"))
            .collect();
        let approvals = statuses.iter().filter(|s| **s == "approved").count();
        let count = |word: &str| statuses.iter().filter(|s| **s == word).count();
        println!(
            "FAULT-REPORT | 12 concurrent verifies of one right code; each `UpdateItem` 15% likely to meet each of: throttling, 500, closed before, closed after forwarding, a 2.1 s reply (round {round}) | {approvals} approved, {} consumed, {} `unavailable` | {:.2} s | {} |",
            count("consumed"),
            count("(problem)"),
            elapsed.as_secs_f64(),
            faulty.proxy.requests() - requests
        );
        assert!(approvals <= 1, "round {round}: {statuses:?}");
        for reply in &replies {
            assert!(
                matches!(reply.status, 200 | 409 | 503),
                "round {round}: {} {}",
                reply.status,
                reply.body
            );
        }
        faulty.proxy.heal();
        let after = faulty.app.verify(&id, &code).await;
        match after.body["status"].as_str() {
            // No attempt reached the table: the code is still pending.
            Some("approved") => assert_eq!(approvals, 0, "round {round}: approved twice"),
            // Consumed by the one approval, or by an attempt whose outcome stayed unknown (a 503).
            Some("consumed") => assert!(
                approvals == 1 || statuses.contains(&"(problem)"),
                "round {round}: consumed, but nobody was told: {statuses:?}"
            ),
            other => panic!("round {round}: {other:?} {}", after.body),
        }
    }
}

/// The text of every message the emulator says was sent to `to`.
async fn received_texts(faulty: &Faulty, to: &str) -> Vec<String> {
    Emulator::delivered(faulty.app.emulator.as_deref().unwrap())
        .await
        .into_iter()
        .filter(|(_, recipient, _)| recipient == to)
        .map(|(_, _, text)| text)
        .collect()
}

/// The id of the table's one code item.
async fn only_code_id(faulty: &Faulty) -> String {
    let items = faulty
        .direct
        .scan()
        .table_name(faulty.app.table.as_deref().unwrap())
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    let ids: Vec<String> = items
        .iter()
        .filter_map(|item| match &item["pk"] {
            AttributeValue::S(pk) => pk.strip_prefix("code#").map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    ids.into_iter().next().unwrap()
}

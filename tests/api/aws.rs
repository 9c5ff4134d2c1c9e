//! What only the AWS adapters can show: what DynamoDB holds, how many requests each operation makes,
//! what SNS is asked to send, delivery failures at SNS and SES, and the Secrets Manager secret.
//! Against the emulator the README's test command starts.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::types::{AttributeValue, TimeToLiveStatus};
use otp_shared::ServiceSecret;
use otp_shared::Settings;
use otp_shared::adapters::aws::{
    AwsDelivery, EmailSettings, SesEmail, SmsProvider, SmsSettings, SnsSms,
    create_table_if_missing, service_secret_from_secrets_manager,
};
use otp_shared::adapters::{OsRandomness, SeededRandomness};
use otp_shared::crypto::Keys;
use otp_shared::domain::{ChallengeId, EmailAddress};
use otp_shared::metrics::MetricEvent;
use serde_json::json;

use crate::calls::{BoxError, OnRequest};
use crate::helpers::{Emulator, TestApp, wrong_code};
use crate::totp::App;

/// Records each request an SDK client sends: its operation (`GetItem`, `Publish`, `SendEmail`, …, from
/// the SDK's own operation metadata) and body. One recorder can watch DynamoDB, SNS and SES at once.
#[derive(Debug, Clone, Default)]
struct Requests(Arc<Mutex<Vec<(String, String)>>>);

impl Requests {
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }

    /// The operations sent since the last call, in order, e.g. `["GetItem", "TransactWriteItems"]`.
    fn operations(&self) -> Vec<String> {
        self.take()
            .into_iter()
            .map(|(operation, _)| operation)
            .collect()
    }

    /// Like [`Self::operations`], and prints them for `bench/requests.sh`, which reports them.
    fn operations_of(&self, what: &str) -> Vec<String> {
        let operations = self.operations();
        println!("REQUESTS {what} = {}", operations.join(" + "));
        operations
    }
}

impl OnRequest for Requests {
    fn name(&self) -> &'static str {
        "RecordRequests"
    }

    fn request(&self, _: &str, operation: &str, body: &[u8]) -> Result<(), BoxError> {
        let body = String::from_utf8_lossy(body).into_owned();
        self.0.lock().unwrap().push((operation.to_owned(), body));
        Ok(())
    }
}

/// Every item in `table`.
async fn stored_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    let scan = client.scan().table_name(table).send().await.unwrap();
    scan.items.expect("a scan lists its items")
}

fn counted_dynamodb(emulator: &Emulator, requests: &Requests) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&emulator.sdk)
            .interceptor(requests.clone().interceptor())
            .interceptor(crate::calls::Recorded.interceptor())
            .build(),
    )
}

/// SNS, SES and End User Messaging as the send Lambda builds them (and End User Messaging's
/// feedback as the verify Lambda does), each request recorded in `requests`.
fn counted_delivery(emulator: &Emulator, requests: &Requests) -> AwsDelivery {
    let sms_voice = aws_sdk_pinpointsmsvoicev2::Client::from_conf(
        aws_sdk_pinpointsmsvoicev2::config::Builder::from(&emulator.sdk)
            .interceptor(requests.clone().interceptor())
            .interceptor(crate::calls::Recorded.interceptor())
            .build(),
    );
    let delivery = emulator.delivery_by(
        aws_sdk_sns::Client::from_conf(
            aws_sdk_sns::config::Builder::from(&emulator.sdk)
                .interceptor(requests.clone().interceptor())
                .interceptor(crate::calls::Recorded.interceptor())
                .build(),
        ),
        aws_sdk_sesv2::Client::from_conf(
            aws_sdk_sesv2::config::Builder::from(&emulator.sdk)
                .interceptor(requests.clone().interceptor())
                .interceptor(crate::calls::Recorded.interceptor())
                .build(),
        ),
    );
    AwsDelivery {
        voice: Some(emulator.sms_voice_by(sms_voice.clone())),
        feedback: Some(sms_voice),
        ..delivery
    }
}

/// otp-local on the AWS adapters whose `default` profile also calls, every request recorded.
async fn counted_voice_app() -> (TestApp, Requests) {
    counted_voice_app_with(Settings::default()).await
}

async fn counted_voice_app_with(settings: Settings) -> (TestApp, Requests) {
    let emulator = Emulator::get().await;
    let requests = Requests::default();
    let store = emulator.store(counted_dynamodb(&emulator, &requests)).await;
    let builtin = settings.profiles.default_profile().as_ref().clone();
    let profiles = otp_shared::profiles::Profiles::parse(
        r#"{"profiles": {"default": {"channels": ["sms", "email", "voice"]}}}"#,
        builtin,
    )
    .unwrap();
    let app = emulator
        .spawn(
            store,
            counted_delivery(&emulator, &requests),
            Settings {
                profiles,
                ..settings
            },
        )
        .await;
    (app, requests)
}

/// A call costs the send one more write than an SMS (its message id, kept with the code, after the
/// call is placed); its approval is the same one DynamoDB write as an SMS's, and one
/// `PutMessageFeedback` with the call's own message id.
#[tokio::test]
async fn a_call_keeps_its_message_id_and_its_approval_is_one_write_and_one_feedback() {
    let (app, requests) = counted_voice_app().await;
    let reply = app
        .send(&json!({"channel": "voice", "to": "+442079460001"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let sent = requests.take();
    let operations: Vec<&str> = sent.iter().map(|(op, _)| op.as_str()).collect();
    println!("REQUESTS send (voice) = {}", operations.join(" + "));
    assert_eq!(
        operations,
        [
            "GetItem",
            "TransactWriteItems",
            "SendVoiceMessage",
            "UpdateItem"
        ]
    );
    let outbox = app.outbox().await;
    let entry = outbox.last().unwrap();
    let message_id = entry["message_id"].as_str().unwrap();
    assert!(
        sent[3].1.contains(message_id) && !sent[3].1.contains("2079460001"),
        "the message id is kept, the number is not: {}",
        sent[3].1
    );
    let ssml = entry["body"].as_str().unwrap();
    let code = crate::voice::code_of(ssml);

    let approved = app.verify(reply.body["id"].as_str().unwrap(), &code).await;
    assert_eq!(approved.body["status"], "approved", "{}", approved.body);
    let verified = requests.take();
    let operations: Vec<&str> = verified.iter().map(|(op, _)| op.as_str()).collect();
    println!(
        "REQUESTS verify (voice, approved) = {}",
        operations.join(" + ")
    );
    assert_eq!(operations, ["UpdateItem", "PutMessageFeedback"]);
    assert!(verified[1].1.contains(message_id) && verified[1].1.contains("RECEIVED"));
}

/// otp-local on the AWS adapters, every DynamoDB, SNS and SES request it sends recorded.
async fn counted_app() -> (TestApp, Requests) {
    let emulator = Emulator::get().await;
    let requests = Requests::default();
    let store = emulator.store(counted_dynamodb(&emulator, &requests)).await;
    let app = emulator
        .spawn(
            store,
            counted_delivery(&emulator, &requests),
            Settings::default(),
        )
        .await;
    (app, requests)
}

#[tokio::test]
async fn verify_is_one_dynamodb_request_and_send_at_most_two_and_one_delivery() {
    let (app, requests) = counted_app().await;

    let (id, code) = app.issue("+447911123456").await;
    assert_eq!(
        requests.operations_of("send (SMS)"),
        ["GetItem", "TransactWriteItems", "Publish"]
    );
    let email = app
        .send(&json!({"channel": "email", "to": "ana@example.com"}))
        .await;
    assert_eq!(email.status, 202, "{}", email.body);
    assert_eq!(
        requests.operations_of("send (email)"),
        ["GetItem", "TransactWriteItems", "SendEmail"]
    );

    // A refused resend decides on the one read, and delivers nothing.
    assert_eq!(
        app.send(&json!({"channel": "sms", "to": "+447911123456"}))
            .await
            .status,
        429
    );
    assert_eq!(
        requests.operations_of("send (refused: cooldown)"),
        ["GetItem"]
    );

    // An approval is one write; so is a refusal. A wrong code is counted against the
    // destination's guess budget too, and an approval from a network with wrong codes counted
    // starts its count again: one more write each.
    let (clean_id, clean_code) = app.issue("+447911123458").await;
    requests.take();
    assert_eq!(
        app.verify(&clean_id, &clean_code).await.body["status"],
        "approved"
    );
    assert_eq!(requests.operations_of("verify (approved)"), ["UpdateItem"]);
    for (attempt, status, operations) in [
        (
            wrong_code(&code),
            "incorrect",
            &["UpdateItem", "UpdateItem"][..],
        ),
        (code.clone(), "approved", &["UpdateItem", "UpdateItem"][..]),
        (code.clone(), "consumed", &["UpdateItem"][..]),
    ] {
        assert_eq!(app.verify(&id, &attempt).await.body["status"], status);
        let label = match status {
            "incorrect" => "verify (incorrect: counted)".to_owned(),
            "approved" => "verify (approved after a wrong code: count reset)".to_owned(),
            other => format!("verify ({other})"),
        };
        assert_eq!(requests.operations_of(&label), operations);
    }
    let unknown = ChallengeId::generate(&OsRandomness);
    assert_eq!(
        app.verify(unknown.as_str(), &code).await.body["status"],
        "not_found"
    );
    assert_eq!(requests.operations_of("verify (not_found)"), ["UpdateItem"]);

    // A resend that replaces a pending code withdraws it in the same transaction.
    app.advance(30);
    app.send_sms("+447911123456").await;
    assert_eq!(
        requests.operations(),
        ["GetItem", "TransactWriteItems", "Publish"]
    );
    let (old_id, old_code) = app.issue("+447911123457").await;
    app.advance(30);
    requests.take();
    app.send_sms("+447911123457").await;
    assert_eq!(
        requests.operations_of("resend (replaces the pending code)"),
        ["GetItem", "TransactWriteItems", "Publish"]
    );
    assert_eq!(
        app.verify(&old_id, &old_code).await.body["status"],
        "expired",
        "the replaced code no longer works"
    );
}

/// The locking wrong code adds one transaction (the lock on the destination and on each of its live
/// codes); a locked network is then refused on the code's own write, and its sends on the read.
#[tokio::test]
async fn a_guess_lock_is_one_transaction_and_a_locked_guess_one_write() {
    let (app, requests) = counted_app().await;
    let to = "+447911123459";
    let mut ids = Vec::new();
    for purpose in ["login", "payment", "reset"] {
        let reply = app
            .send(&json!({"channel": "sms", "to": to, "purpose": purpose}))
            .await;
        assert_eq!(reply.status, 202, "{}", reply.body);
        ids.push((
            reply.body["id"].as_str().unwrap().to_owned(),
            app.last_code().await,
        ));
    }
    requests.take();
    for n in 0..9 {
        let (id, code) = &ids[n % 3];
        assert_eq!(
            app.verify(id, &wrong_code(code)).await.body["status"],
            "incorrect"
        );
    }
    requests.take();
    let (id, code) = &ids[0];
    assert_eq!(
        app.verify(id, &wrong_code(code)).await.body["status"],
        "incorrect"
    );
    assert_eq!(
        requests.operations_of("verify (incorrect, starts a lock)"),
        ["UpdateItem", "UpdateItem", "TransactWriteItems"]
    );
    let (id, code) = &ids[2];
    assert_eq!(app.verify(id, code).await.body["status"], "locked");
    assert_eq!(
        requests.operations_of("verify (locked out)"),
        ["UpdateItem"]
    );
    let refused = app
        .send(&json!({"channel": "sms", "to": to, "purpose": "other"}))
        .await;
    assert_eq!(refused.status, 429);
    assert_eq!(
        requests.operations_of("send (refused: locked out)"),
        ["GetItem"]
    );
}

/// A destination's item written before the guess budget (no guess maps) takes its first wrong code
/// on the slow path: read, counted, and written back whole with the maps, conditional on the
/// version; the next wrong code is back on the fast path.
#[tokio::test]
async fn a_destination_item_from_before_the_guess_budget_is_upgraded_by_a_wrong_code() {
    let emulator = Emulator::get().await;
    let (app, requests) = counted_app().await;
    let (id, code) = app.issue("+447911123460").await;
    let client = aws_sdk_dynamodb::Client::new(&emulator.sdk);
    let table = app.table.as_deref().unwrap();
    let dest = stored_items(&client, table)
        .await
        .into_iter()
        .find_map(|item| match item.get("pk") {
            Some(AttributeValue::S(pk)) if pk.starts_with("dest#") => Some(pk.clone()),
            _ => None,
        })
        .expect("the destination's item");
    client
        .update_item()
        .table_name(table)
        .key("pk", AttributeValue::S(dest))
        .update_expression(
            "REMOVE guess_failures, guess_last_failure_ms, guess_lockouts, guess_locks, guess_hourly",
        )
        .send()
        .await
        .unwrap();
    requests.take();
    assert_eq!(
        app.verify(&id, &wrong_code(&code)).await.body["status"],
        "incorrect"
    );
    assert_eq!(
        requests.operations_of("verify (incorrect, on an item from before the guess budget)"),
        ["UpdateItem", "UpdateItem", "GetItem", "TransactWriteItems"]
    );
    assert_eq!(
        app.verify(&id, &wrong_code(&code)).await.body["status"],
        "incorrect"
    );
    assert_eq!(requests.operations(), ["UpdateItem", "UpdateItem"]);
}

#[tokio::test]
async fn an_idempotency_key_costs_a_claim_and_a_settle_and_a_replay_is_one_write() {
    let (app, requests) = counted_app().await;
    let body = r#"{"channel": "email", "to": "ana@example.com"}"#;
    assert_eq!(app.send_with_key("counted", body).await.status, 202);
    assert_eq!(
        requests.operations_of("send with Idempotency-Key"),
        [
            "PutItem",
            "GetItem",
            "TransactWriteItems",
            "SendEmail",
            "UpdateItem"
        ]
    );
    assert_eq!(app.send_with_key("counted", body).await.status, 202);
    assert_eq!(
        requests.operations_of("send with Idempotency-Key (replayed)"),
        ["PutItem"]
    );
    assert_eq!(app.send_with_key("another", body).await.status, 429);
    assert_eq!(
        requests.operations_of("send with Idempotency-Key (refused: cooldown)"),
        ["PutItem", "GetItem", "DeleteItem"]
    );
}

#[tokio::test]
async fn a_totp_verify_is_one_read_and_one_conditional_write() {
    let emulator = Emulator::get().await;
    let requests = Requests::default();
    let client = counted_dynamodb(&emulator, &requests);
    let app = emulator
        .spawn(
            emulator.store(client.clone()).await,
            emulator.delivery(),
            Settings::default(),
        )
        .await;
    let enrolled = app
        .enroll(json!({"user_id": "user-1", "issuer": "Acme", "account": "ana@example.com"}))
        .await;
    assert_eq!(enrolled.status, 201, "{}", enrolled.body);
    assert_eq!(requests.operations_of("TOTP enroll"), ["PutItem"]);
    let authenticator = App::scan(&enrolled);

    let code = authenticator.code(&app, 0);
    // A replay is known from the read (steps only move forward): no write.
    for (attempt, status, operations) in [
        ("000000", "incorrect", &["GetItem", "UpdateItem"][..]),
        (code.as_str(), "approved", &["GetItem", "UpdateItem"]),
        (code.as_str(), "consumed", &["GetItem"]),
    ] {
        assert_eq!(
            app.verify_totp("user-1", attempt).await.body["status"],
            status
        );
        assert_eq!(
            requests.operations_of(&format!("TOTP verify ({status})")),
            operations
        );
    }
    // A challenge reads the enrolment once; the browser's verify with it costs what the backend's
    // does (the challenge is sealed, not stored).
    let challenge = app.challenge_id("user-1").await;
    assert_eq!(requests.operations_of("TOTP challenge"), ["GetItem"]);
    app.advance(30);
    let code = authenticator.code(&app, 0);
    assert_eq!(
        app.verify_challenge(&challenge, &code).await.body["status"],
        "approved"
    );
    assert_eq!(
        requests.operations_of("TOTP verify with a challenge (approved)"),
        ["GetItem", "UpdateItem"]
    );
    let recovery = enrolled.body["recovery_codes"][0].as_str().unwrap();
    assert_eq!(
        app.recover_challenge(&challenge, recovery).await.body["status"],
        "approved"
    );
    assert_eq!(
        requests.operations_of("recovery code (approved)"),
        ["GetItem", "UpdateItem"]
    );
    // A forged or expired challenge is refused before the table is asked.
    assert_eq!(app.verify_challenge("Zm9yZ2Vk", &code).await.status, 400);
    app.advance(301);
    assert_eq!(app.verify_challenge(&challenge, &code).await.status, 410);
    assert_eq!(
        requests.operations_of("TOTP verify (forged, expired challenge)"),
        Vec::<String>::new()
    );
    assert_eq!(
        app.verify_totp("nobody", &code).await.body["status"],
        "not_found"
    );
    assert_eq!(
        requests.operations_of("TOTP verify (not_found)"),
        ["GetItem"]
    );
    // The wrong code that locks is one write like any other; a verify while locked writes nothing.
    for _ in 0..9 {
        assert_eq!(app.verify_totp("user-1", "000000").await.status, 422);
    }
    requests.operations();
    assert_eq!(app.verify_totp("user-1", "000000").await.status, 429);
    assert_eq!(
        requests.operations_of("TOTP verify (the wrong code that locks)"),
        ["GetItem", "UpdateItem"]
    );
    assert_eq!(app.verify_totp("user-1", &code).await.status, 429);
    assert_eq!(requests.operations_of("TOTP verify (locked)"), ["GetItem"]);

    // At rest: the secret sealed, recovery codes hashed, nothing an app shows in the clear.
    let items = stored_items(&client, app.table.as_deref().unwrap()).await;
    assert_eq!(items.len(), 1);
    let dump = format!("{:?}", items[0]);
    let secret = enrolled.body["secret"].as_str().unwrap();
    assert!(!dump.contains(secret), "the secret in the clear: {dump}");
    for code in enrolled.body["recovery_codes"].as_array().unwrap() {
        let code = code.as_str().unwrap();
        assert!(!dump.contains(code) && !dump.contains(&code.replace('-', "")));
    }
    assert!(
        dump.contains("totp-secret-aes256gcm/v1"),
        "the key id is stored: {dump}"
    );
}

#[tokio::test]
async fn stored_items_hold_no_code_or_address_and_carry_the_ttl_attribute() {
    let emulator = Emulator::get().await;
    let client = crate::calls::dynamodb(&emulator.sdk);
    let app = emulator
        .spawn(
            emulator.store(client.clone()).await,
            emulator.delivery(),
            Settings::default(),
        )
        .await;
    // Only the backend may set a lifetime and a reference.
    let reply = app
        .server_send(&json!({"channel": "sms", "to": "+447911123456", "ttl_seconds": 120, "reference": "order-7"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let code = app.last_code().await;
    // A browser's send too, to another number: only public sends are charged to the client's quota.
    let public = app
        .send(&json!({"channel": "sms", "to": "+447911123457"}))
        .await;
    assert_eq!(public.status, 202, "{}", public.body);
    let public_code = app.last_code().await;
    let expires_at = time::OffsetDateTime::parse(
        reply.body["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();

    let items = stored_items(&client, app.table.as_deref().unwrap()).await;
    let mut keys: Vec<String> = items
        .iter()
        .map(|item| match &item["pk"] {
            AttributeValue::S(pk) => pk.split('#').take(2).collect::<Vec<_>>().join("#"),
            other => panic!("pk is not a string: {other:?}"),
        })
        .collect();
    keys.sort();
    let mut expected_kinds = [
        "code#",
        "dest#",
        "rate#client",
        "rate#country",
        "rate#sms",
        "rate#spend",
    ];
    expected_kinds.sort();
    let mut kinds = keys
        .iter()
        .map(|k| {
            if k.starts_with("rate#") {
                k.as_str()
            } else {
                &k[..k.find('#').unwrap() + 1]
            }
        })
        .collect::<Vec<_>>();
    kinds.dedup();
    assert_eq!(
        kinds, expected_kinds,
        "the code, the destination's sends, and the client, country, all-SMS and spend counters"
    );
    for item in &items {
        let dump = format!("{item:?}");
        // The client counter is keyed by a pseudonym of the address, never the address.
        for secret in [
            code.as_str(),
            public_code.as_str(),
            "+447911123456",
            "7911123456",
            "7911123457",
            "127.0.0.1",
        ] {
            assert!(!dump.contains(secret), "an item holds {secret:?}: {dump}");
        }
        let purge_at: i64 = match &item["purge_at"] {
            AttributeValue::N(n) => n.parse().unwrap(),
            other => panic!("purge_at is not a number: {other:?}"),
        };
        assert!(
            purge_at >= expires_at.unix_timestamp(),
            "TTL purges an item only after it stops mattering"
        );
    }
    let code_item = items
        .iter()
        .find(|item| {
            matches!(&item["pk"], AttributeValue::S(pk) if pk.starts_with("code#"))
                && item["masked_to"] == AttributeValue::S("+44•••••••456".into())
        })
        .expect("the server send's code item");
    let AttributeValue::S(hash) = &code_item["code_hash"] else {
        panic!("code_hash is a string")
    };
    assert_eq!(hash.len(), 64, "a 256-bit keyed hash, hex");
    assert_eq!(
        code_item["masked_to"],
        AttributeValue::S("+44•••••••456".into())
    );
    assert_eq!(code_item["reference"], AttributeValue::S("order-7".into()));
}

#[tokio::test]
async fn create_table_is_idempotent_and_enables_ttl() {
    let emulator = Emulator::get().await;
    let client = crate::calls::dynamodb(&emulator.sdk);
    let table = emulator.fresh_table().await;
    create_table_if_missing(&client, &table).await.unwrap();

    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .time_to_live_description
        .unwrap();
    assert_eq!(ttl.attribute_name(), Some("purge_at"));
    assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));
}

#[tokio::test]
async fn sms_is_published_as_transactional_with_the_configured_attributes() {
    let emulator = Emulator::get().await;
    let requests = Requests::default();
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&emulator.sdk)
            .interceptor(requests.clone().interceptor())
            .interceptor(crate::calls::Recorded.interceptor())
            .build(),
    );
    let settings = SmsSettings {
        sender_id: Some("Acme".into()),
        origination_number: Some("+14155552671".into()),
        max_price: Some("0.50".into()),
    };
    let delivery = AwsDelivery {
        sms: Some(SmsProvider::Sns(SnsSms::new(sns, settings))),
        ..AwsDelivery::default()
    };
    let store = emulator.store(crate::calls::dynamodb(&emulator.sdk)).await;
    let app = emulator.spawn(store, delivery, Settings::default()).await;

    app.issue("+447911123456").await;

    let sent = requests.take();
    assert_eq!(sent.len(), 1);
    let form: Vec<(String, String)> = crate::helpers::form_pairs(&sent[0].1);
    let value = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    assert_eq!(value("Action"), Some("Publish"));
    assert_eq!(value("PhoneNumber"), Some("+447911123456"));
    let mut attributes = Vec::new();
    for n in 1..=4 {
        let name = value(&format!("MessageAttributes.entry.{n}.Name"));
        let kind = value(&format!("MessageAttributes.entry.{n}.Value.DataType"));
        let string = value(&format!("MessageAttributes.entry.{n}.Value.StringValue"));
        attributes.push((name, kind, string));
    }
    attributes.sort();
    assert_eq!(
        attributes,
        [
            (
                Some("AWS.MM.SMS.OriginationNumber"),
                Some("String"),
                Some("+14155552671")
            ),
            (Some("AWS.SNS.SMS.MaxPrice"), Some("Number"), Some("0.50")),
            (
                Some("AWS.SNS.SMS.SMSType"),
                Some("String"),
                Some("Transactional")
            ),
            (Some("AWS.SNS.SMS.SenderID"), Some("String"), Some("Acme")),
        ]
    );
}

#[tokio::test]
async fn an_email_ses_refuses_is_502_its_code_is_withdrawn_and_the_send_counts() {
    let emulator = Emulator::get().await;
    let delivery = AwsDelivery {
        // No identity for this domain was created, so SES refuses to send from it.
        email: Some(SesEmail::new(
            crate::calls::ses(&emulator.sdk),
            EmailSettings {
                from: EmailAddress::parse("codes@unverified-sender.example.org").unwrap(),
                configuration_set: None,
            },
        )),
        ..AwsDelivery::default()
    };
    assert_delivery_fails(&emulator, delivery, "email", "ana.lima@example.com").await;
}

#[tokio::test]
async fn an_sms_sns_cannot_take_is_502_its_code_is_withdrawn_and_the_send_counts() {
    let emulator = Emulator::get().await;
    // An SNS endpoint where nothing listens: the publish fails to connect.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let sns = aws_sdk_sns::Client::from_conf(
        aws_sdk_sns::config::Builder::from(&emulator.sdk)
            .endpoint_url(dead_endpoint)
            .interceptor(crate::calls::Recorded.interceptor())
            .build(),
    );
    let delivery = AwsDelivery {
        sms: Some(SmsProvider::Sns(SnsSms::new(sns, SmsSettings::default()))),
        ..AwsDelivery::default()
    };
    // Not +447400123456: that number is the example in the service's own validation messages,
    // which other tests provoke while this one watches the logs.
    assert_delivery_fails(&emulator, delivery, "sms", "+447912345678").await;
}

/// A send through `delivery` to `to` answers 502 naming the channel and not the address, logs the
/// failure without the address, hands nothing over, leaves its code withdrawn in the table, and
/// still counts toward the limits.
async fn assert_delivery_fails(
    emulator: &Emulator,
    delivery: AwsDelivery,
    channel: &str,
    to: &str,
) {
    let logs = crate::logs::captured();
    let client = crate::calls::dynamodb(&emulator.sdk);
    let app = emulator
        .spawn(
            emulator.store(client.clone()).await,
            delivery,
            Settings::default(),
        )
        .await;
    let send = json!({"channel": channel, "to": to});

    let reply = app.send(&send).await;

    assert_eq!(reply.status, 502, "{}", reply.body);
    assert_eq!(
        reply.body["type"],
        "urn:problem-type:otp-lambda:delivery-failed"
    );
    assert_eq!(reply.body["channel"], channel);
    let local_part = to.trim_start_matches('+').split('@').next().unwrap();
    assert!(
        !reply.body.to_string().contains(local_part),
        "{}",
        reply.body
    );
    assert!(app.outbox().await.is_empty(), "nothing was handed over");
    assert_withdrawn(&client, app.table.as_deref().unwrap()).await;
    assert_eq!(app.send(&send).await.status, 429, "the failed send counts");
    let logs = logs.text();
    assert!(logs.contains("delivery failed"), "the failure is logged");
    let naming: Vec<&str> = logs.lines().filter(|line| line.contains(to)).collect();
    assert!(naming.is_empty(), "log lines name {to}: {naming:#?}");
}

/// The table's one code item is withdrawn.
async fn assert_withdrawn(client: &aws_sdk_dynamodb::Client, table: &str) {
    let items = stored_items(client, table).await;
    let code_item = items
        .iter()
        .find(|item| matches!(&item["pk"], AttributeValue::S(pk) if pk.starts_with("code#")))
        .expect("the code was recorded");
    assert_eq!(code_item["state"], AttributeValue::S("withdrawn".into()));
}

#[tokio::test]
async fn each_function_reads_only_the_secrets_it_needs_from_secrets_manager() {
    use otp_shared::crypto::SecretNeed;
    use otp_shared::lambda::{ENROLL_NEEDS, SEND_NEEDS, VERIFY_NEEDS, keys_from_secrets_manager};

    let emulator = Emulator::get().await;
    let client = crate::calls::secrets(&emulator.sdk);
    let run = ChallengeId::generate(&OsRandomness);
    // Named after the template's resources, so the recorded calls are checked against each
    // function's policy for that very secret (infra/iam_calls.py).
    let mut arns = std::collections::HashMap::new();
    for (variable, resource, value) in [
        (
            "OTP_CODE_SECRET_ARN",
            "CodeSecret",
            "the code secret, sixty-four characters long, give or take",
        ),
        (
            "OTP_PROOF_SECRET_ARN",
            "ProofSigningSecret",
            "the proof-signing secret, also long enough to use",
        ),
        (
            "OTP_TOTP_SECRET_ARN",
            "ServiceSecret",
            "the TOTP secret, which seals authenticator secrets",
        ),
    ] {
        let arn = client
            .create_secret()
            .name(format!("otp-test-{resource}-{}", run.as_str()))
            .secret_string(value)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap();
        arns.insert(variable, (arn, value));
    }
    let lookup = |variable: &str| arns.get(variable).map(|(arn, _)| arn.clone());

    // Each function reads its secrets at cold start (shared/src/lambda.rs), recorded as its own
    // calls: the IAM check holds each to its policy.
    let mut keys = Vec::new();
    for (function, needs) in [
        (otp_local::Function::Send, SEND_NEEDS),
        (otp_local::Function::Verify, VERIFY_NEEDS),
        (otp_local::Function::Enroll, ENROLL_NEEDS),
    ] {
        let held = function
            .run(keys_from_secrets_manager(&client, needs, lookup))
            .await
            .unwrap();
        for need in [SecretNeed::Codes, SecretNeed::Proofs, SecretNeed::Totp] {
            assert_eq!(
                held.has(need),
                needs.contains(&need),
                "{function:?} {need:?}"
            );
        }
        keys.push(held);
    }
    // The send function's keys are the code secret's, and the verify function's the same.
    let id = ChallengeId::generate(&SeededRandomness::new(7));
    let code_secret = ServiceSecret::parse(arns["OTP_CODE_SECRET_ARN"].1).unwrap();
    assert_eq!(
        keys[0].code_hash(id.as_str(), "123456"),
        Keys::derive(&code_secret).code_hash(id.as_str(), "123456")
    );
    assert_eq!(
        keys[0].code_hash(id.as_str(), "123456"),
        keys[1].code_hash(id.as_str(), "123456")
    );
    // A function missing one of its secrets does not start, and says which.
    let error = keys_from_secrets_manager(&client, VERIFY_NEEDS, |variable| {
        (variable != "OTP_PROOF_SECRET_ARN")
            .then(|| lookup(variable))
            .flatten()
    })
    .await
    .expect_err("verify needs the proof-signing secret");
    assert!(
        format!("{error:#}").contains("OTP_PROOF_SECRET_ARN"),
        "{error:#}"
    );
    let name = format!("otp-test-short-{}", run.as_str());

    // A secret too short to derive keys from is refused without being echoed.
    let short = client
        .create_secret()
        .name(&name)
        .secret_string("too-short-value")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let error = service_secret_from_secrets_manager(&client, &short)
        .await
        .expect_err("a short secret is refused");
    assert!(
        !format!("{error:#}").contains("too-short-value"),
        "{error:#}"
    );
}

#[tokio::test]
async fn the_bot_check_secret_is_read_from_secrets_manager() {
    let emulator = Emulator::get().await;
    // Read as the send function (its cold start), through the recording client: the IAM check
    // (infra/iam_calls.py) takes a secret named after CaptchaSecretArn for that parameter's secret.
    let client = crate::calls::secrets(&emulator.sdk);
    let value = "0x4AAAAAAAbotchecksecretfortests";
    crate::logs::sensitive(value);
    let name = format!(
        "otp-test-CaptchaSecretArn-{}",
        ChallengeId::generate(&OsRandomness)
    );
    let arn = client
        .create_secret()
        .name(&name)
        .secret_string(format!("{value}\n"))
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let read = otp_local::Function::Send
        .run(otp_shared::adapters::aws::captcha_secret_from_secrets_manager(&client, &arn))
        .await
        .unwrap();
    assert_eq!(read.expose(), value);
    let empty = client
        .create_secret()
        .name(format!("{name}-spaced"))
        .secret_string("two words")
        .send()
        .await
        .unwrap()
        .arn
        .unwrap();
    let error = otp_shared::adapters::aws::captcha_secret_from_secrets_manager(&client, &empty)
        .await
        .expect_err("not a secret key");
    assert!(!format!("{error:#}").contains("two words"), "{error:#}");
}

/// A provider that takes the connection and never answers: the approval goes out anyway, after at
/// most the feedback's bound, and the lost signal is counted (`FeedbackFailures`).
#[tokio::test]
async fn an_approval_does_not_wait_for_a_provider_that_never_answers() {
    let emulator = Emulator::get().await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_endpoint = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let settings = Settings::default();
    let builtin = settings.profiles.default_profile().as_ref().clone();
    let profiles = otp_shared::profiles::Profiles::parse(
        r#"{"profiles": {"default": {"channels": ["sms", "voice"]}}}"#,
        builtin,
    )
    .unwrap();
    let silent_feedback = aws_sdk_pinpointsmsvoicev2::Client::from_conf(
        aws_sdk_pinpointsmsvoicev2::config::Builder::from(&emulator.sdk)
            .endpoint_url(silent_endpoint)
            .build(),
    );
    let delivery = AwsDelivery {
        feedback: Some(silent_feedback),
        ..emulator.delivery()
    };
    let store = emulator.store(crate::calls::dynamodb(&emulator.sdk)).await;
    let app = emulator
        .spawn(
            store,
            delivery,
            Settings {
                profiles,
                ..settings
            },
        )
        .await;
    let reply = app
        .send(&json!({"channel": "voice", "to": "+442079460002"}))
        .await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let ssml = app.outbox().await.pop().unwrap()["body"]
        .as_str()
        .unwrap()
        .to_owned();
    let code = crate::voice::code_of(&ssml);
    let approved = app.verify(reply.body["id"].as_str().unwrap(), &code).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(approved.body["status"], "approved");
    assert!(approved.body["token"].is_string());
    assert!(
        app.metrics.events().contains(&MetricEvent::FeedbackFailed {
            channel: otp_shared::domain::Channel::Voice
        }),
        "the lost signal is counted"
    );
    held.abort();
}

/// How long an approval takes with and without the "code entered" signal, against the emulator:
/// `bash bench/requests.sh` prints it for BENCHMARKS.md. Measures, asserts nothing about time.
#[tokio::test]
#[ignore = "a measurement: bench/requests.sh runs it"]
async fn approval_latency_with_and_without_feedback() {
    let mut settings = Settings::default();
    settings.limits.client_sends_per_hour = 1_000;
    settings.limits.country_voice_per_hour = 1_000;
    let (app, requests) = counted_voice_app_with(settings).await;
    let mut timings: std::collections::BTreeMap<&str, Vec<f64>> = Default::default();
    for n in 0..60 {
        for channel in ["sms", "voice"] {
            // A mobile for SMS, a fixed line for calls.
            let to = match channel {
                "sms" => format!("+4479111{n:05}"),
                _ => format!("+4420794{n:05}"),
            };
            let reply = app.send(&json!({"channel": channel, "to": to})).await;
            assert_eq!(reply.status, 202, "{}", reply.body);
            let body = app.outbox().await.pop().unwrap()["body"]
                .as_str()
                .unwrap()
                .to_owned();
            let code = if channel == "voice" {
                crate::voice::code_of(&body)
            } else {
                body.split_whitespace().next().unwrap().to_owned()
            };
            crate::logs::sensitive(&code);
            requests.take();
            let started = std::time::Instant::now();
            let approved = app.verify(reply.body["id"].as_str().unwrap(), &code).await;
            timings
                .entry(channel)
                .or_default()
                .push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(approved.body["status"], "approved");
        }
    }
    for (channel, mut ms) in timings {
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
        println!(
            "APPROVAL {channel}: p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms over {} approvals",
            at(0.5),
            at(0.9),
            at(0.99),
            ms.len()
        );
    }
}

/// `OTP_SMS_PROVIDER=end-user-messaging`: an SMS is `SendTextMessage` from the configured identity in
/// the configuration set, its message id kept, and its approval confirmed, as a call's.
#[tokio::test]
async fn an_sms_through_end_user_messaging_is_confirmed_on_approval() {
    let emulator = Emulator::get().await;
    let delivery = AwsDelivery {
        sms: Some(SmsProvider::EndUserMessaging(emulator.sms_voice())),
        ..emulator.delivery()
    };
    let store = emulator.store(crate::calls::dynamodb(&emulator.sdk)).await;
    let app = emulator.spawn(store, delivery, Settings::default()).await;
    let (id, code) = app.issue("+447911123470").await;
    let entry = app.outbox().await.pop().unwrap();
    let message_id = entry["message_id"].as_str().unwrap().to_owned();
    let texts = emulator.eum_records("text_messages").await;
    let text = texts
        .iter()
        .find(|t| t["message_id"] == message_id.as_str())
        .expect("the SMS went through End User Messaging");
    assert_eq!(text["destination_phone_number"], "+447911123470");
    assert_eq!(text["message_type"], "TRANSACTIONAL");
    assert_eq!(text["message_feedback_enabled"], true);
    assert_eq!(
        text["configuration_set_name"],
        crate::helpers::EUM_CONFIGURATION_SET
    );
    assert_eq!(text["time_to_live"], 300);
    assert_eq!(app.verify(&id, &code).await.body["status"], "approved");
    let feedback = emulator.eum_records("message_feedback").await;
    let confirmed: Vec<_> = feedback
        .iter()
        .filter(|f| f["message_id"] == message_id.as_str())
        .map(|f| f["message_feedback_status"].clone())
        .collect();
    assert_eq!(confirmed, [json!("RECEIVED")]);
}

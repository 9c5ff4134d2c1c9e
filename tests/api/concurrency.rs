use futures::future::join_all;

use crate::helpers::spawn_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_concurrent_verifies_of_the_right_code_approve_exactly_once() {
    let app = spawn_app().await;
    let (id, code) = app.issue("+447911123456").await;

    let replies = join_all((0..100).map(|_| app.verify(&id, &code))).await;

    let approved = replies
        .iter()
        .filter(|r| r.body["status"] == "approved")
        .count();
    let consumed = replies
        .iter()
        .filter(|r| r.body["status"] == "consumed")
        .count();
    assert_eq!(approved, 1);
    assert_eq!(consumed, 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_wrong_guesses_never_exceed_the_attempt_cap() {
    let app = spawn_app().await;
    let (id, code) = app.issue("+447911123456").await;
    let wrong = crate::helpers::wrong_code(&code);

    let replies = join_all((0..50).map(|_| app.verify(&id, &wrong))).await;

    let incorrect = replies
        .iter()
        .filter(|r| r.body["status"] == "incorrect")
        .count();
    let locked = replies
        .iter()
        .filter(|r| r.body["status"] == "locked")
        .count();
    assert_eq!(incorrect, 5);
    assert_eq!(locked, 45);
    assert_eq!(app.verify(&id, &code).await.body["status"], "locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_sends_to_one_destination_never_exceed_its_cap() {
    let app = spawn_app().await;

    // Each send has its own purpose, so only the per-destination cap (5 per window) can refuse.
    let bodies: Vec<_> = (0..8)
        .map(|n| serde_json::json!({"channel": "sms", "to": "+447911123456", "purpose": format!("p{n}")}))
        .collect();
    let replies = join_all(bodies.iter().map(|body| app.send(body))).await;

    let statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(app.outbox().await.len(), 5);
}

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

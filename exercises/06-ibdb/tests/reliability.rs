//! Behaviour under concurrency and when the database goes away. Every loop is
//! bounded in count and time; all traffic stays on 127.0.0.1.

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{assert_problem, spawn_app, spawn_app_behind_proxy};

// ANCHOR: concurrent_reviews
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_reviews_are_all_counted() {
    let app = spawn_app().await;
    let id = app.create_book("Dune", "Frank Herbert").await["id"]
        .as_i64()
        .unwrap();
    let url = app.url(&format!("/books/{id}/reviews"));

    // 200 reviews at once, ratings 1,2,3,4,5,1,2,...: the average is 3.
    let requests = (0..200).map(|i| {
        let client = app.client.clone();
        let url = url.clone();
        tokio::spawn(async move {
            let body = json!({ "rating": i % 5 + 1, "comment": format!("review {i}") });
            client
                .post(url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status())
        })
    });
    let statuses = futures_util::future::join_all(requests).await;
    for status in statuses {
        assert_eq!(status.unwrap().unwrap(), StatusCode::CREATED);
    }

    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM reviews WHERE book_id = $1")
        .bind(id)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(rows, 200, "every review is stored exactly once");
    let book: Value = app.get(&format!("/books/{id}")).await.json().await.unwrap();
    assert_eq!(book["review_count"], 200, "no lost update on the count");
    assert_eq!(book["average_rating"], 3.0, "no lost update on the sum");
}
// ANCHOR_END: concurrent_reviews

// ANCHOR: outage
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_outage_gives_503_and_recovers_by_itself() {
    let app = spawn_app_behind_proxy().await;
    let proxy = app.proxy.as_ref().unwrap();
    let id = app.create_book("Dune", "Frank Herbert").await["id"]
        .as_i64()
        .unwrap();
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);

    proxy.cut();
    let problem = assert_problem(app.get("/readyz").await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("database"),
        "{problem}"
    );
    assert_eq!(
        app.get("/healthz").await.status(),
        StatusCode::OK,
        "liveness ignores the database"
    );
    let started = Instant::now();
    assert_problem(
        app.get(&format!("/books/{id}")).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "503 comes fast, not after a hang"
    );
    let response = app
        .post_json(&format!("/books/{id}/reviews"), &json!({ "rating": 5 }))
        .await;
    assert_problem(response, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_problem(app.get("/books").await, StatusCode::SERVICE_UNAVAILABLE).await;

    proxy.restore();
    // The pool reconnects on its own; poll for at most 20 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if app.get("/readyz").await.status() == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not ready 20 s after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let response = app.get(&format!("/books/{id}")).await;
    assert_eq!(response.status(), StatusCode::OK, "the API works again");
    let response = app
        .post_json(&format!("/books/{id}/reviews"), &json!({ "rating": 5 }))
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
}
// ANCHOR_END: outage

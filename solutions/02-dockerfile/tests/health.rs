//! Calls the router directly, without a socket: fast, and no port to find.

use axum::{
    Router,
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// `GET uri` sent into `app` (a clone of a router shares its state).
async fn get(app: &Router, uri: &str) -> axum::response::Response {
    app.clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

async fn json(response: axum::response::Response) -> serde_json::Value {
    let body = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).expect("a JSON body")
}

#[tokio::test]
async fn root_answers_ok_as_json() {
    let response = get(&health::app(), "/").await;

    assert_eq!(response.status(), StatusCode::OK, "route GET / (TODO 5)");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "the body is JSON, so the content type must say so (TODO 3)"
    );
    assert_eq!(json(response).await, serde_json::json!({ "status": "OK" }));
}

#[tokio::test]
async fn stats_counts_the_root_requests() {
    let app = health::app();
    let stats = |n: u64| serde_json::json!({ "requests": n });
    assert_eq!(json(get(&app, "/stats").await).await, stats(0), "TODO 4, 5");
    get(&app, "/").await;
    get(&app, "/").await;
    assert_eq!(
        json(get(&app, "/stats").await).await,
        stats(2),
        "each GET / counts once in the shared state (TODO 2, 3, 5)"
    );
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    let response = get(&health::app(), "/nope").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // The stretch task, checked when present: a JSON 404.
    if response.headers().get(header::CONTENT_TYPE).is_some() {
        assert_eq!(
            json(response).await,
            serde_json::json!({ "status": "NOT_FOUND" })
        );
    }
}

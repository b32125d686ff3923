//! Calls the router directly, without a socket: fast, and no port to find.

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(uri: &str) -> axum::response::Response {
    health::app()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn root_answers_ok_as_json() {
    let response = get("/").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "the body is JSON, so the content type must say so"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json, serde_json::json!({ "status": "OK" }));
}

#[tokio::test]
async fn unknown_paths_are_not_found() {
    assert_eq!(get("/nope").await.status(), StatusCode::NOT_FOUND);
}

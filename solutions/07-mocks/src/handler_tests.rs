//! Handler unit tests: the router with a `MockBookStore`, requests sent
//! with `tower::ServiceExt::oneshot`. No socket, no database, milliseconds.
//!
//! Each test says what the handler must do with the store (which method,
//! which arguments, how often) and what the client must see.

use std::sync::Arc;

use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use mockall::predicate::eq;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{
    handlers::router,
    models::{Book, NewBook, NewReview, Page, Paging, Review},
    store::{MockBookStore, StoreError},
};

// ANCHOR: helpers
/// Sends one request to the router built on `store`; returns status,
/// headers and the JSON body (Null when empty).
async fn send(
    store: MockBookStore,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    let response = router(Arc::new(store)).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, body)
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn post_json(uri: &str, body: Value) -> Request<Body> {
    Request::post(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

fn book(id: i64) -> Book {
    Book {
        id,
        title: "Dune".into(),
        author: "Frank Herbert".into(),
        isbn: None,
        published_year: Some(1965),
        average_rating: Some(4.5),
        review_count: 2,
        created_at: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
    }
}

fn review(id: i64, book_id: i64, rating: i16) -> Review {
    Review {
        id,
        book_id,
        rating,
        comment: "Great.".into(),
        created_at: Utc.with_ymd_and_hms(2024, 1, 2, 3, 4, 5).unwrap(),
    }
}
// ANCHOR_END: helpers

// ANCHOR: get_book_found
#[tokio::test]
async fn get_book_returns_the_stored_book() {
    let mut store = MockBookStore::new();
    store
        .expect_get_book()
        .with(eq(7))
        .times(1)
        .returning(|id| Ok(Some(book(id))));

    let (status, _, body) = send(store, get("/books/7")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::to_value(book(7)).unwrap());
}
// ANCHOR_END: get_book_found

#[tokio::test]
async fn get_book_unknown_is_404() {
    let mut store = MockBookStore::new();
    store
        .expect_get_book()
        .with(eq(7))
        .times(1)
        .returning(|_| Ok(None));

    let (status, headers, body) = send(store, get("/books/7")).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(body["status"], 404);
}

// ANCHOR: unavailable
#[tokio::test]
async fn store_unavailable_is_503() {
    let mut store = MockBookStore::new();
    store
        .expect_get_book()
        .returning(|_| Err(StoreError::Unavailable));

    let (status, _, body) = send(store, get("/books/7")).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], 503);
}
// ANCHOR_END: unavailable

#[tokio::test]
async fn store_failure_is_500_without_details() {
    let mut store = MockBookStore::new();
    store.expect_get_book().returning(|_| {
        Err(StoreError::Other(
            "relation \"books\" does not exist".into(),
        ))
    });

    let (status, _, body) = send(store, get("/books/7")).await;

    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        !body.to_string().contains("relation"),
        "no database detail leaks: {body}"
    );
}

#[tokio::test]
async fn create_book_stores_the_validated_book_and_returns_201() {
    let mut store = MockBookStore::new();
    let expected = NewBook {
        title: "Dune".into(),
        author: "Frank Herbert".into(),
        isbn: None,
        published_year: Some(1965),
    };
    store
        .expect_create_book()
        .with(eq(expected))
        .times(1)
        .returning(|_| Ok(book(42)));

    let request = post_json(
        "/books",
        json!({ "title": " Dune ", "author": "Frank Herbert", "published_year": 1965 }),
    );
    let (status, headers, body) = send(store, request).await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(headers[header::LOCATION], "/books/42");
    assert_eq!(body["id"], 42);
}

#[tokio::test]
async fn create_book_duplicate_isbn_is_409() {
    let mut store = MockBookStore::new();
    store
        .expect_create_book()
        .returning(|_| Err(StoreError::Conflict("duplicate ISBN".into())));

    let request = post_json(
        "/books",
        json!({ "title": "Dune", "author": "Frank Herbert" }),
    );
    let (status, _, _) = send(store, request).await;

    assert_eq!(status, StatusCode::CONFLICT);
}

// ANCHOR: create_review
#[tokio::test]
async fn create_review_passes_book_and_review_to_the_store() {
    let mut store = MockBookStore::new();
    let expected = NewReview {
        rating: 4,
        comment: "Great.".into(),
    };
    store
        .expect_create_review()
        .with(eq(7), eq(expected))
        .times(1)
        .returning(|book_id, new| Ok(Some(review(99, book_id, new.rating))));

    let request = post_json(
        "/books/7/reviews",
        json!({ "rating": 4, "comment": " Great. " }),
    );
    let (status, _, body) = send(store, request).await;

    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(body["id"], 99);
    assert_eq!(body["book_id"], 7);
    assert_eq!(body["rating"], 4);
}
// ANCHOR_END: create_review

// ANCHOR: never
#[tokio::test]
async fn invalid_review_is_422_and_never_reaches_the_store() {
    for body in [json!({ "rating": 9 }), json!({ "rating": 0 }), json!({})] {
        let mut store = MockBookStore::new();
        store.expect_create_review().never();
        let (status, _, problem) = send(store, post_json("/books/7/reviews", body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "for {body}");
        assert_eq!(problem["errors"][0]["field"], "rating", "for {body}");
    }
}
// ANCHOR_END: never

#[tokio::test]
async fn review_of_unknown_book_is_404() {
    let mut store = MockBookStore::new();
    store
        .expect_create_review()
        .times(1)
        .returning(|_, _| Ok(None));

    let (status, _, _) = send(store, post_json("/books/7/reviews", json!({ "rating": 5 }))).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn list_reviews_passes_the_paging_from_the_query() {
    let mut store = MockBookStore::new();
    let paging = Paging {
        limit: 5,
        offset: 10,
    };
    store
        .expect_get_reviews()
        .with(eq(7), eq(paging))
        .times(1)
        .returning(|book_id, paging| {
            Ok(Some(Page {
                items: vec![review(1, book_id, 5)],
                total: 11,
                limit: paging.limit,
                offset: paging.offset,
            }))
        });

    let (status, _, body) = send(store, get("/books/7/reviews?limit=5&offset=10")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 11);
    assert_eq!(body["items"][0]["book_id"], 7);
}

#[tokio::test]
async fn list_reviews_defaults_and_limits_paging() {
    let mut store = MockBookStore::new();
    store
        .expect_get_reviews()
        .with(
            eq(7),
            eq(Paging {
                limit: 20,
                offset: 0,
            }),
        )
        .times(1)
        .returning(|_, _| Ok(None));
    let (status, _, _) = send(store, get("/books/7/reviews")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "None from the store means no such book"
    );

    let mut store = MockBookStore::new();
    store.expect_get_reviews().never();
    let (status, _, _) = send(store, get("/books/7/reviews?limit=1000")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

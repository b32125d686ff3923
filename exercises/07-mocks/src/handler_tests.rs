//! Handler unit tests: the router with a `MockBookStore`, requests sent
//! with `tower::ServiceExt::oneshot`. No socket, no database, milliseconds.
//!
//! Each test says what the handler must do with the store (which method,
//! which arguments, how often) and what the client must see.
//!
//! The helpers are written; the tests are yours (`TODO N:`): arrange the
//! mock, send one request, assert what the client sees.
// Some helpers are unused until your tests use them: remove this line then.
#![allow(unused_imports, dead_code)]

use std::sync::Arc;

use async_trait::async_trait;
use axum::{
    body::Body,
    http::{Request, StatusCode, header},
};
use chrono::{TimeZone, Utc};
use http_body_util::BodyExt;
use mockall::predicate::{always, eq};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{
    handlers::router,
    models::{Book, NewBook, NewReview, Page, Paging, Review},
    store::{BookStore, MockBookStore, StoreError},
};
/// Sends one request to the router built on `store`; returns status,
/// headers and the JSON body (Null when empty).
async fn send(
    store: impl BookStore + 'static,
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

#[tokio::test]
async fn get_book_returns_the_stored_book() {
    // TODO 1: a `MockBookStore` that expects `get_book` for book 7, exactly once,
    // and answers with `book(7)`; GET /books/7 (`send`, `get`) must answer 200
    // with that book as JSON. Arrange the mock, send, assert.
    todo!("test 1")
}

#[tokio::test]
async fn get_book_unknown_is_404() {
    // TODO 2: the store finds nothing (`Ok(None)`): 404, as a problem document
    // (`content-type: application/problem+json`, `status` 404 in the body).
    todo!("test 2")
}

// TODO 3 (1 of 2): a fake written by hand, as you would in Go: a unit struct
// `OfflineStore` that implements `BookStore` (with `#[async_trait]`, like
// `PgBookStore` in src/store.rs), every method failing with
// `StoreError::Unavailable`, as a store whose database is down would.

#[tokio::test]
async fn store_unavailable_is_503() {
    // TODO 3 (2 of 2): with your `OfflineStore` (`send` takes any `BookStore`),
    // GET /books/7 answers 503, as a problem document.
    todo!("test 3")
}

#[tokio::test]
async fn store_failure_is_500_without_details() {
    // TODO 4: the store fails with `StoreError::Other(..)` holding a database
    // message: 500, and the message does not appear in the body.
    todo!("test 4")
}

#[tokio::test]
async fn create_book_stores_the_validated_book_and_returns_201() {
    // TODO 5: POST /books with a title that has spaces around it: the store
    // receives the trimmed `NewBook` (`expect_create_book().with(eq(..))`), and
    // the client gets 201 with `Location: /books/{id}`.
    todo!("test 5")
}

#[tokio::test]
async fn create_book_duplicate_isbn_is_409() {
    // TODO 6: the store answers `StoreError::Conflict(..)`: 409.
    todo!("test 6")
}

#[tokio::test]
async fn create_review_passes_book_and_review_to_the_store() {
    // TODO 7: POST /books/7/reviews: the store gets book id 7 and the validated
    // `NewReview` (`.with(eq(7), eq(expected))`), once; the client gets 201 and the review.
    todo!("test 7")
}

#[tokio::test]
async fn invalid_review_is_422_and_never_reaches_the_store() {
    // TODO 8: ratings 9, 0 and missing: 422 naming the `rating` field, and
    // the store is never called (`expect_create_review().never()`).
    todo!("test 8")
}

#[tokio::test]
async fn review_of_unknown_book_is_404() {
    // TODO 9: the store's `create_review`, called for book 7 with any review,
    // returns `Ok(None)`: 404.
    todo!("test 9")
}

#[tokio::test]
async fn list_reviews_passes_the_paging_from_the_query() {
    // TODO 10: GET /books/7/reviews?limit=5&offset=10 calls `get_reviews(7,
    // Paging { limit: 5, offset: 10 })` once and returns its page as JSON.
    todo!("test 10")
}

#[tokio::test]
async fn list_reviews_defaults_and_limits_paging() {
    // TODO 11: without a query the store gets `Paging { limit: 20, offset: 0 }`
    // (and `Ok(None)` means 404); `limit=1000` is 400 without calling the store.
    todo!("test 11")
}

// STRETCH (optional, graded when present): a test named
// `invalid_book_is_422_and_never_reaches_the_store`: POST /books with a blank
// title and a `published_year` of 99999 answers 422 naming both fields, and
// the store's `create_book` is never called.

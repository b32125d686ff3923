//! Handler unit tests: the router with a `MockBookStore`, requests sent
//! with `tower::ServiceExt::oneshot`. No socket, no database, milliseconds.
//!
//! Each test says what the handler must do with the store (which method,
//! which arguments, how often) and what the client must see.
// ANCHOR: starter| //!
// ANCHOR: starter| //! The helpers are written; the tests are yours (`TODO N:`): arrange the
// ANCHOR: starter| //! mock, send one request, assert what the client sees.
// ANCHOR: starter| // Some helpers are unused until your tests use them: remove this line then.
// ANCHOR: starter| #![allow(unused_imports, dead_code)]

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
// ANCHOR: starter

// ANCHOR_END: starter
// ANCHOR: helpers
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
// ANCHOR_END: helpers

// ANCHOR: get_book_found
#[tokio::test]
async fn get_book_returns_the_stored_book() {
    // ANCHOR: starter| // TODO 1: a `MockBookStore` that expects `get_book` for book 7, exactly once,
    // ANCHOR: starter| // and answers with `book(7)`; GET /books/7 (`send`, `get`) must answer 200
    // ANCHOR: starter| // with that book as JSON. Arrange the mock, send, assert.
    // ANCHOR: starter| todo!("test 1")
    // ANCHOR: starter
    let mut store = MockBookStore::new();
    store
        .expect_get_book()
        .with(eq(7))
        .times(1)
        .returning(|id| Ok(Some(book(id))));

    let (status, _, body) = send(store, get("/books/7")).await;

    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, serde_json::to_value(book(7)).unwrap());
    // ANCHOR_END: starter
}
// ANCHOR_END: get_book_found

#[tokio::test]
async fn get_book_unknown_is_404() {
    // ANCHOR: starter| // TODO 2: the store finds nothing (`Ok(None)`): 404, as a problem document
    // ANCHOR: starter| // (`content-type: application/problem+json`, `status` 404 in the body).
    // ANCHOR: starter| todo!("test 2")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}

// ANCHOR: starter| // TODO 3 (1 of 2): a fake written by hand, as you would in Go: a unit struct
// ANCHOR: starter| // `OfflineStore` that implements `BookStore` (with `#[async_trait]`, like
// ANCHOR: starter| // `PgBookStore` in src/store.rs), every method failing with
// ANCHOR: starter| // `StoreError::Unavailable`, as a store whose database is down would.
// ANCHOR: starter|
// ANCHOR: starter
// ANCHOR: offline
/// A fake written by hand: the trait implemented by a struct of our own.
/// Every method fails as a store whose database is down would.
struct OfflineStore;

#[async_trait]
impl BookStore for OfflineStore {
    async fn get_book(&self, _id: i64) -> Result<Option<Book>, StoreError> {
        Err(StoreError::Unavailable)
    }

    async fn create_book(&self, _book: NewBook) -> Result<Book, StoreError> {
        Err(StoreError::Unavailable)
    }

    async fn get_reviews(
        &self,
        _book_id: i64,
        _paging: Paging,
    ) -> Result<Option<Page<Review>>, StoreError> {
        Err(StoreError::Unavailable)
    }

    async fn create_review(
        &self,
        _book_id: i64,
        _review: NewReview,
    ) -> Result<Option<Review>, StoreError> {
        Err(StoreError::Unavailable)
    }
}
// ANCHOR_END: offline

// ANCHOR_END: starter
// ANCHOR: unavailable
#[tokio::test]
async fn store_unavailable_is_503() {
    // ANCHOR: starter| // TODO 3 (2 of 2): with your `OfflineStore` (`send` takes any `BookStore`),
    // ANCHOR: starter| // GET /books/7 answers 503, as a problem document.
    // ANCHOR: starter| todo!("test 3")
    // ANCHOR: starter
    let (status, headers, body) = send(OfflineStore, get("/books/7")).await;

    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert_eq!(body["status"], 503);
    // ANCHOR_END: starter
}
// ANCHOR_END: unavailable

#[tokio::test]
async fn store_failure_is_500_without_details() {
    // ANCHOR: starter| // TODO 4: the store fails with `StoreError::Other(..)` holding a database
    // ANCHOR: starter| // message: 500, and the message does not appear in the body.
    // ANCHOR: starter| todo!("test 4")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}

#[tokio::test]
async fn create_book_stores_the_validated_book_and_returns_201() {
    // ANCHOR: starter| // TODO 5: POST /books with a title that has spaces around it: the store
    // ANCHOR: starter| // receives the trimmed `NewBook` (`expect_create_book().with(eq(..))`), and
    // ANCHOR: starter| // the client gets 201 with `Location: /books/{id}`.
    // ANCHOR: starter| todo!("test 5")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}

#[tokio::test]
async fn create_book_duplicate_isbn_is_409() {
    // ANCHOR: starter| // TODO 6: the store answers `StoreError::Conflict(..)`: 409.
    // ANCHOR: starter| todo!("test 6")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}

// ANCHOR: create_review
#[tokio::test]
async fn create_review_passes_book_and_review_to_the_store() {
    // ANCHOR: starter| // TODO 7: POST /books/7/reviews: the store gets book id 7 and the validated
    // ANCHOR: starter| // `NewReview` (`.with(eq(7), eq(expected))`), once; the client gets 201 and the review.
    // ANCHOR: starter| todo!("test 7")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}
// ANCHOR_END: create_review

// ANCHOR: never
#[tokio::test]
async fn invalid_review_is_422_and_never_reaches_the_store() {
    // ANCHOR: starter| // TODO 8: ratings 9, 0 and missing: 422 naming the `rating` field, and
    // ANCHOR: starter| // the store is never called (`expect_create_review().never()`).
    // ANCHOR: starter| todo!("test 8")
    // ANCHOR: starter
    for body in [json!({ "rating": 9 }), json!({ "rating": 0 }), json!({})] {
        let mut store = MockBookStore::new();
        store.expect_create_review().never();
        let (status, _, problem) = send(store, post_json("/books/7/reviews", body.clone())).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "for {body}");
        assert_eq!(problem["errors"][0]["field"], "rating", "for {body}");
    }
    // ANCHOR_END: starter
}
// ANCHOR_END: never

#[tokio::test]
async fn review_of_unknown_book_is_404() {
    // ANCHOR: starter| // TODO 9: the store's `create_review`, called for book 7 with any review,
    // ANCHOR: starter| // returns `Ok(None)`: 404.
    // ANCHOR: starter| todo!("test 9")
    // ANCHOR: starter
    let mut store = MockBookStore::new();
    store
        .expect_create_review()
        .with(eq(7), always())
        .times(1)
        .returning(|_, _| Ok(None));

    let (status, _, _) = send(store, post_json("/books/7/reviews", json!({ "rating": 5 }))).await;

    assert_eq!(status, StatusCode::NOT_FOUND);
    // ANCHOR_END: starter
}

#[tokio::test]
async fn list_reviews_passes_the_paging_from_the_query() {
    // ANCHOR: starter| // TODO 10: GET /books/7/reviews?limit=5&offset=10 calls `get_reviews(7,
    // ANCHOR: starter| // Paging { limit: 5, offset: 10 })` once and returns its page as JSON.
    // ANCHOR: starter| todo!("test 10")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}

#[tokio::test]
async fn list_reviews_defaults_and_limits_paging() {
    // ANCHOR: starter| // TODO 11: without a query the store gets `Paging { limit: 20, offset: 0 }`
    // ANCHOR: starter| // (and `Ok(None)` means 404); `limit=1000` is 400 without calling the store.
    // ANCHOR: starter| todo!("test 11")
    // ANCHOR: starter
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
    // ANCHOR_END: starter
}

// ANCHOR: starter| // STRETCH (optional, graded when present): a test named
// ANCHOR: starter| // `invalid_book_is_422_and_never_reaches_the_store`: POST /books with a blank
// ANCHOR: starter| // title and a `published_year` of 99999 answers 422 naming both fields, and
// ANCHOR: starter| // the store's `create_book` is never called.
// ANCHOR: starter
#[tokio::test]
async fn invalid_book_is_422_and_never_reaches_the_store() {
    let mut store = MockBookStore::new();
    store.expect_create_book().never();
    let body = json!({ "title": "  ", "author": "Frank Herbert", "published_year": 99999 });

    let (status, _, problem) = send(store, post_json("/books", body)).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("a 422 problem lists its fields")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert!(
        fields.contains(&"title") && fields.contains(&"published_year"),
        "{problem}"
    );
}
// ANCHOR_END: starter

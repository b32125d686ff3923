//! The HTTP handlers. They depend on `dyn BookStore`, never on PostgreSQL,
//! so `handler_tests.rs` can test them with a mock and no database.

use std::sync::Arc;

use axum::{
    Json, Router,
    extract::State,
    http::{StatusCode, header},
    routing::get,
};

use crate::{
    error::ApiError,
    extract::{JsonBody, Path, Query},
    models::{Book, BookInput, Page, PageQuery, Review, ReviewInput},
    store::BookStore,
};

/// What the handlers share: any store, behind one pointer.
pub type Store = Arc<dyn BookStore>;

pub fn router(store: Store) -> Router {
    Router::new()
        .route("/", get(alive))
        .route("/healthz", get(alive))
        .route("/books", axum::routing::post(create_book))
        .route("/books/{id}", get(get_book))
        .route("/books/{id}/reviews", get(list_reviews).post(create_review))
        .with_state(store)
}

async fn alive() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "OK" }))
}

/// `GET /books/{id}`.
pub async fn get_book(
    State(store): State<Store>,
    Path(id): Path<i64>,
) -> Result<Json<Book>, ApiError> {
    store
        .get_book(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {id}")))
}

/// `POST /books`: 201 with the book and its `Location`.
pub async fn create_book(
    State(store): State<Store>,
    JsonBody(input): JsonBody<BookInput>,
) -> Result<(StatusCode, [(header::HeaderName, String); 1], Json<Book>), ApiError> {
    let book = store.create_book(input.validate()?).await?;
    let location = format!("/books/{}", book.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(book),
    ))
}

/// `GET /books/{id}/reviews?limit=&offset=`.
pub async fn list_reviews(
    State(store): State<Store>,
    Path(book_id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<Review>>, ApiError> {
    store
        .get_reviews(book_id, query.paging()?)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {book_id}")))
}

/// `POST /books/{id}/reviews`: validates, then lets the store save it.
pub async fn create_review(
    State(store): State<Store>,
    Path(book_id): Path<i64>,
    JsonBody(input): JsonBody<ReviewInput>,
) -> Result<(StatusCode, Json<Review>), ApiError> {
    // Validation first: invalid input must never reach the store.
    let review = input.validate()?;
    store
        .create_review(book_id, review)
        .await?
        .map(|review| (StatusCode::CREATED, Json(review)))
        .ok_or_else(|| ApiError::NotFound(format!("there is no book with id {book_id}")))
}

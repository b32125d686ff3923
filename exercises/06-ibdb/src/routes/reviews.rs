//! `/books/{id}/reviews` and `/reviews/{id}`.
// The handlers are yours to write: remove this line when they are done.
#![allow(unused_variables, unused_imports)]

use axum::{Json, extract::State, http::StatusCode};
use sqlx::PgPool;

use crate::{
    error::ApiError,
    extract::{JsonBody, Path, Query},
    models::{Page, PageQuery, Review, ReviewInput},
    routes::books::not_found,
};

/// `GET /books/{id}/reviews?limit=&offset=`: newest first.
pub async fn list(
    State(pool): State<PgPool>,
    Path(book_id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<Review>>, ApiError> {
    // TODO 9: 404 for an unknown book, else one page of its reviews, newest
    // first, with the total.
    todo!("GET /books/{{id}}/reviews")
}

/// `POST /books/{id}/reviews`: stores the review and updates the book's
/// `review_count` and `rating_sum`, atomically.
pub async fn create(
    State(pool): State<PgPool>,
    Path(book_id): Path<i64>,
    JsonBody(input): JsonBody<ReviewInput>,
) -> Result<(StatusCode, Json<Review>), ApiError> {
    // TODO 8: validate, then insert the review AND add its rating to the
    // book, so that 200 concurrent reviews are all counted. 404 for an
    // unknown book.
    todo!("POST /books/{{id}}/reviews")
}

/// `DELETE /reviews/{id}`: removes the review and its share of the summary.
pub async fn delete(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    // TODO 10: delete the review and subtract it from its book's summary.
    // `DELETE /books/{id}` locks the book, then its reviews: lock them in
    // the same order here (a transaction, the book `FOR UPDATE` first), or
    // the two requests deadlock (`tests/reliability.rs` tries).
    todo!("DELETE /reviews/{{id}}")
}

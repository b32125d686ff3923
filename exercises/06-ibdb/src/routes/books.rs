//! `/books` and `/books/{id}`.
// The handlers are yours to write: remove this line when they are done.
#![allow(unused_variables, unused_imports)]

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use sqlx::PgPool;

use crate::{
    error::ApiError,
    extract::{JsonBody, Path, Query},
    models::{Book, BookInput, BookQuery, Page},
};

/// `GET /books?limit=&offset=&q=`: oldest first; `q` matches title or author.
pub async fn list(
    State(pool): State<PgPool>,
    Query(query): Query<BookQuery>,
) -> Result<Json<Page<Book>>, ApiError> {
    // TODO 7: check the paging values and the search text (`query.paging()?`,
    // `query.search()?`), select one page of books ordered by id, count all
    // matching books, and answer with a `Page`.
    todo!("GET /books")
}

/// `POST /books`: 201 with the book and its `Location`.
pub async fn create(
    State(pool): State<PgPool>,
    JsonBody(input): JsonBody<BookInput>,
) -> Result<impl IntoResponse, ApiError> {
    // TODO 4: validate the input (`input.validate()?`), INSERT the book with
    // RETURNING, and answer 201 with a `Location: /books/{id}` header and the
    // book as JSON.
    todo!("POST /books");
    // Only here to give `impl IntoResponse` a type; replace it with yours.
    #[allow(unreachable_code)]
    Ok(StatusCode::CREATED)
}

/// `GET /books/{id}`.
pub async fn get(State(pool): State<PgPool>, Path(id): Path<i64>) -> Result<Json<Book>, ApiError> {
    // TODO 5: select the book; no row means `not_found(id)`.
    todo!("GET /books/{{id}}")
}

/// `PUT /books/{id}`: replaces title, author, isbn and published year.
pub async fn replace(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<BookInput>,
) -> Result<Json<Book>, ApiError> {
    // TODO 11: validate, UPDATE ... RETURNING, 404 when no row was updated.
    todo!("PUT /books/{{id}}")
}

/// `DELETE /books/{id}`: the reviews go too (`ON DELETE CASCADE`).
pub async fn delete(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    // TODO 12: DELETE, then 204, or 404 when no row was affected.
    todo!("DELETE /books/{{id}}")
}

pub fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no book with id {id}"))
}

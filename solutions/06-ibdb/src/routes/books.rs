//! `/books` and `/books/{id}`.
// ANCHOR: starter| // The handlers are yours to write: remove this line when they are done.
// ANCHOR: starter| #![allow(unused_variables, unused_imports)]

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

// ANCHOR: starter
/// The columns of `Book`, in SQL. A macro, not a `const`, so `concat!` can
/// build each query as one `&'static str` (all sqlx accepts without a
/// `AssertSqlSafe` wrapper, which keeps injection out by construction).
macro_rules! book_columns {
    () => {
        "id, title, author, isbn, published_year, \
         CASE WHEN review_count = 0 THEN NULL \
              ELSE rating_sum::float8 / review_count END AS average_rating, \
         review_count, created_at"
    };
}

// ANCHOR_END: starter
// ANCHOR: list
/// `GET /books?limit=&offset=&q=`: oldest first; `q` matches title or author.
pub async fn list(
    State(pool): State<PgPool>,
    Query(query): Query<BookQuery>,
) -> Result<Json<Page<Book>>, ApiError> {
    // ANCHOR: starter| // TODO 7: check the paging values and the search text (`query.paging()?`,
    // ANCHOR: starter| // `query.search()?`), select one page of books ordered by id, count all
    // ANCHOR: starter| // matching books, and answer with a `Page`.
    // ANCHOR: starter| todo!("GET /books")
    // ANCHOR: starter
    let paging = query.paging()?;
    let q = query.search()?;
    // strpos instead of LIKE: no wildcards in `q` to escape.
    let items = sqlx::query_as::<_, Book>(concat!(
        "SELECT ",
        book_columns!(),
        " FROM books WHERE $1::text IS NULL \
           OR strpos(lower(title), lower($1)) > 0 \
           OR strpos(lower(author), lower($1)) > 0 \
         ORDER BY id LIMIT $2 OFFSET $3"
    ))
    .bind(&q)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(&pool)
    .await?;
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM books WHERE $1::text IS NULL \
           OR strpos(lower(title), lower($1)) > 0 \
           OR strpos(lower(author), lower($1)) > 0",
    )
    .bind(&q)
    .fetch_one(&pool)
    .await?;
    Ok(Json(Page {
        items,
        total,
        limit: paging.limit,
        offset: paging.offset,
    }))
    // ANCHOR_END: starter
}
// ANCHOR_END: list

// ANCHOR: create
/// `POST /books`: 201 with the book and its `Location`.
pub async fn create(
    State(pool): State<PgPool>,
    JsonBody(input): JsonBody<BookInput>,
) -> Result<impl IntoResponse, ApiError> {
    // ANCHOR: starter| // TODO 4: validate the input (`input.validate()?`), INSERT the book with
    // ANCHOR: starter| // RETURNING, and answer 201 with a `Location: /books/{id}` header and the
    // ANCHOR: starter| // book as JSON.
    // ANCHOR: starter| todo!("POST /books");
    // ANCHOR: starter| // Only here to give `impl IntoResponse` a type; replace it with yours.
    // ANCHOR: starter| #[allow(unreachable_code)]
    // ANCHOR: starter| Ok(StatusCode::CREATED)
    // ANCHOR: starter
    let book = input.validate()?;
    // A duplicate ISBN fails the UNIQUE constraint; `From<sqlx::Error>` turns
    // that into 409. Checking first would race with a concurrent insert.
    let book = sqlx::query_as::<_, Book>(concat!(
        "INSERT INTO books (title, author, isbn, published_year) VALUES ($1, $2, $3, $4) \
         RETURNING ",
        book_columns!()
    ))
    .bind(&book.title)
    .bind(&book.author)
    .bind(&book.isbn)
    .bind(book.published_year)
    .fetch_one(&pool)
    .await?;
    let location = format!("/books/{}", book.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(book),
    ))
    // ANCHOR_END: starter
}
// ANCHOR_END: create

// ANCHOR: get
/// `GET /books/{id}`.
pub async fn get(State(pool): State<PgPool>, Path(id): Path<i64>) -> Result<Json<Book>, ApiError> {
    // ANCHOR: starter| // TODO 5: select the book; no row means `not_found(id)`.
    // ANCHOR: starter| todo!("GET /books/{{id}}")
    // ANCHOR: starter
    sqlx::query_as::<_, Book>(concat!(
        "SELECT ",
        book_columns!(),
        " FROM books WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&pool)
    .await?
    .map(Json)
    .ok_or_else(|| not_found(id))
    // ANCHOR_END: starter
}
// ANCHOR_END: get

/// `PUT /books/{id}`: replaces title, author, isbn and published year.
pub async fn replace(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
    JsonBody(input): JsonBody<BookInput>,
) -> Result<Json<Book>, ApiError> {
    // ANCHOR: starter| // TODO 11: validate, UPDATE ... RETURNING, 404 when no row was updated.
    // ANCHOR: starter| todo!("PUT /books/{{id}}")
    // ANCHOR: starter
    let book = input.validate()?;
    sqlx::query_as::<_, Book>(concat!(
        "UPDATE books SET title = $2, author = $3, isbn = $4, published_year = $5 \
         WHERE id = $1 RETURNING ",
        book_columns!()
    ))
    .bind(id)
    .bind(&book.title)
    .bind(&book.author)
    .bind(&book.isbn)
    .bind(book.published_year)
    .fetch_optional(&pool)
    .await?
    .map(Json)
    .ok_or_else(|| not_found(id))
    // ANCHOR_END: starter
}

/// `DELETE /books/{id}`: the reviews go too (`ON DELETE CASCADE`).
pub async fn delete(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    // ANCHOR: starter| // TODO 12: DELETE, then 204, or 404 when no row was affected.
    // ANCHOR: starter| todo!("DELETE /books/{{id}}")
    // ANCHOR: starter
    let deleted = sqlx::query("DELETE FROM books WHERE id = $1")
        .bind(id)
        .execute(&pool)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(not_found(id));
    }
    Ok(StatusCode::NO_CONTENT)
    // ANCHOR_END: starter
}

pub fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("there is no book with id {id}"))
}

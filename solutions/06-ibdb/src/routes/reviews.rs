//! `/books/{id}/reviews` and `/reviews/{id}`.
// ANCHOR: starter| // The handlers are yours to write: remove this line when they are done.
// ANCHOR: starter| #![allow(unused_variables, unused_imports)]

use axum::{Json, extract::State, http::StatusCode};
use sqlx::PgPool;

use crate::{
    error::ApiError,
    extract::{JsonBody, Path, Query},
    models::{Page, PageQuery, Review, ReviewInput},
    routes::books::not_found,
};

// ANCHOR: list
/// `GET /books/{id}/reviews?limit=&offset=`: newest first.
pub async fn list(
    State(pool): State<PgPool>,
    Path(book_id): Path<i64>,
    Query(query): Query<PageQuery>,
) -> Result<Json<Page<Review>>, ApiError> {
    // ANCHOR: starter| // TODO 9: 404 for an unknown book, else one page of its reviews, newest
    // ANCHOR: starter| // first, with the total.
    // ANCHOR: starter| todo!("GET /books/{{id}}/reviews")
    // ANCHOR: starter
    let paging = query.paging()?;
    // The count doubles as the existence check: a book has a review_count.
    let total: i64 = sqlx::query_scalar("SELECT review_count FROM books WHERE id = $1")
        .bind(book_id)
        .fetch_optional(&pool)
        .await?
        .ok_or_else(|| not_found(book_id))?;
    let items = sqlx::query_as::<_, Review>(
        "SELECT id, book_id, rating, comment, created_at FROM reviews \
         WHERE book_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3",
    )
    .bind(book_id)
    .bind(paging.limit)
    .bind(paging.offset)
    .fetch_all(&pool)
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
/// `POST /books/{id}/reviews`: stores the review and updates the book's
// ANCHOR: starter| /// `review_count` and `rating_sum`, atomically.
// ANCHOR: starter
/// rating summary in one statement, so it is atomic and, because the UPDATE
/// locks the book's row, concurrent reviews of one book never lose a count.
// ANCHOR_END: starter
pub async fn create(
    State(pool): State<PgPool>,
    Path(book_id): Path<i64>,
    JsonBody(input): JsonBody<ReviewInput>,
) -> Result<(StatusCode, Json<Review>), ApiError> {
    // ANCHOR: starter| // TODO 8: validate, then insert the review AND add its rating to the
    // ANCHOR: starter| // book, so that 200 concurrent reviews are all counted. 404 for an
    // ANCHOR: starter| // unknown book.
    // ANCHOR: starter| todo!("POST /books/{{id}}/reviews")
    // ANCHOR: starter
    let review = input.validate()?;
    let review = sqlx::query_as::<_, Review>(
        "WITH book AS ( \
             UPDATE books SET review_count = review_count + 1, rating_sum = rating_sum + $2 \
             WHERE id = $1 RETURNING id) \
         INSERT INTO reviews (book_id, rating, comment) SELECT id, $2, $3 FROM book \
         RETURNING id, book_id, rating, comment, created_at",
    )
    .bind(book_id)
    .bind(review.rating)
    .bind(&review.comment)
    .fetch_optional(&pool)
    .await?
    // No row updated, nothing inserted: the book does not exist.
    .ok_or_else(|| not_found(book_id))?;
    Ok((StatusCode::CREATED, Json(review)))
    // ANCHOR_END: starter
}
// ANCHOR_END: create

// ANCHOR: delete
/// `DELETE /reviews/{id}`: removes the review and its share of the summary.
// ANCHOR: starter
///
/// Locks the book first, then the review: the order `DELETE /books/{id}`
/// takes them in (the book, then its reviews by `ON DELETE CASCADE`). Taken
/// the other way round, the two requests can wait for each other, and
/// PostgreSQL breaks the deadlock by failing one of them.
// ANCHOR_END: starter
pub async fn delete(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<StatusCode, ApiError> {
    // ANCHOR: starter| // TODO 10: delete the review and subtract it from its book's summary.
    // ANCHOR: starter| // `DELETE /books/{id}` locks the book, then its reviews: lock them in
    // ANCHOR: starter| // the same order here (a transaction, the book `FOR UPDATE` first), or
    // ANCHOR: starter| // the two requests deadlock (`tests/reliability.rs` tries).
    // ANCHOR: starter| todo!("DELETE /reviews/{{id}}")
    // ANCHOR: starter
    let mut tx = pool.begin().await?;
    let book: Option<i64> = sqlx::query_scalar(
        "SELECT books.id FROM books JOIN reviews ON reviews.book_id = books.id \
         WHERE reviews.id = $1 FOR UPDATE OF books",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(book) = book else {
        return Err(ApiError::NotFound(format!(
            "there is no review with id {id}"
        )));
    };
    let deleted: Option<i64> = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM reviews WHERE id = $1 RETURNING rating) \
         UPDATE books SET review_count = review_count - 1, rating_sum = rating_sum - gone.rating \
         FROM gone WHERE books.id = $2 RETURNING books.id",
    )
    .bind(id)
    .bind(book)
    .fetch_optional(&mut *tx)
    .await?;
    tx.commit().await?;
    match deleted {
        Some(_) => Ok(StatusCode::NO_CONTENT),
        // Deleted by a concurrent request after we locked the book.
        None => Err(ApiError::NotFound(format!(
            "there is no review with id {id}"
        ))),
    }
    // ANCHOR_END: starter
}
// ANCHOR_END: delete

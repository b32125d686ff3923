//! The benchmark's baseline (`cargo xtask bench ibdb`): the same SQL as
//! IBDb's `GET /books/{id}` and `POST /books/{id}/reviews`, with axum and
//! sqlx but no middleware, no metrics, no problem documents. IBDb should
//! come close to it.
//!
//! `DATABASE_URL=... PORT=8001 cargo run --release --example bare`

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::{get, post},
};
use ibdb::models::{Book, Review, ReviewInput};
use sqlx::PgPool;

async fn get_book(
    State(pool): State<PgPool>,
    Path(id): Path<i64>,
) -> Result<Json<Book>, StatusCode> {
    sqlx::query_as::<_, Book>(
        "SELECT id, title, author, isbn, published_year, \
         CASE WHEN review_count = 0 THEN NULL \
              ELSE rating_sum::float8 / review_count END AS average_rating, \
         review_count, created_at FROM books WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(&pool)
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
    .map(Json)
    .ok_or(StatusCode::NOT_FOUND)
}

/// The same validation and statement as `routes::reviews::create`.
async fn create_review(
    State(pool): State<PgPool>,
    Path(book_id): Path<i64>,
    Json(input): Json<ReviewInput>,
) -> Result<(StatusCode, Json<Review>), StatusCode> {
    let review = input
        .validate()
        .map_err(|_| StatusCode::UNPROCESSABLE_ENTITY)?;
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
    .await
    .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?
    .ok_or(StatusCode::NOT_FOUND)?;
    Ok((StatusCode::CREATED, Json(review)))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ibdb::Config::from_env()?;
    // Same pool settings as IBDb, so only the HTTP layers differ.
    let pool = ibdb::db::pool(&config.database);
    let app = Router::new()
        .route("/books/{id}", get(get_book))
        .route("/books/{id}/reviews", post(create_review))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(ibdb::shutdown_signal())
        .await?;
    Ok(())
}

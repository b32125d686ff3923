//! The benchmark's baseline (`cargo xtask bench ibdb`): the same primary-key
//! read as `GET /books/{id}`, with axum and sqlx but no middleware, no
//! metrics, no problem documents. IBDb should come close to it.
//!
//! `DATABASE_URL=... PORT=8001 cargo run --release --example bare`

use axum::{
    Json, Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use ibdb::models::Book;
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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let config = ibdb::Config::from_env()?;
    // Same pool settings as IBDb, so only the HTTP layers differ.
    let pool = ibdb::db::pool(&config.database);
    let app = Router::new()
        .route("/books/{id}", get(get_book))
        .with_state(pool);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(ibdb::shutdown_signal())
        .await?;
    Ok(())
}

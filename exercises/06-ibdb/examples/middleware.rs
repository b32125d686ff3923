//! What IBDb's middleware costs per request, for `cargo xtask bench
//! middleware`: `GET /books/{id}` answered in-process (no socket, no
//! database) by one handler, behind the middleware of IBDb's API routes
//! (`routes::guard` and `routes::gate`, as `routes::router` layers them) or
//! behind none. Run under callgrind, the difference between two request
//! counts is what one request costs, in instructions: the same on every run,
//! where timings on a shared 2-core machine move by a tenth from one run to
//! the next.
//!
//! `cargo run --release --example middleware -- guarded 10000`

use std::{
    process::ExitCode,
    sync::{Arc, atomic::AtomicBool},
};

use axum::{
    Json, Router,
    body::Body,
    extract::Request,
    http::StatusCode,
    routing::{MethodRouter, get},
};
use ibdb::{Config, config::DbConfig, metrics::Metrics, models::Book, routes};
use sqlx::postgres::PgConnectOptions;
use tower::{Service, ServiceExt};

fn book(id: i64) -> Book {
    Book {
        id,
        title: "Dune".into(),
        author: "Frank Herbert".into(),
        isbn: None,
        published_year: Some(1965),
        average_rating: None,
        review_count: 0,
        created_at: chrono::DateTime::UNIX_EPOCH,
    }
}

/// Each side's own path extractor, as in the servers `bench ibdb` compares:
/// IBDb's checks that the id is written the one way ids are.
fn route(guarded: bool) -> MethodRouter {
    if guarded {
        get(|ibdb::extract::Path(id)| async move { Json(book(id)) })
    } else {
        get(|axum::extract::Path(id)| async move { Json(book(id)) })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let (Some(kind), Some(Ok(requests))) = (args.get(1), args.get(2).map(|n| n.parse::<u64>()))
    else {
        eprintln!("usage: middleware guarded|bare REQUESTS");
        return ExitCode::from(2);
    };
    // As the bench runs the servers: RUST_LOG=warn, so spans are disabled.
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .init();
    let routes = Router::new().route("/books/{id}", route(kind == "guarded"));
    let app = match kind.as_str() {
        "guarded" => {
            let config = Config::new(DbConfig::new(PgConnectOptions::new()));
            // What IBDb's API routes get (`routes::router`).
            let migrated = Arc::new(AtomicBool::new(true));
            routes.layer((
                routes::guard(&config, &Metrics::default()),
                routes::gate(migrated),
            ))
        }
        "bare" => routes,
        other => {
            eprintln!("middleware: `{other}` is neither `guarded` nor `bare`");
            return ExitCode::from(2);
        }
    };
    // As both servers do: `with_state` turns each handler into a route once.
    // Without it axum would do that for every request, and once more for
    // every layer, which is not what the servers pay.
    let mut app = app.with_state(());
    let mut answered = 0;
    for i in 0..requests {
        let request = Request::get(format!("/books/{}", i % 1000 + 1))
            .body(Body::empty())
            .expect("a valid request");
        let response = ServiceExt::<Request>::ready(&mut app)
            .await
            .expect("a router is always ready")
            .call(request)
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK);
        answered += axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("an in-memory body")
            .len();
    }
    println!("{requests} requests, {answered} bytes answered");
    ExitCode::SUCCESS
}

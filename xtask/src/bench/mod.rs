//! `cargo xtask bench ...`: figures the course sets goals for, printed, never asserted.

mod chart;
pub mod ibdb;
mod images;
mod middleware;
mod wrk;

pub use images::images;
pub use middleware::middleware;

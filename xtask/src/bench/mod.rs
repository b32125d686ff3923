//! `cargo xtask bench ...`: figures the course sets goals for, printed, never asserted.

pub mod ibdb;
mod images;

pub use images::images;

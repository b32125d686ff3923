//! `cargo xtask bench ...`: figures the course sets goals for, printed, never asserted.

mod images;

pub use images::images;

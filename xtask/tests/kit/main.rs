//! The kit's own tests, in one test binary: each area is a module, and
//! `support` and `fakes` are compiled once. Run one area with
//! `cargo test -p xtask --test kit -- MODULE::`.

mod fakes;
mod support;

mod book;
mod class_grade;
mod cluster_chaos;
mod cluster_commands;
mod cluster_files;
mod cnpg_cluster;
mod consistency;
mod contract;
mod database;
mod docker_standins;
mod helm_chart;
mod k8s_api_rules;
mod live_check;
mod offline;
mod ship;
mod stages;
mod starters;
mod verify_cli;
mod verify_faults;
mod watch;

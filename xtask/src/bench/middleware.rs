//! `cargo xtask bench middleware`: the instructions one request costs in
//! IBDb's middleware, counted by callgrind in-process
//! (`solutions/06-ibdb/examples/middleware.rs`: no socket, no database).
//! Exact and repeatable, so a change worth 1% shows, where `bench ibdb`'s
//! timings move by a tenth from one round to the next on a 2-core machine.

use anyhow::{Context, anyhow, bail};

/// Two request counts: their difference cancels start-up and shutdown.
const FEW: u64 = 2_000;
const MANY: u64 = 12_000;

pub fn middleware() -> anyhow::Result<bool> {
    let valgrind = which::which("valgrind").map_err(|_| {
        anyhow!(
            "valgrind is not installed, and its callgrind counts the instructions: \
             install it (`apt-get install valgrind` on Debian and Ubuntu) and run this again"
        )
    })?;
    eprintln!("building solutions/06-ibdb/examples/middleware.rs (release)...");
    let exe = super::release_build(&["--example", "middleware"])?.join("examples/middleware");
    let per_request = |kind: &str| -> anyhow::Result<u64> {
        let few = instructions(&valgrind, &exe, kind, FEW)?;
        let many = instructions(&valgrind, &exe, kind, MANY)?;
        Ok(many.saturating_sub(few) / (MANY - FEW))
    };
    let bare = per_request("bare")?;
    let guarded = per_request("guarded")?;
    println!(
        "Instructions per GET /books/{{id}}, answered in-process (no socket, no database), \
         counted by callgrind ({MANY} requests minus {FEW}):"
    );
    println!("  the handler behind no middleware (axum's Path)           {bare:>7}");
    println!("  the handler behind IBDb's guard and readiness gate       {guarded:>7}");
    println!(
        "  the middleware                                           {:>7}  ({:.2}x bare)",
        guarded.saturating_sub(bare),
        guarded as f64 / bare as f64
    );
    println!(
        "(The server's connection handling is not in it: \
         `cargo xtask bench ibdb` measures the whole server.)"
    );
    Ok(true)
}

/// What callgrind counted for one run of the example.
fn instructions(
    valgrind: &std::path::Path,
    exe: &std::path::Path,
    kind: &str,
    requests: u64,
) -> anyhow::Result<u64> {
    let out = duct::cmd!(
        valgrind,
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        exe,
        kind,
        requests.to_string()
    )
    .stdout_null()
    .stderr_capture()
    .unchecked()
    .run()
    .context("running valgrind")?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!(
            "{} {kind} {requests} under callgrind failed ({}):\n{}",
            exe.display(),
            crate::proc::describe_exit(out.status),
            crate::proc::tail(&stderr, 20)
        );
    }
    collected(&stderr).ok_or_else(|| {
        anyhow!(
            "callgrind printed no `Collected :` line for {kind} {requests}; its output ends:\n{}",
            crate::proc::tail(&stderr, 20)
        )
    })
}

/// The count in callgrind's summary line `==PID== Collected : N`.
fn collected(stderr: &str) -> Option<u64> {
    stderr
        .lines()
        .find_map(|line| line.split_once("Collected :"))
        .and_then(|(_, n)| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrinds_summary_line() {
        let stderr = "==4987== \n==4987== Events    : Ir\n==4987== Collected : 204620559\n\
                      ==4987== \n==4987== I   refs:      204,620,559\n";
        assert_eq!(collected(stderr), Some(204_620_559));
        assert_eq!(collected("==1== I   refs: 5\n"), None);
    }
}

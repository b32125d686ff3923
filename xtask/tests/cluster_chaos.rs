//! `cargo xtask chaos failover` against fake kubectl and a stand-in for
//! IBDb behind the "port-forward": the stand-in fails writes for a while
//! after the fake deletes the primary, as IBDb does during a CNPG switchover.

mod fakes;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use fakes::Fakes;

/// Serves `/healthz` (200) and `POST /books` (201; 503 for the first
/// `outage` writes after `deleted` appears in the state folder; always 503
/// when `outage` is usize::MAX). Returns the port.
fn stand_in(state: PathBuf, outage: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let failed = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut length = 0;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let status = if request_line.starts_with("POST /books") {
                if state.join("deleted").exists()
                    && (outage == usize::MAX || failed.fetch_add(1, Ordering::SeqCst) < outage)
                {
                    "503 Service Unavailable"
                } else {
                    "201 Created"
                }
            } else {
                "200 OK"
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{{}}"
            );
        }
    });
    port
}

fn failover(fakes: &Fakes, port: u16) -> support::Run {
    fakes.xtask(&[
        "chaos",
        "failover",
        "--duration",
        "3",
        "--warmup",
        "1",
        "--interval-ms",
        "50",
        "--local-port",
        &port.to_string(),
    ])
}

#[test]
fn failover_reports_failed_writes_and_when_they_worked_again() {
    let fakes = Fakes::new();
    let port = stand_in(fakes.state(), 5);
    let run = failover(&fakes, port);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let calls = fakes.calls();
    assert!(
        calls.contains(&format!(
            "kubectl --context k3d-microservices --namespace ibdb port-forward svc/ibdb {port}:8000"
        )),
        "{calls:?}"
    );
    assert!(
        calls.contains(
            &"kubectl --context k3d-microservices --namespace ibdb delete pod ibdb-db-1 --wait=false"
                .to_string()
        ),
        "{calls:?}"
    );
    assert!(
        run.stdout.contains("primary before: ibdb-db-1"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("primary after:  ibdb-db-2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("5 failed (5 after the primary was deleted)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("they succeeded again"),
        "{}",
        run.stdout
    );
}

#[test]
fn failover_without_failures_says_so() {
    let fakes = Fakes::new();
    let port = stand_in(fakes.state(), 0);
    let run = failover(&fakes, port);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("no write failed"), "{}", run.stdout);
}

#[test]
fn writes_that_never_recover_fail_the_lab() {
    let fakes = Fakes::new();
    let port = stand_in(fakes.state(), usize::MAX);
    let run = failover(&fakes, port);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("writes were still failing when the load loop ended"),
        "{}",
        run.stdout
    );
}

#[test]
fn failover_without_a_primary_says_deploy_first() {
    let fakes = Fakes::new();
    fakes.set("primary", "");
    let run = failover(&fakes, 1);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("run `cargo xtask deploy` first"),
        "{}",
        run.stderr
    );
}

#[test]
fn failover_with_a_missing_kubectl_or_a_failing_port_forward() {
    let fakes = Fakes::with(&["helm"]);
    let run = failover(&fakes, 1);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains("kubectl is not installed"),
        "{}",
        run.stderr
    );

    // Nothing answers on the local port: the lab stops before deleting anything.
    let fakes = Fakes::new();
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let run = fakes.xtask(&[
        "chaos",
        "failover",
        "--duration",
        "1",
        "--local-port",
        &closed.to_string(),
    ]);
    assert_eq!(run.code, Some(2), "{}", run.stdout);
    assert!(!fakes.has("deleted"), "nothing may be deleted without load");
}

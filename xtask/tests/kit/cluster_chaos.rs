//! `cargo xtask chaos failover` and `chaos switchover` against fake kubectl
//! and a stand-in for IBDb behind the "port-forward": the stand-in fails
//! writes for a while after the fake kills the primary (or is asked to
//! switch over), as IBDb does while CNPG promotes a replica. The fake only
//! proves what it was told; the rules it follows are CloudNativePG's, named
//! at each test.

use crate::fakes;
use crate::support;

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

fn lab(fakes: &Fakes, scenario: &str, port: u16, svg: &std::path::Path) -> support::Run {
    fakes.xtask(&[
        "chaos",
        scenario,
        "--duration",
        "3",
        "--warmup",
        "1",
        "--interval-ms",
        "50",
        "--local-port",
        &port.to_string(),
        "--svg",
        svg.to_str().unwrap(),
    ])
}

fn failover(fakes: &Fakes, port: u16) -> support::Run {
    lab(fakes, "failover", port, &fakes.state().join("failover.svg"))
}

#[test]
fn failover_kills_the_primary_quickly_and_reports_the_outage() {
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
    // cloudnative-pg tests/e2e/suite_test.go (quickDeletionPeriod = 1, used by
    // failover_test.go): the primary is deleted with a 1 s grace period. With
    // the default one a smart shutdown of up to smartShutdownTimeout (180 s,
    // docs/src/instance_manager.md "Shutdown control") lets open sessions go
    // on, and the lab could see no failover at all.
    assert!(
        calls.contains(
            &"kubectl --context k3d-microservices --namespace ibdb delete pod ibdb-db-1 --grace-period=1 --wait=false"
                .to_string()
        ),
        "cloudnative-pg tests/e2e/suite_test.go quickDeletionPeriod: {calls:?}"
    );
    // The primary is read from the Cluster's status.currentPrimary
    // (cloudnative-pg api/v1/cluster_types.go), before and after.
    assert!(
        calls
            .iter()
            .filter(|c| c.ends_with("get cluster ibdb-db --output json"))
            .count()
            >= 2,
        "{calls:?}"
    );
    for expected in [
        "primary before: ibdb-db-1",
        "primary after:  ibdb-db-2",
        "writes: ",
        "5 failed",
        "    5 × HTTP 503",
        "new primary seen in status.currentPrimary ",
        "from the kill until writes worked again: ",
        "timeline (one row per second; █ write ok, ░ write failed; K kill, P new primary seen)",
    ] {
        assert!(run.stdout.contains(expected), "{expected}:\n{}", run.stdout);
    }
    // One row per second; the kill is marked at second 1.
    assert!(
        run.stdout.lines().any(|l| l.starts_with("     1 s K")),
        "{}",
        run.stdout
    );
    let svg = std::fs::read_to_string(fakes.state().join("failover.svg")).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("ibdb-db-1 → ibdb-db-2"),
        "{svg}"
    );
    assert!(
        svg.contains(">kill</text>") && svg.contains("#c62828"),
        "{svg}"
    );
}

#[test]
fn a_primary_that_did_not_change_fails_the_lab() {
    // Writes that never fail prove nothing when CNPG did not fail over:
    // status.currentPrimary must name another instance afterwards.
    let fakes = Fakes::new();
    fakes.set("no-promotion", "");
    let port = stand_in(fakes.state(), 0);
    let run = failover(&fakes, port);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("✗ the primary did not change (ibdb-db-1): no failover happened"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("status.currentPrimary never changed during the run"),
        "{}",
        run.stdout
    );
}

#[test]
fn switchover_sets_the_target_primary_like_kubectl_cnpg_promote() {
    // cloudnative-pg internal/cmd/plugin/promote/promote.go: targetPrimary,
    // targetPrimaryTimestamp, phase "Switchover in progress" and phaseReason,
    // patched on the status with an optimistic lock (the resourceVersion).
    let fakes = Fakes::new();
    let port = stand_in(fakes.state(), 3);
    let svg = fakes.state().join("switchover.svg");
    let run = lab(&fakes, "switchover", port, &svg);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    let patch = fakes
        .calls()
        .into_iter()
        .find(|c| c.contains(" patch cluster ibdb-db "))
        .expect("a patch");
    assert!(
        patch.starts_with(
            "kubectl --context k3d-microservices --namespace ibdb patch cluster ibdb-db --subresource=status --type=merge --patch "
        ),
        "{patch}"
    );
    for part in [
        r#""resourceVersion":"4711""#,
        r#""targetPrimary":"ibdb-db-2""#,
        r#""phase":"Switchover in progress""#,
        r#""phaseReason":"Switching over to ibdb-db-2""#,
        r#""targetPrimaryTimestamp":"20"#,
    ] {
        assert!(
            patch.contains(part),
            "cloudnative-pg internal/cmd/plugin/promote/promote.go: {part} not in {patch}"
        );
    }
    assert!(
        !fakes.calls().iter().any(|c| c.contains(" delete pod ")),
        "a switchover kills nothing"
    );
    assert!(run.stdout.contains("switchover report"), "{}", run.stdout);
    assert!(
        run.stdout.contains("primary after:  ibdb-db-2"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("3 × HTTP 503"), "{}", run.stdout);
    assert!(
        std::fs::read_to_string(&svg)
            .unwrap()
            .contains("switchover request")
    );

    // --to names the instance; one that is not in the Cluster is refused.
    let fakes = Fakes::new();
    let run = fakes.xtask(&[
        "chaos",
        "switchover",
        "--to",
        "ibdb-db-9",
        "--local-port",
        "1",
    ]);
    assert_eq!(run.code, Some(2));
    assert!(
        run.stderr.contains(
            "ibdb-db-9 is not an instance of ibdb-db (they are: ibdb-db-1, ibdb-db-2, ibdb-db-3)"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn failover_without_failures_says_so() {
    let fakes = Fakes::new();
    let port = stand_in(fakes.state(), 0);
    let run = failover(&fakes, port);
    assert!(run.success, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("0 failed"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("from the kill until writes worked again: "),
        "{}",
        run.stdout
    );
}

#[test]
fn writes_that_never_recover_fail_the_lab() {
    let fakes = Fakes::new();
    let port = stand_in(fakes.state(), usize::MAX);
    let run = failover(&fakes, port);
    assert_eq!(run.code, Some(1), "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("✗ writes had not worked again after the kill when the run ended"),
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

    // Nothing answers on the local port: the lab stops before killing anything.
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
    assert!(!fakes.has("deleted"), "nothing may be killed without load");
}

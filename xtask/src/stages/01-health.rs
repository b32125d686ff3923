//! Stage 01: the health endpoint, checked as a running process over real HTTP.

use std::time::Duration;

use crate::check::service::{self, Launch, ShutdownHints};
use crate::check::{Checker, Stage, Stop, build};
use crate::tools::Tool;

pub const STAGE: Stage = Stage {
    id: "01-health",
    title: "Health endpoint",
    needs: &[Tool::Cargo],
    optional: &[],
    check,
};

fn check(ck: &mut Checker) -> Result<(), Stop> {
    let exe = build::binary(ck)?;
    let launch = Launch {
        env: Vec::new(),
        path: "/",
        limit: Duration::from_secs(15),
        hint: "read PORT from the environment and bind 0.0.0.0:$PORT (TODO 1)",
        ready: None,
    };
    let mut server = service::start(ck, &exe, launch)?;
    service::expect_health(ck, &server.url("/"))?;
    let hints = ShutdownHints {
        exit_status: "handle SIGTERM: wait for it in shutdown_signal and pass that to with_graceful_shutdown (TODO 4)",
        still_running: "shutdown_signal must complete on SIGTERM, not only on Ctrl-C (TODO 4)",
    };
    service::graceful_shutdown(ck, &mut server.process, Duration::from_secs(5), hints)
}

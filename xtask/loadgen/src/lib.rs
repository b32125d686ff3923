//! The built-in load generator: one thread running a single-threaded tokio
//! runtime, `connections` keep-alive HTTP/1.1 connections, each sending its
//! next request as soon as the previous answer is in (a closed loop, as wrk
//! does). Requests are written and responses parsed by hand: a general
//! client (hyper, ureq) spends more CPU per request than the servers it is
//! meant to saturate.
//!
//! Bounded in time (warm-up + measure, then every connection is dropped)
//! and in count (`max_requests` per connection). Talks to 127.0.0.1 only.
//!
//! A crate of its own so it can be optimised in the dev profile `cargo
//! xtask` builds with (see the root `Cargo.toml`) without slowing down the
//! build of the whole xtask.

pub mod figures;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use figures::{Sample, cpu_time, thread_cpu_time};

/// What each request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `GET /books/{id}`, ids spread over `1..=books`.
    Read { books: u64 },
    /// `POST /books/{id}/reviews`, ids spread over `1..=books`.
    Review { books: u64 },
    /// `POST /books`: seeding.
    CreateBook,
}

pub const REVIEW_BODY: &str = r#"{"rating":4,"comment":"benchmark"}"#;

impl Target {
    /// The `n`th request's id: a multiplicative hash, so consecutive
    /// requests hit rows far apart (no single hot row, no sequential scan
    /// of the cache).
    pub fn id(n: u64, books: u64) -> u64 {
        n.wrapping_mul(7919) % books + 1
    }

    fn write(self, out: &mut Vec<u8>, n: u64, port: u16) {
        use std::io::Write;
        out.clear();
        let _ = match self {
            Target::Read { books } => write!(
                out,
                "GET /books/{} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\r\n",
                Self::id(n, books)
            ),
            Target::Review { books } => write!(
                out,
                "POST /books/{}/reviews HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\
                 content-type: application/json\r\ncontent-length: {}\r\n\r\n{REVIEW_BODY}",
                Self::id(n, books),
                REVIEW_BODY.len()
            ),
            Target::CreateBook => {
                let body = format!(
                    r#"{{"title":"Book {n}","author":"Author {}","published_year":{}}}"#,
                    n % 997,
                    1900 + n % 120
                );
                write!(
                    out,
                    "POST /books HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n\
                     content-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                )
            }
        };
    }
}

#[derive(Debug, Clone)]
pub struct Plan {
    pub port: u16,
    pub target: Target,
    pub connections: usize,
    pub warmup: Duration,
    pub measure: Duration,
    /// Per connection: the loop ends after this many requests even if time
    /// is left.
    pub max_requests: u64,
    /// Pin the client's thread to these CPUs (`sched_setaffinity`).
    pub cpus: Option<Vec<usize>>,
    /// The server process, for its CPU time over the measured part.
    pub server_pid: Option<u32>,
}

/// Runs `plan` on a thread of its own and waits for it.
pub fn run(plan: &Plan) -> io::Result<Sample> {
    let plan = plan.clone();
    std::thread::spawn(move || {
        if let Some(cpus) = &plan.cpus {
            pin_this_thread(cpus);
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        runtime.block_on(drive(&plan))
    })
    .join()
    .map_err(|_| io::Error::other("the load thread panicked"))?
}

fn pin_this_thread(cpus: &[usize]) {
    let mut set = nix::sched::CpuSet::new();
    for &cpu in cpus {
        let _ = set.set(cpu);
    }
    // Pid 0: the calling thread. Failing to pin only makes figures noisier.
    if let Err(error) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set) {
        eprintln!("warning: could not pin the load thread to CPUs {cpus:?}: {error}");
    }
}

/// One connection's results.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

async fn drive(plan: &Plan) -> io::Result<Sample> {
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.measure;
    // A request still unanswered this long after the end counts as an error.
    let give_up = end + Duration::from_secs(2);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, plan.port));
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..plan.connections {
        let plan = plan.clone();
        tasks.spawn(async move {
            let mut tally = Tally::default();
            let work = connection(&plan, addr, c as u64, measure_from, end, &mut tally);
            if tokio::time::timeout_at(give_up.into(), work).await.is_err() {
                tally.errors += 1;
                tally
                    .first_error
                    .get_or_insert_with(|| "no answer within 2 s of the end".into());
            }
            tally
        });
    }
    // The server's CPU time over exactly the measured window.
    // And the client's own (this thread's: the runtime has no other).
    let server_pid = plan.server_pid;
    let (cpu, client_cpu) = tokio::spawn(async move {
        tokio::time::sleep_until(measure_from.into()).await;
        let before = (server_pid.and_then(cpu_time), thread_cpu_time());
        tokio::time::sleep_until(end.into()).await;
        let after = (server_pid.and_then(cpu_time), thread_cpu_time());
        let spent =
            |b: Option<Duration>, a: Option<Duration>| b.zip(a).map(|(b, a)| a.saturating_sub(b));
        (spent(before.0, after.0), spent(before.1, after.1))
    })
    .await?;
    let mut sample = Sample::default();
    while let Some(tally) = tasks.join_next().await {
        let tally = tally?;
        sample.latencies_us.extend(tally.latencies_us);
        sample.errors += tally.errors;
        if sample.first_error.is_none() {
            sample.first_error = tally.first_error;
        }
    }
    sample.window = plan.measure;
    sample.server_cpu = cpu;
    sample.client_cpu = client_cpu;
    sample.finish();
    Ok(sample)
}

/// Sends requests back to back until `end`, reconnecting after an error or
/// a `connection: close`. Counts the requests sent in `[measure_from, end)`.
async fn connection(
    plan: &Plan,
    addr: SocketAddr,
    index: u64,
    measure_from: Instant,
    end: Instant,
    tally: &mut Tally,
) {
    let mut request = Vec::with_capacity(512);
    let mut response = Vec::with_capacity(16 * 1024);
    let mut stream: Option<TcpStream> = None;
    for i in 0..plan.max_requests {
        let sent = Instant::now();
        if sent >= end {
            break;
        }
        let counted = sent >= measure_from;
        let n = i * plan.connections as u64 + index;
        plan.target.write(&mut request, n, plan.port);
        let result = async {
            if stream.is_none() {
                let s = TcpStream::connect(addr).await?;
                s.set_nodelay(true)?;
                stream = Some(s);
            }
            let s = stream.as_mut().expect("connected above");
            s.write_all(&request).await?;
            read_response(s, &mut response).await
        }
        .await;
        let failure = match result {
            Ok(answer) => {
                if answer.close {
                    stream = None;
                }
                (!(200..300).contains(&answer.status)).then(|| {
                    format!(
                        "answered {}: {}",
                        answer.status,
                        String::from_utf8_lossy(&response[..response.len().min(300)])
                    )
                })
            }
            Err(error) => {
                stream = None;
                Some(error.to_string())
            }
        };
        if counted {
            let micros = sent.elapsed().as_micros().min(u32::MAX as u128) as u32;
            tally.latencies_us.push(micros);
            if let Some(failure) = failure {
                tally.errors += 1;
                tally.first_error.get_or_insert(failure);
            }
        } else if failure.is_some() {
            // Not counted, but do not spin on a dead server.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

struct Answer {
    status: u16,
    close: bool,
}

/// Reads one response into `buf` (replacing its contents).
async fn read_response(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Answer> {
    buf.clear();
    let (head_len, status, length, close) = loop {
        if stream.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection",
            ));
        }
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let (status, length, close) = parse_head(&buf[..end])?;
            break (end + 4, status, length, close);
        }
        if buf.len() > 64 * 1024 {
            return Err(invalid("response head larger than 64 KiB"));
        }
    };
    loop {
        let body = &buf[head_len..];
        let complete = match length {
            Length::Fixed(n) => body.len() >= n,
            Length::Chunked => chunked_complete(body)?,
        };
        if complete {
            return Ok(Answer { status, close });
        }
        if stream.read_buf(buf).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection mid-body",
            ));
        }
    }
}

enum Length {
    Fixed(usize),
    Chunked,
}

fn parse_head(head: &[u8]) -> io::Result<(u16, Length, bool)> {
    let text = std::str::from_utf8(head).map_err(|_| invalid("response head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status code in the response"))?;
    let mut length = Length::Fixed(0);
    let mut close = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Length::Fixed(value.parse().map_err(|_| invalid("bad content-length"))?);
        } else if name.eq_ignore_ascii_case("transfer-encoding")
            && value.eq_ignore_ascii_case("chunked")
        {
            length = Length::Chunked;
        } else if name.eq_ignore_ascii_case("connection") && value.eq_ignore_ascii_case("close") {
            close = true;
        }
    }
    Ok((status, length, close))
}

/// Whether `body` holds a whole chunked body (trailers not supported: the
/// servers measured send none).
fn chunked_complete(mut body: &[u8]) -> io::Result<bool> {
    loop {
        let Some(line_end) = find(body, b"\r\n") else {
            return Ok(false);
        };
        let size = std::str::from_utf8(&body[..line_end])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .ok_or_else(|| invalid("bad chunk size"))?;
        let next = line_end + 2 + size + 2;
        if size == 0 {
            return Ok(body.len() >= line_end + 4);
        }
        if body.len() < next {
            return Ok(false);
        }
        body = &body[next..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_and_chunks() {
        let (status, length, close) =
            parse_head(b"HTTP/1.1 201 Created\r\nContent-Length: 12\r\nconnection: close").unwrap();
        assert_eq!(status, 201);
        assert!(matches!(length, Length::Fixed(12)));
        assert!(close);
        assert!(chunked_complete(b"3\r\nabc\r\n0\r\n\r\n").unwrap());
        assert!(!chunked_complete(b"3\r\nabc\r\n0\r\n").unwrap());
        assert!(!chunked_complete(b"3\r\nab").unwrap());
    }

    #[test]
    fn ids_cover_the_range() {
        let books = 10_000;
        let ids: std::collections::HashSet<_> = (0..books).map(|n| Target::id(n, books)).collect();
        assert_eq!(ids.len() as u64, books, "7919 is prime to 10 000");
        assert!(ids.iter().all(|&id| (1..=books).contains(&id)));
    }
}

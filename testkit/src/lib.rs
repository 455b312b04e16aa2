//! Test support shared by the workspace's integration tests: a fault-injecting HTTP proxy that
//! sits between a client under test and a real S3 (or KMS) server on loopback.
//!
//! The proxy forwards each request to the upstream server on a fresh connection and answers the
//! client with `Connection: close`, so every request is its own exchange and a fault applies to
//! exactly the requests a [`Rule`] matches: a reset or a cut mid-body, a stall before or after
//! the headers, an error status (with or without `Retry-After`), a flipped byte, a trickle. A
//! rule can also run a hook before the request goes upstream (replace the object, add one to a
//! listing) to stage a change in the middle of a client's run.
//!
//! [`pki`] issues leaf certificates from the test CA with openssl. [`store`] gives both binaries' tests the loopback S3 servers: their URLs, clients, buckets.
//!
//! Nothing here is used by the shipped binaries.

pub mod pki;
pub mod store;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What happens to a matched request.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Forward the head and `after` body bytes, then reset the connection (RST).
    ResetAfter(usize),
    /// Forward the head and `after` body bytes, then close cleanly: a body cut short of its
    /// Content-Length.
    TruncateAfter(usize),
    /// Accept the request, then reset the connection without an answer (a cut upload).
    Reset,
    /// Accept the request and never answer.
    Stall,
    /// Forward the head and `after` body bytes, then go quiet.
    StallAfter(usize),
    /// Answer with an S3 XML error without asking upstream.
    Status {
        status: u16,
        code: &'static str,
        retry_after: Option<u64>,
    },
    /// Answer with an AWS JSON error (KMS's protocol) without asking upstream.
    JsonError { status: u16, kind: &'static str },
    /// Flip one bit of the body byte at this offset.
    FlipByte(usize),
    /// Send the body at this many bytes per second.
    Trickle(usize),
    /// Forward untouched (with a hook, to stage a change).
    Pass,
}

/// Which requests a rule applies to.
#[derive(Clone, Debug, Default)]
pub struct Match {
    pub method: Option<&'static str>,
    /// A substring of the request target (path and query).
    pub target: Option<String>,
    /// Only requests with a `Range` header.
    pub ranged: bool,
    /// A substring of the `X-Amz-Target` header (KMS operations: `TrentService.Sign`).
    pub amz_target: Option<&'static str>,
}

impl Match {
    pub fn get(target: &str) -> Self {
        Match {
            method: Some("GET"),
            target: Some(target.to_string()),
            ..Match::default()
        }
    }

    pub fn ranged_get(target: &str) -> Self {
        Match {
            ranged: true,
            ..Match::get(target)
        }
    }

    pub fn method(method: &'static str, target: &str) -> Self {
        Match {
            method: Some(method),
            target: Some(target.to_string()),
            ..Match::default()
        }
    }

    pub fn any() -> Self {
        Match::default()
    }

    fn matches(&self, req: &Request) -> bool {
        self.method.is_none_or(|m| m == req.method)
            && self.target.as_ref().is_none_or(|t| req.target.contains(t))
            && (!self.ranged || req.header("range").is_some())
            && self
                .amz_target
                .is_none_or(|t| req.header("x-amz-target").is_some_and(|h| h.contains(t)))
    }
}

type Hook = Arc<dyn Fn() + Send + Sync>;

/// A fault for the matching requests: the first `skip` pass untouched, the next `times` get the
/// fault (`usize::MAX`: all of them). With a `period`, one in every `period` after `skip` gets it.
#[derive(Clone)]
pub struct Rule {
    pub when: Match,
    pub skip: usize,
    pub times: usize,
    pub period: Option<usize>,
    pub fault: Fault,
    /// Runs (on a blocking thread) before the request goes upstream.
    pub hook: Option<Hook>,
    /// Appended to the target before it goes upstream (`&max-keys=2` to page a listing).
    pub append_query: Option<&'static str>,
}

impl Rule {
    pub fn new(when: Match, fault: Fault) -> Self {
        Rule {
            when,
            skip: 0,
            times: 1,
            period: None,
            fault,
            hook: None,
            append_query: None,
        }
    }

    pub fn skip(mut self, n: usize) -> Self {
        self.skip = n;
        self
    }

    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// The fault on match `skip`, `skip + n`, `skip + 2n`, ... (a fault every n requests).
    pub fn every(mut self, n: usize) -> Self {
        self.period = Some(n.max(1));
        self
    }

    pub fn always(self) -> Self {
        self.times(usize::MAX)
    }

    pub fn hook(mut self, f: impl Fn() + Send + Sync + 'static) -> Self {
        self.hook = Some(Arc::new(f));
        self
    }

    pub fn append_query(mut self, q: &'static str) -> Self {
        self.append_query = Some(q);
        self
    }
}

/// One request as the proxy saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub range: Option<String>,
    /// Every request header, names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The fault applied, if any (its Debug text).
    pub fault: Option<String>,
}

struct State {
    rules: Vec<(Rule, usize)>,
    seen: Vec<Seen>,
}

/// A fault-injecting proxy on 127.0.0.1, running on its own thread until dropped.
pub struct Proxy {
    url: String,
    state: Arc<Mutex<State>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Starts a proxy in front of `upstream` (`http://127.0.0.1:PORT`).
    pub fn start(upstream: &str, rules: Vec<Rule>) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        let state = Arc::new(Mutex::new(State {
            rules: rules.into_iter().map(|r| (r, 0)).collect(),
            seen: Vec::new(),
        }));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, mut stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
                let _ = ready_tx.send(listener.local_addr().expect("addr"));
                loop {
                    tokio::select! {
                        _ = &mut stop_rx => return,
                        accepted = listener.accept() => {
                            let Ok((client, _)) = accepted else { return };
                            let upstream = upstream.clone();
                            let st = st.clone();
                            tokio::spawn(async move {
                                let _ = serve(client, &upstream, st).await;
                            });
                        }
                    }
                }
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let addr = ready_rx.recv().expect("the proxy did not start");
        Proxy {
            url: format!("http://{addr}"),
            state,
            shutdown: Some(stop_tx),
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Every request so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.state
            .lock()
            .map(|s| s.seen.clone())
            .unwrap_or_default()
    }

    /// How many requests got a fault.
    pub fn faults(&self) -> usize {
        self.seen().iter().filter(|s| s.fault.is_some()).count()
    }

    /// Replaces the rules (counts start afresh).
    pub fn set_rules(&self, rules: Vec<Rule>) {
        if let Ok(mut s) = self.state.lock() {
            s.rules = rules.into_iter().map(|r| (r, 0)).collect();
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads up to the end of an HTTP head; returns the head and any bytes read past it.
async fn read_head(
    s: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<Option<(Vec<u8>, Vec<u8>)>> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 8192];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok(Some((buf, rest)));
        }
        let n = s.read(&mut piece).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&piece[..n]);
        if buf.len() > 1 << 20 {
            return Err(std::io::Error::other("head too large"));
        }
    }
}

fn parse_head(head: &[u8]) -> Option<(String, Vec<(String, String)>)> {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let first = lines.next()?.to_string();
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Some((first, headers))
}

/// Reads a request body framed by Content-Length or chunked encoding (raw bytes, as sent).
async fn read_body(
    s: &mut (impl AsyncRead + Unpin),
    mut have: Vec<u8>,
    req: &Request,
) -> std::io::Result<Vec<u8>> {
    if let Some(len) = req
        .header("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        while have.len() < len {
            let mut piece = vec![0u8; (len - have.len()).min(1 << 20)];
            let n = s.read(&mut piece).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            have.extend_from_slice(&piece[..n]);
        }
        return Ok(have);
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        // Read until the terminating zero-length chunk and its blank line.
        loop {
            if chunked_complete(&have) {
                return Ok(have);
            }
            let mut piece = [0u8; 65536];
            let n = s.read(&mut piece).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            have.extend_from_slice(&piece[..n]);
        }
    }
    Ok(have)
}

fn chunked_complete(b: &[u8]) -> bool {
    let mut at = 0;
    loop {
        let Some(eol) = b[at..].windows(2).position(|w| w == b"\r\n") else {
            return false;
        };
        let size_text = String::from_utf8_lossy(&b[at..at + eol]);
        let Ok(size) = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
        else {
            return false;
        };
        at += eol + 2;
        if size == 0 {
            // Trailers, then a blank line.
            return b[at..].windows(2).any(|w| w == b"\r\n")
                && (b[at..].starts_with(b"\r\n") || b[at..].windows(4).any(|w| w == b"\r\n\r\n"));
        }
        at += size + 2;
        if at > b.len() {
            return false;
        }
    }
}

fn pick(
    state: &Arc<Mutex<State>>,
    req: &Request,
) -> (Option<Fault>, Option<Hook>, Option<&'static str>) {
    let Ok(mut s) = state.lock() else {
        return (None, None, None);
    };
    let mut chosen = (None, None, None);
    for (rule, count) in s.rules.iter_mut() {
        if !rule.when.matches(req) {
            continue;
        }
        let n = *count;
        *count += 1;
        let hit = n >= rule.skip
            && match rule.period {
                Some(p) => (n - rule.skip) % p == 0,
                None => n - rule.skip < rule.times,
            };
        if hit {
            chosen = (
                Some(rule.fault.clone()),
                rule.hook.clone(),
                rule.append_query,
            );
        }
        break;
    }
    s.seen.push(Seen {
        method: req.method.clone(),
        target: req.target.clone(),
        range: req.header("range").map(str::to_string),
        headers: req
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect(),
        fault: chosen
            .0
            .as_ref()
            .filter(|f| !matches!(f, Fault::Pass))
            .map(|f| format!("{f:?}")),
    });
    chosen
}

async fn serve(
    mut client: TcpStream,
    upstream: &str,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    let Some((head, rest)) = read_head(&mut client).await? else {
        return Ok(());
    };
    let Some((first, headers)) = parse_head(&head) else {
        return Ok(());
    };
    let mut parts = first.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let target = parts.next().unwrap_or("").to_string();
    let req = Request {
        method,
        target,
        headers,
    };
    let body = read_body(&mut client, rest, &req).await?;
    let (fault, hook, append) = pick(&state, &req);
    if let Some(hook) = hook {
        let _ = tokio::task::spawn_blocking(move || hook()).await;
    }
    let fault = fault.unwrap_or(Fault::Pass);
    match fault {
        Fault::Reset => {
            #[allow(
                deprecated,
                reason = "a zero linger is how a test makes a reset (RST); no replacement API exists"
            )]
            client.set_linger(Some(Duration::ZERO))?;
            drop(client);
            return Ok(());
        }
        Fault::Stall => {
            // Hold the connection until the client gives up.
            let mut sink = [0u8; 1024];
            while client.read(&mut sink).await.unwrap_or(0) > 0 {}
            return Ok(());
        }
        Fault::Status {
            status,
            code,
            retry_after,
        } => {
            let xml = if req.method == "HEAD" {
                String::new()
            } else {
                format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>")
            };
            let mut resp = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n",
                if req.method == "HEAD" { 0 } else { xml.len() }
            );
            if let Some(s) = retry_after {
                resp.push_str(&format!("Retry-After: {s}\r\n"));
            }
            resp.push_str("\r\n");
            resp.push_str(&xml);
            client.write_all(resp.as_bytes()).await?;
            return client.shutdown().await;
        }
        Fault::JsonError { status, kind } => {
            let json =
                format!("{{\"__type\":\"{kind}\",\"message\":\"injected by the test proxy\"}}");
            let resp = format!(
                "HTTP/1.1 {status} Injected\r\nContent-Type: application/x-amz-json-1.1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
                json.len()
            );
            client.write_all(resp.as_bytes()).await?;
            return client.shutdown().await;
        }
        _ => {}
    }
    // Forward: the same head (Connection: close), then the body.
    let mut up = TcpStream::connect(upstream).await?;
    let mut out = Vec::with_capacity(head.len() + 64);
    let target = match append {
        Some(q) if req.target.contains('?') => format!("{}{q}", req.target),
        Some(q) => format!("{}?{}", req.target, q.trim_start_matches('&')),
        None => req.target.clone(),
    };
    out.extend_from_slice(format!("{} {} HTTP/1.1\r\n", req.method, target).as_bytes());
    for (k, v) in &req.headers {
        if k.eq_ignore_ascii_case("connection") {
            continue;
        }
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    up.write_all(&out).await?;
    up.write_all(&body).await?;
    let Some((resp_head, mut resp_rest)) = read_head(&mut up).await? else {
        return Ok(());
    };
    // Pass the response head on, with Connection: close.
    let text = String::from_utf8_lossy(&resp_head).into_owned();
    let mut new_head = String::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if line.is_empty() {
            continue;
        }
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        new_head.push_str(line);
        new_head.push_str("\r\n");
    }
    new_head.push_str("Connection: close\r\n\r\n");
    client.write_all(new_head.as_bytes()).await?;
    let mut sent = 0usize;
    let mut piece = vec![0u8; 64 << 10];
    loop {
        let mut data = if resp_rest.is_empty() {
            let n = up.read(&mut piece).await?;
            if n == 0 {
                break;
            }
            piece[..n].to_vec()
        } else {
            std::mem::take(&mut resp_rest)
        };
        match &fault {
            Fault::ResetAfter(at) | Fault::TruncateAfter(at) | Fault::StallAfter(at)
                if sent + data.len() > *at =>
            {
                client.write_all(&data[..at - sent]).await?;
                client.flush().await?;
                match fault {
                    Fault::ResetAfter(_) => {
                        // A zero linger makes the close a reset (RST); with zero it never blocks.
                        #[allow(
                            deprecated,
                            reason = "a zero linger is how a test makes a reset (RST); no replacement API exists"
                        )]
                        client.set_linger(Some(Duration::ZERO))?;
                        drop(client);
                    }
                    Fault::TruncateAfter(_) => {
                        client.shutdown().await?;
                    }
                    _ => {
                        let mut sink = [0u8; 1024];
                        while client.read(&mut sink).await.unwrap_or(0) > 0 {}
                    }
                }
                return Ok(());
            }
            Fault::FlipByte(at) if (sent..sent + data.len()).contains(at) => {
                data[at - sent] ^= 0x01;
            }
            Fault::Trickle(rate) => {
                for piece in data.chunks((*rate / 10).max(1)) {
                    client.write_all(piece).await?;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                sent += data.len();
                continue;
            }
            _ => {}
        }
        client.write_all(&data).await?;
        sent += data.len();
    }
    client.shutdown().await
}

/// A run of a binary under test, with how long it took.
pub struct Watched {
    pub out: std::process::Output,
    pub took: Duration,
}

impl Watched {
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    pub fn code(&self) -> Option<i32> {
        self.out.status.code()
    }
}

/// What a destination directory shows outside its staging directory: relative names (a
/// directory ends in `/`, at size 0) and sizes, without following links.
pub fn visible(dest: &std::path::Path) -> std::collections::BTreeMap<String, u64> {
    fn walk(
        root: &std::path::Path,
        d: &std::path::Path,
        out: &mut std::collections::BTreeMap<String, u64>,
    ) {
        let Ok(entries) = std::fs::read_dir(d) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let Ok(rel) = p.strip_prefix(root) else {
                continue;
            };
            let rel = rel.to_string_lossy().into_owned();
            if rel.starts_with(".modelseal-staging") {
                continue;
            }
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {
                    out.insert(format!("{rel}/"), 0);
                    walk(root, &p, out);
                }
                Ok(m) => {
                    out.insert(rel, m.len());
                }
                Err(_) => {}
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dest, dest, &mut out);
    out
}

/// Runs `c` with `args` to the end, sampling `dest` every few milliseconds: anything visible
/// outside staging must be in `allowed` at its size (a directory at 0). Placed files are whole
/// and verified, so a file of another name or size means unverified bytes were shown. A run
/// longer than `limit` is killed and fails the test.
pub fn run_watching(
    mut c: std::process::Command,
    args: &[&str],
    dest: &std::path::Path,
    allowed: &std::collections::BTreeMap<String, u64>,
    limit: Duration,
) -> Watched {
    let started = std::time::Instant::now();
    let mut child = c
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the binary under test");
    loop {
        for (name, size) in visible(dest) {
            let ok = allowed
                .get(&name)
                .is_some_and(|s| name.ends_with('/') || *s == size);
            if !ok {
                let _ = child.kill();
                panic!("DEST showed '{name}' ({size} bytes) before verification");
            }
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the run did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(3));
    }
    let out = child.wait_with_output().expect("collect the output");
    Watched {
        out,
        took: started.elapsed(),
    }
}

/// Bytes that differ everywhere, reproducibly.
pub fn noise(len: usize, seed: u32) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed) >> 13) as u8)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunked_bodies_end_where_they_end() {
        assert!(super::chunked_complete(b"3\r\nabc\r\n0\r\n\r\n"));
        assert!(super::chunked_complete(
            b"0\r\nx-amz-checksum-crc32:AAAA\r\n\r\n"
        ));
        assert!(!super::chunked_complete(b"3\r\nabc\r\n"));
        assert!(!super::chunked_complete(b"3\r\nab"));
    }
}

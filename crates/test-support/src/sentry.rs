//! A stand-in for Sentry's ingestion endpoint (there is no internet here): a plain HTTP
//! server on 127.0.0.1 that answers every request with `200 {}` and keeps what it received,
//! so a test can read the events a program reported.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

/// One request the stand-in received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /api/42/envelope/`, as it came.
    pub request_line: String,
    /// Header lines, as they came.
    pub headers: Vec<String>,
    pub body: String,
}

/// The stand-in server; it runs until the test process ends.
#[derive(Debug)]
pub struct SentryStandIn {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl SentryStandIn {
    pub fn start() -> SentryStandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
        let port = listener.local_addr().expect("an address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let keep = Arc::clone(&keep);
                thread::spawn(move || serve(stream, &keep));
            }
        });
        SentryStandIn { port, received }
    }

    /// A DSN for project 42 on the stand-in.
    pub fn dsn(&self) -> String {
        format!("http://publickey@127.0.0.1:{}/42", self.port)
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The events (envelope items of type `event`) received so far.
    pub fn events(&self) -> Vec<Value> {
        self.received()
            .iter()
            .flat_map(|r| envelope_events(&r.body))
            .collect()
    }

    /// Waits (bounded) until an event satisfies `matches`; reports are sent by a thread of
    /// the client, a moment after the fact.
    pub fn wait_for_event(&self, what: &str, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(event) = self.events().into_iter().find(|e| matches(e)) {
                return event;
            }
            assert!(
                Instant::now() < deadline,
                "no event {what} reached the stand-in within 20 s; it received: {:#?}",
                self.received()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The event payloads of an envelope: a header line, then for each item a header line
/// (`{"type":"event","length":N}`) and its payload.
pub fn envelope_events(body: &str) -> Vec<Value> {
    let mut lines = body.split('\n');
    let _envelope_header = lines.next();
    let mut events = Vec::new();
    while let Some(header) = lines.next() {
        let Ok(header) = serde_json::from_str::<Value>(header) else {
            continue;
        };
        let Some(payload) = lines.next() else { break };
        if header["type"] == "event" {
            if let Ok(event) = serde_json::from_str(payload) {
                events.push(event);
            }
        }
    }
    events
}

fn serve(stream: TcpStream, keep: &Mutex<Vec<Received>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut writer = match stream.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        let mut length = 0usize;
        let mut chunked = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
            headers.push(line);
        }
        let body = if chunked {
            read_chunked(&mut reader)
        } else {
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            body
        };
        keep.lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Received {
                request_line: request_line.trim_end().to_owned(),
                headers,
                body: String::from_utf8_lossy(&body).into_owned(),
            });
        let answer =
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).unwrap_or(0) == 0 {
            return body;
        }
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        let mut chunk = vec![0; size + 2];
        if reader.read_exact(&mut chunk).is_err() {
            return body;
        }
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

//! A minimal W3C WebDriver client for Debian's `chromedriver`, over plain HTTP/1.1 with
//! serde_json: new session (headless Chromium with its console log kept), navigate, find
//! elements, read their text, type and click, run scripts (also asynchronous ones, which is how
//! a test waits on something happening in the page), screenshot, print to PDF, and the
//! browser's console log. Enough for the console's tests, with no WebDriver crate to vet.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One HTTP/1.1 request on loopback (`Connection: close`): (status, body).
pub fn http(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(120)))
        .expect("timeout");
    let body = body.unwrap_or("");
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write request");
    let raw = read_response(&mut s);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    (
        status,
        if chunked {
            super::procs::dechunk(rest)
        } else {
            rest.to_owned()
        },
    )
}

/// One response's bytes: up to its `Content-Length` when it has one (chromedriver keeps the
/// connection open whatever the request asked), to the end of a chunked body, else to EOF.
fn read_response(s: &mut TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let chunked = head.contains("transfer-encoding: chunked");
            let body = end + 4;
            match length {
                Some(n) if raw.len() >= body + n => {
                    raw.truncate(body + n);
                    return raw;
                }
                None if chunked && raw.ends_with(b"0\r\n\r\n") => return raw,
                _ => {}
            }
        }
        match s.read(&mut buf) {
            Ok(0) => return raw,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read response: {e}"),
        }
    }
}

/// `chromedriver`, started once, on a free loopback port; killed when dropped.
pub struct Driver {
    child: Child,
    pub addr: String,
}

/// Where a Debian command lives, if installed.
fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| PathBuf::from(d).join(name))
        .find(|p| p.is_file())
}

impl Driver {
    pub fn start() -> Driver {
        let missing = |what: &str| -> ! {
            panic!(
                "{what} is not installed: run `apt-get install chromium chromium-driver` (scripts/setup.sh does)"
            )
        };
        let driver = which("chromedriver").unwrap_or_else(|| missing("chromedriver"));
        if which("chromium").is_none() {
            missing("chromium");
        }
        let port = super::procs::free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start chromedriver: {e}"));
        let addr = format!("127.0.0.1:{port}");
        let ready = super::procs::eventually(Duration::from_secs(20), || {
            TcpStream::connect(&addr).is_ok()
                && serde_json::from_str::<Value>(&http(&addr, "GET", "/status", &[], None).1)
                    .is_ok_and(|v| v["value"]["ready"] == true)
        });
        assert!(ready, "chromedriver did not answer /status within 20 s");
        Driver { child, addr }
    }

    /// A headless Chromium session that keeps the page's console log.
    pub fn session(&self) -> Session {
        let mut args = vec![
            "--headless=new",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            // A closed network: nothing may try to phone home.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1280,1000",
        ];
        // Chromium refuses to run as root with its sandbox (it cannot drop privileges the way
        // the sandbox needs); only then is it turned off.
        if nix_is_root() {
            args.push("--no-sandbox");
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": which("chromium").map(|p| p.display().to_string()), "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
            "timeouts": {"implicit": 0, "script": 15000, "pageLoad": 30000}
        }}});
        let v = call(&self.addr, "POST", "/session", Some(&caps));
        let id = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id: {v}"))
            .to_owned();
        Session {
            addr: self.addr.clone(),
            id,
        }
    }
}

fn nix_is_root() -> bool {
    // Read from /proc: no extra crate for one number.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("Uid:")
                    .map(|r| r.split_whitespace().next() == Some("0"))
            })
        })
        .unwrap_or(false)
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver outlives a kill of the process it was started as (it is found with
        // parent 1 afterwards): its own shutdown command ends it.
        if let Ok(mut s) = TcpStream::connect(&self.addr) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(
                s,
                "GET /shutdown HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                self.addr
            );
            let _ = read_response(&mut s);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebDriver command; its `value`, or a panic with WebDriver's error.
fn call(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let text = body.map(Value::to_string);
    let (status, out) = http(
        addr,
        method,
        path,
        &[("Content-Type", "application/json")],
        text.as_deref(),
    );
    let v: Value = serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{method} {path}: {status}: {e}: {out}"));
    assert!(status == 200, "{method} {path}: {status}: {}", v["value"]);
    v["value"].clone()
}

pub struct Session {
    addr: String,
    pub id: String,
}

impl Session {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        call(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.id),
            body.as_ref(),
        )
    }

    pub fn navigate(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({"url": url})));
    }

    /// Waits (up to `within`) for an element matching `css` in the page, as WebDriver's
    /// implicit wait does (the driver polls the document, across a navigation).
    pub fn wait_for(&self, css: &str, within: Duration) -> String {
        self.cmd(
            "POST",
            "/timeouts",
            Some(json!({"implicit": within.as_millis() as u64})),
        );
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        self.cmd("POST", "/timeouts", Some(json!({"implicit": 0})));
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element id: {v}"))
            .to_owned()
    }

    /// The element matching `css` now.
    pub fn find(&self, css: &str) -> String {
        self.wait_for(css, Duration::ZERO)
    }

    pub fn text(&self, element: &str) -> String {
        self.cmd("GET", &format!("/element/{element}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Types `text` into the element, as keys.
    pub fn type_into(&self, element: &str, text: &str) {
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        );
    }

    pub fn click(&self, element: &str) {
        self.cmd(
            "POST",
            &format!("/element/{element}/click"),
            Some(json!({})),
        );
    }

    /// Runs `script` (a function body; `arguments` are `args`) and returns its value.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
    }

    /// Runs `script`, which calls its last argument with the result when something happens
    /// in the page: how a test waits on an event there without polling.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.cmd(
            "POST",
            "/execute/async",
            Some(json!({"script": script, "args": args})),
        )
    }

    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = self.cmd("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("screenshot is base64")
    }

    /// The page printed to PDF (A4 is the page's own `@page` rule).
    pub fn print_pdf(&self) -> Vec<u8> {
        let b64 = self.cmd("POST", "/print", Some(json!({"background": true})));
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .expect("print is base64")
    }

    /// The browser console entries since the last call (chromedriver's log endpoint).
    pub fn browser_log(&self) -> Vec<Value> {
        let path = format!("/session/{}/se/log", self.id);
        let body = json!({"type": "browser"}).to_string();
        let (status, out) = http(
            &self.addr,
            "POST",
            &path,
            &[("Content-Type", "application/json")],
            Some(&body),
        );
        let (status, out) = if status == 200 {
            (status, out)
        } else {
            let path = format!("/session/{}/log", self.id);
            http(
                &self.addr,
                "POST",
                &path,
                &[("Content-Type", "application/json")],
                Some(&body),
            )
        };
        assert_eq!(status, 200, "browser log: {out}");
        let v: Value = serde_json::from_str(&out).expect("log is JSON");
        v["value"].as_array().cloned().unwrap_or_default()
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = http(
            &self.addr,
            "DELETE",
            &format!("/session/{}", self.id),
            &[],
            None,
        );
    }
}

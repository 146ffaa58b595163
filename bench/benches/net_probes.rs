//! One collection round of the ping, sockets, hwmon and mdstat probes against real sources:
//! loopback ICMP, the kernel's socket table with many open connections, the hwmon fixture tree,
//! an mdstat capture. `cargo bench -p patrol-bench --bench net_probes` (as root, for ICMP);
//! figures in docs/benchmarks.md. Traffic stays on loopback.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol_probes::{BuildContext, CollectContext, Probe, ProbeConfig};

fn probe(toml_text: &str) -> Box<dyn Probe> {
    let config: ProbeConfig = toml::from_str(toml_text).expect("bench config");
    config
        .build(&BuildContext::new(std::env::temp_dir()))
        .expect("probe builds")
}

fn round(rt: &tokio::runtime::Runtime, p: &mut Box<dyn Probe>) -> usize {
    let mut out = Vec::new();
    rt.block_on(p.collect(CollectContext { now_ms: 0 }, &mut out))
        .expect("round");
    out.len()
}

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../probes")
}

fn files(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut hwmon = probe(&format!(
        "type = \"hwmon\"\nroot = \"{}\"",
        fixtures().join("tests/fixtures/hwmon/machine").display()
    ));
    c.bench_function("hwmon round (5 chips, 8 temperature inputs, 5 fans)", |b| {
        b.iter(|| round(&rt, &mut hwmon))
    });
    let mut mdstat = probe(&format!(
        "type = \"mdstat\"\npath = \"{}\"",
        fixtures().join("src/mdstat/testdata/mixed.txt").display()
    ));
    c.bench_function("mdstat round (7 arrays)", |b| {
        b.iter(|| round(&rt, &mut mdstat))
    });
}

fn sockets(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // 1000 established loopback connections (2000 sockets) plus 10 listeners.
    let listeners: Vec<_> = (0..10)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let mut conns = Vec::new();
    for i in 0..1000 {
        let l = &listeners[i % listeners.len()];
        let port = l.local_addr().expect("addr").port();
        let client = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let (server, _) = l.accept().expect("accept");
        conns.push((client, server));
    }
    let ports: Vec<String> = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port().to_string())
        .collect();
    let mut p = probe(&format!(
        "type = \"sockets\"\nlisten_ports = [{}]",
        ports.join(", ")
    ));
    c.bench_function("sockets round (2010 TCP sockets)", |b| {
        b.iter(|| round(&rt, &mut p))
    });
    drop(conns);
}

fn ping(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    // 100 loopback addresses, one request each: the cost of a round apart from waiting.
    let targets: Vec<String> = (1..=100).map(|i| format!("\"127.0.0.{i}\"")).collect();
    let mut p = rt.block_on(async {
        probe(&format!(
            "type = \"ping\"\ncount = 1\ntimeout = \"1s\"\ntargets = [{}]",
            targets.join(", ")
        ))
    });
    let mut g = c.benchmark_group("ping");
    g.sample_size(30).measurement_time(Duration::from_secs(5));
    g.bench_function("ping round (100 loopback targets, 1 request each)", |b| {
        b.iter(|| round(&rt, &mut p))
    });
    g.finish();
}

criterion_group!(benches, files, sockets, ping);
criterion_main!(benches);

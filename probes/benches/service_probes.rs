//! One collection round of the process, files, textfile, exec, tcp and http probes against
//! real sources on this machine: the live /proc, a directory of 1000 dump files, 10 text
//! files of 1000 samples, a real Nagios plugin, loopback TCP and HTTP servers.
//! `cargo bench -p patrol-probes --bench service_probes`; figures in docs/benchmarks.md.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use criterion::{Criterion, criterion_group, criterion_main};
use patrol_probes::{BuildContext, CollectContext, Probe, ProbeConfig};

fn probe(toml_text: &str) -> Box<dyn Probe> {
    let config: ProbeConfig = toml::from_str(toml_text).unwrap();
    config
        .build(&BuildContext::new(std::env::temp_dir()))
        .unwrap()
}

fn round(rt: &tokio::runtime::Runtime, p: &mut Box<dyn Probe>) -> usize {
    let mut out = Vec::new();
    rt.block_on(p.collect(
        CollectContext {
            now_ms: 1_800_000_000_000,
        },
        &mut out,
    ))
    .unwrap();
    out.len()
}

fn local(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let processes = std::fs::read_dir("/proc")
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        })
        .count();
    let mut process = probe(
        "type = \"process\"\n[[process]]\nname = \"a\"\ncomm = \"sshd\"\n\
         [[process]]\nname = \"b\"\ncmdline = 'weblogic\\.Name=AdminServer'\n\
         [[process]]\nname = \"c\"\ncomm = \"cargo\"\n",
    );
    c.bench_function(
        &format!("process round (3 entries, one cmdline regex; {processes} processes)"),
        |b| b.iter(|| round(&rt, &mut process)),
    );

    let dir = tempfile::tempdir().unwrap();
    let dumps = dir.path().join("dumps");
    std::fs::create_dir(&dumps).unwrap();
    for i in 0..1000 {
        std::fs::write(dumps.join(format!("expdp_{i:04}.dmp")), vec![0u8; 512]).unwrap();
    }
    let mut files = probe(&format!(
        "type = \"files\"\n[[check]]\nname = \"dumps\"\npaths = [\"{}/expdp_*.dmp\"]\nmax_age = \"26h\"\n",
        dumps.display()
    ));
    c.bench_function("files round (1000 matching files)", |b| {
        b.iter(|| round(&rt, &mut files))
    });

    let text = dir.path().join("textfile");
    std::fs::create_dir(&text).unwrap();
    for f in 0..10 {
        let mut body = String::from("# HELP job_metric A metric.\n# TYPE job_metric gauge\n");
        for i in 0..1000 {
            body.push_str(&format!(
                "job_metric{{file=\"{f}\",series=\"{i}\",job=\"nightly\"}} {i}.5\n"
            ));
        }
        std::fs::write(text.join(format!("job{f}.prom")), body).unwrap();
    }
    let mut textfile = probe(&format!(
        "type = \"textfile\"\ndirectory = \"{}\"\n",
        text.display()
    ));
    c.bench_function("textfile round (10 files x 1000 samples)", |b| {
        b.iter(|| round(&rt, &mut textfile))
    });

    let plugin = "/usr/lib/nagios/plugins/check_dummy";
    assert!(
        std::path::Path::new(plugin).exists(),
        "apt-get install monitoring-plugins-basic"
    );
    let mut exec = probe(&format!(
        "type = \"exec\"\nname = \"dummy\"\ncommand = [\"{plugin}\", \"0\", \"fine | a=1 b=2ms c=3%\"]\n"
    ));
    c.bench_function("exec round (check_dummy: spawn, wait, parse)", |b| {
        b.iter(|| round(&rt, &mut exec))
    });
}

fn network(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
                    line.clear();
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nUP",
                );
            });
        }
    });
    let mut tcp = probe(&format!("type = \"tcp\"\ntarget = \"127.0.0.1:{port}\"\n"));
    c.bench_function("tcp round (loopback connect)", |b| {
        b.iter(|| round(&rt, &mut tcp))
    });
    let mut http = probe(&format!(
        "type = \"http\"\nurl = \"http://127.0.0.1:{port}/\"\nbody_regex = 'UP'\n"
    ));
    c.bench_function("http round (loopback, new client and connection)", |b| {
        b.iter(|| round(&rt, &mut http))
    });
}

criterion_group!(benches, local, network);
criterion_main!(benches);

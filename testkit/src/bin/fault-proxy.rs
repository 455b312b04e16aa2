//! The fault-injecting proxy as a process, for benchmarks: `bench/faults.sh` measures what the
//! retries cost by putting it between modelseal-init and s3rver.
//!
//!   fault-proxy UPSTREAM none|reset|503 NAME EVERY SKIP STATS_FILE
//!
//! Faults the ranged GETs whose target contains NAME: match SKIP, SKIP + EVERY, ... `reset`
//! resets the connection after 1 MiB of the range's body; `503` answers SlowDown (no
//! Retry-After). Prints its URL on stdout, then runs until killed, writing the number of
//! requests seen and faults applied to STATS_FILE every 200 ms.

use modelseal_testkit::{Fault, Match, Proxy, Rule};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 7 {
        eprintln!("usage: fault-proxy UPSTREAM none|reset|503 NAME EVERY SKIP STATS_FILE");
        std::process::exit(2);
    }
    let number = |i: usize| -> usize {
        args[i].parse().unwrap_or_else(|_| {
            eprintln!("fault-proxy: '{}' is not a number", args[i]);
            std::process::exit(2)
        })
    };
    let (every, skip) = (number(4), number(5));
    let fault = match args[2].as_str() {
        "none" => None,
        "reset" => Some(Fault::ResetAfter(1 << 20)),
        "503" => Some(Fault::Status {
            status: 503,
            code: "SlowDown",
            retry_after: None,
        }),
        other => {
            eprintln!("fault-proxy: unknown fault '{other}' (none, reset, 503)");
            std::process::exit(2)
        }
    };
    let rules = fault
        .map(|f| {
            vec![Rule::new(Match::ranged_get(&args[3]), f)
                .skip(skip)
                .every(every)]
        })
        .unwrap_or_default();
    let proxy = Proxy::start(&args[1], rules);
    println!("{}", proxy.url());
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let stats = format!("{} {}\n", proxy.seen().len(), proxy.faults());
        let _ = std::fs::write(&args[6], stats);
    }
}

//! Cost of measuring a region: one `start` + `stop` pair on this machine's real sources,
//! against a baseline of two `Instant::now()` calls. The requirement is an overhead below 1 %
//! of a one-second region, i.e. a pair under 10 ms.
#![allow(missing_docs)] // criterion_group! generates an undocumented public function.

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use shift_energy::{EnergyMeter, MeterConfig};

fn overhead(c: &mut Criterion) {
    let meter = EnergyMeter::new(MeterConfig {
        poll_interval: None,
        ..MeterConfig::default()
    })
    .expect("meter on this machine");
    let mut g = c.benchmark_group("region");
    g.bench_function("instant_now_pair_baseline", |b| {
        b.iter(|| {
            let t = Instant::now();
            black_box(t.elapsed())
        })
    });
    g.bench_function("start_stop_pair", |b| {
        b.iter(|| {
            let h = meter.start("bench");
            black_box(meter.stop(h).expect("stop"))
        })
    });
    g.finish();
}

criterion_group!(benches, overhead);
criterion_main!(benches);

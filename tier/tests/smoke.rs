mod common;

use common::{bytes, config, sim_tier};

#[test]
fn append_then_read() {
    let (sim, mut tier) = sim_tier(6, config(4, 2, 256), 1);
    let data = bytes(2500, 7);
    let report = tier.append("scope/stream/0", 0, &data).expect("append");
    assert_eq!(report.end, 2500);
    assert_eq!(report.stripes, vec![0, 1, 2]);
    let out = tier.read("scope/stream/0", 0, 2500).expect("read");
    assert_eq!(out.data, data);
    assert!(out.damage.is_empty());
    for dir in 0..6 {
        println!("{dir}: {:?}", sim.files(dir));
    }
}

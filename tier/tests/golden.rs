//! Golden vectors: fixed inputs and the exact bytes they must produce. If one
//! of these fails, the on-disk format changed (or the codec crate did): data
//! written before would no longer read. Change the format on purpose, with a
//! new version number, never by accident.

mod common;

use common::{config, image, sim_tier};
use spate_tier::codec::StripeCodec;
use spate_tier::format::geometry::{Codec, Geometry};
use spate_tier::format::manifest::{Manifest, StripeEntry};
use spate_tier::format::shard::{CellId, ShardHeader, cell_crc};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn geometry() -> Geometry {
    Geometry {
        codec: Codec::ReedSolomonLeopard16,
        k: 4,
        m: 2,
        cell_size: 1 << 20,
    }
}

/// Cell bytes that are easy to regenerate anywhere.
fn cell(i: usize, len: usize) -> Vec<u8> {
    (0..len).map(|j| (j * 7 + i * 31 + 1) as u8).collect()
}

#[test]
fn parity_of_reed_solomon_leopard16() {
    // The codec is part of the format: pin its output for 4+2 and 6+3.
    let mut codec = StripeCodec::new();
    for (k, m, expected) in [
        (
            4u8,
            2u8,
            [
                "28f4dc14d8d787658b7e4b834f1b9d8d81b59d14d88cdcb28b6e874f4f1b4b5b",
                "68f8dc10d85307f90b824b874f1f1d0101391d10d888dcce0bf207cb4f1f4b57",
            ]
            .as_slice(),
        ),
        (
            6,
            3,
            [
                "3293c9f8f392436709b9ba7980c26979a2d389898297c05a785e9251f1b35111",
                "241153aa69e8a1eceb92ded5e416c35e3d5416db185f5a709a65707b956735cd",
                "52ea250b092d60d834e277bb5b5eb55a30de11eae86bb01bd54f25e9babf10ef",
            ]
            .as_slice(),
        ),
    ] {
        let g = Geometry { k, m, ..geometry() };
        let cells: Vec<Vec<u8>> = (0..usize::from(k)).map(|i| cell(i, 128)).collect();
        let refs: Vec<&[u8]> = cells.iter().map(Vec::as_slice).collect();
        let mut parity = Vec::new();
        codec.encode(g, 128, &refs, &mut parity);
        let got: Vec<String> = parity.iter().map(|p| hex(&p[..32])).collect();
        assert_eq!(got, expected, "{k}+{m} parity");
    }
}

#[test]
fn cell_checksum() {
    let id = CellId {
        segment: "scope/stream/0",
        offset: 0x0102_0304_0506_0708,
        stripe: 42,
        shard: 5,
    };
    assert_eq!(format!("{:08x}", cell_crc(id, &cell(0, 256))), "38883689");
    // The identity counts: the same bytes elsewhere do not pass.
    assert_ne!(
        cell_crc(id, &cell(0, 256)),
        cell_crc(CellId { shard: 4, ..id }, &cell(0, 256))
    );
}

#[test]
fn shard_header_bytes() {
    let header = ShardHeader {
        geometry: geometry(),
        shard: 5,
        cell_len: 1 << 20,
        data_len: 4 << 20,
        stripe: 42,
        offset: 0x0102_0304_0506_0708,
        cell_crc: 0xdead_beef,
        segment: "scope/stream/0".to_owned(),
    };
    let bytes = header.encode();
    assert_eq!(bytes.len(), 4096);
    assert_eq!(
        hex(&bytes[..78]),
        concat!(
            "53505453010001040205", // magic, version, codec, k, m, shard
            "0e000000100000001000000040002a000000000000000807060504030201efbeadde",
            "000000000000000000000000000000007e44b519", // reserved, header crc
            "73636f70652f73747265616d2f30"              // the name
        )
    );
    assert!(bytes[78..].iter().all(|&b| b == 0));
    assert_eq!(ShardHeader::decode(&bytes), Ok(header));
}

#[test]
fn manifest_bytes() {
    let manifest = Manifest {
        segment: "s/1".to_owned(),
        generation: 7,
        deleted: false,
        next_stripe: 3,
        start: 1000,
        end: 1000 + 300 + 4096,
        stripes: vec![
            StripeEntry {
                stripe: 1,
                offset: 1000,
                data_len: 300,
                geometry: Geometry {
                    cell_size: 1024,
                    ..geometry()
                },
                dirs: vec![2, 3, 4, 5, 0, 1],
                crcs: vec![1, 2, 3, 4, 5, 6],
            },
            StripeEntry {
                stripe: 2,
                offset: 1300,
                data_len: 4096,
                geometry: Geometry {
                    cell_size: 1024,
                    ..geometry()
                },
                dirs: vec![3, 4, 5, 0, 1, 2],
                crcs: vec![0xa; 6],
            },
        ],
    };
    let bytes = manifest.encode();
    assert_eq!(
        hex(&bytes),
        concat!(
            "5350544d01000000b30000000300000007000000000000000300000000000000",
            "e80300000000000014150000000000000200000000000000732f310100000000",
            "000000e8030000000000002c0100000004000001040200020304050001010000",
            "0002000000030000000400000005000000060000000200000000000000140500",
            "00000000000010000000040000010402000304050001020a0000000a0000000a",
            "0000000a0000000a0000000a0000001c445b5b",
        )
    );
    assert_eq!(Manifest::decode(&bytes), Ok(manifest));
}

#[test]
fn a_tier_directory_image() {
    // Names, placement and every byte of every file, end to end: the CRC32C
    // of each file of a small tier after one append.
    let (sim, mut tier) = sim_tier(6, config(4, 2, 256), 0);
    let data: Vec<u8> = (0..2500u32).map(|i| (i * 13 + 5) as u8).collect();
    tier.append("scope/stream/0", 0, &data).expect("append");
    let mut listing = String::new();
    for (dir, files) in image(&sim, 6).iter().enumerate() {
        for (name, bytes) in files {
            listing.push_str(&format!("{dir} {name} {:08x}\n", crc32c::crc32c(bytes)));
        }
    }
    assert_eq!(
        listing,
        "\
0 scope_stream_0~a7fba16e0543b243.0000000000000000.5.shard 42d2b545\n\
0 scope_stream_0~a7fba16e0543b243.0000000000000001.4.shard 670a0df6\n\
0 scope_stream_0~a7fba16e0543b243.0000000000000002.3.shard a1fd2df6\n\
0 scope_stream_0~a7fba16e0543b243.manifest 48674bc7\n\
1 scope_stream_0~a7fba16e0543b243.0000000000000000.0.shard 27a28987\n\
1 scope_stream_0~a7fba16e0543b243.0000000000000001.5.shard 23f18bbd\n\
1 scope_stream_0~a7fba16e0543b243.0000000000000002.4.shard a82485d0\n\
1 scope_stream_0~a7fba16e0543b243.manifest 48674bc7\n\
2 scope_stream_0~a7fba16e0543b243.0000000000000000.1.shard 63590fcc\n\
2 scope_stream_0~a7fba16e0543b243.0000000000000001.0.shard 4681b77f\n\
2 scope_stream_0~a7fba16e0543b243.0000000000000002.5.shard 3d8bbe85\n\
2 scope_stream_0~a7fba16e0543b243.manifest 48674bc7\n\
3 scope_stream_0~a7fba16e0543b243.0000000000000000.2.shard ae558511\n\
3 scope_stream_0~a7fba16e0543b243.0000000000000001.1.shard 027a3134\n\
3 scope_stream_0~a7fba16e0543b243.0000000000000002.0.shard 577b7cea\n\
3 scope_stream_0~a7fba16e0543b243.manifest 48674bc7\n\
4 scope_stream_0~a7fba16e0543b243.0000000000000000.3.shard eaae035a\n\
4 scope_stream_0~a7fba16e0543b243.0000000000000001.2.shard cf76bbe9\n\
4 scope_stream_0~a7fba16e0543b243.0000000000000002.1.shard 961aeeac\n\
4 scope_stream_0~a7fba16e0543b243.manifest 48674bc7\n\
5 scope_stream_0~a7fba16e0543b243.0000000000000000.4.shard 0629330e\n\
5 scope_stream_0~a7fba16e0543b243.0000000000000001.3.shard 8b8d3da2\n\
5 scope_stream_0~a7fba16e0543b243.0000000000000002.2.shard 6850014f\n\
5 scope_stream_0~a7fba16e0543b243.manifest 48674bc7\n\
"
    );
}

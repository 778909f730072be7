//! Valid values of the scope and stream messages, for the fuzz seeds and
//! round-trip tests (see `samples.rs`).

use crate::msg::*;
use crate::stream::{KeyRange, RetentionPolicy, ScalingPolicy, StreamConfig};

const SCOPE: &str = "shop";
const STREAM: &str = "orders-2026.v1";

fn names() -> (String, String) {
    (SCOPE.to_string(), STREAM.to_string())
}

fn configs() -> [StreamConfig; 3] {
    [
        StreamConfig::fixed(16),
        StreamConfig {
            scaling: ScalingPolicy::ByEventRate {
                target_events_per_s: 1000,
                scale_factor: 2,
                min_segments: 1,
            },
            retention: RetentionPolicy::ByTime {
                min_ms: 60_000,
                max_ms: None,
            },
        },
        StreamConfig {
            scaling: ScalingPolicy::ByByteRate {
                target_kib_per_s: 1024,
                scale_factor: 16,
                min_segments: 4,
            },
            retention: RetentionPolicy::BySize {
                min_bytes: 1 << 30,
                max_bytes: Some(u64::MAX),
            },
        },
    ]
}

/// Valid stream requests, covering each type at least once.
pub fn stream_requests() -> Vec<Request> {
    let (scope, stream) = names();
    let mut requests: Vec<Request> = vec![
        CreateScope {
            scope: scope.clone(),
        }
        .into(),
        DeleteScope {
            scope: scope.clone(),
        }
        .into(),
        ListScopes {}.into(),
        ListStreams {
            scope: scope.clone(),
        }
        .into(),
    ];
    for config in configs() {
        requests.push(
            CreateStream {
                scope: scope.clone(),
                stream: stream.clone(),
                config,
            }
            .into(),
        );
        requests.push(
            UpdateStream {
                scope: scope.clone(),
                stream: stream.clone(),
                config,
            }
            .into(),
        );
    }
    requests.extend([
        DescribeStream {
            scope: scope.clone(),
            stream: stream.clone(),
        }
        .into(),
        ScaleStream {
            scope: scope.clone(),
            stream: stream.clone(),
            seal: vec![0, 1],
            ranges: vec![KeyRange::ALL],
        }
        .into(),
        TruncateStream {
            scope: scope.clone(),
            stream: stream.clone(),
            positions: vec![CutPosition {
                segment: 7,
                offset: u64::MAX,
            }],
        }
        .into(),
        SealStream {
            scope: scope.clone(),
            stream: stream.clone(),
        }
        .into(),
        DeleteStream {
            scope: scope.clone(),
            stream: stream.clone(),
        }
        .into(),
        GetSegmentLoad {
            segment: "shop/orders/3".into(),
        }
        .into(),
        BeginTxn {
            scope: scope.clone(),
            stream: stream.clone(),
            lease_ms: MIN_TXN_LEASE_MS,
        }
        .into(),
        PingTxn {
            scope: scope.clone(),
            stream: stream.clone(),
            id: 7,
            lease_ms: MAX_TXN_LEASE_MS,
        }
        .into(),
        CommitTxn {
            scope: scope.clone(),
            stream: stream.clone(),
            id: 0,
        }
        .into(),
        AbortTxn {
            scope: scope.clone(),
            stream: stream.clone(),
            id: u64::MAX,
        }
        .into(),
        GetTxnState {
            scope,
            stream,
            id: 1,
        }
        .into(),
    ]);
    requests
}

/// Valid stream replies, covering each type at least once.
pub fn stream_replies() -> Vec<Reply> {
    let (scope, stream) = names();
    vec![
        ScopeCreated {}.into(),
        ScopeDeleted {}.into(),
        ScopeList {
            scopes: vec![scope.clone(), "b".into()],
        }
        .into(),
        StreamList { streams: vec![] }.into(),
        StreamCreated {}.into(),
        StreamDescription {
            config: configs()[2],
            phase: StreamPhase::Scaling,
            epoch: 1,
            created_unix_ms: 1_790_000_000_000,
            segments: vec![StreamSegment {
                number: 2,
                range: KeyRange {
                    start: 0,
                    end: u64::MAX,
                },
                created_epoch: 1,
                sealed_epoch: None,
                predecessors: vec![0, 1],
                length: 4096,
                start_offset: 12,
            }],
            epochs: vec![
                EpochSegments {
                    at_ms: 1,
                    segments: vec![0, 1],
                },
                EpochSegments {
                    at_ms: 2,
                    segments: vec![2],
                },
            ],
            truncation: vec![CutPosition {
                segment: 2,
                offset: 12,
            }],
        }
        .into(),
        StreamUpdated {}.into(),
        StreamScaled {
            epoch: 3,
            new_segments: vec![5, 6],
        }
        .into(),
        StreamTruncated {}.into(),
        StreamSealed {}.into(),
        StreamDeleted {}.into(),
        SegmentLoad {
            milli_events_per_s: 1_500,
            bytes_per_s: u64::MAX,
            window_ms: 300_000,
        }
        .into(),
        TxnBegun {
            id: 3,
            epoch: 2,
            lease_ms: 30_000,
            segments: vec![TxnSegment {
                parent: 4,
                range: KeyRange {
                    start: 0,
                    end: u64::MAX,
                },
            }],
        }
        .into(),
        TxnState {
            id: 3,
            status: TxnStatus::Aborted,
        }
        .into(),
        NoSuchScope {
            scope: scope.clone(),
        }
        .into(),
        NoSuchStream {
            scope: scope.clone(),
            stream: stream.clone(),
        }
        .into(),
        ScopeExists {
            scope: scope.clone(),
        }
        .into(),
        StreamExists { scope, stream }.into(),
    ]
}

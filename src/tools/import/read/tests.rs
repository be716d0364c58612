use super::*;
use serde_json::{Value, json};

const LIMITS: Limits = Limits {
    max_events: 1000,
    max_bytes: 5 * 1024 * 1024,
};

fn all(format: Format, input: &str, limits: Limits) -> Vec<Chunk> {
    chunks(
        format,
        Kind::Events,
        io::Cursor::new(input.as_bytes().to_vec()),
        limits,
    )
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Every event sent, as (line, JSON), and every skipped record, in input order.
fn events_and_skips(chunks: &[Chunk]) -> (Vec<(u64, Value)>, Vec<Skipped>) {
    let mut events = vec![];
    let mut skips = vec![];
    for c in chunks {
        match c {
            Chunk::Batch(b) => {
                let lines: Vec<&[u8]> = b.body.split(|c| *c == b'\n').collect();
                assert_eq!(
                    lines.last(),
                    Some(&&b""[..]),
                    "the body ends with a newline"
                );
                assert_eq!(lines.len() - 1, b.len());
                for (line, json) in b.lines.iter().zip(lines) {
                    events.push((*line, serde_json::from_slice(json).unwrap()));
                }
            }
            Chunk::Skipped(s) => skips.push(s.clone()),
        }
    }
    (events, skips)
}

#[test]
fn formats_from_file_names() {
    assert_eq!(Format::from_path(Path::new("x/a.CSV")), Some(Format::Csv));
    assert_eq!(
        Format::from_path(Path::new("a.ndjson")),
        Some(Format::Ndjson)
    );
    assert_eq!(
        Format::from_path(Path::new("a.jsonl")),
        Some(Format::Ndjson)
    );
    assert_eq!(Format::from_path(Path::new("a.json")), None);
    assert_eq!(Format::from_path(Path::new("-")), None);
}

#[test]
fn csv_rows_become_events_with_string_attributes_and_no_empty_cells() {
    let input = "\u{feff}contact_id,event_type,event_timestamp,crm_record_id,transaction_value,product_category\n\
                 c-1,crm.transaction,2026-11-28T10:00:00Z,OPP-1,2450.00,\n\
                 \n\
                 c-2,crm.transaction,2026-11-28T10:01:00Z,OPP-2,\"1,5\",\"multi\nline\"\n\
                 ,crm.behavior,,OPP-3,,x\n";
    // The same file with CRLF line ends reads the same, with the same line numbers.
    for input in [input.to_owned(), input.replace('\n', "\r\n")] {
        let (events, skips) = events_and_skips(&all(Format::Csv, &input, LIMITS));
        assert!(skips.is_empty());
        assert_eq!(
            events,
            vec![
                (
                    2,
                    json!({"contact_id": "c-1", "event_type": "crm.transaction",
                       "event_timestamp": "2026-11-28T10:00:00Z",
                       "attributes": {"crm_record_id": "OPP-1", "transaction_value": "2450.00"}})
                ),
                (
                    4,
                    json!({"contact_id": "c-2", "event_type": "crm.transaction",
                       "event_timestamp": "2026-11-28T10:01:00Z",
                       "attributes": {"crm_record_id": "OPP-2", "transaction_value": "1,5",
                                      "product_category": "multi\nline"}})
                ),
                // Empty envelope cells are left out too: the server quarantines the event
                // (`invalid_envelope`) with its raw payload, where the operator can see it.
                (
                    6,
                    json!({"event_type": "crm.behavior",
                       "attributes": {"crm_record_id": "OPP-3", "product_category": "x"}})
                ),
            ]
        );
    }
}

#[test]
fn a_bad_csv_row_is_skipped_with_its_line_and_reading_goes_on() {
    let mut input = b"contact_id,event_type,event_timestamp,crm_record_id\n\
                      c-1,t,ts,r1\n\
                      c-2,t,ts\n\
                      c-3,t,ts,r3,extra\n"
        .to_vec();
    input.extend_from_slice(b"c-4,t,ts,\xff\xfe\n");
    input.extend_from_slice(b"c-5,t,ts,r5\n");
    let chunks: Vec<Chunk> = chunks(Format::Csv, Kind::Events, io::Cursor::new(input), LIMITS)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (events, skips) = events_and_skips(&chunks);
    let lines: Vec<u64> = events.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [2, 6]);
    assert_eq!(
        skips,
        [
            Skipped {
                line: 3,
                reason: "the row has 3 fields; the header has 4".into()
            },
            Skipped {
                line: 4,
                reason: "the row has 5 fields; the header has 4".into()
            },
            Skipped {
                line: 5,
                reason: "field 4 is not valid UTF-8".into()
            },
        ]
    );
}

#[test]
fn a_score_export_becomes_typed_observations_and_bad_rows_are_skipped_with_their_line() {
    let input = "contact_id,score,observed_at,channel_preference,best_contact_window\r\n\
                 c-1,0.85,2026-12-06T10:00:00Z,voice,\"{\"\"start_time\"\": \"\"09:00:00\"\", \"\"end_time\"\": \"\"17:00:00\"\", \"\"timezone\"\": \"\"UTC\"\"}\"\r\n\
                 c-2,high,2026-12-06T10:00:00Z,,\r\n\
                 \r\n\
                 c-3,1,2026-12-06T10:00:00Z,,\r\n\
                 c-4,0.5,2026-12-06T10:00:00Z\r\n\
                 c-5,0.5,2026-12-06T10:00:00Z,,9-17\r\n";
    let read: Vec<Chunk> = chunks(
        Format::Csv,
        Kind::Scores,
        io::Cursor::new(input.as_bytes().to_vec()),
        LIMITS,
    )
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap();
    let (records, skips) = events_and_skips(&read);
    assert_eq!(
        records,
        vec![
            (
                2,
                json!({"contact_id": "c-1", "score": 0.85, "observed_at": "2026-12-06T10:00:00Z",
                       "channel_preference": "voice",
                       "best_contact_window": {"start_time": "09:00:00", "end_time": "17:00:00",
                                               "timezone": "UTC"}})
            ),
            (
                5,
                json!({"contact_id": "c-3", "score": 1.0, "observed_at": "2026-12-06T10:00:00Z"})
            ),
        ]
    );
    let skipped: Vec<(u64, &str)> = skips.iter().map(|s| (s.line, s.reason.as_str())).collect();
    assert_eq!(skipped.len(), 3, "{skips:?}");
    assert_eq!(skipped[0], (3, "the score \"high\" is not a number"));
    assert_eq!(skipped[1], (6, "the row has 3 fields; the header has 5"));
    assert_eq!(skipped[2].0, 7);
    assert!(
        skipped[2].1.starts_with("best_contact_window \"9-17\""),
        "{skips:?}"
    );
    // An event export is not a score export: its header is refused before anything is sent.
    let e = chunks(
        Format::Csv,
        Kind::Scores,
        io::Cursor::new(b"contact_id,event_type,event_timestamp\n".to_vec()),
        LIMITS,
    )
    .err()
    .unwrap();
    assert!(
        matches!(&e, ReadError::Header(m) if m.contains("event_type")),
        "{e}"
    );
}

#[test]
fn a_csv_header_without_the_envelope_is_refused_before_anything_is_read() {
    for (header, expected) in [
        (
            "contact_id,event_type,ts\n",
            "no \"event_timestamp\" column",
        ),
        (
            "contact_id,event_type,event_timestamp,a,a\n",
            "names column \"a\" twice",
        ),
        (
            "contact_id,event_type,event_timestamp,\n",
            "no name for column 4",
        ),
        ("", "no \"contact_id\" column"),
    ] {
        let e = chunks(
            Format::Csv,
            Kind::Events,
            io::Cursor::new(header.as_bytes().to_vec()),
            LIMITS,
        )
        .err()
        .unwrap();
        assert!(
            matches!(&e, ReadError::Header(m) if m.contains(expected)),
            "{header:?}: {e}"
        );
    }
}

#[test]
fn an_open_quote_stops_with_the_line_it_began_on_instead_of_reading_the_whole_file() {
    let limits = Limits {
        max_events: 10,
        max_bytes: 1000,
    };
    let mut input = String::from("contact_id,event_type,event_timestamp\nc-1,t,ts\nc-2,\"t,ts\n");
    for _ in 0..100_000 {
        input.push_str("c-3,t,ts\n");
    }
    let mut it = chunks(
        Format::Csv,
        Kind::Events,
        io::Cursor::new(input.into_bytes()),
        limits,
    )
    .unwrap();
    let e = it.find_map(Result::err).unwrap();
    assert!(
        matches!(&e, ReadError::Csv { line: 3, message } if message.contains("quote")),
        "{e}"
    );
}

#[test]
fn batches_respect_the_event_count() {
    let limits = Limits {
        max_events: 2,
        max_bytes: 1000,
    };
    let input = "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n{\"a\":5}";
    let sizes: Vec<usize> = all(Format::Ndjson, input, limits)
        .iter()
        .map(|c| match c {
            Chunk::Batch(b) => b.len(),
            Chunk::Skipped(_) => 0,
        })
        .collect();
    assert_eq!(sizes, [2, 2, 1]);
}

#[test]
fn batches_respect_the_byte_limit_and_an_event_too_large_for_any_request_is_skipped() {
    let limits = Limits {
        max_events: 100,
        max_bytes: 20,
    };
    // 9 bytes + newline each: two fit in 20 bytes, a third does not.
    let small = "{\"a\":\"1\"}";
    let big = format!("{{\"a\":\"{}\"}}", "x".repeat(30));
    let input = format!("{small}\n{small}\n{small}\n{big}\n{small}\n");
    let chunks = all(Format::Ndjson, &input, limits);
    for c in &chunks {
        if let Chunk::Batch(b) = c {
            assert!(b.body.len() <= limits.max_bytes);
        }
    }
    let (events, skips) = events_and_skips(&chunks);
    assert_eq!(events.len(), 4);
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0].line, 4);
    let batch_sizes: Vec<usize> = chunks
        .iter()
        .filter_map(|c| match c {
            Chunk::Batch(b) => Some(b.len()),
            Chunk::Skipped(_) => None,
        })
        .collect();
    assert_eq!(batch_sizes, [2, 2]);
}

#[test]
fn ndjson_lines_go_as_they_are_and_blank_lines_are_skipped() {
    let input = "{\"a\":1}\r\n\n   \n{broken\n{\"b\":2}";
    let chunks = all(Format::Ndjson, input, LIMITS);
    assert_eq!(chunks.len(), 1);
    let Chunk::Batch(b) = &chunks[0] else {
        panic!("one batch")
    };
    // The server quarantines a line that is not JSON, with its raw text.
    assert_eq!(b.body, b"{\"a\":1}\n{broken\n{\"b\":2}\n");
    assert_eq!(b.lines, [1, 4, 5]);
}

#[test]
fn an_ndjson_line_longer_than_a_request_is_skipped_without_being_kept() {
    let limits = Limits {
        max_events: 10,
        max_bytes: 100,
    };
    let input = format!("{{}}\n{}\n{{}}\n", "y".repeat(10_000));
    let (events, skips) = events_and_skips(&all(Format::Ndjson, &input, limits));
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].0, 3);
    assert_eq!(skips.len(), 1);
    assert_eq!(skips[0].line, 2);
}

#[test]
fn counting_reader_counts() {
    let count = Arc::new(AtomicU64::new(0));
    let mut r = Counting {
        inner: io::Cursor::new(vec![0u8; 1234]),
        count: count.clone(),
    };
    io::copy(&mut r, &mut io::sink()).unwrap();
    assert_eq!(count.load(Ordering::Relaxed), 1234);
}

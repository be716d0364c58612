//! A gzip bomb: a small gzip member that inflates to many zero bytes. Written by hand (one fixed-
//! Huffman deflate block of back-references) so the harness needs no compression crate.

/// Deflate bits are packed least-significant first; Huffman codes are sent most-significant first.
struct Bits {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl Bits {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    /// A Huffman code of `len` bits, most significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        let reversed = (0..len).fold(0, |r, i| r | (((code >> i) & 1) << (len - 1 - i)));
        self.put(reversed, len);
    }

    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push(self.acc as u8);
        }
        self.out
    }
}

/// A gzip member whose content is `size` zero bytes (`size` ≥ 1).
pub fn zeros(size: usize) -> Vec<u8> {
    let mut b = Bits {
        out: vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // the last block
    b.put(1, 2); // fixed Huffman codes
    b.code(0x30, 8); // literal 0x00 (literals 0–143 are 0x30 + value, 8 bits)
    let mut left = size.saturating_sub(1);
    while left > 0 {
        // The longest match is 258; a remainder below 3 is sent as literals.
        let len = left.min(258);
        if len < 3 {
            b.code(0x30, 8);
            left -= 1;
            continue;
        }
        length_code(&mut b, len);
        b.put(0, 5); // distance code 0: distance 1, no extra bits
        left -= len;
    }
    b.code(0, 7); // end of block (256)
    let mut out = b.finish();
    out.extend_from_slice(&crc32_of_zeros(size).to_le_bytes());
    out.extend_from_slice(&(size as u32).to_le_bytes());
    out
}

/// Length symbols of RFC 1951 §3.2.5, for lengths 3..=258.
fn length_code(b: &mut Bits, len: usize) {
    const BASE: [usize; 29] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115,
        131, 163, 195, 227, 258,
    ];
    const EXTRA: [u32; 29] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ];
    let i = BASE.iter().rposition(|&base| base <= len).expect("len ≥ 3");
    let symbol = 257 + i as u64;
    // Symbols 256–279 are 7-bit codes from 0; 280–287 are 8-bit codes from 0xC0.
    if symbol <= 279 {
        b.code(symbol - 256, 7);
    } else {
        b.code(0xC0 + (symbol - 280), 8);
    }
    b.put((len - BASE[i]) as u64, EXTRA[i]);
}

/// CRC-32 (IEEE) of `size` zero bytes.
fn crc32_of_zeros(size: usize) -> u32 {
    let mut table = [0u32; 256];
    for (i, slot) in table.iter_mut().enumerate() {
        *slot = (0..8).fold(i as u32, |c, _| {
            if c & 1 == 1 {
                0xEDB8_8320 ^ (c >> 1)
            } else {
                c >> 1
            }
        });
    }
    let mut crc = !0u32;
    for _ in 0..size {
        crc = table[(crc & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::dev::Decompress;
    use actix_web::http::header::ContentEncoding;
    use futures_util::StreamExt;

    async fn inflate(gz: Vec<u8>) -> Vec<u8> {
        let payload: actix_web::dev::Payload =
            actix_web::dev::Payload::from(actix_web::web::Bytes::from(gz));
        let mut d = Decompress::new(payload, ContentEncoding::Gzip);
        let mut out = Vec::new();
        while let Some(chunk) = d.next().await {
            out.extend_from_slice(&chunk.expect("a valid gzip stream"));
        }
        out
    }

    #[actix_web::test]
    async fn inflates_to_exactly_the_zeros_asked_for() {
        for size in [1, 2, 3, 4, 260, 261, 1000, 100_003] {
            let out = inflate(zeros(size)).await;
            assert_eq!(out.len(), size, "size {size}");
            assert!(out.iter().all(|&b| b == 0));
        }
    }

    #[test]
    fn a_bomb_is_over_a_hundred_times_smaller_than_what_it_inflates_to() {
        let gz = zeros(64 << 20);
        assert!(gz.len() * 150 < 64 << 20, "{} bytes", gz.len());
    }

    #[test]
    fn the_crc_is_the_ieee_crc32() {
        // Known values: CRC-32 of one zero byte and of four.
        assert_eq!(crc32_of_zeros(1), 0xD202_EF8D);
        assert_eq!(crc32_of_zeros(4), 0x2144_DF1C);
    }
}

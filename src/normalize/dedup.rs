//! SPEC §4: the dedup key and the request id derived from it, and (§11.17) the dialer contact id
//! derived the same way. All three are pure functions of their inputs, so a retry, a replay or a
//! restart after a crash always reproduces the same id, which is what lets PE's and the dialer's
//! idempotency absorb a resend.

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The byte that joins the parts (ASCII "unit separator"), so `("ab", "c")` and `("a", "bc")`
/// hash differently.
pub const SEPARATOR: u8 = 0x1F;

/// SHA-256 over `contact_id 0x1F event_type 0x1F crm_record_id`, all after mapping.
pub fn dedup_key(contact_id: &str, event_type: &str, crm_record_id: &str) -> [u8; 32] {
    digest(&[contact_id, event_type, crm_record_id])
}

/// The first 16 bytes of the key as a version-8 UUID with the RFC 9562 variant; sent to PE as
/// `X-Request-Id` (lowercase, hyphenated when displayed).
pub fn request_id(key: &[u8; 32]) -> Uuid {
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&key[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80; // version 8: "custom", the hash is ours
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // variant 10xx: RFC 9562
    Uuid::from_bytes(bytes)
}

/// The dialer contact `id` (SPEC §11.17): stable per campaign and contact, so a re-push updates the
/// dialer's contact instead of adding a second one.
pub fn dialer_contact_id(campaign_id: &str, contact_id: &str) -> String {
    request_id(&digest(&[campaign_id, contact_id])).to_string()
}

fn digest(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([SEPARATOR]);
        }
        hasher.update(part.as_bytes());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_vector() {
        let key = dedup_key(
            "a1b2c3d4-e5f6-7890-abcd-ef1234567890",
            "crm.transaction",
            "OPP-88421",
        );
        assert_eq!(
            request_id(&key).to_string(),
            "757c7754-c29d-8289-9a4d-5844a7627e43"
        );
    }

    #[test]
    fn the_key_is_sha256_of_the_joined_parts() {
        let expected: [u8; 32] = Sha256::digest(b"c\x1ft\x1fr").into();
        assert_eq!(dedup_key("c", "t", "r"), expected);
    }

    #[test]
    fn the_separator_keeps_parts_apart() {
        assert_ne!(dedup_key("ab", "c", "d"), dedup_key("a", "bc", "d"));
        assert_ne!(dedup_key("a", "b", "cd"), dedup_key("a", "bc", "d"));
        assert_ne!(dedup_key("c", "t", "r1"), dedup_key("c", "t", "r2"));
    }

    #[test]
    fn request_ids_are_version_8_rfc_9562() {
        for key in [[0u8; 32], [0xff; 32], dedup_key("x", "y", "z")] {
            let id = request_id(&key);
            assert_eq!(id.get_version_num(), 8);
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122);
            // Only the version and variant bits differ from the key's first 16 bytes.
            let bytes = id.as_bytes();
            assert_eq!(bytes[..6], key[..6]);
            assert_eq!(bytes[6] & 0x0f, key[6] & 0x0f);
            assert_eq!(bytes[7], key[7]);
            assert_eq!(bytes[8] & 0x3f, key[8] & 0x3f);
            assert_eq!(bytes[9..16], key[9..16]);
        }
    }

    #[test]
    fn dialer_ids_are_stable_per_campaign_and_contact() {
        let id = dialer_contact_id("spring-renewals", "c-1");
        assert_eq!(id, dialer_contact_id("spring-renewals", "c-1"));
        assert_ne!(id, dialer_contact_id("spring-renewals", "c-2"));
        assert_ne!(id, dialer_contact_id("winter", "c-1"));
        let expected = request_id(&Sha256::digest(b"spring-renewals\x1fc-1").into()).to_string();
        assert_eq!(id, expected);
        let parsed = Uuid::parse_str(&id).unwrap();
        assert_eq!(parsed.get_version_num(), 8);
        assert_eq!(id, id.to_lowercase());
        assert_eq!(id.len(), 36);
    }
}

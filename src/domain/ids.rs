//! The identifiers pesync takes from outside, each with one rule, checked once where it enters:
//! a contact id (an event, a pushed score, a suppression), a campaign id (a campaign document, a
//! path) and a source's name (a path, the source document). The edges word a problem their own
//! way (an event's sentence, a pushed score's code, a document's field problem); what is valid is
//! decided here only.

use std::fmt;

/// Longest contact id, in characters (SPEC §2).
pub const MAX_CONTACT_ID_CHARS: usize = 128;
/// Longest campaign id, in characters: it appears in URLs and in the dialer contact's id.
pub const MAX_CAMPAIGN_ID_CHARS: usize = 64;
/// Longest source name, in characters.
pub const MAX_SOURCE_NAME_CHARS: usize = 64;

/// Why a text is not a valid identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdProblem {
    Empty,
    TooLong {
        chars: usize,
        max: usize,
    },
    /// A character outside letters, digits, '.', '_' and '-' (ids that are path segments).
    Characters,
    /// "." and "..": path segments that HTTP clients rewrite away.
    DotsOnly,
}

impl fmt::Display for IdProblem {
    /// The sentence a document's field problem carries.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("must not be empty"),
            Self::TooLong { chars, max } => write!(f, "is {chars} characters long; at most {max}"),
            Self::Characters => f.write_str("may contain only letters, digits, '.', '_' and '-'"),
            Self::DotsOnly => f.write_str("must not consist of dots only"),
        }
    }
}

/// A contact id: any text of 1 to [`MAX_CONTACT_ID_CHARS`] characters, taken verbatim (no
/// trimming: the CRM's id is the contact's identity, in events, scores and suppressions alike).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactId(String);

impl ContactId {
    pub fn parse(text: &str) -> Result<Self, IdProblem> {
        not_empty(text)?;
        at_most(text, MAX_CONTACT_ID_CHARS)?;
        Ok(Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A campaign id: 1 to [`MAX_CAMPAIGN_ID_CHARS`] characters that survive a URL path untouched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CampaignId(String);

impl CampaignId {
    pub fn parse(text: &str) -> Result<Self, IdProblem> {
        path_segment(text, MAX_CAMPAIGN_ID_CHARS).map(|()| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A source's name: 1 to [`MAX_SOURCE_NAME_CHARS`] characters that survive a URL path untouched
/// (it is a segment of `/v1/sources/{source}/events`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SourceName(String);

impl SourceName {
    pub fn parse(text: &str) -> Result<Self, IdProblem> {
        path_segment(text, MAX_SOURCE_NAME_CHARS).map(|()| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

fn not_empty(text: &str) -> Result<(), IdProblem> {
    if text.is_empty() {
        Err(IdProblem::Empty)
    } else {
        Ok(())
    }
}

fn at_most(text: &str, max: usize) -> Result<(), IdProblem> {
    match text.chars().count() {
        chars if chars > max => Err(IdProblem::TooLong { chars, max }),
        _ => Ok(()),
    }
}

fn path_segment(text: &str, max: usize) -> Result<(), IdProblem> {
    not_empty(text)?;
    at_most(text, max)?;
    if !text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(IdProblem::Characters);
    }
    if text.bytes().all(|b| b == b'.') {
        return Err(IdProblem::DotsOnly);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contact_id_is_any_text_up_to_128_characters_taken_verbatim() {
        assert_eq!(ContactId::parse(" a b ").unwrap().as_str(), " a b ");
        assert_eq!(
            ContactId::parse("é".repeat(128).as_str())
                .unwrap()
                .into_string()
                .chars()
                .count(),
            128
        );
        assert_eq!(ContactId::parse(""), Err(IdProblem::Empty));
        assert_eq!(
            ContactId::parse(&"x".repeat(129)),
            Err(IdProblem::TooLong {
                chars: 129,
                max: 128
            })
        );
    }

    #[test]
    fn campaign_ids_and_source_names_are_path_segments() {
        for ok in ["a", "crm-prod_2.v1", &"x".repeat(64)] {
            assert!(CampaignId::parse(ok).is_ok(), "{ok}");
            assert!(SourceName::parse(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("", IdProblem::Empty),
            ("a/b", IdProblem::Characters),
            ("é", IdProblem::Characters),
            ("a b", IdProblem::Characters),
            (".", IdProblem::DotsOnly),
            ("..", IdProblem::DotsOnly),
        ] {
            assert_eq!(CampaignId::parse(bad), Err(why), "{bad:?}");
            assert_eq!(
                SourceName::parse(bad).map(SourceName::into_string),
                Err(why),
                "{bad:?}"
            );
        }
        assert_eq!(
            SourceName::parse(&"x".repeat(65)).map(SourceName::into_string),
            Err(IdProblem::TooLong { chars: 65, max: 64 })
        );
        assert_eq!(
            IdProblem::TooLong { chars: 65, max: 64 }.to_string(),
            "is 65 characters long; at most 64"
        );
    }
}

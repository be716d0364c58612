//! Genesys Cloud regions: the host suffix an org lives under (`mypurecloud.ie`, `usw2.pure.cloud`, …)
//! gives both the API host (`https://api.<region>`) and the login host
//! (`https://login.<region>/oauth/token`). The table is the region host list of Genesys' own SDKs
//! (the Python SDK's `purecloud_region_hosts.py`), so a typo is caught at start-up instead of as a
//! DNS error on the first delivery.

/// The 17 regions, as their API host suffix, with the AWS region name Genesys uses for each.
pub const REGIONS: [(&str, &str); 17] = [
    ("mypurecloud.com", "us-east-1"),
    ("mypurecloud.ie", "eu-west-1"),
    ("mypurecloud.com.au", "ap-southeast-2"),
    ("mypurecloud.jp", "ap-northeast-1"),
    ("mypurecloud.de", "eu-central-1"),
    ("usw2.pure.cloud", "us-west-2"),
    ("cac1.pure.cloud", "ca-central-1"),
    ("apne2.pure.cloud", "ap-northeast-2"),
    ("euw2.pure.cloud", "eu-west-2"),
    ("aps1.pure.cloud", "ap-south-1"),
    ("use2.us-gov-pure.cloud", "us-east-2"),
    ("sae1.pure.cloud", "sa-east-1"),
    ("mec1.pure.cloud", "me-central-1"),
    ("apne3.pure.cloud", "ap-northeast-3"),
    ("euc2.pure.cloud", "eu-central-2"),
    ("mxc1.pure.cloud", "mx-central-1"),
    ("apse1.pure.cloud", "ap-southeast-1"),
];

/// A known region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(&'static str);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Genesys Cloud region {given:?}; known regions: {}", known())]
pub struct UnknownRegion {
    pub given: String,
}

fn known() -> String {
    REGIONS.map(|(host, _)| host).join(", ")
}

impl Region {
    /// Takes the host suffix (`mypurecloud.ie`), also written as a whole API or login host
    /// (`api.mypurecloud.ie`, `https://login.mypurecloud.ie`), or the AWS name (`eu-west-1`).
    pub fn parse(text: &str) -> Result<Self, UnknownRegion> {
        let trimmed = text.trim().trim_end_matches('/').to_ascii_lowercase();
        let bare = trimmed.trim_start_matches("https://");
        let bare = bare
            .strip_prefix("api.")
            .or_else(|| bare.strip_prefix("login."))
            .unwrap_or(bare);
        REGIONS
            .iter()
            .find(|(host, aws)| *host == bare || aws.replace('-', "_") == bare.replace('-', "_"))
            .map(|(host, _)| Self(host))
            .ok_or_else(|| UnknownRegion {
                given: text.to_owned(),
            })
    }

    pub fn host(self) -> &'static str {
        self.0
    }

    /// `https://api.<region>`: the Platform API, outbound included.
    pub fn api_base_url(self) -> String {
        format!("https://api.{}", self.0)
    }

    /// `https://login.<region>/oauth/token`: the client-credentials token endpoint.
    pub fn token_url(self) -> String {
        format!("https://login.{}/oauth/token", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_gives_its_api_and_login_hosts() {
        let region = Region::parse("mypurecloud.ie").unwrap();
        assert_eq!(region.api_base_url(), "https://api.mypurecloud.ie");
        assert_eq!(
            region.token_url(),
            "https://login.mypurecloud.ie/oauth/token"
        );
        let west = Region::parse("usw2.pure.cloud").unwrap();
        assert_eq!(
            west.token_url(),
            "https://login.usw2.pure.cloud/oauth/token"
        );
    }

    #[test]
    fn hosts_urls_and_aws_names_name_the_same_region() {
        for text in [
            "api.mypurecloud.de",
            "https://login.mypurecloud.de/",
            "eu-central-1",
            "EU_CENTRAL_1",
        ] {
            assert_eq!(
                Region::parse(text).unwrap().host(),
                "mypurecloud.de",
                "{text}"
            );
        }
    }

    #[test]
    fn every_region_of_the_table_parses_to_itself() {
        assert_eq!(REGIONS.len(), 17);
        for (host, aws) in REGIONS {
            assert_eq!(Region::parse(host).unwrap().host(), host);
            assert_eq!(Region::parse(aws).unwrap().host(), host);
        }
    }

    #[test]
    fn an_unknown_region_lists_the_known_ones() {
        let error = Region::parse("mypurecloud.fr").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("\"mypurecloud.fr\""), "{text}");
        assert!(text.contains("mypurecloud.com, mypurecloud.ie"), "{text}");
        assert!(text.contains("apse1.pure.cloud"), "{text}");
    }
}

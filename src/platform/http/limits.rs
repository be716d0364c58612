//! What a request may cost before a handler sees it (issue 8): no content codings (415), a body size
//! per route (413), and a deadline for the whole body (408). One middleware on every route, so a new
//! endpoint cannot forget them.
//!
//! Content codings are refused rather than decoded: a signature is over the raw body (SPEC §2), no
//! client of ours compresses, and a decoder expands each received chunk whole before any size limit
//! is checked, so a small brotli or zstd bomb would cost memory far beyond the 5 MiB limit.

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderMap, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::time::{Instant, Sleep};

use super::ApiError;
use super::problem::problem_response;

/// Largest request body read at all: a bulk route's (ingestion's 5 MiB, SPEC §2).
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;
/// Admin documents are small; anything larger is a mistake or an attack.
pub const MAX_ADMIN_BODY_BYTES: usize = 256 * 1024;

/// How long a client may take to send a request's head, and then its body: a slow or stalled
/// client cannot hold a connection longer than this.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Routes that take bulk bodies (up to [`MAX_BODY_BYTES`]); every other route takes documents of at
/// most [`MAX_ADMIN_BODY_BYTES`].
const BULK_ROUTES: &[&str] = &[
    "/v1/sources/{source}/events",
    "/v1/scores",
    "/v1/admin/suppressions",
];

/// What actix's `Payload` is made from (its own alias is not exported).
type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

/// The limits the middleware applies, as app data (tests shorten the timeout).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub read_timeout: Duration,
}

/// The largest body a route takes, by its pattern (`None`: no route matched).
pub fn body_limit(pattern: Option<&str>) -> usize {
    match pattern {
        Some(p) if BULK_ROUTES.contains(&p) => MAX_BODY_BYTES,
        _ => MAX_ADMIN_BODY_BYTES,
    }
}

/// The first content coding other than `identity` a request declares, if any (a header that is not
/// text counts as one).
pub fn content_coding(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::CONTENT_ENCODING)
        .flat_map(|v| match v.to_str() {
            Ok(s) => s.split(',').map(|c| c.trim().to_owned()).collect(),
            Err(_) => vec!["(not text)".to_owned()],
        })
        .find(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
}

/// The middleware: refuses content codings and declared lengths over the route's limit before
/// reading anything, then reads the body through [`Bounded`].
pub async fn guard(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(coding) = content_coding(req.headers()) {
        let mut res = req.error_response(ApiError::UnsupportedMediaType(format!(
            "content coding {coding:?} is not accepted: send the body uncompressed"
        )));
        // RFC 9110 §15.5.16: say which codings would have been accepted.
        res.headers_mut().insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("identity"),
        );
        return Ok(res.map_into_right_body());
    }
    let limit = body_limit(req.match_pattern().as_deref());
    if declared_length(req.headers()).is_some_and(|n| n > limit) {
        let err = ApiError::PayloadTooLarge(format!("this endpoint takes at most {limit} bytes"));
        return Ok(req.error_response(err).map_into_right_body());
    }
    let timeout = req
        .app_data::<Limits>()
        .map_or(READ_TIMEOUT, |l| l.read_timeout);
    let expired = Rc::new(Cell::new(false));
    let (_, payload) = req.parts_mut();
    let inner = std::mem::replace(payload, Payload::None);
    let bounded = Bounded::new(inner, limit, Instant::now() + timeout, expired.clone());
    *payload = Payload::from(Box::pin(bounded) as BodyStream);

    let res = next.call(req).await?;
    if !expired.get() {
        return Ok(res.map_into_left_body());
    }
    // Whatever the extractor made of the cut-off body, the answer is 408, and the connection
    // (with the rest of the body still in flight) is closed.
    let (req, _) = res.into_parts();
    let mut timed_out = problem_response(
        StatusCode::REQUEST_TIMEOUT,
        "request-timeout",
        Some(format!("the body was not received within {timeout:?}")),
        vec![],
    );
    timed_out
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    Ok(ServiceResponse::new(req, timed_out).map_into_right_body())
}

fn declared_length(headers: &HeaderMap) -> Option<usize> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// A request body that ends in an error once it exceeds `limit` bytes or is still arriving at the
/// deadline (and then sets `expired`, so the middleware can answer 408).
pub struct Bounded {
    inner: Payload,
    limit: usize,
    read: usize,
    deadline: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
    done: bool,
}

impl Bounded {
    pub fn new(inner: Payload, limit: usize, deadline: Instant, expired: Rc<Cell<bool>>) -> Self {
        Self {
            inner,
            limit,
            read: 0,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            expired,
            done: false,
        }
    }
}

impl Stream for Bounded {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.read += chunk.len();
                if this.read > this.limit {
                    this.done = true;
                    return Poll::Ready(Some(Err(PayloadError::Overflow)));
                }
                return Poll::Ready(Some(Ok(chunk)));
            }
            Poll::Ready(other) => return Poll::Ready(other),
            Poll::Pending => {}
        }
        if this.deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        this.done = true;
        this.expired.set(true);
        Poll::Ready(Some(Err(PayloadError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "request body read timed out",
        )))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[test]
    fn bulk_routes_take_5_mib_and_everything_else_256_kib() {
        assert_eq!(
            body_limit(Some("/v1/sources/{source}/events")),
            MAX_BODY_BYTES
        );
        for other in [
            Some("/v1/admin/sources/{name}"),
            Some("/v1/admin/quarantine/replay"),
            Some("/v1/dialer/feed/ack"),
            None,
        ] {
            assert_eq!(body_limit(other), MAX_ADMIN_BODY_BYTES, "{other:?}");
        }
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::CONTENT_ENCODING, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn only_identity_is_accepted_as_a_content_coding() {
        assert_eq!(content_coding(&headers(&[])), None);
        assert_eq!(content_coding(&headers(&["identity"])), None);
        assert_eq!(content_coding(&headers(&["Identity, ", ""])), None);
        assert_eq!(content_coding(&headers(&["gzip"])).as_deref(), Some("gzip"));
        assert_eq!(
            content_coding(&headers(&["identity", "br"])).as_deref(),
            Some("br")
        );
        assert_eq!(
            content_coding(&headers(&["identity, zstd"])).as_deref(),
            Some("zstd")
        );
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_bytes(b"gz\xffip").unwrap(),
        );
        assert!(content_coding(&h).is_some());
    }

    fn body(chunks: &[&'static [u8]], then_stall: bool) -> Payload {
        let items = futures_util::stream::iter(
            chunks
                .iter()
                .map(|c| Ok::<_, PayloadError>(Bytes::from_static(c)))
                .collect::<Vec<_>>(),
        );
        let stream: BodyStream = if then_stall {
            Box::pin(items.chain(futures_util::stream::pending()))
        } else {
            Box::pin(items)
        };
        Payload::from(stream)
    }

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(3600)
    }

    #[tokio::test]
    async fn a_body_over_the_limit_ends_in_an_overflow() {
        let expired = Rc::new(Cell::new(false));
        let mut b = Bounded::new(
            body(&[&[1; 100], &[2; 100]], false),
            150,
            later(),
            expired.clone(),
        );
        assert_eq!(b.next().await.unwrap().unwrap().len(), 100);
        assert!(matches!(b.next().await, Some(Err(PayloadError::Overflow))));
        assert!(b.next().await.is_none());
        assert!(!expired.get());
        // Exactly the limit is fine.
        let mut b = Bounded::new(
            body(&[&[1; 100], &[2; 50]], false),
            150,
            later(),
            expired.clone(),
        );
        assert_eq!(b.next().await.unwrap().unwrap().len(), 100);
        assert_eq!(b.next().await.unwrap().unwrap().len(), 50);
        assert!(b.next().await.is_none());
    }

    #[tokio::test]
    async fn a_body_still_arriving_at_the_deadline_expires() {
        let expired = Rc::new(Cell::new(false));
        // The deadline has passed: what has arrived is still read, then the stall ends the body.
        let mut b = Bounded::new(
            body(&[b"{\"a\"", b":1}"], true),
            1000,
            Instant::now(),
            expired.clone(),
        );
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b"{\"a\"");
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b":1}");
        assert!(!expired.get());
        match b.next().await {
            Some(Err(PayloadError::Io(e))) => assert_eq!(e.kind(), io::ErrorKind::TimedOut),
            other => panic!("expected a timeout, got {other:?}"),
        }
        assert!(expired.get());
        assert!(b.next().await.is_none());
    }

    #[tokio::test]
    async fn a_complete_body_is_not_cut_by_a_passed_deadline() {
        let expired = Rc::new(Cell::new(false));
        let mut b = Bounded::new(body(&[b"{}"], false), 1000, Instant::now(), expired.clone());
        assert_eq!(&b.next().await.unwrap().unwrap()[..], b"{}");
        assert!(b.next().await.is_none());
        assert!(!expired.get());
    }
}

//! An interceptor that keeps a successful response's body for us and hands the SDK `{}` in its
//! place, so that the SDK does not parse (and we do not convert) a large item list we read
//! ourselves (`dynamodb_json`). Error responses are left to the SDK: it parses them, classifies
//! them (throttling, 5xx) and retries as usual; each attempt's body replaces the last one's.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextMut;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::ConfigBag;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};

/// Where the kept body lands: filled when the SDK reads the response, taken after `send`.
#[derive(Clone, Debug, Default)]
pub struct KeptBody(Arc<Mutex<Option<Bytes>>>);

impl KeptBody {
    /// The body of the last successful attempt, if there was one.
    pub fn take(&self) -> Option<Bytes> {
        self.0.lock().ok().and_then(|mut slot| slot.take())
    }

    fn put(&self, body: Bytes) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(body);
        }
    }
}

/// The largest declared length room is made for at once (DynamoDB's responses are at most
/// 16 MB; a longer declaration is not trusted for an allocation).
const MAX_DECLARED_LENGTH: usize = 16 * 1024 * 1024 + 64 * 1024;

/// Keeps a 2xx response's body in a [`KeptBody`]; the SDK reads `{}` instead.
#[derive(Debug)]
pub struct KeepResponseBody(pub KeptBody);

impl Intercept for KeepResponseBody {
    fn name(&self) -> &'static str {
        "KeepResponseBody"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let response = context.response_mut();
        if !response.status().is_success() {
            return Ok(());
        }
        // The whole body is kept: room for it at once when its length is declared (a
        // BatchGetItem response of 100 items is ≈100 KB, read in a dozen frames that would
        // otherwise grow and copy the buffer as often), up to DynamoDB's 16 MB response limit.
        let declared = response
            .headers()
            .get("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
            .min(MAX_DECLARED_LENGTH);
        let inner = std::mem::replace(response.body_mut(), SdkBody::taken());
        *response.body_mut() = SdkBody::from_body_1_x(Keeping {
            inner,
            buffer: BytesMut::with_capacity(declared),
            kept: self.0.clone(),
            done: false,
        });
        Ok(())
    }
}

/// A body that reads its inner body to the end into `kept`, then yields `{}`.
struct Keeping {
    inner: SdkBody,
    buffer: BytesMut,
    kept: KeptBody,
    done: bool,
}

impl Body for Keeping {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if self.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut self.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.buffer.extend_from_slice(&data);
                    }
                }
                Poll::Ready(None) => {
                    let body = std::mem::take(&mut self.buffer).freeze();
                    self.kept.put(body);
                    self.done = true;
                    return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{}")))));
                }
            }
        }
    }
}

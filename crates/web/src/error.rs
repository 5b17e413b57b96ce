//! Errors as the web layer shows them; statuses are decided here and nowhere else.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

/// An error a handler returns. HTML pages and JSON bodies for it are rendered by the site's
/// error middleware, which also makes sure a 500 shows a request id and never internals.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// The client has done this too often; it may again after `retry_after` seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after: u64 },
    /// A backing service is down; the client may retry.
    #[error("the service is temporarily unavailable, please try again shortly")]
    Unavailable(String),
    /// A bug or an unexpected failure; the detail goes to the log only.
    #[error("internal error")]
    Internal(String),
}

/// The message a client may see, kept in the response so that the error middleware can put
/// it into the page or JSON body.
#[derive(Debug, Clone)]
pub(crate) struct PublicMessage(pub String);

impl AppError {
    pub fn not_found(what: impl Into<String>) -> Self {
        AppError::NotFound(what.into())
    }

    pub fn bad_request(why: impl Into<String>) -> Self {
        AppError::BadRequest(why.into())
    }

    pub fn forbidden(why: impl Into<String>) -> Self {
        AppError::Forbidden(why.into())
    }

    pub fn conflict(why: impl Into<String>) -> Self {
        AppError::Conflict(why.into())
    }

    /// 429 with `Retry-After: retry_after` (seconds) and `why` on the page.
    pub fn too_many(why: impl Into<String>, retry_after: u64) -> Self {
        AppError::TooMany {
            message: why.into(),
            retry_after,
        }
    }

    /// A backing service is down: 503 with `Retry-After`; `detail` goes to the log only.
    pub fn unavailable(detail: impl std::fmt::Display) -> Self {
        AppError::Unavailable(detail.to_string())
    }

    /// A bug or an unexpected failure: 500 with a request id; `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        AppError::Internal(detail.to_string())
    }
}

impl From<actix_web::error::BlockingError> for AppError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        AppError::Internal(format!("blocking task failed: {e}"))
    }
}

/// Shows an error with its sources, for the log: `format!("{:#}", ErrorChain(&e))`.
#[derive(Debug)]
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(s) = source {
            write!(f, ": {s}")?;
            source = s.source();
        }
        Ok(())
    }
}

/// Seconds a client should wait before retrying a 503.
pub(crate) const RETRY_AFTER_SECS: u32 = 5;

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            AppError::Unavailable(detail) => {
                tracing::warn!(detail = %detail, "backing service unavailable")
            }
            AppError::Internal(detail) => tracing::error!(detail = %detail, "internal error"),
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        match self {
            AppError::Unavailable(_) => {
                res.insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS.to_string()));
            }
            AppError::TooMany { retry_after, .. } => {
                res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
            }
            _ => {}
        }
        let mut res = res.finish();
        res.extensions_mut().insert(PublicMessage(self.to_string()));
        res
    }
}

//! One JSON error shape for every failure: `{error, field, detail}`. The status comes from
//! the error code, in one table, so a client mistake can never turn into a 500.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use std::fmt;
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    InvalidJson,
    /// A CSV body whose header cannot be scored (a column missing, blank or repeated).
    InvalidCsv,
    InvalidField,
    EmptyBody,
    PayloadTooLarge,
    UnsupportedMediaType,
    /// The Accept header refuses every format the route answers in.
    NotAcceptable,
    TooManyItems,
    MissingApiKey,
    InvalidApiKey,
    AdminForbidden,
    /// A valid key without the scope the route needs.
    InsufficientScope,
    /// Over the key's `--rate-limit` (with `Retry-After`).
    RateLimited,
    /// The address sent too many invalid keys (with `Retry-After`).
    LockedOut,
    BundleRefused,
    /// A keys reload kept the keys in force (unreadable or invalid keys file).
    KeysRefused,
    NotFound,
    StoreUnavailable,
    Internal,
}

impl Code {
    pub fn status(self) -> StatusCode {
        match self {
            Code::InvalidJson
            | Code::InvalidCsv
            | Code::InvalidField
            | Code::EmptyBody
            | Code::TooManyItems => StatusCode::BAD_REQUEST,
            Code::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Code::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Code::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            Code::MissingApiKey | Code::InvalidApiKey => StatusCode::UNAUTHORIZED,
            Code::AdminForbidden | Code::InsufficientScope => StatusCode::FORBIDDEN,
            Code::RateLimited | Code::LockedOut => StatusCode::TOO_MANY_REQUESTS,
            Code::BundleRefused | Code::KeysRefused => StatusCode::CONFLICT,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ApiError {
    /// Stable machine-readable code, e.g. `invalid_field`.
    #[schema(value_type = String)]
    pub error: Code,
    /// The JSON field the error is about, when there is one (`items[3].tenure`).
    pub field: Option<String>,
    /// What was wrong, for a person.
    pub detail: String,
}

impl ApiError {
    pub fn new(error: Code, detail: impl Into<String>) -> Self {
        ApiError {
            error,
            field: None,
            detail: detail.into(),
        }
    }

    pub fn field(error: Code, field: impl Into<String>, detail: impl Into<String>) -> Self {
        ApiError {
            error,
            field: Some(field.into()),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.error, self.detail)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.error.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(self)
    }
}

/// Map actix's JSON extractor failures onto our codes (no 500s for bad bodies).
pub fn json_error(err: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError as E;
    match err {
        E::OverflowKnownLength { length, limit } => ApiError::new(
            Code::PayloadTooLarge,
            format!("body is {length} bytes; the limit is {limit}"),
        ),
        E::Overflow { limit } => ApiError::new(
            Code::PayloadTooLarge,
            format!("body is larger than the limit of {limit} bytes"),
        ),
        E::ContentType => ApiError::new(
            Code::UnsupportedMediaType,
            "send the body as JSON with `Content-Type: application/json`",
        ),
        E::Deserialize(e) if e.is_eof() && e.line() == 1 && e.column() == 0 => {
            ApiError::new(Code::EmptyBody, "the body is empty; expected a JSON object")
        }
        E::Deserialize(e) => ApiError::new(Code::InvalidJson, format!("invalid JSON: {e}")),
        other => ApiError::new(
            Code::InvalidJson,
            format!("could not read the body: {other}"),
        ),
    }
}

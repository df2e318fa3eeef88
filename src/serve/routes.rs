//! The HTTP routes. Handlers only translate between JSON and the Scorer; every answer
//! comes from `Scorer::score`, exactly as batch scoring does.

use super::access;
use super::answer_json::write_answer;
use super::error::{ApiError, Code};
use super::metrics::Metrics;
use super::outcomes::{campaign_of, record_contacts};
use super::record::{read_batch_named, read_record_named, BatchRecords, ItemPath};
use super::request::{
    finish_id, json_body, limited_body, parse_json, parse_json_array, record_from_json, BodyFormat,
    RawRecord,
};
use super::state::{app_state, Admin, AppState, Authorized, Served};
use crate::access::audit::Subjects;
use crate::batch::{MarkedRows, MarkedSummary};
use crate::bundle::{Metrics as ModelMetrics, Schema, TrainingData};
use crate::features::Value;
use crate::models::segment::{CubeCell, SegmentProfile, Stability, ValuePyramid};
use crate::monitoring::{DriftReport, Window};
use crate::numfmt;
use crate::outcomes::contacts::{now_utc, ContactArm};
use crate::outcomes::{Campaign, Contact};
use crate::score::{Answer, ScoreError, Scored, Scorer, Scratch};
use actix_web::http::header::{HeaderValue, CONTENT_TYPE};
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::Serialize;
use serde_json::Value as Json;
use std::any::Any;
use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};
use utoipa::ToSchema;

/// A customer: the training columns as fields (numbers or strings); unknown fields are
/// ignored, absent or null ones are missing values.
#[derive(ToSchema)]
#[schema(example = json!({"customer_id": "7590-VHVEG", "tenure": 1, "contract": "Month-to-month", "monthly_charges": 29.85, "total_charges": 29.85}))]
pub struct CustomerRecord(#[allow(dead_code)] std::collections::HashMap<String, Json>);

pub(super) fn score_error(error: ScoreError, path: impl fmt::Display) -> ApiError {
    match error.field() {
        Some(field) => ApiError::field(
            Code::InvalidField,
            format!("{path}{field}"),
            error.to_string(),
        ),
        None => ApiError::new(Code::Internal, error.to_string()),
    }
}

/// Score one JSON record. A panic in the scorer is a bug; it fails this record alone with a
/// 500 instead of unwinding through the worker and dropping the connection.
/// With a `campaign` field, the record is also a contact of that campaign: the answer
/// shows its arm and the contact is returned for the store.
fn score_value(
    counters: &Metrics,
    scorer: &Scorer,
    window: Option<&Window>,
    body: &Json,
    path: &str,
) -> Result<(Answer, Option<Contact>), ApiError> {
    let campaign = campaign_of(body, path)?;
    if campaign.is_some() && scorer.id_column().is_none() {
        return Err(ApiError::field(
            Code::InvalidField,
            format!("{path}campaign"),
            "this bundle names no customer id column, so a contact could not be joined to its outcomes",
        ));
    }
    isolated(counters, || {
        let (id, values) = record_from_json(scorer, body, path)?;
        score_record(scorer, window, id, values, campaign.as_ref(), path)
    })
}

/// Score a record read straight from the body (one that names no campaign) and append
/// its answer as JSON to `out` (nothing on an error), texts borrowed from the bundle.
/// `scratch` is reused from record to record, as the batch CLI reuses it from row to row.
/// Returns the customer's id (for the audit trail).
fn score_raw_into<'a>(
    counters: &Metrics,
    scorer: &Scorer,
    window: Option<&Window>,
    raw: RawRecord<'a>,
    path: impl fmt::Display + Copy,
    scratch: &mut Scratch<'a>,
    out: &mut Vec<u8>,
) -> Result<Cow<'a, str>, ApiError> {
    let start = out.len();
    let written = isolated(counters, || {
        let id = finish_id(scorer, raw.id, path)?;
        scratch.values = raw.values;
        let scored = scorer
            .score_into(scratch)
            .map_err(|e| score_error(e, path))?;
        observe(window, &scored);
        write_answer(out, scorer, &id, &scored).map_err(write_error)?;
        Ok(id)
    });
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Count a scored record in the drift window, when monitoring is on.
pub(super) fn observe(window: Option<&Window>, scored: &Scored) {
    if let Some(window) = window {
        window.record(
            scored.values(),
            scored.segment,
            scored.risk.map(|r| r.probability),
        );
    }
}

/// Score a record read straight from the body (one that names no campaign).
fn score_raw(
    counters: &Metrics,
    scorer: &Scorer,
    window: Option<&Window>,
    raw: RawRecord,
    path: impl fmt::Display + Copy,
) -> Result<Answer, ApiError> {
    isolated(counters, || {
        let id = finish_id(scorer, raw.id, path)?;
        score_record(scorer, window, id, raw.values, None, path).map(|(answer, _)| answer)
    })
}

fn score_record(
    scorer: &Scorer,
    window: Option<&Window>,
    id: Cow<str>,
    values: Vec<Value>,
    campaign: Option<&Campaign>,
    path: impl fmt::Display,
) -> Result<(Answer, Option<Contact>), ApiError> {
    let mut contact = None;
    let contact_id = campaign.map(|_| id.to_string());
    let answer = scorer.score_observed(id, values, |s| {
        observe(window, s);
        if let (Some(campaign), Some(id)) = (campaign, &contact_id) {
            contact = Some(Contact::new(scorer, campaign, id, s, &now_utc()));
        }
    });
    let mut answer = answer.map_err(|e| score_error(e, path))?;
    answer.contact = contact.as_ref().map(|c| {
        Box::new(ContactArm {
            campaign: c.campaign.clone(),
            arm: c.arm,
        })
    });
    Ok((answer, contact))
}

/// Run `work`, turning a panic into an internal error with its message, counted in
/// `custscore_scoring_panics_total`. The Scorer is immutable, and a thread's remembered
/// offers only gain an entry once it is complete, so it is safe to keep serving after an
/// unwind.
pub(super) fn isolated<T>(
    counters: &Metrics,
    work: impl FnOnce() -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            counters.scoring_panics.inc();
            let why = panic_message(payload.as_ref());
            tracing::error!(panic = %why, "scoring panicked");
            Err(ApiError::new(
                Code::Internal,
                format!("scoring failed on an internal error ({why}); this record was not scored"),
            ))
        }
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("unknown panic")
}

/// Score one customer.
#[utoipa::path(post, path = "/v1/score", request_body = CustomerRecord,
    responses((status = 200, body = Answer), (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 413, body = ApiError),
              (status = 415, body = ApiError)))]
#[post("/v1/score")]
pub async fn score_one(
    _: Authorized,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let state = app_state(&req)?;
    let body = json_body(&req, payload, state.limits.max_body_bytes).await?;
    let (answer, contact, (id, version)) = off_worker_if_big(state, body.len(), move |state| {
        let served = state.served();
        let scorer = &*served.scorer;
        if super::events_body::may_have_events(&body) {
            let json = parse_json(&body)?;
            let events = isolated(&state.metrics, || {
                super::events_body::score_events(&served, &json)
            })?;
            if let Some(answer) = events {
                return Ok((to_json(&answer)?, None, (answer.id, answer.model_version)));
            }
        }
        let window = served.window.as_deref();
        let counters = &state.metrics;
        let (answer, contact) = match read_record_named(scorer, &served.names, &body)? {
            Some(raw) if state.shadow.is_none() => {
                let mut out = Vec::with_capacity(ONE_ANSWER_BYTES);
                let scratch = &mut Scratch::default();
                let id = score_raw_into(counters, scorer, window, raw, "", scratch, &mut out)?;
                return Ok((out, None, (id.into_owned(), scorer.version().to_string())));
            }
            Some(raw) => (score_raw(counters, scorer, window, raw, "")?, None),
            None => {
                let json = parse_json(&body)?;
                score_value(counters, scorer, window, &json, "")?
            }
        };
        let out = to_json(&answer)?;
        if let Some(shadow) = &state.shadow {
            // The body parsed once already: the tree is rebuilt only for shadowed records.
            shadow.offer(&answer, || parse_json(&body).unwrap_or(Json::Null));
        }
        Ok((out, contact, (answer.id, answer.model_version)))
    })
    .await?;
    access::note(&req, Some(&version), || Subjects::Ids {
        customer_ids: vec![id],
    });
    record_contacts(state, contact.into_iter().collect()).await?;
    Ok(json_response(answer))
}

/// Room for one answer, so that it is written without being copied as it grows (telco
/// answers run 1.2–1.5 KB: three offers with their rules, reasons, the churn target).
const ONE_ANSWER_BYTES: usize = 4096;

/// Bodies above this size are parsed, scored and written on actix's blocking pool: a
/// 1,000-record batch is milliseconds of CPU that would stall every other connection of
/// the worker. Smaller bodies stay inline, where the thread hop would cost more than the work.
const INLINE_BODY_BYTES: usize = 16 * 1024;

pub(super) async fn off_worker_if_big<T: Send + 'static>(
    state: &web::Data<AppState>,
    body_bytes: usize,
    work: impl FnOnce(&AppState) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    if body_bytes <= INLINE_BODY_BYTES {
        note_inline_request();
        return work(state);
    }
    let state = web::Data::clone(state);
    web::block(move || work(&state))
        .await
        .map_err(blocking_error)?
}

thread_local! {
    /// When this worker last answered a request small enough to run inline.
    static LAST_INLINE_REQUEST: Cell<Option<Instant>> = const { Cell::new(None) };
}

/// How long after a small request a worker keeps sending mid-sized batches to the
/// blocking pool: while small requests come, they are answered between a batch's
/// records by the OS, not after them.
const SMALL_REQUESTS_RECENT: Duration = Duration::from_millis(10);

fn note_inline_request() {
    LAST_INLINE_REQUEST.with(|last| last.set(Some(Instant::now())));
}

fn small_requests_lately() -> bool {
    LAST_INLINE_REQUEST.with(|last| {
        last.get()
            .is_some_and(|at| at.elapsed() < SMALL_REQUESTS_RECENT)
    })
}

fn blocking_error(e: actix_web::error::BlockingError) -> ApiError {
    ApiError::new(Code::Internal, format!("the blocking pool failed: {e}"))
}

pub(super) fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(value).map_err(write_error)
}

fn write_error(e: serde_json::Error) -> ApiError {
    ApiError::new(Code::Internal, format!("cannot write the answer: {e}"))
}

pub(super) fn json_response(body: Vec<u8>) -> HttpResponse {
    // A value made at compile time: `ContentType::json()` formats and checks it each time.
    const JSON: HeaderValue = HeaderValue::from_static("application/json");
    HttpResponse::Ok()
        .insert_header((CONTENT_TYPE, JSON))
        .body(body)
}

/// One item of a batch answer: the answer, or the error for that item alone.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    Scored(Box<Answer>),
    Failed { index: usize, error: ApiError },
}

#[derive(Serialize, ToSchema)]
pub struct BatchAnswer {
    pub model_version: String,
    /// One entry per request item, in request order.
    pub results: Vec<BatchItem>,
    // The counts come last: the answer is written as it is scored, without a copy.
    pub scored: usize,
    pub failed: usize,
}

/// Score many customers; an error in one item is reported for that item only. A JSON
/// array is answered in JSON; a CSV body (`text/csv`: a header row, then one customer a
/// row, as `custscore score --input` reads it) is answered in CSV as `custscore score
/// --rejects -` writes it: the same columns, every row in order, a row that cannot be
/// scored marked in `_rejected` (line and reason) and `_record`.
#[utoipa::path(post, path = "/v1/score/batch",
    request_body(content(
        (Vec<CustomerRecord> = "application/json"),
        (String = "text/csv", example = json!("customer_id,tenure,contract\n7590-VHVEG,1,Month-to-month\n"))
    )),
    responses((status = 200, content((BatchAnswer = "application/json"), (String = "text/csv")),
                  headers(("x-scored" = usize, description = "CSV answers: rows scored"),
                          ("x-rejected" = usize, description = "CSV answers: rows marked rejected"))),
              (status = 400, body = ApiError),
              (status = 401, body = ApiError), (status = 406, body = ApiError),
              (status = 413, body = ApiError), (status = 415, body = ApiError)))]
#[post("/v1/score/batch")]
pub async fn score_batch(
    _: Authorized,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let state = app_state(&req)?;
    let Some(format) = BodyFormat::of(&req) else {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            "send the records as a JSON array (`Content-Type: application/json`) or as CSV \
             with a header row (`Content-Type: text/csv`)",
        ));
    };
    if !format.accepted_by(&req) {
        return Err(ApiError::new(
            Code::NotAcceptable,
            format!(
                "a {} batch is answered in {}, which the Accept header refuses; send the \
                 records in the format you want back",
                format.media_type(),
                format.media_type()
            ),
        ));
    }
    let body = limited_body(&req, payload, state.limits.max_body_bytes).await?;
    if format == BodyFormat::Csv {
        return score_csv_batch(state, &req, body).await;
    }
    let sliced = state.shadow.is_none() && on_worker_in_slices(body.len());
    if sliced {
        if let Some((answer, (version, customers))) = write_batch_sliced(state, &body).await? {
            access::note(&req, Some(&version), || Subjects::Count { customers });
            return Ok(json_response(answer));
        }
    }
    let (answer, contacts, (version, customers)) =
        off_worker_if_big(state, body.len(), move |state| {
            if state.shadow.is_none() && !sliced {
                if let Some((written, seen)) = write_batch(state, &body)? {
                    return Ok((written, Vec::new(), seen));
                }
            }
            let (answer, contacts) = batch_answer(state, &body)?;
            let seen = (answer.model_version.clone(), answer.results.len());
            Ok((to_json(&answer)?, contacts, seen))
        })
        .await?;
    access::note(&req, Some(&version), || Subjects::Count { customers });
    record_contacts(state, contacts).await?;
    Ok(json_response(answer))
}

/// Batches up to this size (a CSV body counted as its JSON equivalent) may be scored on
/// the worker in slices ([`write_batch_sliced`], [`score_csv_sliced`]); larger ones go
/// to the blocking pool. The records are read before the first slice, about 2 µs a
/// record, so this bounds that stall to about 300 µs (some 140 telco records).
const SLICED_BODY_BYTES: usize = 64 * 1024;

/// Whether a batch of `body_bytes` (JSON, or a CSV body's JSON equivalent) is scored on
/// the worker, in slices: small ones always (as every small body), mid-sized ones while
/// the worker has had no small request lately. The hop to the blocking pool and back
/// costs two thread switches, a tenth of a 100-record batch's CPU; it is paid only where
/// it keeps small requests from waiting behind a batch.
fn on_worker_in_slices(body_bytes: usize) -> bool {
    if body_bytes <= INLINE_BODY_BYTES {
        note_inline_request();
        return true;
    }
    body_bytes <= SLICED_BODY_BYTES && !small_requests_lately()
}

/// A customer takes about a quarter of the bytes as a CSV row that it takes as a JSON
/// object (telco: 128 vs 450), so a CSV body holds as much scoring work as a JSON body
/// about this many times its length: the same number of records stays on the worker.
const CSV_ROW_TO_JSON_RECORD: usize = 4;

/// A CSV batch, answered in CSV by the batch CLI's row writer. Like a JSON batch, one of
/// up to [`SLICED_BODY_BYTES`] worth of records is scored on the worker in slices while
/// the worker has had no small request lately; a larger one on the blocking pool.
async fn score_csv_batch(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let as_json_bytes = body.len().saturating_mul(CSV_ROW_TO_JSON_RECORD);
    let (answer, summary, version) = if on_worker_in_slices(as_json_bytes) {
        score_csv_sliced(state, &body).await?
    } else {
        off_worker_if_big(state, as_json_bytes, move |state| {
            let served = arc_swap::Guard::into_inner(state.served());
            let mut scoring = CsvScoring::read(state, served, &body)?;
            while scoring.next(state, usize::MAX)? {}
            Ok(scoring.finish(state))
        })
        .await?
    };
    access::note(req, Some(&version), || Subjects::Count {
        customers: summary.rows_in,
    });
    let count = |n: usize| {
        let mut text = String::with_capacity(8);
        numfmt::push_integer(&mut text, n as u64);
        text
    };
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("x-scored", count(summary.rows_in - summary.rejected)))
        .insert_header(("x-rejected", count(summary.rejected)))
        .body(answer))
}

/// [`score_csv_batch`] on the worker, handing it to the worker's other connections after
/// every [`RECORDS_PER_SLICE`] rows (as [`write_batch_sliced`] does for JSON).
async fn score_csv_sliced(
    state: &AppState,
    body: &[u8],
) -> Result<(Vec<u8>, MarkedSummary, String), ApiError> {
    let served = arc_swap::Guard::into_inner(state.served());
    let mut scoring = CsvScoring::read(state, served, body)?;
    while scoring.next(state, RECORDS_PER_SLICE)? {
        actix_web::rt::task::yield_now().await;
    }
    Ok(scoring.finish(state))
}

/// A CSV batch being scored by the bundle served when it arrived (owned, not borrowed:
/// a sliced batch keeps it across its yields).
struct CsvScoring {
    served: Arc<Served>,
    rows: MarkedRows,
    out: Vec<u8>,
}

impl CsvScoring {
    fn read(state: &AppState, served: Arc<Served>, body: &[u8]) -> Result<Self, ApiError> {
        // Answers run about twice the length of their rows.
        let mut out = Vec::with_capacity(body.len() * 5 / 2 + 1024);
        let limit = state.limits.max_batch_items;
        let rows = isolated(&state.metrics, || {
            MarkedRows::read(&served.scorer, "body".as_ref(), body, limit, &mut out)
                .map_err(csv_body_error)
        })?;
        Ok(CsvScoring { served, rows, out })
    }

    /// Score the next `n` rows; `false` once all are done.
    fn next(&mut self, state: &AppState, n: usize) -> Result<bool, ApiError> {
        let CsvScoring { served, rows, out } = self;
        let window = served.window.as_deref();
        let version = served.scorer.version();
        isolated(&state.metrics, || {
            Ok(rows.score(&served.scorer, n, out, |scored, row| {
                observe(window, scored);
                if let Some(shadow) = &state.shadow {
                    shadow.offer_scored(version, row.id(), scored, || row.to_json());
                }
            }))
        })
    }

    fn finish(self, state: &AppState) -> (Vec<u8>, MarkedSummary, String) {
        let summary = self.rows.summary();
        // A panicking row is answered as a reject, so `isolated` never sees it.
        state.metrics.scoring_panics.inc_by(summary.panicked as u64);
        (self.out, summary, self.served.scorer.version().to_string())
    }
}

/// A CSV body that cannot be scored at all: a 400 naming the body and its line.
fn csv_body_error(error: crate::batch::BatchError) -> ApiError {
    use crate::batch::BatchError;
    let code = match error {
        BatchError::Header { .. } | BatchError::HeaderRow { .. } => Code::InvalidCsv,
        BatchError::TooManyRows { .. } => Code::TooManyItems,
        _ => Code::Internal,
    };
    ApiError::field(code, "body", crate::error_chain(&error))
}

/// What the audit trail notes of a batch: the model version and the number of records.
type BatchSeen = (String, usize);

/// The batch answer written straight from the records (the JSON of [`BatchAnswer`]), with
/// what the audit trail notes of it; `None` when a record names a campaign, which
/// [`batch_answer`] handles.
fn write_batch(state: &AppState, body: &[u8]) -> Result<Option<(Vec<u8>, BatchSeen)>, ApiError> {
    let Some((mut writer, records)) = BatchWriter::start(state, body)? else {
        return Ok(None);
    };
    let mut scratch = Scratch::default();
    for (index, record) in records.into_iter().enumerate() {
        writer.write(index, record, &mut scratch)?;
    }
    Ok(Some(writer.finish()))
}

/// Records scored between two yields of [`write_batch_sliced`]: about 75 µs of work, so a
/// batch delays the worker's other connections by no more than that at a time.
const RECORDS_PER_SLICE: usize = 25;

/// [`write_batch`] on the worker, handing it back to the worker's other connections
/// after every [`RECORDS_PER_SLICE`] records instead of hopping to the blocking pool
/// and back (two thread switches a request).
async fn write_batch_sliced(
    state: &AppState,
    body: &[u8],
) -> Result<Option<(Vec<u8>, BatchSeen)>, ApiError> {
    let Some((mut writer, records)) = BatchWriter::start(state, body)? else {
        return Ok(None);
    };
    let mut scratch = Scratch::default();
    for (index, record) in records.into_iter().enumerate() {
        if index > 0 && index % RECORDS_PER_SLICE == 0 {
            actix_web::rt::task::yield_now().await;
        }
        writer.write(index, record, &mut scratch)?;
    }
    Ok(Some(writer.finish()))
}

/// A batch answer being written record by record.
struct BatchWriter<'s> {
    state: &'s AppState,
    /// Owned, not borrowed: a sliced batch keeps it across its yields.
    served: Arc<Served>,
    total: usize,
    failed: usize,
    out: Vec<u8>,
}

impl<'s> BatchWriter<'s> {
    /// The body's records and a writer with the answer's opening written; `None` when a
    /// record names a campaign.
    fn start<'b>(
        state: &'s AppState,
        body: &'b [u8],
    ) -> Result<Option<(Self, BatchRecords<'b>)>, ApiError> {
        let served = arc_swap::Guard::into_inner(state.served());
        let limit = state.limits.max_batch_items;
        let Some(records) = read_batch_named(&*served.scorer, &served.names, body, limit)? else {
            return Ok(None);
        };
        let mut out = Vec::with_capacity(1024);
        out.extend_from_slice(b"{\"model_version\":");
        out.extend_from_slice(served.scorer.json_texts().version.as_bytes());
        out.extend_from_slice(b",\"results\":[");
        let writer = BatchWriter {
            state,
            served,
            total: records.len(),
            failed: 0,
            out,
        };
        Ok(Some((writer, records)))
    }

    /// Append the answer, or the error, of the record at `index`.
    fn write<'b>(
        &mut self,
        index: usize,
        record: Result<RawRecord<'b>, ApiError>,
        scratch: &mut Scratch<'b>,
    ) -> Result<(), ApiError> {
        let out = &mut self.out;
        if index > 0 {
            out.push(b',');
        }
        if index == 1 {
            // Room for all answers at a quarter above the first one's length: they
            // vary, and growing a buffer this size by doubling copies all of it.
            let first = out.len();
            out.reserve((first + first / 4 + 64) * self.total);
        }
        let path = ItemPath::Item(index);
        let written = record.and_then(|raw| {
            let (counters, scorer) = (&self.state.metrics, &*self.served.scorer);
            let window = self.served.window.as_deref();
            score_raw_into(counters, scorer, window, raw, path, scratch, out).map(drop)
        });
        if let Err(error) = written {
            self.failed += 1;
            let item = BatchItem::Failed { index, error };
            serde_json::to_writer(&mut *out, &item).map_err(write_error)?;
        }
        Ok(())
    }

    /// The answer with its counts, and what the audit trail notes of it.
    fn finish(mut self) -> (Vec<u8>, BatchSeen) {
        let mut counts = String::with_capacity(48);
        counts.push_str("],\"scored\":");
        numfmt::push_integer(&mut counts, (self.total - self.failed) as u64);
        counts.push_str(",\"failed\":");
        numfmt::push_integer(&mut counts, self.failed as u64);
        counts.push('}');
        self.out.extend_from_slice(counts.as_bytes());
        (
            self.out,
            (self.served.scorer.version().to_string(), self.total),
        )
    }
}

fn batch_answer(state: &AppState, body: &[u8]) -> Result<(BatchAnswer, Vec<Contact>), ApiError> {
    let served = state.served();
    let (scorer, window) = (&*served.scorer, served.window.as_deref());
    let limit = state.limits.max_batch_items;
    let mut contacts = Vec::new();
    let results: Vec<BatchItem> = match read_batch_named(scorer, &served.names, body, limit)? {
        Some(records) => records
            .into_iter()
            .enumerate()
            .map(|(index, record)| {
                let scored = record.and_then(|raw| {
                    let path = ItemPath::Item(index);
                    score_raw(&state.metrics, scorer, window, raw, path)
                });
                match scored {
                    Ok(answer) => BatchItem::Scored(Box::new(answer)),
                    Err(error) => BatchItem::Failed { index, error },
                }
            })
            .collect(),
        None => {
            let items = parse_json_array(body, limit, "customer objects", "items")?;
            items
                .iter()
                .enumerate()
                .map(|(index, item)| {
                    let path = format!("[{index}].");
                    match score_value(&state.metrics, scorer, window, item, &path) {
                        Ok((answer, contact)) => {
                            contacts.extend(contact);
                            BatchItem::Scored(Box::new(answer))
                        }
                        Err(error) => BatchItem::Failed { index, error },
                    }
                })
                .collect()
        }
    };
    if let Some(shadow) = &state.shadow {
        // The tree is built once, and only when a record is picked for shadowing.
        let tree = std::cell::OnceCell::new();
        for (index, result) in results.iter().enumerate() {
            if let BatchItem::Scored(answer) = result {
                shadow.offer(answer, || {
                    let items = tree.get_or_init(|| parse_json(body).ok());
                    items
                        .as_ref()
                        .and_then(|items| items.get(index))
                        .cloned()
                        .unwrap_or(Json::Null)
                });
            }
        }
    }
    let failed = results
        .iter()
        .filter(|r| matches!(r, BatchItem::Failed { .. }))
        .count();
    let answer = BatchAnswer {
        model_version: scorer.version().to_string(),
        scored: results.len() - failed,
        failed,
        results,
    };
    Ok((answer, contacts))
}

#[derive(Serialize, ToSchema)]
pub struct ModelInfo {
    pub version: String,
    pub created: String,
    pub custscore_version: String,
    #[schema(value_type = Object)]
    pub training: TrainingData,
    #[schema(value_type = Object)]
    pub schema: Schema,
    #[schema(value_type = Object)]
    pub metrics: ModelMetrics,
    /// Versions present in the models folder, oldest first.
    pub available: Vec<String>,
    /// Every version, its gate result and the history of CURRENT (as
    /// `custscore models list --json`).
    #[schema(value_type = Object)]
    pub registry: Option<crate::lifecycle::Registry>,
    /// Agreement with the shadowed challenger (absent without `--shadow`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shadow: Option<super::shadow::ShadowReport>,
}

/// The bundle being served, and the others on disk.
#[utoipa::path(get, path = "/v1/models", responses((status = 200, body = ModelInfo)))]
#[get("/v1/models")]
pub async fn models(_: Authorized, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let scorer = state.scorer();
    let m = &scorer.bundle().manifest;
    // Listing a folder can block on a slow or network disk: never on an async worker.
    let folder = state.models.clone();
    let app = state.clone();
    let (available, registry) = web::block(move || {
        let mut registry = crate::lifecycle::registry::list(&folder)
            .map_err(
                |e| tracing::warn!(error = %crate::error_chain(&e), "cannot list the registry"),
            )
            .ok();
        if let (Some(registry), Some(store)) = (&mut registry, &app.outcomes) {
            store.add_realized_aucs(registry);
        }
        if let Some(shadow) = &app.shadow {
            shadow.follow_folder(&folder);
        }
        (bundle_versions(&folder), registry)
    })
    .await
    .map_err(blocking_error)?;
    Ok(HttpResponse::Ok().json(ModelInfo {
        version: m.version.clone(),
        created: m.created.clone(),
        custscore_version: m.custscore_version.clone(),
        training: m.training.clone(),
        schema: m.schema.clone(),
        metrics: m.metrics.clone(),
        available,
        registry,
        shadow: state.shadow.as_ref().map(|s| s.report()),
    }))
}

/// The bundle versions in the models folder (folders holding a manifest), sorted.
fn bundle_versions(folder: &std::path::Path) -> Vec<String> {
    let mut versions: Vec<String> = std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .flatten()
                .filter(|e| e.path().join(crate::bundle::MANIFEST).is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions
}

#[derive(Serialize, ToSchema)]
pub struct SegmentsInfo {
    pub model_version: String,
    #[schema(value_type = Vec<Object>)]
    pub segments: Vec<SegmentProfile>,
    #[schema(value_type = Option<Object>)]
    pub pyramid: Option<ValuePyramid>,
    /// Segment × value tier × value quadrant: customers, value and churn rate per cell.
    #[schema(value_type = Vec<Object>)]
    pub cube: Vec<CubeCell>,
    #[schema(value_type = Option<Object>)]
    pub stability: Option<Stability>,
}

/// Segment profiles and the value pyramid.
#[utoipa::path(get, path = "/v1/segments", responses((status = 200, body = SegmentsInfo)))]
#[get("/v1/segments")]
pub async fn segments(_: Authorized, state: web::Data<AppState>) -> HttpResponse {
    let scorer = state.scorer();
    let bundle = scorer.bundle();
    HttpResponse::Ok().json(SegmentsInfo {
        model_version: bundle.manifest.version.clone(),
        segments: bundle.segments.profiles.clone(),
        pyramid: bundle.pyramid.clone(),
        cube: bundle.segments.cube.clone(),
        stability: bundle.segments.stability.clone(),
    })
}

#[derive(Serialize, ToSchema)]
pub struct ReloadAnswer {
    pub previous: String,
    pub version: String,
}

/// Load the CURRENT bundle, verify it and swap it in; a bad bundle is refused (409) and
/// the old one keeps serving.
#[utoipa::path(post, path = "/v1/admin/reload",
    responses((status = 200, body = ReloadAnswer), (status = 409, body = ApiError),
              (status = 403, body = ApiError)))]
#[post("/v1/admin/reload")]
pub async fn reload(_: Admin, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let outcome = web::block(move || state.reload())
        .await
        .map_err(|e| ApiError::new(Code::Internal, e.to_string()))?;
    match outcome {
        Ok((previous, version)) => Ok(HttpResponse::Ok().json(ReloadAnswer { previous, version })),
        Err(e) => Err(ApiError::new(
            Code::BundleRefused,
            format!(
                "{}; still serving the previous bundle",
                crate::error_chain(&e)
            ),
        )),
    }
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
    pub model_version: Option<String>,
}

/// Liveness: the process answers, with the version of the bundle it serves.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok",
        model_version: Some(state.scorer().version().to_string()),
    })
}

/// Readiness: a verified bundle is loaded and scoring.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = Health)))]
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ready",
        model_version: Some(state.scorer().version().to_string()),
    })
}

#[derive(Serialize, ToSchema)]
pub struct MonitoringInfo {
    pub model_version: String,
    /// The window's kind (`records` or `time`), span and the records in it now.
    pub window: crate::monitoring::WindowInfo,
    /// PSI per input and per score, rates, and ok / warn / alert.
    #[schema(value_type = Object)]
    pub drift: DriftReport,
}

/// Drift of the recently scored records from the bundle's training profile: PSI,
/// missing, unseen and out-of-range rates per input, PSI of the churn probability and
/// of the segment shares, each with ok / warn / alert.
#[utoipa::path(get, path = "/v1/monitoring",
    responses((status = 200, body = MonitoringInfo), (status = 404, body = ApiError)))]
#[get("/v1/monitoring")]
pub async fn monitoring(
    _: Authorized,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let scorer = state.scorer();
    let Some((drift, window)) = state.drift_and_window() else {
        let why = if state.monitoring.enabled {
            "this bundle has no drift reference (trained by an older custscore); retrain it"
        } else {
            "monitoring is off (--no-monitoring)"
        };
        return Err(ApiError::new(Code::NotFound, why));
    };
    Ok(HttpResponse::Ok().json(MonitoringInfo {
        model_version: scorer.version().to_string(),
        window,
        drift,
    }))
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", responses((status = 200, body = String)))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    state.metrics.drift(state.drift().as_ref());
    if let Some(shadow) = &state.shadow {
        shadow.report();
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

/// This API's OpenAPI document, with the served bundle's columns as the customer fields.
#[get("/openapi.json")]
pub async fn openapi(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(super::openapi::document(&state.scorer()))
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::new(
        Code::NotFound,
        "no such route; see /openapi.json",
    ))
}

/// One cross-sell rule with its measures (`conviction` is null when confidence is 1).
#[derive(Serialize, ToSchema)]
pub struct RuleInfo {
    pub antecedent: Vec<String>,
    pub consequent: String,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
    pub leverage: f64,
    pub conviction: Option<f64>,
    pub zhang: f64,
}

#[derive(Serialize, ToSchema)]
pub struct RulesInfo {
    pub model_version: String,
    pub item: Option<String>,
    pub rules: Vec<RuleInfo>,
}

const RULES_LIMIT: usize = 50;
const RULES_LIMIT_MAX: usize = 1000;

/// The cross-sell rules of the bundle, strongest first; with `item`, only the rules that
/// name that product (in the antecedent or as the consequent).
#[utoipa::path(get, path = "/v1/rules",
    params(
        ("item" = Option<String>, Query, description = "only rules naming this product"),
        ("limit" = Option<usize>, Query, description = "at most this many rules (default 50, at most 1000)")
    ),
    responses((status = 200, body = RulesInfo), (status = 400, body = ApiError),
              (status = 404, body = ApiError)))]
#[get("/v1/rules")]
pub async fn rules(
    _: Authorized,
    state: web::Data<AppState>,
    query: web::Query<std::collections::HashMap<String, String>>,
) -> Result<HttpResponse, ApiError> {
    let scorer = state.scorer();
    let bundle = scorer.bundle();
    let Some(model) = &bundle.rules else {
        return Err(ApiError::new(
            Code::NotFound,
            "this bundle has no cross-sell rules (train with --holdings)",
        ));
    };
    let limit = match query.get("limit") {
        None => RULES_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=RULES_LIMIT_MAX).contains(&n) => n,
            _ => {
                return Err(ApiError::field(
                    Code::InvalidField,
                    "limit",
                    format!("limit must be a whole number from 1 to {RULES_LIMIT_MAX}"),
                ))
            }
        },
    };
    let item = match query.get("item") {
        None => None,
        Some(name) => Some(model.item_id(name).ok_or_else(|| {
            ApiError::field(
                Code::NotFound,
                "item",
                format!("no product named {name:?} in the rules"),
            )
        })?),
    };
    let rules = model
        .rules
        .iter()
        .filter(|r| item.is_none_or(|i| r.consequent == i || r.antecedent.contains(&i)))
        .take(limit)
        .map(|r| {
            let m = model.metrics(r);
            RuleInfo {
                antecedent: r
                    .antecedent
                    .iter()
                    .map(|&i| model.items[i as usize].clone())
                    .collect(),
                consequent: model.items[r.consequent as usize].clone(),
                support: m.support,
                confidence: m.confidence,
                lift: m.lift,
                leverage: m.leverage,
                conviction: m.conviction.is_finite().then_some(m.conviction),
                zhang: m.zhang,
            }
        })
        .collect();
    Ok(HttpResponse::Ok().json(RulesInfo {
        model_version: bundle.manifest.version.clone(),
        item: query.get("item").cloned(),
        rules,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::StatusCode;

    #[test]
    fn mid_sized_batches_leave_the_worker_only_after_small_requests() {
        // A test's thread has answered nothing: a mid-sized batch stays on it.
        assert!(on_worker_in_slices(INLINE_BODY_BYTES + 1));
        assert!(!on_worker_in_slices(SLICED_BODY_BYTES + 1));
        // A small body always stays, and sends the next mid-sized one to the pool.
        assert!(on_worker_in_slices(INLINE_BODY_BYTES));
        assert!(!on_worker_in_slices(INLINE_BODY_BYTES + 1));
        assert!(!on_worker_in_slices(SLICED_BODY_BYTES));
    }

    #[test]
    fn a_panic_while_scoring_becomes_a_counted_500_with_its_message() {
        let counters = Metrics::new().unwrap();
        let failed: Result<(), ApiError> =
            isolated(&counters, || panic!("index 9 out of range in a model"));
        let error = failed.unwrap_err();
        assert_eq!(error.error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            error.detail.contains("index 9 out of range in a model"),
            "{error}"
        );
        let owned: Result<(), ApiError> = isolated(&counters, || panic!("{} panics", 2));
        assert!(owned.unwrap_err().detail.contains("2 panics"));
        assert_eq!(counters.scoring_panics.get(), 2);
        assert!(
            counters
                .render()
                .contains("custscore_scoring_panics_total 2"),
            "{}",
            counters.render()
        );
        assert_eq!(isolated(&counters, || Ok::<_, ApiError>(7)).unwrap(), 7);
    }
}

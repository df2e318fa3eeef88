//! `bare_actix ADDR WORKERS`: POST /v1/score parses the JSON body into a
//! `serde_json::Value` and answers `{"id": <customer_id>, "ok": true}`; a body that is not
//! JSON gets a 400. Same server settings as `custscore serve` (workers, default keep-alive
//! and backlog, 30 s shutdown timeout).

use actix_web::{post, web, App, HttpResponse, HttpServer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[post("/v1/score")]
async fn score(body: web::Bytes) -> HttpResponse {
    match serde_json::from_slice::<serde_json::Value>(&body) {
        Ok(record) => HttpResponse::Ok().json(serde_json::json!({
            "id": record.get("customer_id"),
            "ok": true,
        })),
        Err(e) => HttpResponse::BadRequest().json(serde_json::json!({ "error": e.to_string() })),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18191".into());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(2);
    eprintln!("bare actix-web on {addr}, {workers} workers");
    HttpServer::new(|| App::new().service(score))
        .workers(workers)
        .shutdown_timeout(30)
        .bind(addr)?
        .run()
        .await
}

//! `GET /v1/task/{functionId}/csv`: a function's tasks as CSV (`ID,IssuedAt,Status,ContentType,
//! Body`), streamed page by page so a long history never sits in memory.

use actix_web::http::header;
use actix_web::{get, web, HttpResponse};
use base64::Engine;
use futures_util::stream;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::parse_instant;
use crate::db;
use crate::db::history::{ExportRow, TaskFilter};
use crate::error::{ApiError, ApiResult};
use crate::extract::AuthUser;
use crate::routes::{path_id, query_id};
use crate::state::AppState;

/// Rows read per query while streaming.
const PAGE: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CsvQuery {
    /// Bodies as text (invalid UTF-8 replaced) instead of base64.
    pub show_plain: Option<bool>,
    /// Only tasks this schedule started.
    pub scheduled_id: Option<String>,
    /// Issued at or after: Unix seconds, RFC 3339 or `YYYY-MM-DD`.
    pub date_since: Option<String>,
    /// Issued before: same forms.
    pub date_until: Option<String>,
}

/// The function's tasks, oldest first: `ID,IssuedAt,Status,ContentType,Body` where `Status` is
/// the function's HTTP status (0 until it answered, as in the task list), `IssuedAt` RFC 3339
/// and `Body` the response, base64 unless `showPlain=true`.
#[utoipa::path(get, path = "/v1/task/{functionId}/csv", tag = "task", security(("bearer" = [])),
    params(("functionId" = String, Path), CsvQuery),
    responses((status = 200, description = "text/csv"), (status = 400, body = crate::error::Problem),
              (status = 404, description = "FUNCTION_NOT_FOUND")))]
#[get("/task/{functionId}/csv")]
pub async fn export_csv(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<CsvQuery>,
) -> ApiResult<HttpResponse> {
    let function_id = path_id(&path, "FUNCTION_NOT_FOUND", "function")?;
    let query = query.into_inner();
    let filter = TaskFilter {
        function_id: Some(function_id),
        schedule_id: query_id(query.scheduled_id.as_deref(), "scheduledId")?,
        since: query
            .date_since
            .as_deref()
            .map(|t| parse_instant("dateSince", t))
            .transpose()?,
        until: query
            .date_until
            .as_deref()
            .map(|t| parse_instant("dateUntil", t))
            .transpose()?,
        ..TaskFilter::default()
    };
    let mut conn = state.pool.acquire().await?;
    // Deleted functions keep their history; another account's is a 404.
    if !db::history::function_owned(&mut conn, user.account_id, function_id).await? {
        return Err(ApiError::not_found(
            "FUNCTION_NOT_FOUND",
            format!("no function with id {:?}", path.as_str()),
        ));
    }
    let first = db::history::export_page(&mut conn, user.account_id, &filter, None, PAGE).await?;
    drop(conn);
    let plain = query.show_plain.unwrap_or(false);
    let header_line = web::Bytes::from_static(b"ID,IssuedAt,Status,ContentType,Body\r\n");
    let pages = stream::unfold(
        Some((first, state.into_inner(), user.account_id, filter)),
        move |next| async move {
            let (rows, state, account, filter) = next?;
            if rows.is_empty() {
                return None;
            }
            let text = rows.iter().map(|row| line(row, plain)).collect::<String>();
            let cursor: Option<Uuid> = rows.last().map(|row| row.id);
            let more = rows.len() as i64 == PAGE;
            let following = if more {
                let page = async {
                    let mut conn = state.pool.acquire().await?;
                    db::history::export_page(&mut conn, account, &filter, cursor, PAGE).await
                }
                .await;
                match page {
                    Ok(rows) => Some((rows, state, account, filter)),
                    Err(error) => {
                        // The status line is gone; end the body early, as a truncated download.
                        tracing::error!(error = %error, "CSV export stopped");
                        None
                    }
                }
            } else {
                None
            };
            Some((Ok::<_, actix_web::Error>(web::Bytes::from(text)), following))
        },
    );
    let first_line = stream::once(async move { Ok::<_, actix_web::Error>(header_line) });
    let body = futures_util::StreamExt::chain(first_line, pages);
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"tasks-{}.csv\"", path.as_str()),
        ))
        .streaming(body))
}

fn line(row: &ExportRow, plain: bool) -> String {
    let body = row.response_body.as_deref().unwrap_or_default();
    let body = if plain {
        String::from_utf8_lossy(body).into_owned()
    } else {
        base64::engine::general_purpose::STANDARD.encode(body)
    };
    let fields = [
        canopy_shared::format_id(row.id),
        row.issued_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        row.response_status.unwrap_or(0).to_string(),
        row.response_content_type.clone().unwrap_or_default(),
        body,
    ];
    let mut out = fields
        .iter()
        .map(|field| field_of(field))
        .collect::<Vec<_>>()
        .join(",");
    out.push_str("\r\n");
    out
}

/// RFC 4180 quoting, and a leading `'` before what a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`, tab, CR): a function's output must not become code in its owner's sheet.
fn field_of(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused() {
        assert_eq!(field_of("plain"), "plain");
        assert_eq!(field_of("a,b"), "\"a,b\"");
        assert_eq!(field_of("say \"hi\"\n"), "\"say \"\"hi\"\"\n\"");
        assert_eq!(field_of("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field_of("-1"), "'-1");
    }
}

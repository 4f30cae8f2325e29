//! GreenCloud's numbered pages (`page`, `limit`) and their `{pageCount, pageSize, totalCount,
//! results}` envelope, shared by the endpoint, trigger and schedule lists.

use serde::Serialize;

use crate::error::{ApiError, ApiResult};

/// A checked page request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PageRequest {
    pub limit: i64,
    pub offset: i64,
}

/// `page` from 1 (default 1), `limit` 1–999 (default 10).
pub(crate) fn page_request(page: Option<i64>, limit: Option<i64>) -> ApiResult<PageRequest> {
    let page = page.unwrap_or(1);
    let limit = limit.unwrap_or(10);
    if page < 1 {
        return Err(ApiError::invalid_field("page", "must be at least 1"));
    }
    if !(1..=999).contains(&limit) {
        return Err(ApiError::invalid_field(
            "limit",
            "must be between 1 and 999",
        ));
    }
    Ok(PageRequest {
        limit,
        offset: (page - 1).saturating_mul(limit),
    })
}

/// The envelope of one page of `total` results.
pub(crate) fn page_body<T: Serialize>(
    request: PageRequest,
    total: i64,
    results: Vec<T>,
) -> serde_json::Value {
    let limit = request.limit;
    serde_json::json!({
        "pageCount": (total + limit - 1) / limit, "pageSize": limit, "totalCount": total, "results": results,
    })
}

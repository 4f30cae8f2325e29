//! `POST /create`: a Serverledge function becomes a Canopy function (capabilities from `MemoryMB`
//! and `CPUDemand`) with a successful build made from `TarFunctionCode`.

use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use base64::Engine;
use chrono::Utc;
use serde::Deserialize;

use super::auth::Caller;
use super::runtime;
use super::{body, FacadeError};
use crate::builds;
use crate::db;
use crate::db::functions::{CapabilityChange, NewFunction};
use crate::db::serverledge::NewFacadeFunction;
use crate::domain::archive::{self, CodePackage};
use crate::state::AppState;

/// Where the runner finds how to call a Serverledge handler (runtimes read it at start).
pub const MANIFEST_PATH: &str = ".canopy/serverledge.json";
/// The largest memory and CPU a function may ask for (the GreenCloud capability limits).
const MAX_MEMORY_MB: i64 = 2048;
const MAX_CPUS: f64 = 4.0;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) struct CreateRequest {
    pub name: String,
    pub runtime: String,
    #[serde(default)]
    pub memorymb: i64,
    #[serde(default)]
    pub cpudemand: f64,
    #[serde(default)]
    pub handler: String,
    #[serde(default)]
    pub tarfunctioncode: String,
    #[serde(default)]
    pub customimage: String,
}

/// What was checked before anything is stored.
struct Checked {
    meta: Meta,
    entries: Vec<String>,
    code: Vec<u8>,
}

/// The function's columns.
pub(super) struct Meta {
    pub lang: &'static str,
    pub memory_mb: i32,
    pub cpu_count: i32,
}

/// `MemoryMB` and `CPUDemand` as capability columns.
pub(super) fn limits(request: &CreateRequest) -> Result<(i32, i32), FacadeError> {
    if !(1..=MAX_MEMORY_MB).contains(&request.memorymb) {
        return Err(FacadeError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_MEMORY",
            format!("Invalid memory limit: MemoryMB must be between 1 and {MAX_MEMORY_MB}"),
        ));
    }
    if !request.cpudemand.is_finite() || request.cpudemand > MAX_CPUS {
        return Err(FacadeError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_CPU",
            format!("Invalid CPUDemand: at most {MAX_CPUS} cores (-1 or 0: no cap)"),
        ));
    }
    // A fraction of a core still needs a core's slot; -1 and 0 mean no cap.
    Ok((
        request.memorymb as i32,
        request.cpudemand.max(0.0).ceil() as i32,
    ))
}

fn check_name(name: &str) -> Result<(), FacadeError> {
    let name_ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !name_ok {
        return Err(FacadeError::bad_request(
            "INVALID_NAME",
            "Invalid Name: 1 to 64 ASCII letters, digits, '_', '-' or '.'",
        ));
    }
    Ok(())
}

fn check(request: &CreateRequest) -> Result<Checked, FacadeError> {
    let runtime = runtime::parse(&request.runtime).ok_or_else(|| {
        FacadeError::new(
            StatusCode::NOT_FOUND,
            "INVALID_RUNTIME",
            format!(
                "Invalid runtime {:?}. Chosen Runtime does not exist; available: {}",
                request.runtime,
                runtime::ACCEPTED
            ),
        )
    })?;
    let (memory_mb, cpu_count) = limits(request)?;
    if request.handler.is_empty() {
        return Err(FacadeError::bad_request(
            "HANDLER_MISSING",
            "Handler is required",
        ));
    }
    let entries = runtime::entry_files(runtime.lang, &request.handler)
        .map_err(|message| FacadeError::bad_request("INVALID_HANDLER", message))?;
    if request.tarfunctioncode.is_empty() {
        return Err(FacadeError::bad_request(
            "CODE_MISSING",
            "TarFunctionCode is required (a base64-encoded tar or tar.gz)",
        ));
    }
    let compact: String = request
        .tarfunctioncode
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let code = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|error| {
            FacadeError::bad_request(
                "INVALID_CODE",
                format!("TarFunctionCode is not valid base64: {error}"),
            )
        })?;
    Ok(Checked {
        meta: Meta {
            lang: runtime.lang.code(),
            memory_mb,
            cpu_count,
        },
        entries,
        code,
    })
}

/// Registers a function: 200 `{"Created": name}`; 404 for a runtime Canopy cannot run; 409 when
/// the account already has a function of this name.
#[post("/create")]
#[tracing::instrument(skip_all, fields(account.id = %caller.account_id))]
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<HttpResponse, FacadeError> {
    // base64 grows the archive by a third.
    let limit = state.dispatch.build_archive_limit / 3 * 4 + 64 * 1024;
    let _turn = state.gates.build().await?;
    let received_at = Utc::now();
    let within = std::time::Duration::from_secs(state.dispatch.upload_timeout_s);
    let (request, _hold): (CreateRequest, _) =
        body::read_large(&req, payload, limit, within, &state.gates).await?;
    check_name(&request.name)?;
    if request.runtime == "custom" {
        let meta = super::custom::check(&request)?;
        ensure_new(&state, &caller, &request.name).await?;
        let upload = builds::Upload {
            account_id: caller.account_id,
            function_id: canopy_shared::new_id(),
            arch: "amd64",
            size: 0,
            received_at,
            quota: state.quotas.quota(&state.pool, caller.account_id).await?,
        };
        let image = Some(request.customimage.as_str());
        let package = builds::empty_package().map_err(FacadeError::unavailable)?;
        store(&state, &request, &meta, upload, &package, image).await?;
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "Created": request.name })));
    }
    let checked = check(&request)?;
    ensure_new(&state, &caller, &request.name).await?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "handler": request.handler,
        "runtime": request.runtime,
    }))
    .map_err(FacadeError::unavailable)?;
    let size = checked.code.len();
    let Checked {
        meta,
        entries,
        code,
    } = checked;
    let package = tokio::task::spawn_blocking(move || {
        archive::package_with(&code, &entries, vec![(MANIFEST_PATH.to_owned(), manifest)])
    })
    .await
    .map_err(FacadeError::unavailable)?
    .map_err(|error| FacadeError::bad_request(error.code(), format!("Invalid code: {error}")))?;
    let upload = builds::Upload {
        account_id: caller.account_id,
        function_id: canopy_shared::new_id(),
        arch: "amd64",
        size,
        received_at,
        quota: state.quotas.quota(&state.pool, caller.account_id).await?,
    };
    store(&state, &request, &meta, upload, &package, None).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "Created": request.name })))
}

/// 409 when the account already has a function of this name (the insert checks again).
async fn ensure_new(state: &AppState, caller: &Caller, name: &str) -> Result<(), FacadeError> {
    let mut conn = state.pool.acquire().await?;
    match db::serverledge::find_function(&mut conn, caller.account_id, name).await? {
        Some(_) => Err(exists(name)),
        None => Ok(()),
    }
}

fn exists(name: &str) -> FacadeError {
    FacadeError::new(
        StatusCode::CONFLICT,
        "FUNCTION_EXISTS",
        format!("Function already exists: {name}"),
    )
}

/// The function, its name, capabilities and build, in one transaction.
async fn store(
    state: &AppState,
    request: &CreateRequest,
    meta: &Meta,
    upload: builds::Upload<'_>,
    package: &CodePackage,
    image: Option<&str>,
) -> Result<(), FacadeError> {
    let (account_id, function_id) = (upload.account_id, upload.function_id);
    let description = format!("Serverledge function ({})", request.runtime);
    let mut tx = state.pool.begin().await?;
    let function = NewFunction {
        id: function_id,
        account_id,
        name: &request.name,
        description: &description,
        lang: meta.lang,
        kind: "DOCKER",
    };
    db::functions::insert(&mut tx, &function).await?;
    if image.is_some() {
        db::images::set_image(&mut tx, function_id, image).await?;
    }
    let capabilities = CapabilityChange {
        mem_size_mb: Some(meta.memory_mb),
        cpu_count: Some(meta.cpu_count),
        ..CapabilityChange::default()
    };
    db::functions::update_capabilities(&mut tx, account_id, function_id, &capabilities).await?;
    let facade = NewFacadeFunction {
        function_id,
        account_id,
        name: &request.name,
        runtime: &request.runtime,
        handler: &request.handler,
        memory_mb: meta.memory_mb,
        cpu_demand: request.cpudemand,
    };
    if !db::serverledge::insert_function(&mut tx, &facade).await? {
        return Err(exists(&request.name));
    }
    builds::store_success(&mut tx, upload, package).await?;
    tx.commit().await?;
    tracing::info!(function.id = %canopy_shared::format_id(function_id), "serverledge function created");
    Ok(())
}

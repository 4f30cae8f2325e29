//! `POST /create` with `Runtime: "custom"`: a Serverledge custom image becomes a Canopy custom
//! image function (docs/serverledge.md, docs/runtime-contract.md "Custom images").

use super::create::{limits, CreateRequest, Meta};
use super::FacadeError;

/// `Runtime: "custom"`: the image holds the code, so there is no handler file or archive to
/// check; the function runs on workers that allow custom images (docs/serverledge.md).
pub(super) fn check(request: &CreateRequest) -> Result<Meta, FacadeError> {
    if request.customimage.is_empty() {
        return Err(FacadeError::bad_request(
            "CUSTOM_IMAGE_MISSING",
            "CustomImage is required with Runtime custom",
        ));
    }
    canopy_shared::image::check_reference(&request.customimage).map_err(|message| {
        FacadeError::bad_request(
            "INVALID_FIELD",
            format!("Invalid CustomImage {:?}: {message}", request.customimage),
        )
    })?;
    if !request.tarfunctioncode.is_empty() {
        return Err(FacadeError::bad_request(
            "INVALID_FIELD",
            "TarFunctionCode is not taken with Runtime custom: the image holds the code",
        ));
    }
    let (memory_mb, cpu_count) = limits(request)?;
    Ok(Meta {
        // A custom image needs no runtime image; the column still wants a language.
        lang: canopy_shared::Lang::Py.code(),
        memory_mb,
        cpu_count,
    })
}

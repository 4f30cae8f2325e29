//! Custom images (docs/runtime-contract.md, "Custom images"): which image a function that
//! brings its own runs in, pinned by image id so every start on every worker runs exactly the
//! image the first one resolved.

use canopy_shared::image::{has_digest, ImagePin};
use canopy_shared::protocol::{FunctionSpec, Outcome};

use super::engine::{ContainerEngine, EngineError};
use super::Executor;

/// Longest a pull of a custom image the node lacks may take.
const PULL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

/// Why a custom image cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("this node does not allow custom images (canopy-worker --allow-custom-images)")]
    NotAllowed,
    #[error("custom image {reference} is not on this node and could not be pulled: {source}")]
    Unavailable {
        reference: String,
        source: EngineError,
    },
    /// The tag now names another image than the one the function is pinned to: running it
    /// would run code nobody chose. Not retried: every attempt would meet the same tag.
    #[error("custom image {reference} resolves to {found} on this node, but the function is pinned to {pinned}; re-tag the pinned image or set the function's image again to re-pin")]
    Mismatch {
        reference: String,
        found: String,
        pinned: String,
    },
    #[error("custom image {reference}: {source}")]
    Engine {
        reference: String,
        source: EngineError,
    },
}

impl ImageError {
    /// The attempt's outcome: a moved tag is the function's problem on every node; a missing
    /// image may be present on another node.
    pub fn outcome(&self) -> Outcome {
        Outcome::Failed {
            message: self.to_string(),
            retryable: !matches!(self, ImageError::Mismatch { .. } | ImageError::NotAllowed),
        }
    }
}

/// What the function runs in: the image to create containers from, and the pin to report when
/// this worker resolved an unpinned tag.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub function: FunctionSpec,
    pub new_pin: Option<ImagePin>,
}

impl<E: ContainerEngine> Executor<E> {
    /// Resolves the function's custom image (a function without one is returned as is): the
    /// local image if the node has it, else a pull. The result's `image.pin` is the image id
    /// the container starts from, except for a reference with its own digest, run as is.
    pub async fn resolve_image(&self, function: &FunctionSpec) -> Result<Resolved, ImageError> {
        let Some(image) = function.image.as_ref() else {
            return Ok(Resolved {
                function: function.clone(),
                new_pin: None,
            });
        };
        if !self.settings.allow_custom_images {
            return Err(ImageError::NotAllowed);
        }
        let reference = image.reference.clone();
        let found = self.local_or_pulled(&reference).await?;
        let mut resolved = function.clone();
        let mut new_pin = None;
        if !has_digest(&reference) {
            match &image.pin {
                Some(pinned) if *pinned != found => {
                    return Err(ImageError::Mismatch {
                        reference,
                        found,
                        pinned: pinned.clone(),
                    })
                }
                Some(_) => {}
                None => {
                    new_pin = Some(ImagePin {
                        reference: reference.clone(),
                        id: found.clone(),
                    })
                }
            }
            if let Some(image) = resolved.image.as_mut() {
                image.pin = Some(found);
            }
        }
        Ok(Resolved {
            function: resolved,
            new_pin,
        })
    }

    /// The local image id of `reference`, pulling it first when the node does not have it.
    async fn local_or_pulled(&self, reference: &str) -> Result<String, ImageError> {
        let engine_error = |source| ImageError::Engine {
            reference: reference.to_owned(),
            source,
        };
        if let Some(id) = self
            .engine
            .image_id(reference)
            .await
            .map_err(engine_error)?
        {
            return Ok(id);
        }
        let unavailable = |source| ImageError::Unavailable {
            reference: reference.to_owned(),
            source,
        };
        // An unreachable registry must not hold the task's slot for long.
        tokio::time::timeout(PULL_TIMEOUT, self.engine.pull(reference))
            .await
            .map_err(|_| {
                unavailable(EngineError::new(
                    "pull image",
                    format!("no answer within {} s", PULL_TIMEOUT.as_secs()),
                ))
            })?
            .map_err(unavailable)?;
        self.engine
            .image_id(reference)
            .await
            .map_err(engine_error)?
            .ok_or_else(|| ImageError::Unavailable {
                reference: reference.to_owned(),
                source: EngineError::new("pull image", "the pull left no image"),
            })
    }
}

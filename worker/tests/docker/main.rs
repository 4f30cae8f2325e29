//! The executor against real Docker and the real runtime images.
//!
//! Runs when `CANOPY_DOCKER_TESTS=1` (the project's test script sets it); then a missing Docker
//! engine or runtime image is a failure that says how to fix it.

mod blank;
mod fixture;
mod runs;

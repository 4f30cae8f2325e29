//! End to end: the dispatcher (in-process, real HTTP, fresh database) and `canopy-worker`
//! processes running functions in real Docker containers. Needs Docker and the runtime images
//! (`./scripts/test` provides them) and `CANOPY_DOCKER_TESTS=1`; without the variable each test
//! prints why it did nothing.

mod carbon;
mod cli;
mod compiles;
mod custom_images;
mod endpoints;
mod fault;
mod languages;
mod lifecycle;
mod quotas;
mod restarts;
mod run;
mod serverledge;
mod verification;
mod volunteer;

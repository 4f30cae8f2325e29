//! Custom images end to end: an image built here from a local runtime image (no registry),
//! named by a function, run by a real `canopy-worker --allow-custom-images` hardened like any
//! task container; a worker without the flag never gets it (and the task says why); and once
//! pinned, a tag moved to another image is refused naming both ids.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use tokio::process::Command;

use canopy_e2e::harness::{docker_tests_enabled, Platform};

/// A contract-speaking server (health on `/__canopy/health`, every other request answered)
/// that reports how it runs: its version, its uid, and whether its root is writable.
const SERVER: &str = r#"
import os
from http.server import BaseHTTPRequestHandler, HTTPServer

def root_is_read_only():
    try:
        open("/opt/custom/probe", "w").close()
        return False
    except OSError:
        return True

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.answer()

    def answer(self):
        if self.path == "/__canopy/health":
            body = b"ok"
        else:
            ro = "ro" if root_is_read_only() else "rw"
            body = f"custom {os.environ['VERSION']} uid={os.getuid()} root={ro}".encode()
        self.send_response(200)
        self.send_header("content-type", "text/plain")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
"#;

/// Builds `tag` from the local Python runtime image with the server at `version`.
async fn build_image(dir: &Path, tag: &str, version: &str) {
    let context = dir.join(format!("image-{version}"));
    std::fs::create_dir_all(&context).expect("context dir");
    std::fs::write(context.join("server.py"), SERVER).expect("server");
    let dockerfile = format!(
        "FROM canopy-runtime-python:1\nENV VERSION={version}\nCOPY server.py /opt/custom/server.py\nCMD [\"python3\", \"-B\", \"/opt/custom/server.py\"]\n"
    );
    std::fs::write(context.join("Dockerfile"), dockerfile).expect("dockerfile");
    let status = Command::new("docker")
        .args(["build", "--pull=false", "-q", "-t", tag])
        .arg(&context)
        .stdout(std::process::Stdio::null())
        .status()
        .await
        .expect("docker build runs");
    assert!(status.success(), "docker build of {tag}");
}

async fn image_id(tag: &str) -> String {
    let output = Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", tag])
        .output()
        .await
        .expect("docker image inspect runs");
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// Removes the test's images (and what the tag left behind) even when an assertion failed.
struct Images(Vec<String>);

impl Drop for Images {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker")
            .args(["rmi", "-f"])
            .args(&self.0)
            .output();
    }
}

async fn create_function(platform: &Platform, image: &str) -> String {
    let response = platform
        .client
        .post(platform.url("/v1/function"))
        .bearer_auth(&platform.token)
        .json(&json!({"name": "Custom", "lang": "PY", "type": "DOCKER", "image": image}))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[sqlx::test(migrations = "../migrations")]
async fn a_custom_image_runs_hardened_on_an_allowing_worker_and_a_moved_tag_is_refused(
    pool: PgPool,
) {
    if !docker_tests_enabled() {
        return;
    }
    let platform = Platform::start(pool).await;
    let tag = format!(
        "canopy-e2e-custom-{}:1",
        &canopy_shared::format_id(canopy_shared::new_id())[..12]
    );
    build_image(&platform.dir, &tag, "v1").await;
    let first = image_id(&tag).await;
    let mut images = Images(vec![tag.clone(), first.clone()]);
    let function = create_function(&platform, &tag).await;

    // A worker without the flag: the task waits (no code upload was needed) and says why.
    let plain = platform.start_worker("plain-node").await;
    platform.wait_connected("plain-node", true).await;
    let waiting = platform
        .client
        .post(platform.url(&format!("/v1/task/{function}")))
        .bearer_auth(&platform.token)
        .header("prefer", "wait=2")
        .send()
        .await
        .expect("sent");
    assert_eq!(waiting.status(), StatusCode::ACCEPTED);
    let task = waiting.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let view = platform.get_json(&format!("/v1/task/{task}")).await;
    assert_eq!(view["status"], "queued");
    assert_eq!(
        view["pendingReason"],
        "no connected node allows custom images"
    );
    assert!(
        !plain.log_text().contains(&task),
        "the plain worker heard of the task"
    );

    // A worker that allows custom images runs it as any task: uid 65534, read-only root.
    let custom = platform
        .start_worker_with("custom-node", &platform.api_key, &["--allow-custom-images"])
        .await;
    let answer = platform
        .client
        .get(platform.url(&format!("/v1/task/{task}/result?wait=60")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::OK, "{}", custom.log_text());
    assert_eq!(
        answer.text().await.expect("text"),
        "custom v1 uid=65534 root=ro"
    );
    let pinned = platform.get_json(&format!("/v1/function/{function}")).await;
    assert_eq!(
        pinned["imagePin"],
        first.as_str(),
        "pinned to the local image id"
    );

    // The tag moves to another image: the pinned function refuses it, naming both ids.
    build_image(&platform.dir, &tag, "v2").await;
    let second = image_id(&tag).await;
    assert_ne!(first, second);
    images.0.push(second.clone());
    let submitted = platform
        .client
        .post(platform.url(&format!("/v1/task/{function}")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert!(submitted.status().is_success());
    let task = submitted.json::<Value>().await.expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let answer = platform
        .client
        .get(platform.url(&format!("/v1/task/{task}/result?wait=60")))
        .bearer_auth(&platform.token)
        .send()
        .await
        .expect("sent");
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY, "TASK_FAILED");
    let view = platform.get_json(&format!("/v1/task/{task}")).await;
    assert_eq!(view["status"], "failed", "{view}");
    let message = view.to_string();
    assert!(
        message.contains(&first) && message.contains(&second),
        "the refusal names both ids: {view}"
    );
    assert_eq!(view["attempt"], 1, "a moved tag is not retried: {view}");
}

use super::*;

fn tar_with(entries: &[(&str, tar::EntryType, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, kind, data) in entries {
        let mut header = tar::Header::new_gnu();
        // Written raw: tar::Builder itself refuses the unsafe names these tests need.
        let raw = &mut header.as_old_mut().name;
        raw[..name.len()].copy_from_slice(name.as_bytes());
        header.set_entry_type(*kind);
        header.set_size(data.len() as u64);
        header.set_mode(0o600);
        if kind.is_symlink() || kind.is_hard_link() {
            header.set_size(0);
            header.set_link_name("/etc/passwd").expect("link name");
        }
        header.set_cksum();
        out.extend_from_slice(header.as_bytes());
        if !(kind.is_symlink() || kind.is_hard_link()) {
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(512) * 512, 0);
        }
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[test]
fn a_hash_mismatch_is_refused() {
    let error = verify_sha256(b"code", &sha(b"other")).expect_err("mismatch");
    assert!(matches!(error, ArtifactError::HashMismatch { .. }));
    verify_sha256(b"code", &sha(b"code")).expect("match");
}

#[test]
fn extraction_makes_files_world_readable() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tar = tar_with(&[
        ("pkg/", tar::EntryType::Directory, b""),
        (
            "pkg/handler.py",
            tar::EntryType::Regular,
            b"def handle(r): pass\n",
        ),
        ("./top.txt", tar::EntryType::Regular, b"x"),
    ]);
    extract_tar(tar.as_slice(), dir.path()).expect("safe tar");
    let file = dir.path().join("pkg/handler.py");
    assert_eq!(fs::read(&file).expect("read"), b"def handle(r): pass\n");
    assert_eq!(
        fs::metadata(&file).expect("stat").permissions().mode() & 0o777,
        0o644
    );
    assert_eq!(
        fs::metadata(dir.path().join("pkg"))
            .expect("stat")
            .permissions()
            .mode()
            & 0o777,
        0o755
    );
    assert!(dir.path().join("top.txt").is_file());
}

#[test]
fn extraction_refuses_parent_dirs_absolute_paths_and_links() {
    for (name, kind) in [
        ("../evil.py", tar::EntryType::Regular),
        ("a/../../evil.py", tar::EntryType::Regular),
        ("/etc/evil.py", tar::EntryType::Regular),
        ("link", tar::EntryType::Symlink),
        ("hard", tar::EntryType::Link),
        ("fifo", tar::EntryType::Fifo),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let dest = dir.path().join("code");
        let tar = tar_with(&[(name, kind, b"x")]);
        let error = extract_tar(tar.as_slice(), &dest).expect_err(name);
        assert!(
            matches!(error, ArtifactError::UnsafeEntry(_)),
            "{name}: {error}"
        );
        assert!(!dir.path().join("evil.py").exists());
    }
}

fn store(root: &Path, dispatchers: Vec<String>) -> ArtifactStore {
    ArtifactStore::new(
        root.to_owned(),
        reqwest::Client::new(),
        dispatchers,
        Secret::new("node-token"),
    )
}

#[tokio::test]
async fn a_cached_tar_is_verified_and_extracted_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tar = tar_with(&[("handler.py", tar::EntryType::Regular, b"print(1)")]);
    let hash = sha(&tar);
    fs::create_dir_all(dir.path().join("artifacts")).expect("dir");
    fs::write(dir.path().join(format!("artifacts/{hash}.tar")), &tar).expect("seed");
    let store = store(dir.path(), vec![]);
    let code = store.code_dir(&hash).await.expect("extracted").path;
    assert_eq!(code, dir.path().join("code").join(&hash));
    assert!(code.join("handler.py").is_file());
    assert_eq!(store.code_dir(&hash).await.expect("cached").path, code);
}

#[tokio::test]
async fn a_downloaded_artifact_with_the_wrong_hash_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let tar = tar_with(&[("handler.py", tar::EntryType::Regular, b"print(1)")]);
    let served = tar.clone();
    let server = crate::testutil::HttpServer::start(move |request| {
        assert_eq!(request.header("authorization"), Some("Bearer node-token"));
        if request.path.starts_with("/v1/worker/artifact/") {
            crate::testutil::Reply::new(200, served.clone())
        } else {
            crate::testutil::Reply::new(404, b"{}".to_vec())
        }
    })
    .await;
    let store = store(dir.path(), vec![server.base_url()]);
    let wrong = sha(b"something else");
    let error = store.code_dir(&wrong).await.expect_err("refused");
    assert!(
        matches!(error, ArtifactError::HashMismatch { .. }),
        "{error}"
    );
    assert!(!dir.path().join("code").join(&wrong).exists());
    assert!(
        !dir.path()
            .join("artifacts")
            .join(format!("{wrong}.tar"))
            .exists(),
        "nothing unverified is kept"
    );
    let right = store.code_dir(&sha(&tar)).await.expect("downloaded");
    assert!(right.path.join("handler.py").is_file());
    let error = store.code_dir("../etc").await.expect_err("bad hash");
    assert!(matches!(error, ArtifactError::BadHash(_)));
}

#[tokio::test]
async fn a_download_over_the_budget_evicts_the_least_recently_used_package_not_in_use() {
    let dir = tempfile::tempdir().expect("temp dir");
    let package = |n: u8| tar_with(&[("handler.py", tar::EntryType::Regular, &[n; 300 * 1024])]);
    let (old, held, new) = (package(1), package(2), package(3));
    let served = [old.clone(), held.clone(), new.clone()];
    let server = crate::testutil::HttpServer::start(move |request| {
        let wanted = request
            .path
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_owned();
        match served.iter().find(|tar| sha(tar) == wanted) {
            Some(tar) => crate::testutil::Reply::new(200, tar.clone()),
            None => crate::testutil::Reply::new(404, b"{}".to_vec()),
        }
    })
    .await;
    // Each package takes ~600 KiB (tar + tree): two fit in 1.5 MiB, three do not.
    let store = store(dir.path(), vec![server.base_url()]).with_budget_mb(1);
    let store = ArtifactStore {
        budget: 1536 * 1024,
        ..store
    };
    drop(store.code_dir(&sha(&old)).await.expect("old"));
    let lease = store.code_dir(&sha(&held)).await.expect("held");
    let newest = store.code_dir(&sha(&new)).await.expect("new");
    let cached = |tar: &[u8]| dir.path().join("code").join(sha(tar)).is_dir();
    assert!(
        !cached(&old),
        "the least recently used, unheld package goes"
    );
    assert!(!dir
        .path()
        .join(format!("artifacts/{}.tar", sha(&old)))
        .exists());
    assert!(cached(&held) && cached(&new), "held and newest stay");
    assert!(store.trim().await.expect("trim") <= 1536 * 1024);

    // Over budget with everything held: nothing in use is removed.
    drop(newest);
    let again = store.code_dir(&sha(&old)).await.expect("old again");
    assert!(
        cached(&held),
        "a held package stays even when it is the oldest"
    );
    assert!(!cached(&new), "the released one goes instead");
    assert!(again.path.join("handler.py").is_file());
    drop(lease);
}

#[tokio::test]
async fn a_restart_trims_the_cache_it_finds_on_disk() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::create_dir_all(dir.path().join("artifacts")).expect("dir");
    for n in 0..3u8 {
        let tar = tar_with(&[("handler.py", tar::EntryType::Regular, &[n; 400 * 1024])]);
        fs::write(
            dir.path().join(format!("artifacts/{}.tar", sha(&tar))),
            &tar,
        )
        .expect("seed");
    }
    let store = store(dir.path(), vec![]).with_budget_mb(1);
    let left = store.trim().await.expect("trim");
    assert!(left <= 1024 * 1024, "{left} bytes left");
    assert_eq!(
        fs::read_dir(dir.path().join("artifacts"))
            .expect("dir")
            .count(),
        2
    );
}

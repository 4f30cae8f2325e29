//! A function's folder: `.canopy.toml` records which function it deploys to (like gccli's
//! `.gcfunction`), and `canopy fn init` fills a new folder from the `examples/` templates.

use std::path::{Path, PathBuf};

use canopy_shared::Lang;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

/// The project file's name.
pub const PROJECT_FILE: &str = ".canopy.toml";

/// `.canopy.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Project {
    /// The function's id on `server`.
    pub id: String,
    pub name: String,
    /// Uppercase language code (`PY`).
    pub lang: String,
    /// The server the function lives on.
    pub server: String,
}

impl Project {
    /// `dir/.canopy.toml`, or `None` when the folder has none.
    pub fn load(dir: &Path) -> CliResult<Option<Project>> {
        let path = dir.join(PROJECT_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map(Some)
                .map_err(|error| CliError::Config(format!("{}: {error}", path.display()))),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(CliError::io(format!("reading {}", path.display()))(error)),
        }
    }

    pub fn save(&self, dir: &Path) -> CliResult<()> {
        let path = dir.join(PROJECT_FILE);
        let text = toml::to_string(self)
            .map_err(|error| CliError::Config(format!("cannot serialise: {error}")))?;
        std::fs::write(
            &path,
            format!("# Written by `canopy fn init`: the function this folder deploys to.\n{text}"),
        )
        .map_err(CliError::io(format!("writing {}", path.display())))
    }
}

/// The function a command acts on: the one named, else the one of `./.canopy.toml`.
pub fn function_id(given: Option<String>) -> CliResult<String> {
    if let Some(id) = given {
        return Ok(id);
    }
    match Project::load(Path::new("."))? {
        Some(project) => crate::ids::parse_id(&project.id)
            .map_err(|message| CliError::Config(format!("{PROJECT_FILE}: {message}"))),
        None => Err(CliError::usage(
            "NO_FUNCTION",
            "name a function id, or run this in a folder made by `canopy fn init` (it has .canopy.toml)",
        )),
    }
}

/// A language's template: the files of `examples/<lang>-hello`, compiled into the binary.
pub struct Template {
    pub lang: Lang,
    pub files: &'static [(&'static str, &'static str)],
}

/// The template for a `--lang` value (`go`, `py`, `js`, `cs`, `rb`, `rs`).
pub fn template(lang: Lang) -> Template {
    let files: &'static [(&'static str, &'static str)] = match lang {
        Lang::Go => &[(
            "handler.go",
            include_str!("../../examples/go-hello/handler.go"),
        )],
        Lang::Py => &[(
            "handler.py",
            include_str!("../../examples/python-hello/handler.py"),
        )],
        Lang::Js => &[(
            "handler.js",
            include_str!("../../examples/node-hello/handler.js"),
        )],
        Lang::Cs => &[(
            "Handler.cs",
            include_str!("../../examples/csharp-hello/Handler.cs"),
        )],
        Lang::Rb => &[(
            "handler.rb",
            include_str!("../../examples/ruby-hello/handler.rb"),
        )],
        Lang::Rs => &[(
            "handler.rs",
            include_str!("../../examples/rust-hello/handler.rs"),
        )],
    };
    Template { lang, files }
}

/// The ignore file `fn init` writes: the usual build and editor leftovers.
pub const DEFAULT_IGNORE: &str =
    "# Left out of `canopy fn deploy` (gitignore syntax; .git and .canopy.toml always are).\n\
*.log\n.env\n__pycache__/\n*.pyc\nbin/\nobj/\ntarget/\n.DS_Store\n";

/// Writes the template into `dir` (created if missing); refuses to overwrite a handler.
pub fn write_template(dir: &Path, template: &Template, force: bool) -> CliResult<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(CliError::io(format!("creating {}", dir.display())))?;
    let mut written = Vec::new();
    for (name, text) in template.files {
        let path = dir.join(name);
        if path.exists() && !force {
            return Err(CliError::usage(
                "FILE_EXISTS",
                format!("{} exists; use --force to overwrite it", path.display()),
            ));
        }
        std::fs::write(&path, text).map_err(CliError::io(format!("writing {}", path.display())))?;
        written.push(path);
    }
    let ignore = dir.join(crate::ignore::IGNORE_FILE);
    if !ignore.exists() {
        std::fs::write(&ignore, DEFAULT_IGNORE)
            .map_err(CliError::io(format!("writing {}", ignore.display())))?;
        written.push(ignore);
    }
    Ok(written)
}

/// A function name from a folder's name: its ASCII letters and digits (the API's rule).
pub fn name_from_dir(dir: &Path) -> String {
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let name: String = absolute
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(64)
        .collect();
    if name.is_empty() {
        "hello".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_a_template_with_its_entry_point() {
        for (lang, entry) in [
            (Lang::Go, "handler.go"),
            (Lang::Py, "handler.py"),
            (Lang::Js, "handler.js"),
            (Lang::Cs, "Handler.cs"),
            (Lang::Rb, "handler.rb"),
            (Lang::Rs, "handler.rs"),
        ] {
            let template = template(lang);
            assert_eq!(template.files[0].0, entry);
            assert!(!template.files[0].1.is_empty());
        }
    }

    #[test]
    fn init_writes_the_template_once_and_a_project_file_reads_back() {
        let dir = tempfile::tempdir().expect("temp dir");
        let written = write_template(dir.path(), &template(Lang::Py), false).expect("written");
        assert_eq!(written.len(), 2);
        let again = write_template(dir.path(), &template(Lang::Py), false).expect_err("refused");
        assert!(matches!(
            again,
            CliError::Usage {
                code: "FILE_EXISTS",
                ..
            }
        ));
        let project = Project {
            id: "abc".into(),
            name: "Hello".into(),
            lang: "PY".into(),
            server: "http://127.0.0.1:8080".into(),
        };
        project.save(dir.path()).expect("saved");
        assert_eq!(Project::load(dir.path()).expect("loaded"), Some(project));
    }

    #[test]
    fn function_names_keep_letters_and_digits_of_the_folder() {
        assert_eq!(name_from_dir(Path::new("/tmp/my-func_2")), "myfunc2");
        assert_eq!(name_from_dir(Path::new("/")), "hello");
    }
}

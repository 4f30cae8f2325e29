//! Serverledge runtime names and handler syntax, mapped onto Canopy's runtimes.

use canopy_shared::Lang;

/// A Serverledge runtime Canopy can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Runtime {
    pub lang: Lang,
}

/// The runtimes upstream lists that run on Canopy's images: every `python3*` name (upstream has
/// `python310`, `python314`; the CLI's default `python38` is accepted too) and `nodejs17ng` /
/// `nodejs17`. `python312ml` needs libraries the image lacks, `go125` a binary built with
/// Serverledge's Go SDK, and `custom` an image of the caller's: those are refused.
pub fn parse(name: &str) -> Option<Runtime> {
    let python = name
        .strip_prefix("python3")
        .is_some_and(|minor| !minor.is_empty() && minor.bytes().all(|b| b.is_ascii_digit()));
    if python {
        return Some(Runtime { lang: Lang::Py });
    }
    matches!(name, "nodejs17ng" | "nodejs17").then_some(Runtime { lang: Lang::Js })
}

/// The runtimes accepted, for error messages.
pub const ACCEPTED: &str = "python310 (any python3NN), nodejs17ng, nodejs17";

/// Files that may hold the handler's code, most specific first: Python's `pkg.module.function`
/// lives in `pkg/module.py` (or the package `pkg/module/__init__.py`); Node's handler names a file
/// that exports the function (`sieve.js`, or `sieve` for `sieve.js` / `sieve/index.js`).
pub fn entry_files(lang: Lang, handler: &str) -> Result<Vec<String>, String> {
    match lang {
        Lang::Py => {
            let (module, function) = handler.rsplit_once('.').ok_or_else(|| {
                format!("Handler {handler:?} must be module.function for Python runtimes")
            })?;
            let valid = |part: &str| {
                !part.is_empty()
                    && !part.starts_with(|c: char| c.is_ascii_digit())
                    && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            };
            if !valid(function) || !module.split('.').all(valid) {
                return Err(format!(
                    "Handler {handler:?} must be module.function with Python identifiers"
                ));
            }
            let path = module.replace('.', "/");
            Ok(vec![format!("{path}.py"), format!("{path}/__init__.py")])
        }
        Lang::Js => {
            let file = handler.trim_start_matches("./");
            let safe = !file.is_empty()
                && !file.starts_with('/')
                && file.split('/').all(|part| !part.is_empty() && part != "..");
            if !safe {
                return Err(format!(
                    "Handler {handler:?} must be a relative file path such as sieve.js"
                ));
            }
            if file.ends_with(".js") || file.ends_with(".cjs") || file.ends_with(".mjs") {
                Ok(vec![file.to_owned()])
            } else {
                Ok(vec![format!("{file}.js"), format!("{file}/index.js")])
            }
        }
        other => Err(format!("{} has no Serverledge handler", other.code())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_names_map_to_canopy_runtimes() {
        for name in ["python310", "python314", "python38"] {
            assert_eq!(parse(name).map(|r| r.lang), Some(Lang::Py), "{name}");
        }
        for name in ["nodejs17ng", "nodejs17"] {
            assert_eq!(parse(name).map(|r| r.lang), Some(Lang::Js), "{name}");
        }
        for name in [
            "custom",
            "go125",
            "python312ml",
            "python3",
            "python",
            "",
            "java21",
        ] {
            assert_eq!(parse(name), None, "{name}");
        }
    }

    #[test]
    fn handlers_name_their_files() {
        assert_eq!(
            entry_files(Lang::Py, "isprime.handler").expect("ok"),
            ["isprime.py", "isprime/__init__.py"]
        );
        assert_eq!(
            entry_files(Lang::Py, "pkg.mod.run").expect("ok"),
            ["pkg/mod.py", "pkg/mod/__init__.py"]
        );
        assert_eq!(entry_files(Lang::Js, "sieve.js").expect("ok"), ["sieve.js"]);
        assert_eq!(
            entry_files(Lang::Js, "sieve").expect("ok"),
            ["sieve.js", "sieve/index.js"]
        );
        for (lang, bad) in [
            (Lang::Py, "handler"),
            (Lang::Py, "../x.run"),
            (Lang::Py, "mod.1run"),
            (Lang::Js, "../x.js"),
            (Lang::Js, "/etc/x.js"),
            (Lang::Js, ""),
        ] {
            assert!(entry_files(lang, bad).is_err(), "{bad:?}");
        }
    }
}

//! `.canopyignore`: which files of a function's folder `canopy fn deploy` leaves out. The
//! gitignore rules people know, minus the rarely used ones: `#` comments, `!` to re-include,
//! a trailing `/` for directories only, a `/` inside or in front anchors to the folder,
//! `*` and `?` stop at `/`, `**` crosses directories; the last matching line wins.

/// The ignore file's name, at the root of the function's folder.
pub const IGNORE_FILE: &str = ".canopyignore";

/// Left out whatever the ignore file says: VCS data and the CLI's own files.
const ALWAYS: [&str; 4] = [".git/", ".canopy.toml", IGNORE_FILE, ".canopy/"];

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    negated: bool,
    dir_only: bool,
    /// Matched against the whole relative path, not just the name.
    anchored: bool,
}

/// The rules of one folder.
#[derive(Debug, Clone)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// The built-in rules followed by those of `text` (an ignore file's contents).
    pub fn parse(text: &str) -> IgnoreRules {
        let lines = ALWAYS.iter().copied().chain(text.lines());
        IgnoreRules {
            rules: lines.filter_map(parse_line).collect(),
        }
    }

    /// Whether `path` (relative, `/`-separated) is left out; `is_dir` for directories.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let name = path.rsplit('/').next().unwrap_or(path);
        let mut ignored = false;
        for rule in &self.rules {
            if rule.dir_only && !is_dir {
                continue;
            }
            let subject = if rule.anchored { path } else { name };
            if glob_match(rule.pattern.as_bytes(), subject.as_bytes()) {
                ignored = !rule.negated;
            }
        }
        ignored
    }
}

fn parse_line(line: &str) -> Option<Rule> {
    let line = line.trim_end();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (negated, line) = match line.strip_prefix('!') {
        Some(rest) => (true, rest),
        None => (false, line.strip_prefix('\\').unwrap_or(line)),
    };
    let (dir_only, line) = match line.strip_suffix('/') {
        Some(rest) => (true, rest),
        None => (false, line),
    };
    let anchored = line.contains('/');
    let pattern = line.trim_start_matches('/').to_owned();
    (!pattern.is_empty()).then_some(Rule {
        pattern,
        negated,
        dir_only,
        anchored,
    })
}

/// Glob matching: `*` and `?` within one path segment, `**` across segments (`a/**/b` also
/// matches `a/b`).
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => {
            // `**/` may also stand for no directory at all.
            if let [b'/', after @ ..] = rest {
                if glob_match(after, text) {
                    return true;
                }
            }
            (0..=text.len()).any(|skip| glob_match(rest, &text[skip..]))
        }
        [b'*', rest @ ..] => {
            let segment = text.iter().position(|&b| b == b'/').unwrap_or(text.len());
            (0..=segment).any(|skip| glob_match(rest, &text[skip..]))
        }
        [b'?', rest @ ..] => match text {
            [first, tail @ ..] if *first != b'/' => glob_match(rest, tail),
            _ => false,
        },
        [expected, rest @ ..] => match text {
            [first, tail @ ..] if first == expected => glob_match(rest, tail),
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(text)
    }

    #[test]
    fn the_cli_files_and_git_are_always_left_out() {
        let rules = rules("");
        assert!(rules.is_ignored(".canopy.toml", false));
        assert!(rules.is_ignored(".canopyignore", false));
        assert!(rules.is_ignored(".git", true));
        assert!(!rules.is_ignored("handler.py", false));
        // `.git/` is for directories: a file of that name elsewhere is kept.
        assert!(!rules.is_ignored("docs/.git", false));
    }

    #[test]
    fn names_match_at_any_depth_and_stars_stay_within_a_segment() {
        let rules = rules("*.pyc\n__pycache__/\n# a comment\n\nsecret?.txt");
        assert!(rules.is_ignored("a.pyc", false));
        assert!(rules.is_ignored("lib/deep/b.pyc", false));
        assert!(rules.is_ignored("lib/__pycache__", true));
        assert!(!rules.is_ignored("lib/__pycache__", false));
        assert!(rules.is_ignored("secret1.txt", false));
        assert!(!rules.is_ignored("secret12.txt", false));
        assert!(!rules.is_ignored("a.py", false));
    }

    #[test]
    fn a_slash_anchors_a_pattern_to_the_folder() {
        let rules = rules("/build\ndocs/*.md");
        assert!(rules.is_ignored("build", true));
        assert!(!rules.is_ignored("src/build", true));
        assert!(rules.is_ignored("docs/readme.md", false));
        assert!(!rules.is_ignored("docs/sub/readme.md", false));
        assert!(!rules.is_ignored("other/docs/readme.md", false));
    }

    #[test]
    fn double_stars_cross_directories_including_none() {
        let rules = rules("a/**/b.txt\nlogs/**");
        assert!(rules.is_ignored("a/b.txt", false));
        assert!(rules.is_ignored("a/x/y/b.txt", false));
        assert!(rules.is_ignored("logs/2026/12/x.log", false));
        assert!(!rules.is_ignored("b.txt", false));
    }

    #[test]
    fn the_last_matching_line_wins_and_bang_re_includes() {
        let rules = rules("*.txt\n!keep.txt");
        assert!(rules.is_ignored("drop.txt", false));
        assert!(!rules.is_ignored("keep.txt", false));
        let rules = IgnoreRules::parse("!keep.txt\n*.txt");
        assert!(rules.is_ignored("keep.txt", false));
    }
}

//! Tool name patterns: `*` for any run of characters, `?` for one, everything else
//! literal. Registered as Casbin's `globMatch`, replacing its built-in, which
//! compiles the pattern on every call and panics on a bad one. Patterns are checked
//! when the policy loads ([`check_pattern`]), so a request never meets a bad one.

/// Characters a tool pattern may contain besides the wildcards: those of MCP tool
/// names (letters, digits, `_`, `-`, `.`) and `/` and `:`, which they do not use.
fn is_literal(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':')
}

/// Why `pattern` is not a valid tool pattern, if it is not.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.is_empty() {
        return Err("the tool pattern is empty".into());
    }
    if let Some(c) = pattern
        .chars()
        .find(|&c| !is_literal(c) && c != '*' && c != '?')
    {
        let hint = match c {
            '[' | ']' | '{' | '}' | '!' | '^' => {
                " (tool patterns support only `*` and `?`; list several tools on separate lines)"
            }
            _ => "",
        };
        return Err(format!("the tool pattern {pattern:?} contains {c:?}{hint}"));
    }
    Ok(())
}

/// Whether `name` matches `pattern` (`*`: any characters but `/`, `?`: one
/// character but `/`, like globset with a literal separator). Linear time, no
/// allocation; a pattern that [`check_pattern`] refuses is matched literally.
pub fn glob_match(name: &str, pattern: &str) -> bool {
    let (n, p) = (name.as_bytes(), pattern.as_bytes());
    let (mut i, mut j) = (0, 0);
    // Where the last `*` was in the pattern and what of the name it had taken.
    let mut star: Option<(usize, usize)> = None;
    while i < n.len() {
        if j < p.len() && p[j] == b'*' {
            star = Some((j, i));
            j += 1;
        } else if j < p.len() && (p[j] == n[i] || (p[j] == b'?' && n[i] != b'/')) {
            // `?` takes one character; a multi-byte one takes its first byte here
            // and its continuation bytes are only matched by a `*` or by `?`s.
            i += 1;
            j += 1;
        } else if let Some((sj, si)) = star {
            if n[si] == b'/' {
                return false;
            }
            star = Some((sj, si + 1));
            i = si + 1;
            j = sj + 1;
        } else {
            return false;
        }
    }
    p[j..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        for (name, pattern, expected) in [
            ("box_file_get", "box_file_get", true),
            ("box_file_get", "box_file_*", true),
            ("box_file_get", "*", true),
            ("", "*", true),
            ("box_file_get", "box_*_get", true),
            ("box_folder_get", "box_*_get", true),
            ("box_file_delete", "box_*_get", false),
            ("box_file_get", "box_file_ge?", true),
            ("box_file_ge", "box_file_ge?", false),
            ("box_file_get", "box_file", false),
            ("box_file", "box_file_*", false),
            ("box_file_", "box_file_*", true),
            ("whoami", "box_*", false),
            ("a/b", "*", false),
            ("a/b", "a/*", true),
            ("a/b", "a?b", false),
            ("box_ai_extract_structured", "*_extract*", true),
            ("box_ai_ask", "*_extract*", false),
            ("aaa", "a*a*a", true),
            ("aa", "a*a*a", false),
        ] {
            assert_eq!(glob_match(name, pattern), expected, "{name} ~ {pattern}");
        }
    }

    #[test]
    fn pattern_check() {
        for ok in ["*", "box_file_*", "box_?i_ask", "whoami", "ns:tool-1.x"] {
            assert!(check_pattern(ok).is_ok(), "{ok}");
        }
        for bad in ["", "box_[ab]", "box_{a,b}", "box file", "box_\"x\"", "é"] {
            assert!(check_pattern(bad).is_err(), "{bad}");
        }
        assert!(
            check_pattern("box_[ab]")
                .unwrap_err()
                .contains("only `*` and `?`")
        );
    }
}

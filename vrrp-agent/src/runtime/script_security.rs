//! keepalived's `check_script_secure` (2.2.7, `lib/notify.c`) for our scripts, which are shell
//! command lines run by `/bin/sh -c`. The program is the command's first word (after variable
//! assignments, `exec` and `command`), found by a PATH search when it has no slash; a shell
//! builtin or keyword has no file of its own, and a command starting with `<` only opens a
//! file (keepalived's `</path` checks). A script needs protection when it runs as root or as
//! group root, or its program is set-user-ID or set-group-ID root; then every part of the
//! program's path — each folder from `/` on and the file, as written and after following
//! symbolic links — must be owned by root and not writable by a group other than root or by
//! everyone (a folder with the sticky bit, such as /tmp, may be). Otherwise a user other than
//! root could change what root runs. Reads the filesystem only.

use std::{
    ffi::OsString,
    fs::Metadata,
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

use crate::config::RunAs;

/// What checking a script found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Nothing against it. `program`: the file it runs (`None`: the shell runs it itself).
    Safe { program: Option<PathBuf> },
    /// It runs as root (or group root) and users other than root could change it: `path`,
    /// part of `program`'s path, `why`.
    Unsafe {
        program: PathBuf,
        path: PathBuf,
        why: String,
    },
    /// Its program cannot be found (or cannot be told from the command line): `why`.
    NotFound { why: String },
    /// Its program is not executable by the user it runs as.
    NotExecutable { program: PathBuf },
}

/// Checks the script `command` running as `run_as`.
pub fn check(command: &str, run_as: &RunAs) -> Check {
    let program = match program(command) {
        Program::Shell => return Check::Safe { program: None },
        Program::Unknown(why) => return Check::NotFound { why },
        Program::Word(word) => match locate(&word, run_as) {
            Ok(path) => path,
            Err(why) => return Check::NotFound { why },
        },
    };
    let meta = match std::fs::metadata(&program) {
        Ok(m) => m,
        Err(e) => {
            return Check::NotFound {
                why: format!("`{}`: {e}", program.display()),
            };
        }
    };
    if !meta.is_file() || !is_executable(&meta, run_as) {
        return Check::NotExecutable { program };
    }
    if !needs_protection(&meta, run_as) {
        return Check::Safe {
            program: Some(program),
        };
    }
    let real = std::fs::canonicalize(&program).unwrap_or_else(|_| program.clone());
    if let Err((path, why)) = check_path(&program).and_then(|()| check_path(&real)) {
        return Check::Unsafe { program, path, why };
    }
    Check::Safe {
        program: Some(program),
    }
}

/// The program of a command line.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Program {
    /// A word naming a file (a path, or a name to look up in PATH).
    Word(String),
    /// The shell runs it itself (a builtin, a keyword, a redirection only).
    Shell,
    /// It cannot be told without running the shell (an expansion): why.
    Unknown(String),
}

/// Words the shell (dash, bash) runs itself rather than a file of that name.
const SHELL_WORDS: &[&str] = &[
    "!", "{", "}", "(", "case", "for", "if", "until", "while", ":", ".", "break", "continue",
    "eval", "exit", "export", "readonly", "return", "set", "shift", "times", "trap", "unset",
    "alias", "cd", "echo", "false", "getopts", "hash", "kill", "local", "printf", "pwd", "read",
    "test", "[", "true", "type", "ulimit", "umask", "unalias", "wait",
];

/// The program `/bin/sh -c command` runs first.
fn program(command: &str) -> Program {
    let mut rest = command.trim_start();
    loop {
        if rest.starts_with('<') || rest.is_empty() {
            return Program::Shell;
        }
        let (word, quoted, after) = shell_word(rest);
        rest = after.trim_start();
        if !quoted && is_assignment(&word) {
            continue;
        }
        if !quoted && (word == "exec" || word == "command") && !rest.is_empty() {
            continue;
        }
        if !quoted && SHELL_WORDS.contains(&word.as_str()) {
            return Program::Shell;
        }
        if word.is_empty() {
            return Program::Shell;
        }
        if !quoted && word.contains(['$', '`', '*', '?', '[', '~']) {
            return Program::Unknown(format!(
                "cannot tell which program `{word}` is without running the shell"
            ));
        }
        return Program::Word(word);
    }
}

/// `NAME=value`.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The first shell word of `s` with its quotes removed, whether any part was quoted, and
/// what follows it.
fn shell_word(s: &str) -> (String, bool, &str) {
    let mut word = String::new();
    let mut quoted = false;
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => {
                quoted = true;
                for (_, c) in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    word.push(c);
                }
            }
            '"' => {
                quoted = true;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some((_, n)) = chars.next() {
                                if !matches!(n, '"' | '\\' | '$' | '`') {
                                    word.push('\\');
                                }
                                word.push(n);
                            }
                        }
                        c => word.push(c),
                    }
                }
            }
            '\\' => {
                quoted = true;
                if let Some((_, n)) = chars.next() {
                    word.push(n);
                }
            }
            c if c.is_whitespace() || ";&|<>()".contains(c) => {
                if word.is_empty() && !quoted && c == '(' {
                    return ("(".into(), false, &s[i + 1..]);
                }
                return (word, quoted, &s[i..]);
            }
            c => word.push(c),
        }
    }
    (word, quoted, "")
}

/// The file `word` names: a path (relative to our folder), or the first executable file of
/// that name in PATH, as the shell finds it.
fn locate(word: &str, run_as: &RunAs) -> Result<PathBuf, String> {
    if word.contains('/') {
        return std::path::absolute(word).map_err(|e| format!("`{word}`: {e}"));
    }
    let path =
        std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/usr/local/bin:/usr/bin:/bin"));
    let mut denied = None;
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            dir
        };
        let candidate = dir.join(word);
        if let Ok(meta) = std::fs::metadata(&candidate)
            && meta.is_file()
        {
            if is_executable(&meta, run_as) {
                return std::path::absolute(&candidate).map_err(|e| e.to_string());
            }
            denied.get_or_insert(candidate);
        }
    }
    Err(match denied {
        Some(file) => format!(
            "`{word}` is `{}` in PATH, which {} may not execute",
            file.display(),
            run_as.name
        ),
        None => format!("`{word}` is not in PATH ({})", path.to_string_lossy()),
    })
}

/// keepalived's `is_executable`: by mode bits, for `run_as`.
fn is_executable(meta: &Metadata, run_as: &RunAs) -> bool {
    let mode = meta.mode();
    (run_as.uid == 0 && mode & 0o111 != 0)
        || (run_as.uid == meta.uid() && mode & 0o100 != 0)
        || (run_as.uid != meta.uid()
            && ((run_as.gid == meta.gid() && mode & 0o010 != 0)
                || (run_as.gid != meta.gid() && mode & 0o001 != 0)))
}

/// Whether root's privileges are at stake: the script runs as root or group root, or its
/// program is set-user-ID or set-group-ID root.
fn needs_protection(meta: &Metadata, run_as: &RunAs) -> bool {
    let mode = meta.mode();
    run_as.uid == 0
        || run_as.gid == 0
        || (meta.uid() == 0 && mode & 0o4100 == 0o4100)
        || (meta.gid() == 0 && mode & 0o2010 == 0o2010)
}

/// The first part of `path` (from `/` on, not following a symbolic link at that part) that
/// users other than root could change, and how.
fn check_path(path: &Path) -> Result<(), (PathBuf, String)> {
    let mut prefix = PathBuf::new();
    for part in path.components() {
        prefix.push(part);
        let meta =
            std::fs::symlink_metadata(&prefix).map_err(|e| (prefix.clone(), e.to_string()))?;
        if meta.uid() != 0 {
            return Err((
                prefix,
                format!("is owned by {}, not root", user_name(meta.uid())),
            ));
        }
        let kind = meta.file_type();
        let mode = meta.mode();
        // keepalived's rule: a folder with the sticky bit (/tmp) lets nobody replace what
        // root owns in it.
        if (kind.is_dir() && mode & 0o1000 == 0) || kind.is_file() {
            if meta.gid() != 0 && mode & 0o020 != 0 {
                return Err((
                    prefix,
                    format!("is writable by group {}", group_name(meta.gid())),
                ));
            }
            if mode & 0o002 != 0 {
                return Err((prefix, "is writable by everyone".to_string()));
            }
        }
    }
    Ok(())
}

fn user_name(uid: u32) -> String {
    match nix::unistd::User::from_uid(uid.into()) {
        Ok(Some(u)) => format!("user {} (uid {uid})", u.name),
        _ => format!("uid {uid}"),
    }
}

fn group_name(gid: u32) -> String {
    match nix::unistd::Group::from_gid(gid.into()) {
        Ok(Some(g)) => format!("{} (gid {gid})", g.name),
        _ => format!("gid {gid}"),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn root() -> RunAs {
        RunAs {
            name: "root".into(),
            uid: 0,
            gid: 0,
        }
    }

    #[test]
    fn the_program_is_the_first_word_the_shell_does_not_run_itself() {
        let word = |w: &str| Program::Word(w.to_string());
        assert_eq!(program("/usr/bin/check --x"), word("/usr/bin/check"));
        assert_eq!(program("  'a b/c' d"), word("a b/c"));
        assert_eq!(program("\"/x y/z\"\\ w"), word("/x y/z w"));
        assert_eq!(program("LANG=C X=1 pidof haproxy"), word("pidof"));
        assert_eq!(program("exec /bin/check"), word("/bin/check"));
        assert_eq!(program("/bin/check;true"), word("/bin/check"));
        assert_eq!(program("echo >> /tmp/log"), Program::Shell);
        assert_eq!(program("[ -f /etc/x ]"), Program::Shell);
        assert_eq!(program("</etc/x"), Program::Shell);
        assert_eq!(program("(cd /x && ./y)"), Program::Shell);
        assert!(matches!(program("$HOME/check"), Program::Unknown(_)));
        assert_eq!(program("'$HOME/check'"), word("$HOME/check"));
    }

    #[test]
    fn system_programs_are_safe_for_root() {
        // Found in PATH, owned by root in folders owned by root.
        let Check::Safe { program: Some(p) } = check("sh -c true", &root()) else {
            panic!("{:?}", check("sh -c true", &root()))
        };
        assert!(p.ends_with("sh"), "{}", p.display());
        assert_eq!(
            check("echo hi", &root()),
            Check::Safe { program: None },
            "a builtin"
        );
        assert!(matches!(
            check("vrrp-no-such-program-xyz", &root()),
            Check::NotFound { .. }
        ));
    }

    #[test]
    fn a_program_in_a_folder_everyone_may_write_is_unsafe_for_root_only() {
        let dir = std::env::temp_dir().join(format!("vrrp-script-sec-{}", std::process::id()));
        let open = dir.join("open");
        std::fs::create_dir_all(&open).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let script = open.join("check.sh");
        std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let command = format!("{} --flag", script.display());
        match check(&command, &root()) {
            Check::Unsafe { program, path, why } => {
                assert_eq!(program, script);
                if nix::unistd::geteuid().is_root() {
                    // Everything up to it is root's: the open folder is the culprit.
                    assert_eq!(path, open);
                    assert_eq!(why, "is writable by everyone");
                } else {
                    // Our own temporary folder is the first part not owned by root.
                    assert!(path.starts_with(std::env::temp_dir()), "{}", path.display());
                    assert!(why.contains("not root"), "{why}");
                }
            }
            other => panic!("{other:?}"),
        }
        // The same script as a user that is not root needs no protection.
        let me = RunAs {
            name: "me".into(),
            uid: nix::unistd::geteuid().as_raw().max(1),
            gid: nix::unistd::getegid().as_raw().max(1),
        };
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(
            check(&command, &me),
            Check::Safe {
                program: Some(script.clone())
            }
        );
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(
            check(&command, &root()),
            Check::NotExecutable {
                program: script.clone()
            }
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

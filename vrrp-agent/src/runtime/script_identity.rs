//! Who a script runs as, by keepalived 2.2.7's rules (`lib/notify.c`): a `vrrp_script`'s own
//! `user USER [GROUP]`, else the global `script_user USER [GROUP]`, else the default user
//! `keepalived_script` if it exists, else the agent's own user and group (root) — except with
//! `enable_script_security`, where a missing default user means no script runs by default.
//! Without a group, the user's primary group. Names are looked up in the system's user and
//! group databases through [`Users`] (tests pass their own).

use crate::config::{RunAs, ScriptUser};

/// keepalived's default script user.
pub const DEFAULT_USER: &str = "keepalived_script";

/// The user and group databases, and who we are.
pub trait Users {
    /// A user's uid and primary gid (`Ok(None)`: no such user).
    fn user(&self, name: &str) -> Result<Option<(u32, u32)>, String>;
    /// A group's gid (`Ok(None)`: no such group).
    fn group(&self, name: &str) -> Result<Option<u32>, String>;
    /// Our effective uid and gid, and our user's name.
    fn own(&self) -> RunAs;
}

/// The system's databases (`getpwnam_r`, `getgrnam_r`).
pub struct SystemUsers;

impl Users for SystemUsers {
    fn user(&self, name: &str) -> Result<Option<(u32, u32)>, String> {
        nix::unistd::User::from_name(name)
            .map(|u| u.map(|u| (u.uid.as_raw(), u.gid.as_raw())))
            .map_err(|e| e.to_string())
    }

    fn group(&self, name: &str) -> Result<Option<u32>, String> {
        nix::unistd::Group::from_name(name)
            .map(|g| g.map(|g| g.gid.as_raw()))
            .map_err(|e| e.to_string())
    }

    fn own(&self) -> RunAs {
        let uid = nix::unistd::geteuid();
        let name = nix::unistd::User::from_uid(uid)
            .ok()
            .flatten()
            .map_or_else(|| format!("uid {uid}"), |u| u.name);
        RunAs {
            name,
            uid: uid.as_raw(),
            gid: nix::unistd::getegid().as_raw(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    #[error("user `{0}` does not exist")]
    NoUser(String),
    #[error("group `{0}` does not exist")]
    NoGroup(String),
    #[error("cannot look up {what} `{name}`: {error}")]
    Lookup {
        what: &'static str,
        name: String,
        error: String,
    },
    #[error(
        "no script_user is set and the default script user `{DEFAULT_USER}` does not exist: \
         with enable_script_security, scripts do not run as root by default (set script_user, \
         or create the user)"
    )]
    NoDefaultUser,
}

/// The identity of `user` (its group, or its primary group).
pub fn resolve(users: &dyn Users, user: &ScriptUser) -> Result<RunAs, IdentityError> {
    let lookup = |what, name: &str, error| IdentityError::Lookup {
        what,
        name: name.to_string(),
        error,
    };
    let (uid, primary) = users
        .user(&user.user)
        .map_err(|e| lookup("user", &user.user, e))?
        .ok_or_else(|| IdentityError::NoUser(user.user.clone()))?;
    let gid = match &user.group {
        None => primary,
        Some(group) => users
            .group(group)
            .map_err(|e| lookup("group", group, e))?
            .ok_or_else(|| IdentityError::NoGroup(group.clone()))?,
    };
    Ok(RunAs {
        name: user.user.clone(),
        uid,
        gid,
    })
}

/// What scripts without a user of their own run as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DefaultUser {
    /// The configured `script_user`, or the user `keepalived_script`.
    User(RunAs),
    /// Neither is there: the agent's own user (keepalived warns about running scripts as
    /// root); `.1` says why, for that warning.
    Own(RunAs, String),
}

/// The default identity: `script_user` when set; else `keepalived_script` if it exists; else
/// our own, unless `security` forbids that.
pub fn default_user(
    users: &dyn Users,
    script_user: Option<&ScriptUser>,
    security: bool,
) -> Result<DefaultUser, IdentityError> {
    if let Some(user) = script_user {
        return resolve(users, user).map(DefaultUser::User);
    }
    let fallback = ScriptUser {
        user: DEFAULT_USER.to_string(),
        group: None,
    };
    match resolve(users, &fallback) {
        Ok(r) => Ok(DefaultUser::User(r)),
        Err(_) if security => Err(IdentityError::NoDefaultUser),
        Err(IdentityError::NoUser(_)) => Ok(DefaultUser::Own(
            users.own(),
            format!(
                "no script_user is set and the default script user `{DEFAULT_USER}` does not exist"
            ),
        )),
        Err(e) => Ok(DefaultUser::Own(
            users.own(),
            format!("no script_user is set and the default script user cannot be used ({e})"),
        )),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::collections::HashMap;

    use super::*;

    /// A user database in memory; we are root.
    pub(crate) struct FakeUsers {
        pub users: HashMap<&'static str, (u32, u32)>,
        pub groups: HashMap<&'static str, u32>,
    }

    impl FakeUsers {
        pub(crate) fn new() -> Self {
            Self {
                users: HashMap::from([("root", (0, 0)), ("nobody", (65534, 65534))]),
                groups: HashMap::from([("root", 0), ("nogroup", 65534), ("adm", 4)]),
            }
        }
    }

    impl Users for FakeUsers {
        fn user(&self, name: &str) -> Result<Option<(u32, u32)>, String> {
            Ok(self.users.get(name).copied())
        }
        fn group(&self, name: &str) -> Result<Option<u32>, String> {
            Ok(self.groups.get(name).copied())
        }
        fn own(&self) -> RunAs {
            RunAs {
                name: "root".into(),
                uid: 0,
                gid: 0,
            }
        }
    }

    fn user(user: &str, group: Option<&str>) -> ScriptUser {
        ScriptUser {
            user: user.into(),
            group: group.map(str::to_string),
        }
    }

    #[test]
    fn a_user_runs_with_its_primary_group_unless_a_group_is_named() {
        let users = FakeUsers::new();
        let r = resolve(&users, &user("nobody", None)).unwrap();
        assert_eq!((r.name.as_str(), r.uid, r.gid), ("nobody", 65534, 65534));
        let r = resolve(&users, &user("nobody", Some("adm"))).unwrap();
        assert_eq!((r.uid, r.gid), (65534, 4));
        assert_eq!(
            resolve(&users, &user("nobody2", None)),
            Err(IdentityError::NoUser("nobody2".into()))
        );
        assert_eq!(
            resolve(&users, &user("nobody", Some("staff2"))),
            Err(IdentityError::NoGroup("staff2".into()))
        );
    }

    #[test]
    fn the_default_is_keepalived_script_else_root_unless_script_security() {
        let mut users = FakeUsers::new();
        let set = user("nobody", None);
        assert!(matches!(
            default_user(&users, Some(&set), true),
            Ok(DefaultUser::User(RunAs { uid: 65534, .. }))
        ));
        // No keepalived_script: root, with a reason to warn about; refused with security.
        let DefaultUser::Own(own, why) = default_user(&users, None, false).unwrap() else {
            panic!("root expected")
        };
        assert_eq!(own.uid, 0);
        assert!(why.contains("keepalived_script"), "{why}");
        assert_eq!(
            default_user(&users, None, true),
            Err(IdentityError::NoDefaultUser)
        );
        users.users.insert(DEFAULT_USER, (990, 990));
        for security in [false, true] {
            assert_eq!(
                default_user(&users, None, security).unwrap(),
                DefaultUser::User(RunAs {
                    name: DEFAULT_USER.into(),
                    uid: 990,
                    gid: 990
                })
            );
        }
    }
}

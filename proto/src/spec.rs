//! What `COMMAND` reports about a command, declared next to the command's type: the
//! arity, flags, key positions, ACL categories and documentation Redis 7.0 gives it
//! (Tessera's own commands are in the group `tessera`).

use bytes::Bytes;

/// What the router knows about one command.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact if positive, minimum if negative (the name counts).
    pub arity: i32,
    /// Redis command flags.
    pub flags: &'static [&'static str],
    /// First key argument (0: none).
    pub first_key: i32,
    /// Last key argument (negative: counted from the end).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Redis's ACL categories.
    pub acl: &'static [&'static str],
    /// Redis's command group.
    pub group: &'static str,
    /// The Redis version that introduced it.
    pub since: &'static str,
    /// One-line summary.
    pub summary: &'static str,
}

impl CommandSpec {
    /// Whether a call with `argc` arguments (the name included) has the right arity.
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = i64::from(self.arity);
        (arity > 0 && argc == arity) || (arity < 0 && argc >= -arity)
    }

    /// Whether the command changes data.
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Whether an unauthenticated client may call it.
    pub fn no_auth(&self) -> bool {
        self.flags.contains(&"no_auth")
    }

    /// The key arguments of a call, from the key positions; `None` for a command
    /// without key arguments.
    pub fn keys(&self, args: &[Bytes]) -> Option<Vec<Bytes>> {
        let positions = self.key_positions(args.len())?;
        Some(positions.map(|i| args[i].clone()).collect())
    }

    /// The positions of the keys among `len` arguments (all below `len`); `None` for
    /// a command without key positions.
    pub fn key_positions(&self, len: usize) -> Option<std::iter::StepBy<std::ops::Range<usize>>> {
        if self.first_key <= 0 {
            return None;
        }
        let last = if self.last_key < 0 {
            len as i32 + self.last_key
        } else {
            self.last_key
        };
        let end = (last.max(0) as usize + 1).min(len);
        let first = (self.first_key as usize).min(end);
        Some((first..end).step_by(self.step.max(1) as usize))
    }
}

/// A key-less command of the group `tessera`.
pub const fn tessera(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: 0,
        last_key: 0,
        step: 0,
        acl: &[],
        group: "tessera",
        since: "tessera-0.1",
        summary,
    }
}

/// A [`CommandSpec`] written on one or two lines: name, arity, flags, key positions
/// (first, last, step), ACL categories, group, the Redis version that introduced it,
/// and the summary.
#[macro_export]
macro_rules! spec {
    {
        $name:literal, $arity:literal, [$($flag:literal),*], ($first:literal, $last:literal, $step:literal),
        [$($acl:literal),*], $group:literal, $since:literal, $summary:literal
    } => {
        $crate::spec::CommandSpec {
            name: $name,
            arity: $arity,
            flags: &[$($flag),*],
            first_key: $first,
            last_key: $last,
            step: $step,
            acl: &[$($acl),*],
            group: $group,
            since: $since,
            summary: $summary,
        }
    };
}

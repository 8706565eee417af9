//! The command table and dispatch. Each command's metadata (arity, flags, key
//! positions) lives in one row of [`COMMANDS`]; it drives arity errors, `COMMAND` and
//! `COMMAND COUNT`, so what the router supports and what it reports cannot disagree.

mod connection;
mod keyspace;
mod strings;

use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use std::sync::Arc;

/// Per-connection state.
#[derive(Debug)]
pub struct Session {
    /// The client id.
    pub id: u64,
    /// RESP version in use (2 or 3).
    pub proto: u8,
    /// `CLIENT SETNAME`.
    pub name: Option<Bytes>,
    /// Close after this reply (QUIT).
    pub quit: bool,
}

/// What the router knows about one command.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact if positive, minimum if negative (the name counts).
    pub arity: i32,
    /// Redis command flags.
    pub flags: &'static [&'static str],
    /// First key argument (0: none).
    pub first_key: i32,
    /// Last key argument (-1: the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// Redis's command group, for COMMAND DOCS.
    pub group: &'static str,
    /// One-line summary, for COMMAND DOCS.
    pub summary: &'static str,
}

const fn spec(
    name: &'static str,
    arity: i32,
    flags: &'static [&'static str],
    keys: (i32, i32, i32),
    group: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec {
        name,
        arity,
        flags,
        first_key: keys.0,
        last_key: keys.1,
        step: keys.2,
        group,
        summary,
    }
}

/// Every supported command.
pub const COMMANDS: &[CommandSpec] = &[
    spec(
        "client",
        -2,
        &["sentinel"],
        (0, 0, 0),
        "connection",
        "A container for client connection commands.",
    ),
    spec(
        "command",
        -1,
        &["loading", "stale", "sentinel"],
        (0, 0, 0),
        "server",
        "Returns detailed information about all commands.",
    ),
    spec(
        "dbsize",
        1,
        &["readonly", "fast"],
        (0, 0, 0),
        "server",
        "Returns the number of keys in the database.",
    ),
    spec(
        "del",
        -2,
        &["write"],
        (1, -1, 1),
        "generic",
        "Deletes one or more keys.",
    ),
    spec(
        "echo",
        2,
        &["fast"],
        (0, 0, 0),
        "connection",
        "Returns the given string.",
    ),
    spec(
        "exists",
        -2,
        &["readonly", "fast"],
        (1, -1, 1),
        "generic",
        "Determines whether one or more keys exist.",
    ),
    spec(
        "get",
        2,
        &["readonly", "fast"],
        (1, 1, 1),
        "string",
        "Returns the string value of a key.",
    ),
    spec(
        "hello",
        -1,
        &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "sentinel",
            "allow_busy",
        ],
        (0, 0, 0),
        "connection",
        "Handshakes with the Redis server.",
    ),
    spec(
        "info",
        -1,
        &["loading", "stale", "sentinel"],
        (0, 0, 0),
        "server",
        "Returns information and statistics about the server.",
    ),
    spec(
        "ping",
        -1,
        &["fast", "sentinel"],
        (0, 0, 0),
        "connection",
        "Returns the server's liveliness response.",
    ),
    spec(
        "quit",
        -1,
        &[
            "allow_busy",
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
        ],
        (0, 0, 0),
        "connection",
        "Closes the connection.",
    ),
    spec(
        "scan",
        -2,
        &["readonly"],
        (0, 0, 0),
        "generic",
        "Iterates over the key names in the database.",
    ),
    spec(
        "select",
        2,
        &["loading", "stale", "fast"],
        (0, 0, 0),
        "connection",
        "Changes the selected database.",
    ),
    spec(
        "set",
        -3,
        &["write", "denyoom"],
        (1, 1, 1),
        "string",
        "Sets the string value of a key, ignoring its type.",
    ),
];

/// The spec of command `name` (lower-case).
pub fn lookup(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// Redis's reply to a command it does not know.
pub fn unknown_command(args: &[Bytes]) -> Reply {
    let mut shown = String::new();
    for arg in args.iter().skip(1) {
        if shown.len() >= 128 {
            break;
        }
        let room = 128 - shown.len();
        let text = String::from_utf8_lossy(arg);
        let clipped: String = text.chars().take(room).collect();
        shown.push_str(&format!("'{clipped}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    Reply::err(format!(
        "unknown command '{name}', with args beginning with: {shown}"
    ))
}

/// Redis's reply to a call with the wrong number of arguments.
pub fn wrong_arity(name: &str) -> Reply {
    Reply::err(format!("wrong number of arguments for '{name}' command"))
}

/// Redis's generic syntax error.
pub fn syntax_error() -> Reply {
    Reply::err("syntax error")
}

/// What a request touches, to decide whether it may run concurrently with the
/// requests before it on the same connection.
#[derive(Clone, Debug)]
pub struct Access {
    /// It changes data.
    pub write: bool,
    /// The keys it touches; `None` means the whole keyspace (SCAN, DBSIZE, ...).
    pub keys: Option<Vec<Bytes>>,
}

impl Access {
    /// Whether `self` must wait for `earlier` to finish: a write and any other access to
    /// a common key (or to the whole keyspace) must keep their order.
    pub fn conflicts_with(&self, earlier: &Access) -> bool {
        if !self.write && !earlier.write {
            return false;
        }
        match (&self.keys, &earlier.keys) {
            (Some(mine), Some(theirs)) => mine.iter().any(|k| theirs.contains(k)),
            _ => true,
        }
    }
}

/// A request ready to run: either already answered (connection commands, errors), or
/// a future that talks to the cluster.
pub enum Prepared {
    /// The reply is known.
    Ready(Reply),
    /// The reply comes from the cluster.
    Pending(futures::future::BoxFuture<'static, Reply>, Access),
}

/// Prepares one request: validates name and arity, runs connection commands (which
/// only touch `session`) at once, and wraps data commands in a future.
pub fn prepare(ctx: &Arc<Context>, session: &mut Session, args: Vec<Bytes>) -> Prepared {
    let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
    let Some(spec) = lookup(&name) else {
        return Prepared::Ready(unknown_command(&args));
    };
    let argc = args.len() as i32;
    if (spec.arity > 0 && argc != spec.arity) || (spec.arity < 0 && argc < -spec.arity) {
        return Prepared::Ready(wrong_arity(spec.name));
    }
    let reply = match spec.name {
        "client" => connection::client(session, &args),
        "command" => connection::command(&args),
        "echo" => Reply::Bulk(args[1].clone()),
        "hello" => connection::hello(session, &args),
        "ping" => connection::ping(&args),
        "quit" => {
            session.quit = true;
            Reply::Ok
        }
        "select" => connection::select(&args),
        _ => {
            let access = Access {
                write: spec.flags.contains(&"write"),
                keys: spec.keys(&args),
            };
            let ctx = ctx.clone();
            return Prepared::Pending(
                Box::pin(async move { execute(&ctx, spec.name, &args).await }),
                access,
            );
        }
    };
    Prepared::Ready(reply)
}

/// Runs a data command against the cluster.
async fn execute(ctx: &Context, name: &str, args: &[Bytes]) -> Reply {
    match name {
        "info" => connection::info(ctx, args).await,
        "get" => strings::get(ctx, args).await,
        "set" => strings::set(ctx, args).await,
        "dbsize" => keyspace::dbsize(ctx).await,
        "del" => keyspace::del(ctx, args).await,
        "exists" => keyspace::exists(ctx, args).await,
        "scan" => keyspace::scan(ctx, args).await,
        _ => unknown_command(args),
    }
}

impl CommandSpec {
    /// The key arguments of a call, from the spec's key positions; `None` for a
    /// command without key arguments (it reads or writes the keyspace as a whole).
    pub fn keys(&self, args: &[Bytes]) -> Option<Vec<Bytes>> {
        if self.first_key <= 0 {
            return None;
        }
        let last = if self.last_key < 0 {
            args.len() as i32 + self.last_key
        } else {
            self.last_key
        };
        let step = self.step.max(1) as usize;
        let range =
            self.first_key as usize..=(last.max(0) as usize).min(args.len().saturating_sub(1));
        Some(range.step_by(step).map(|i| args[i].clone()).collect())
    }
}

/// Parses an integer argument as Redis does.
pub fn parse_int(arg: &[u8]) -> Result<i64, Reply> {
    std::str::from_utf8(arg)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| Reply::err("value is not an integer or out of range"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compatibility_doc_matches_command_table() {
        let doc = include_str!("../../../docs/compatibility.md");
        let mut documented: Vec<String> = doc
            .lines()
            .filter(|l| l.contains("| supported |") || l.contains("| partial |"))
            .filter_map(|l| l.split('`').nth(1))
            .map(str::to_ascii_lowercase)
            .collect();
        documented.sort();
        let mut listed: Vec<String> = COMMANDS.iter().map(|c| c.name.to_string()).collect();
        listed.sort();
        assert_eq!(
            documented, listed,
            "docs/compatibility.md disagrees with COMMAND LIST"
        );
    }

    #[test]
    fn key_positions_follow_the_spec() {
        let args: Vec<Bytes> = ["DEL", "a", "b", "c"]
            .into_iter()
            .map(Bytes::from)
            .collect();
        assert_eq!(
            lookup("del").unwrap().keys(&args).unwrap(),
            args[1..].to_vec()
        );
        let set: Vec<Bytes> = ["SET", "k", "v"].into_iter().map(Bytes::from).collect();
        assert_eq!(
            lookup("set").unwrap().keys(&set).unwrap(),
            vec![Bytes::from("k")]
        );
        assert!(lookup("dbsize")
            .unwrap()
            .keys(&[Bytes::from("DBSIZE")])
            .is_none());
    }

    #[test]
    fn writes_to_a_common_key_conflict_reads_do_not() {
        let keys = |k: &[&str]| Some(k.iter().map(|s| Bytes::from(s.to_string())).collect());
        let write_a = Access {
            write: true,
            keys: keys(&["a"]),
        };
        let read_a = Access {
            write: false,
            keys: keys(&["a"]),
        };
        let read_b = Access {
            write: false,
            keys: keys(&["b"]),
        };
        let scan = Access {
            write: false,
            keys: None,
        };
        assert!(read_a.conflicts_with(&write_a));
        assert!(!read_b.conflicts_with(&write_a));
        assert!(!read_a.conflicts_with(&read_a));
        assert!(scan.conflicts_with(&write_a));
        assert!(!scan.conflicts_with(&read_b));
    }

    #[test]
    fn unknown_command_text_matches_redis() {
        let args: Vec<Bytes> = ["foo", "a", "b"].into_iter().map(Bytes::from).collect();
        assert_eq!(
            unknown_command(&args),
            Reply::Error("ERR unknown command 'foo', with args beginning with: 'a' 'b' ".into())
        );
    }
}

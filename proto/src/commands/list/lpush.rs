//! `LPUSH key element [element ...]`, `RPUSH`, `LPUSHX`, `RPUSHX`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Pushes elements at the head (`left`) or tail of a list; answers its new length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LPush {
    /// The key.
    pub key: Bytes,
    /// The elements, pushed one after the other.
    pub elements: Vec<Bytes>,
    /// At the head.
    pub left: bool,
    /// Only onto an existing list (`LPUSHX`, `RPUSHX`; 0 otherwise).
    pub only_existing: bool,
}

crate::op_kind!(LPush, write: true, key key);

fn parse(args: &mut Args, left: bool, only_existing: bool) -> Result<LPush, Reply> {
    let key = args.key()?;
    let mut elements = Vec::with_capacity(args.remaining());
    while !args.is_empty() {
        elements.push(args.value()?);
    }
    Ok(LPush {
        key,
        elements,
        left,
        only_existing,
    })
}

impl Command for LPush {
    const SPEC: CommandSpec = spec! {
        "lpush", -3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@list", "@fast"],
        "list", "1.0.0", "Prepend one or multiple elements to a list"
    };
    type Parsed = LPush;

    fn parse(args: &mut Args) -> Result<LPush, Reply> {
        parse(args, true, false)
    }
}

crate::alias_command! {
    /// `RPUSH key element [element ...]`.
    RPush: spec! {
        "rpush", -3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@list", "@fast"],
        "list", "1.0.0", "Append one or multiple elements to a list"
    } => LPush,
    |args| parse(args, false, false)
}

crate::alias_command! {
    /// `LPUSHX key element [element ...]`.
    LPushX: spec! {
        "lpushx", -3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@list", "@fast"],
        "list", "2.2.0", "Prepend an element to a list, only if the list exists"
    } => LPush,
    |args| parse(args, true, true)
}

crate::alias_command! {
    /// `RPUSHX key element [element ...]`.
    RPushX: spec! {
        "rpushx", -3, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@list", "@fast"],
        "list", "2.2.0", "Append an element to a list, only if the list exists"
    } => LPush,
    |args| parse(args, false, true)
}

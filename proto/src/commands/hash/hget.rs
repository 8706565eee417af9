//! `HGET key field`, `HEXISTS` and `HSTRLEN`.

use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What a one-field read answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FieldForm {
    /// The value, or nil (`HGET`).
    Value,
    /// 1 or 0 (`HEXISTS`).
    Exists,
    /// The value's length, 0 if absent (`HSTRLEN`).
    Strlen,
}

/// Reads one field of a hash.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HGet {
    /// The key.
    pub key: Bytes,
    /// The field.
    pub field: Bytes,
    /// What to answer.
    pub form: FieldForm,
}

crate::op_kind!(HGet, write: false, key key);

fn parse(args: &mut Args, form: FieldForm) -> Result<HGet, Reply> {
    Ok(HGet {
        key: args.key()?,
        field: args.arg()?,
        form,
    })
}

impl Command for HGet {
    const SPEC: CommandSpec = spec! {
        "hget", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@hash", "@fast"],
        "hash", "2.0.0", "Get the value of a hash field"
    };
    type Parsed = HGet;

    fn parse(args: &mut Args) -> Result<HGet, Reply> {
        parse(args, FieldForm::Value)
    }
}

crate::alias_command! {
    /// `HEXISTS key field`.
    HExists: spec! {
        "hexists", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@hash", "@fast"],
        "hash", "2.0.0", "Determine if a hash field exists"
    } => HGet,
    |args| parse(args, FieldForm::Exists)
}

crate::alias_command! {
    /// `HSTRLEN key field`.
    HStrlen: spec! {
        "hstrlen", 3, ["readonly", "fast"], (1, 1, 1), ["@read", "@hash", "@fast"],
        "hash", "3.2.0", "Get the length of the value of a hash field"
    } => HGet,
    |args| parse(args, FieldForm::Strlen)
}

//! `HSET key field value [field value ...]`, `HMSET` and `HSETNX`.

use super::{field_values, FieldValues};
use crate::args::Args;
use crate::op::Command;
use crate::reply::Reply;
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What a hash write answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum HSetForm {
    /// The number of fields added (`HSET`).
    Added,
    /// `+OK` (`HMSET`).
    Ok,
    /// 1 if the field was set, 0 if it existed and nothing changed (`HSETNX`).
    IfAbsent,
}

/// Sets fields of a hash, creating it if needed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HSet {
    /// The key.
    pub key: Bytes,
    /// The fields and their values.
    pub pairs: FieldValues,
    /// What to answer.
    pub form: HSetForm,
}

crate::op_kind!(HSet, write: true, key key);

impl Command for HSet {
    const SPEC: CommandSpec = spec! {
        "hset", -4, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@hash", "@fast"],
        "hash", "2.0.0", "Set the string value of a hash field"
    };
    type Parsed = HSet;

    fn parse(args: &mut Args) -> Result<HSet, Reply> {
        let key = args.key()?;
        let pairs = field_values(args, "hset")?;
        Ok(HSet {
            key,
            pairs,
            form: HSetForm::Added,
        })
    }
}

crate::alias_command! {
    /// `HMSET key field value [field value ...]`.
    HMSet: spec! {
        "hmset", -4, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@hash", "@fast"],
        "hash", "2.0.0", "Set multiple hash fields to multiple values"
    } => HSet,
    |args| {
        let key = args.key()?;
        let pairs = field_values(args, "hmset")?;
        Ok(HSet { key, pairs, form: HSetForm::Ok })
    }
}

crate::alias_command! {
    /// `HSETNX key field value`.
    HSetNx: spec! {
        "hsetnx", 4, ["write", "denyoom", "fast"], (1, 1, 1), ["@write", "@hash", "@fast"],
        "hash", "2.0.0", "Set the value of a hash field, only if the field does not exist"
    } => HSet,
    |args| {
        let key = args.key()?;
        let pairs = vec![(args.value()?, args.value()?)];
        Ok(HSet { key, pairs, form: HSetForm::IfAbsent })
    }
}

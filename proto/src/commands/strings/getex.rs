//! `GETEX key [EX s|PX ms|EXAT s|PXAT ms|PERSIST]`.

use crate::args::Args;
use crate::commands::expiry::{Expiry, ExpiryOptions};
use crate::op::Command;
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// `GETEX`: the value of a string key, changing its expiry (`Expiry::Clear` means
/// `PERSIST`, `Expiry::Keep` no option).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GetEx {
    /// The key.
    pub key: Bytes,
    /// The new expiry.
    pub expiry: Expiry,
}

crate::op_kind!(GetEx, write: true, key key);

impl Command for GetEx {
    const SPEC: CommandSpec = spec! {
        "getex", -2, ["write", "fast"], (1, 1, 1), ["@write", "@string", "@fast"],
        "string", "6.2.0", "Get the value of a key and optionally set its expiration"
    };
    type Parsed = GetEx;

    fn parse(args: &mut Args) -> Result<GetEx, Reply> {
        let key = args.key()?;
        let mut expiry = ExpiryOptions::default();
        while let Some(opt) = args.option() {
            if !expiry.take(&opt, args, false)? {
                return Err(syntax_error());
            }
        }
        let expiry = expiry.resolve(args, Expiry::Keep)?;
        Ok(GetEx { key, expiry })
    }
}

//! The blocking pops: `BLPOP`, `BRPOP`, `BLMOVE`, `BRPOPLPUSH`, `BLMPOP`. The op is the
//! pop itself; the router runs it again each time one of its lists is written, until
//! it pops something or the timeout passes (inside `MULTI` it runs once, as in Redis).

use super::side;
use crate::args::Args;
use crate::op::{Command, OpKind};
use crate::reply::{syntax_error, Reply};
use crate::spec;
use crate::spec::CommandSpec;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What a blocking pop does and answers once an element is there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BlockingForm {
    /// One element, answered as `[key, element]` (`BLPOP`, `BRPOP`).
    Pair,
    /// Up to `count` elements, as `[key, [elements]]` (`BLMPOP`).
    Multi {
        /// How many at most.
        count: u64,
    },
    /// One element pushed onto `dest`'s head (`to_left`) or tail, answered alone
    /// (`BLMOVE`, `BRPOPLPUSH`).
    Move {
        /// Push onto the destination's head.
        to_left: bool,
    },
    /// One member of a sorted set, the lowest score's (or `max`, the highest's),
    /// answered as `[key, member, score]` (`BZPOPMIN`, `BZPOPMAX`).
    ZPair {
        /// Pop the highest score.
        max: bool,
    },
    /// Up to `count` members of a sorted set, as `ZMPOP` answers (`BZMPOP`).
    ZMulti {
        /// Pop the highest scores.
        max: bool,
        /// How many at most.
        count: u64,
    },
}

/// A pop from the first non-empty list of `keys`, waiting up to `timeout_ms` for one
/// (0: forever). All keys in one range.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BPop {
    /// The lists, in order.
    pub keys: Vec<Bytes>,
    /// The same keys as the client named them.
    pub names: Vec<Bytes>,
    /// The destination (`BLMOVE`, `BRPOPLPUSH`).
    pub dest: Option<Bytes>,
    /// Pop from the head.
    pub left: bool,
    /// What to do with it.
    pub form: BlockingForm,
    /// How long to wait, in milliseconds (0: forever).
    pub timeout_ms: u64,
}

impl OpKind for BPop {
    fn is_write(&self) -> bool {
        true
    }
    fn keys(&self) -> Vec<&Bytes> {
        self.keys.iter().chain(&self.dest).collect()
    }
    fn keys_mut(&mut self) -> Vec<&mut Bytes> {
        self.keys.iter_mut().chain(&mut self.dest).collect()
    }
}

/// What a blocking pop answers when its timeout passes (a nil array for every form,
/// as Redis answers).
pub const TIMED_OUT: Reply = Reply::NilArray;

/// Whether one try of a blocking pop found nothing to pop.
pub fn popped_nothing(reply: &Reply) -> bool {
    matches!(reply, Reply::Nil | Reply::NilArray)
}

/// A timeout in seconds (fractions allowed) as Redis reads it, in milliseconds.
pub(crate) fn timeout(args: &mut Args) -> Result<u64, Reply> {
    let arg = args.arg()?;
    let seconds = crate::number::parse_redis_float(&arg)
        .filter(|s| !s.is_nan())
        .ok_or_else(|| Reply::err("timeout is not a float or out of range"))?;
    let ms = (seconds * 1000.0) as i64;
    // Redis converts an infinite timeout to a negative number of milliseconds.
    if ms < 0 || seconds.is_infinite() {
        return Err(Reply::err("timeout is negative"));
    }
    Ok(ms as u64)
}

/// `key [key ...] timeout` of a blocking pop of one element (`BLPOP`, `BZPOPMIN`, ...).
pub(crate) fn pair(args: &mut Args, left: bool, form: BlockingForm) -> Result<BPop, Reply> {
    let mut keys = Vec::with_capacity(args.remaining());
    while args.remaining() > 1 {
        keys.push(args.key()?);
    }
    let timeout_ms = timeout(args)?;
    Ok(BPop {
        names: keys.clone(),
        keys,
        dest: None,
        left,
        form,
        timeout_ms,
    })
}

fn moving(args: &mut Args, left: bool, to_left: bool, explicit: bool) -> Result<BPop, Reply> {
    let from = args.key()?;
    let dest = args.key()?;
    let (left, to_left) = if explicit {
        (side(args)?, side(args)?)
    } else {
        (left, to_left)
    };
    let timeout_ms = timeout(args)?;
    Ok(BPop {
        names: vec![from.clone()],
        keys: vec![from],
        dest: Some(dest),
        left,
        form: BlockingForm::Move { to_left },
        timeout_ms,
    })
}

impl Command for BPop {
    const SPEC: CommandSpec = spec! {
        "blpop", -3, ["write", "noscript", "blocking"], (1, -2, 1),
        ["@write", "@list", "@slow", "@blocking"],
        "list", "2.0.0", "Remove and get the first element in a list, or block until one is available"
    };
    type Parsed = BPop;

    fn parse(args: &mut Args) -> Result<BPop, Reply> {
        pair(args, true, BlockingForm::Pair)
    }
}

/// `BLPOP key [key ...] timeout`.
pub type BLPop = BPop;

crate::alias_command! {
    /// `BRPOP key [key ...] timeout`.
    BRPop: spec! {
        "brpop", -3, ["write", "noscript", "blocking"], (1, -2, 1),
        ["@write", "@list", "@slow", "@blocking"],
        "list", "2.0.0", "Remove and get the last element in a list, or block until one is available"
    } => BPop,
    |args| pair(args, false, BlockingForm::Pair)
}

crate::alias_command! {
    /// `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`.
    BLMove: spec! {
        "blmove", 6, ["write", "denyoom", "noscript", "blocking"], (1, 2, 1),
        ["@write", "@list", "@slow", "@blocking"],
        "list", "6.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available"
    } => BPop,
    |args| moving(args, true, true, true)
}

crate::alias_command! {
    /// `BRPOPLPUSH source destination timeout`.
    BRPopLPush: spec! {
        "brpoplpush", 4, ["write", "denyoom", "noscript", "blocking"], (1, 2, 1),
        ["@write", "@list", "@slow", "@blocking"],
        "list", "2.2.0",
        "Pop an element from a list, push it to another list and return it; or block until one is available"
    } => BPop,
    |args| moving(args, false, true, false)
}

crate::alias_command! {
    /// `BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
    BLMPop: spec! {
        "blmpop", -5, ["write", "blocking", "movablekeys"], (0, 0, 0),
        ["@write", "@list", "@slow", "@blocking"],
        "list", "7.0.0", "Pop elements from a list, or block until one is available"
    } => BPop,
    |args| {
        let timeout_ms = timeout(args)?;
        let popped = <super::LMPop as Command>::parse(args)?;
        if popped.keys.is_empty() {
            return Err(syntax_error());
        }
        Ok(BPop {
            keys: popped.keys,
            names: popped.names,
            dest: None,
            left: popped.left,
            form: BlockingForm::Multi { count: popped.count },
            timeout_ms,
        })
    }
}

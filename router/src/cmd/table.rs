//! The command table: every command Tessera supports, one line each, sorted by name.
//! Each line names the command's type; the type declares its spec (for Redis's
//! commands the arity, flags, key positions, ACL categories, group and summary Redis
//! 7.0.15 reports) and its parser. `data` commands become ops run by the range that
//! holds their keys; `local` ones run in the router.

use super::admin::{
    Backup, Compact, CreateTable, Decommission, DropTable, Merge, Nodes, Ranges, Split, Table,
    Tables,
};
use super::connection::{
    Auth, Client, CommandCmd, Config, Echo, Hello, Ping, Quit, Reset, Select, Time,
};
use super::introspection::{Latency, Monitor, Slowlog};
use super::keyless::{DbSize, FlushAll, FlushDb, Info, Keys, RandomKey, Scan};
use super::kinds::{data, find, local, Entry};
use super::object::ObjectCmd;
use super::transactions::{Discard, Exec, Multi, Unwatch, Watch};
use tessera_proto::commands::bitmap::{
    BitCount, BitField, BitFieldRo, BitOp, BitPos, GetBit, SetBit,
};
use tessera_proto::commands::hash::{
    HDel, HExists, HGet, HGetAll, HIncrBy, HIncrByFloat, HKeys, HLen, HMGet, HMSet, HRandField,
    HScan, HSet, HSetNx, HStrlen, HVals,
};
use tessera_proto::commands::keyspace::{
    Copy, Del, Exists, Expire, ExpireAt, ExpireTime, PExpire, PExpireAt, PExpireTime, PTtl,
    Persist, Rename, RenameNx, Sort, SortRo, Touch, Ttl, Type, Unlink,
};
use tessera_proto::commands::list::{
    BLMPop, BLMove, BLPop, BRPop, BRPopLPush, LIndex, LInsert, LLen, LMPop, LMove, LPop, LPos,
    LPush, LPushX, LRange, LRem, LSet, LTrim, RPop, RPopLPush, RPush, RPushX,
};
use tessera_proto::commands::set::{
    SAdd, SCard, SDiff, SDiffStore, SInter, SInterCard, SInterStore, SIsMember, SMIsMember,
    SMembers, SMove, SPop, SRandMember, SRem, SScan, SUnion, SUnionStore,
};
use tessera_proto::commands::strings::{
    Append, Decr, DecrBy, Get, GetDel, GetEx, GetRange, GetSet, Incr, IncrBy, IncrByFloat, Lcs,
    MGet, MSet, MSetNx, PSetEx, Set, SetEx, SetNx, SetRange, Strlen, Substr,
};
use tessera_proto::commands::zset::{
    BZMPop, BZPopMax, BZPopMin, ZAdd, ZCard, ZCount, ZDiff, ZDiffStore, ZIncrBy, ZInter,
    ZInterCard, ZInterStore, ZLexCount, ZMPop, ZMScore, ZPopMax, ZPopMin, ZRandMember, ZRange,
    ZRangeByLex, ZRangeByScore, ZRangeStore, ZRank, ZRem, ZRemRangeByLex, ZRemRangeByRank,
    ZRemRangeByScore, ZRevRange, ZRevRangeByLex, ZRevRangeByScore, ZRevRank, ZScan, ZScore, ZUnion,
    ZUnionStore,
};
use tessera_proto::op::Command;

/// One table line: `data Type` or `local Type`.
macro_rules! commands {
    ($($kind:ident $ty:ty,)*) => {
        /// Every supported command, sorted by name.
        pub static COMMANDS: &[Entry] = &[
            $(Entry { spec: &<$ty as Command>::SPEC, parse: $kind::<$ty> },)*
        ];
    };
}

commands! {
    data Append,
    local Auth,
    local Backup,
    data BitCount,
    data BitField,
    data BitFieldRo,
    data BitOp,
    data BitPos,
    data BLMove,
    data BLMPop,
    data BLPop,
    data BRPop,
    data BRPopLPush,
    data BZMPop,
    data BZPopMax,
    data BZPopMin,
    local Client,
    local CommandCmd,
    local Compact,
    local Config,
    data Copy,
    local CreateTable,
    local DbSize,
    local Decommission,
    data Decr,
    data DecrBy,
    data Del,
    local Discard,
    local DropTable,
    local Echo,
    local Exec,
    data Exists,
    data Expire,
    data ExpireAt,
    data ExpireTime,
    local FlushAll,
    local FlushDb,
    data Get,
    data GetBit,
    data GetDel,
    data GetEx,
    data GetRange,
    data GetSet,
    data HDel,
    local Hello,
    data HExists,
    data HGet,
    data HGetAll,
    data HIncrBy,
    data HIncrByFloat,
    data HKeys,
    data HLen,
    data HMGet,
    data HMSet,
    data HRandField,
    data HScan,
    data HSet,
    data HSetNx,
    data HStrlen,
    data HVals,
    data Incr,
    data IncrBy,
    data IncrByFloat,
    local Info,
    local Keys,
    local Latency,
    data Lcs,
    data LIndex,
    data LInsert,
    data LLen,
    data LMove,
    data LMPop,
    data LPop,
    data LPos,
    data LPush,
    data LPushX,
    data LRange,
    data LRem,
    data LSet,
    data LTrim,
    local Merge,
    data MGet,
    local Monitor,
    data MSet,
    data MSetNx,
    local Multi,
    local Nodes,
    local ObjectCmd,
    data Persist,
    data PExpire,
    data PExpireAt,
    data PExpireTime,
    local Ping,
    data PSetEx,
    data PTtl,
    local Quit,
    local RandomKey,
    local Ranges,
    data Rename,
    data RenameNx,
    local Reset,
    data RPop,
    data RPopLPush,
    data RPush,
    data RPushX,
    data SAdd,
    local Scan,
    data SCard,
    data SDiff,
    data SDiffStore,
    local Select,
    data Set,
    data SetBit,
    data SetEx,
    data SetNx,
    data SetRange,
    data SInter,
    data SInterCard,
    data SInterStore,
    data SIsMember,
    local Slowlog,
    data SMembers,
    data SMIsMember,
    data SMove,
    data Sort,
    data SortRo,
    local Split,
    data SPop,
    data SRandMember,
    data SRem,
    data SScan,
    data Strlen,
    data Substr,
    data SUnion,
    data SUnionStore,
    local Table,
    local Tables,
    local Time,
    data Touch,
    data Ttl,
    data Type,
    data Unlink,
    local Unwatch,
    local Watch,
    data ZAdd,
    data ZCard,
    data ZCount,
    data ZDiff,
    data ZDiffStore,
    data ZIncrBy,
    data ZInter,
    data ZInterCard,
    data ZInterStore,
    data ZLexCount,
    data ZMPop,
    data ZMScore,
    data ZPopMax,
    data ZPopMin,
    data ZRandMember,
    data ZRange,
    data ZRangeByLex,
    data ZRangeByScore,
    data ZRangeStore,
    data ZRank,
    data ZRem,
    data ZRemRangeByLex,
    data ZRemRangeByRank,
    data ZRemRangeByScore,
    data ZRevRange,
    data ZRevRangeByLex,
    data ZRevRangeByScore,
    data ZRevRank,
    data ZScan,
    data ZScore,
    data ZUnion,
    data ZUnionStore,
}

/// The entry of command `name` (lower-case).
pub fn lookup(name: &str) -> Option<&'static Entry> {
    find(COMMANDS, name)
}

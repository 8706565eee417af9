//! `SPLIT table key` and `MERGE table key`: an operator's range change, carried out by
//! the meta controller; `OK` once the new layout serves.

use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::meta_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// The table and the key (as written after `table:`) of a split or a merge.
pub struct Where {
    table: String,
    key: Vec<u8>,
}

impl Where {
    fn parse(args: &mut Args) -> Result<Self, Reply> {
        let table = String::from_utf8_lossy(&args.arg()?).into_owned();
        let key = args.arg()?.to_vec();
        Ok(Self { table, key })
    }
}

/// `SPLIT`: a new range of the table starts at the key.
pub struct Split(Where);

impl Command for Split {
    const SPEC: CommandSpec = spec! {
        "split", 3, ["write"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "Split the range of a table holding a key so that a new range starts at it: SPLIT table key"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::cluster(Split(Where::parse(args)?)))
    }
}

impl ClusterCommand for Split {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            match ctx.meta.split(&self.0.table, self.0.key).await {
                Ok(()) => Reply::Ok,
                Err(e) => meta_error(e),
            }
        })
    }
}

/// `MERGE`: the range of the table starting at the key joins its left neighbour.
pub struct Merge(Where);

impl Command for Merge {
    const SPEC: CommandSpec = spec! {
        "merge", 3, ["write"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "Merge the range of a table starting at a key into its left neighbour: MERGE table key"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        Ok(Parsed::cluster(Merge(Where::parse(args)?)))
    }
}

impl ClusterCommand for Merge {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            match ctx.meta.merge(&self.0.table, self.0.key).await {
                Ok(()) => Reply::Ok,
                Err(e) => meta_error(e),
            }
        })
    }
}

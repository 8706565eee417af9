//! `DROPTABLE name`.

use crate::cmd::{ClusterCommand, Parsed};
use crate::errors::meta_error;
use crate::Context;
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::Duration;
use tessera_proto::args::Args;
use tessera_proto::catalog::DEFAULT_TABLE;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;
use tokio::time::Instant;

/// How long DROPTABLE waits until the table's keys belong to `default` again.
const DROP_DEADLINE: Duration = Duration::from_secs(30);

/// `DROPTABLE`: deletes a table and its data; answers `OK` once `name:*` keys belong
/// to `default` again.
pub struct DropTable(String);

impl Command for DropTable {
    const SPEC: CommandSpec = spec! {
        "droptable", 2, ["write"], (0, 0, 0), [],
        "tessera", "tessera-0.1", "Drop a table and delete its data"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let name = String::from_utf8_lossy(&args.arg()?).into_owned();
        Ok(Parsed::cluster(DropTable(name)))
    }
}

impl ClusterCommand for DropTable {
    fn run(self: Box<Self>, ctx: Arc<Context>) -> BoxFuture<'static, Reply> {
        Box::pin(async move {
            let name = self.0;
            if name == DEFAULT_TABLE {
                return Reply::err("the default table cannot be dropped");
            }
            if let Err(e) = ctx.meta.drop_table(&name).await {
                return meta_error(e);
            }
            let until = Instant::now() + DROP_DEADLINE;
            while ctx.cluster.catalog().table_by_name(&name).is_some() {
                if Instant::now() >= until {
                    return Reply::Error(format!(
                        "CLUSTERDOWN table '{name}' was dropped but its keys are still fenced"
                    ));
                }
                ctx.cluster.wait_for_catalog(until).await;
            }
            Reply::Ok
        })
    }
}

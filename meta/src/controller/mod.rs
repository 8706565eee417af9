//! The controller: runs on the meta leader and changes the catalog to keep the cluster
//! in shape. It never touches a group's Raft membership itself: it edits the group's
//! member list in the catalog, and the group's leader carries the change out (learner,
//! catch-up, promotion, removal — see the storage node's reconciler). It
//!
//! - takes tables through their life ([`tables`]): the built-in `default` table as
//!   soon as enough nodes registered, requested tables after fencing their prefix in
//!   `default`, dropped tables until their fence is lifted;
//! - heals and balances ([`healing`]): replaces the replicas of dead nodes, of lagging
//!   followers and of decommissioning nodes; marks a drained node removed; evens
//!   replica counts out (within ±1) when nothing else is under way;
//! - splits and merges ranges by size and load, and spreads leaders by load and count
//!   ([`elastic`], carried out by [`ranges`]), and carries out operators' `SPLIT` and
//!   `MERGE` ([`orders`]) between its own steps, so one range change at a time.
//!
//! A group whose leader reports a membership other than the catalog's is "unsettled"
//! and is left alone until its leader finished the previous change, so at most one
//! change per group is ever in flight.

mod elastic;
mod gauges;

pub(crate) use gauges::health;
mod healing;
mod orders;
mod ranges;
mod tables;

use crate::catalog::MetaCommand;
use crate::operator::OrderBook;
use crate::service::MetaService;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_proto::meta_api::MetaResponse;
use tessera_proto::routing::CatalogRouting;
use tokio_util::sync::CancellationToken;

/// How often the controller looks at the cluster.
const TICK: Duration = Duration::from_millis(200);

/// Controller settings.
#[derive(Clone, Debug)]
pub struct ControllerConfig {
    /// Replicas of the `default` table's ranges.
    pub default_replicas: u8,
    /// A node silent for this long is dead and its replicas are replaced.
    pub dead_after: Duration,
    /// A follower more than this many log entries behind its leader is lagging...
    pub lag_entries: u64,
    /// ...and is replaced once it has lagged for this long.
    pub lag_window: Duration,
    /// A range holding more bytes than this splits at its middle key (0: never).
    pub split_bytes: u64,
    /// A range serving more requests per second than this for `split_after` splits
    /// where the load divides evenly (0: never).
    pub split_qps: f64,
    /// How long a range must stay over `split_qps` to split.
    pub split_after: Duration,
    /// How long two neighbours must stay cold (under a quarter of `split_bytes` and a
    /// tenth of `split_qps`) to merge back.
    pub merge_after: Duration,
}

/// Default `split_bytes`: 128 MiB.
pub const DEFAULT_SPLIT_BYTES: u64 = 128 << 20;
/// Default `split_qps`.
pub const DEFAULT_SPLIT_QPS: f64 = 2_500.0;

impl Default for ControllerConfig {
    fn default() -> Self {
        Self {
            default_replicas: 3,
            dead_after: Duration::from_secs(10),
            lag_entries: 10_000,
            lag_window: Duration::from_secs(30),
            split_bytes: DEFAULT_SPLIT_BYTES,
            split_qps: DEFAULT_SPLIT_QPS,
            split_after: Duration::from_secs(10),
            merge_after: Duration::from_secs(60),
        }
    }
}

/// Runs until `shutdown`; acts only while this member leads.
pub(crate) async fn run(
    service: Arc<MetaService>,
    config: ControllerConfig,
    mut orders: OrderBook,
    shutdown: CancellationToken,
) {
    let mut tick = tessera_common::ticker::Ticker::new(TICK, shutdown.clone());
    let routing = CatalogRouting::new(service.catalog.clone());
    let mut leading_since: Option<(Instant, u64)> = None;
    let mut healer = healing::Healer::default();
    let mut elastic = elastic::Elastic::default();
    loop {
        let shaper = ranges::Reshaper {
            service: &service,
            routing: &routing,
            config: &config,
        };
        tokio::select! {
            more = tick.tick() => if !more { break },
            order = orders.recv() => {
                let Some((order, reply)) = order else { break };
                let outcome = if service.raft.is_leader() {
                    let carried = tick.unless_stopped(orders::carry_out(&shaper, order));
                    let Some(outcome) = carried.await else { break };
                    outcome
                } else {
                    Err("this meta member does not lead".into())
                };
                let _ = reply.send(outcome);
                continue;
            }
        }
        // Steps wait on Raft commits and on storage nodes: a shutdown drops them there.
        let step = lead(
            &service,
            &config,
            &shaper,
            &mut leading_since,
            &mut healer,
            &mut elastic,
        );
        if tick.unless_stopped(step).await.is_none() {
            break;
        }
    }
    for client in routing.node_clients() {
        client.close().await;
    }
}

/// One tick of the controller: nothing unless this member leads; otherwise the table
/// steps, then recovery of half-done range changes (from the first tick), then, once
/// this member has led for `dead_after`, healing and elasticity.
async fn lead(
    service: &MetaService,
    config: &ControllerConfig,
    shaper: &ranges::Reshaper<'_>,
    leading_since: &mut Option<(Instant, u64)>,
    healer: &mut healing::Healer,
    elastic: &mut elastic::Elastic,
) {
    use openraft::async_runtime::WatchReceiver;
    let term = service.raft.metrics().borrow_watched().current_term;
    let leads = service.raft.is_leader();
    // Leadership lost, or lost and won again between two ticks (a newer term): nodes
    // reported to another leader meanwhile, so what they told this member is stale.
    if leading_since.is_some_and(|(_, led_in)| !leads || led_in != term) {
        *leading_since = None;
        service.liveness.forget_reports();
    }
    if !leads || leading_since.is_none() {
        *healer = healing::Healer::default();
        *elastic = elastic::Elastic::default();
    }
    if !leads {
        return;
    }
    let (since, _) = *leading_since.get_or_insert_with(|| (Instant::now(), term));
    let catalog = service.catalog.borrow().clone();
    if since.elapsed() >= config.dead_after {
        gauges::report(service, &catalog, config.dead_after);
    }
    let steps = tables::Steps {
        service,
        config,
        routing: shaper.routing,
        leading_for: since.elapsed(),
    };
    if !steps.run(&catalog).await {
        return; // No default table yet: nothing else to look after.
    }
    elastic.observe(shaper, &catalog);
    // Record what is half done before deciding anything new, and at once: a merge
    // interrupted with its source frozen keeps that range's keys waiting until it is
    // finished or called off. Recovery acts on what the changed ranges' leaders
    // report and asks their replicas directly, so it waits for those reports only,
    // not for every node's.
    if shaper.recover(&catalog, since.elapsed()).await {
        return;
    }
    // A new leader has heard from nobody yet: everyone would look dead.
    if since.elapsed() < config.dead_after {
        return;
    }
    let cmds = healer.plan(&catalog, service, config);
    if !cmds.is_empty() {
        for cmd in cmds {
            propose(service, cmd).await;
        }
        return;
    }
    elastic.step(shaper, &catalog).await;
}

/// Proposes a change and logs the decision.
async fn propose(service: &MetaService, cmd: MetaCommand) -> bool {
    let what = cmd.to_string();
    match service.propose(cmd).await {
        Ok(_) => {
            tracing::info!(change = %what, "controller changed the catalog");
            let kind = what
                .split(['(', ' ', '{'])
                .next()
                .unwrap_or_default()
                .to_string();
            metrics::counter!("tessera_meta_controller_actions_total", "kind" => kind).increment(1);
            service.liveness.record_decision(what);
            true
        }
        Err(MetaResponse::Error(e)) => {
            tracing::warn!(change = %what, error = %e, "controller change refused");
            false
        }
        Err(_) => {
            tracing::debug!(change = %what, "controller lost leadership");
            false
        }
    }
}

//! Running data ops: user keys become storage keys (the catalog decides each key's
//! table), then the op goes to the range holding its keys — split per range for the
//! commands that may span ranges (MGET, MSET, DEL, EXISTS: atomic per range, not
//! across), refused with `CROSSSLOT` for the others.

use crate::cluster::Outcome;
use crate::errors::{call_error, cross_range};
use crate::Context;
use bytes::Bytes;
use std::collections::BTreeMap;
use tessera_proto::call::CallError;
use tessera_proto::catalog::{Catalog, RangeId};
use tessera_proto::commands::set::{SCombine, SMembers};
use tessera_proto::commands::zset::{scored_items, ZCombine};
use tessera_proto::keys::MAX_KEY_BYTES;
use tessera_proto::op::{Op, OpKind};
use tessera_proto::range_map::Route;
use tessera_proto::reply::Reply;
use tokio::time::Instant;

/// Why an op could not run in one range.
pub enum RangeFailure {
    /// Its keys live in different ranges (the op comes back).
    CrossRange(Op),
    /// The call failed.
    Call(CallError),
}

/// Runs one op, as a client command.
///
/// The future of every request is boxed by its size (`cmd::prepare`): the rare paths
/// (a fan-out, a blocked pop, a combine across ranges) are boxed apart, so that a GET
/// does not carry their state. (Each in a statement of its own: a temporary lives in
/// the future's state until the end of the statement holding the `.await`.)
pub async fn run(ctx: &Context, mut op: Op) -> Reply {
    if let Err(reply) = to_storage_keys(&ctx.cluster.catalog(), &mut op) {
        return reply;
    }
    let rare: futures::future::BoxFuture<'_, Reply> = if op.subset(&[]).is_some() {
        fan_out(ctx, op)
    } else if matches!(op, Op::BPop(_)) {
        Box::pin(crate::blocked::run(ctx, op))
    } else {
        match run_in_one_range(ctx, op).await {
            Ok(reply) => return reply,
            Err(failure) => Box::pin(across_ranges(ctx, failure)),
        }
    };
    rare.await
}

/// What an op that could not run in one range answers: a combine of sets or sorted
/// sets is read range by range, anything else fails.
async fn across_ranges(ctx: &Context, failure: RangeFailure) -> Reply {
    match failure {
        RangeFailure::CrossRange(Op::SCombine(op)) if op.store.is_none() => {
            sets_across(ctx, &op).await
        }
        RangeFailure::CrossRange(Op::ZCombine(op)) if op.store.is_none() => {
            zsets_across(ctx, &op).await
        }
        RangeFailure::CrossRange(_) => cross_range(),
        RangeFailure::Call(e) => call_error(e),
    }
}

/// Whether `op` may run in a batch of a connection's requests ([`run_many`]): it
/// touches one key, is not split by range and does not block.
pub fn batchable(op: &Op) -> bool {
    !matches!(op, Op::BPop(_)) && op.subset(&[]).is_none() && op.keys().len() == 1
}

/// Runs `ops` (each [`batchable`], all reads or all writes, no two touching a common
/// key: a connection's pipelined requests) as [`run`] would run each, with one call
/// per range instead of one per op: their replies, in order.
pub async fn run_many(ctx: &Context, ops: Vec<Op>) -> Vec<Reply> {
    let mut replies: Vec<Option<Reply>> = (0..ops.len()).map(|_| None).collect();
    let mut parts: Vec<Part> = Vec::new();
    let mut unrouted = Vec::new();
    {
        let catalog = ctx.cluster.catalog();
        for (at, mut op) in ops.into_iter().enumerate() {
            if let Err(reply) = to_storage_keys(&catalog, &mut op) {
                replies[at] = Some(reply);
                continue;
            }
            let anchor = op.keys().first().map(|k| (*k).clone()).unwrap_or_default();
            let Some(route) = ctx.cluster.route(&anchor) else {
                unrouted.push((at, op));
                continue;
            };
            match parts
                .iter_mut()
                .find(|part| part.route.range_id() == route.range_id())
            {
                Some(part) => {
                    part.at.push(at);
                    part.ops.push(op);
                }
                None => parts.push(Part {
                    route,
                    anchor,
                    at: vec![at],
                    ops: vec![op],
                }),
            }
        }
    }
    let parts = parts.into_iter().map(
        |Part {
             route,
             anchor,
             at,
             ops,
         }| async move {
            let replies = match ctx.cluster.execute(&anchor, Some(route), ops).await {
                Outcome::Replies(replies) => replies,
                Outcome::Failed(e) => at.iter().map(|_| call_error(e.clone())).collect(),
                // The range split, merged or moved: each op is routed again on its own.
                Outcome::Stale(_, back) => {
                    futures::future::join_all(back.into_iter().map(|op| in_one_range(ctx, op)))
                        .await
                }
            };
            at.into_iter().zip(replies).collect::<Vec<_>>()
        },
    );
    let unrouted = unrouted
        .into_iter()
        .map(|(at, op)| async move { vec![(at, in_one_range(ctx, op).await)] });
    let (parts, unrouted) = futures::future::join(
        futures::future::join_all(parts),
        futures::future::join_all(unrouted),
    )
    .await;
    for (at, reply) in parts.into_iter().chain(unrouted).flatten() {
        replies[at] = Some(reply);
    }
    replies
        .into_iter()
        .map(|reply| reply.unwrap_or_else(|| Reply::err("empty reply")))
        .collect()
}

/// The ops of a run ([`run_many`]) in one range.
struct Part {
    route: Route,
    /// The first op's key.
    anchor: Bytes,
    /// The positions of the ops in the run.
    at: Vec<usize>,
    ops: Vec<Op>,
}

/// Runs an op whose keys live in one range: its reply, or the error.
async fn in_one_range(ctx: &Context, op: Op) -> Reply {
    match run_in_one_range(ctx, op).await {
        Ok(reply) => reply,
        Err(RangeFailure::Call(e)) => call_error(e),
        Err(RangeFailure::CrossRange(_)) => cross_range(),
    }
}

/// Runs `reads` (one op per key, each in its key's range) in parallel: their replies
/// in key order.
async fn read_each(ctx: &Context, reads: Vec<Op>) -> Vec<Reply> {
    futures::future::join_all(reads.into_iter().map(|read| in_one_range(ctx, read))).await
}

/// `SINTER`, `SUNION`, `SDIFF`, `SINTERCARD` over keys in several ranges: each set is
/// read at a linearizable point of its own range (not one point across ranges), and
/// the router combines them.
async fn sets_across(ctx: &Context, op: &SCombine) -> Reply {
    let reads = op
        .keys
        .iter()
        .map(|key| Op::SMembers(SMembers { key: key.clone() }))
        .collect();
    let mut sets = Vec::with_capacity(op.keys.len());
    for reply in read_each(ctx, reads).await {
        match reply {
            Reply::Set(members) => sets.push(
                members
                    .into_iter()
                    .filter_map(|m| match m {
                        Reply::Bulk(m) => Some(m.to_vec()),
                        _ => None,
                    })
                    .collect(),
            ),
            other => return other,
        }
    }
    op.reply(op.combine(sets))
}

/// `ZUNION`, `ZINTER`, `ZDIFF`, `ZINTERCARD` over keys in several ranges, as
/// [`sets_across`] does for sets.
async fn zsets_across(ctx: &Context, op: &ZCombine) -> Reply {
    let reads = op
        .keys
        .iter()
        .map(|key| Op::ZCombine(op.read_one(key.clone())))
        .collect();
    let mut inputs = Vec::with_capacity(op.keys.len());
    for reply in read_each(ctx, reads).await {
        match scored_items(reply) {
            Ok(items) => inputs.push(items),
            Err(other) => return other,
        }
    }
    op.reply(op.combine(inputs))
}

/// Maps every user key of `op` to its storage key.
///
/// # Errors
/// A key longer than fjall allows.
pub fn to_storage_keys(catalog: &Catalog, op: &mut Op) -> Result<(), Reply> {
    for key in op.keys_mut() {
        if key.len() > MAX_KEY_BYTES {
            return Err(Reply::err(format!(
                "key is too large (at most {MAX_KEY_BYTES} bytes)"
            )));
        }
        *key = Bytes::from(catalog.storage_key(key).1);
    }
    Ok(())
}

/// The route shared by all of `keys`: `Ok(None)` if no range is known yet, `Err` if
/// they live in different ranges.
fn common_route(ctx: &Context, keys: &[&Bytes]) -> Result<Option<Route>, ()> {
    let mut common: Option<Route> = None;
    for key in keys {
        let Some(route) = ctx.cluster.route(key) else {
            return Ok(None);
        };
        match &common {
            Some(c) if c.range_id() != route.range_id() => return Err(()),
            Some(_) => {}
            None => common = Some(route),
        }
    }
    Ok(common)
}

/// Runs an op (storage keys) whose keys must all live in one range, routing it again
/// if the range splits or merges meanwhile.
///
/// # Errors
/// [`RangeFailure::CrossRange`] (nothing applied) or the call's failure.
pub async fn run_in_one_range(ctx: &Context, mut op: Op) -> Result<Reply, RangeFailure> {
    let until = ctx.cluster.deadline();
    loop {
        let keys = op.keys();
        let anchor = keys.first().map(|k| (*k).clone()).unwrap_or_default();
        let Ok(route) = common_route(ctx, &keys) else {
            return Err(RangeFailure::CrossRange(op));
        };
        match ctx.cluster.execute(&anchor, route.clone(), vec![op]).await {
            Outcome::Replies(mut replies) => {
                return Ok(replies.pop().unwrap_or_else(|| Reply::err("empty reply")))
            }
            Outcome::Failed(e) => return Err(RangeFailure::Call(e)),
            Outcome::Stale(e, _) if Instant::now() >= until => return Err(RangeFailure::Call(e)),
            Outcome::Stale(_, mut back) => {
                if let Some(stale) = &route {
                    let wait = Box::pin(ctx.cluster.await_new_route(&anchor, stale, until));
                    wait.await;
                }
                match back.pop() {
                    Some(again) => op = again,
                    None => return Err(RangeFailure::Call(CallError::Failed("lost op".into()))),
                }
            }
        }
    }
}

/// Splits a multi-key op by range, runs the parts in parallel and merges the replies
/// (atomic per range, not across ranges). A part whose keys a split moved apart
/// meanwhile is split again.
fn fan_out<'a>(ctx: &'a Context, op: Op) -> futures::future::BoxFuture<'a, Reply> {
    Box::pin(async move {
        let keys = op.keys();
        // Per range: the positions (in the original key order) of its keys.
        let mut parts: BTreeMap<Option<RangeId>, Vec<usize>> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            let range = ctx.cluster.route(key).map(|r| r.range_id());
            parts.entry(range).or_default().push(i);
        }
        let calls = parts.into_values().map(|positions| {
            let part = op.subset(&positions);
            async move {
                let reply = match part {
                    Some(part) => match run_in_one_range(ctx, part).await {
                        Ok(reply) => reply,
                        Err(RangeFailure::Call(e)) => call_error(e),
                        Err(RangeFailure::CrossRange(part)) => fan_out(ctx, part).await,
                    },
                    None => Reply::err("cannot split this command"),
                };
                (positions, reply)
            }
        });
        let parts = futures::future::join_all(calls).await;
        op.merge(parts)
    })
}

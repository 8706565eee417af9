//! MULTI, EXEC, DISCARD and WATCH. A transaction whose keys all live in one range is
//! sent as one `Op::Txn`: one Raft entry, applied atomically, after checking that every
//! watched key still has the version (sequence number) it had when watched. A
//! transaction spanning ranges is refused at EXEC before anything is applied.

use super::{parse, run_in_range, single_range, to_reply, Command, Session};
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use tessera_server::{Op, OpResult};

pub fn multi(session: &mut Session) -> Reply {
    if session.multi.is_some() {
        return Reply::err("MULTI calls can not be nested");
    }
    session.multi = Some(Vec::new());
    session.multi_failed = false;
    Reply::Ok
}

pub fn discard(session: &mut Session) -> Reply {
    if session.multi.take().is_none() {
        return Reply::err("DISCARD without MULTI");
    }
    session.multi_failed = false;
    session.watches.clear();
    Reply::Ok
}

pub async fn watch(ctx: &Context, session: &mut Session, args: &[Bytes]) -> Reply {
    if session.multi.is_some() {
        return Reply::err("WATCH inside MULTI is not allowed");
    }
    for key in &args[1..] {
        let storage = match super::strings::storage_key(ctx, key) {
            Ok(k) => k,
            Err(reply) => return reply,
        };
        let version = match run_in_range(
            ctx,
            &storage,
            vec![Op::Version {
                key: storage.clone(),
            }],
        )
        .await
        {
            Ok(mut results) => match results.pop() {
                Some(OpResult::Bulk(v)) => Some(v),
                _ => None,
            },
            Err(reply) => return reply,
        };
        session.watches.push((storage, version));
    }
    Reply::Ok
}

/// One queued command, as EXEC will answer it.
enum Slot {
    /// Answered without the cluster (PING, or an error found when parsing).
    Local(Reply),
    /// The `i`-th op of the transaction.
    Op(usize),
}

pub async fn exec(ctx: &Context, session: &mut Session) -> Reply {
    let Some(queued) = session.multi.take() else {
        return Reply::err("EXEC without MULTI");
    };
    let watches = std::mem::take(&mut session.watches);
    if std::mem::take(&mut session.multi_failed) {
        return Reply::Error("EXECABORT Transaction discarded because of previous errors.".into());
    }
    let mut slots = Vec::with_capacity(queued.len());
    let mut ops = Vec::new();
    for args in &queued {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        if let Some(reply) = super::connection::run(ctx, session, &name, args) {
            slots.push(Slot::Local(reply));
            continue;
        }
        match parse(ctx, &name, args) {
            Ok(Command::Op(op)) => {
                slots.push(Slot::Op(ops.len()));
                ops.push(op);
            }
            Ok(Command::Local(reply)) | Err(reply) => slots.push(Slot::Local(reply)),
            Ok(Command::Keyless(_) | Command::Admin(_)) => {
                slots.push(Slot::Local(Reply::err(format!(
                    "{} cannot run inside MULTI: it reads or changes every range",
                    name.to_ascii_uppercase()
                ))))
            }
        }
    }
    let mut results = if ops.is_empty() && watches.is_empty() {
        Vec::new()
    } else {
        let txn = Op::Txn { watches, ops };
        let anchor = match single_range(ctx, &txn.keys()) {
            Ok(anchor) => anchor,
            Err(_) => return Reply::Error(
                "CROSSSLOT Keys in the transaction belong to different ranges; nothing was applied"
                    .into(),
            ),
        };
        match run_in_range(ctx, &anchor, vec![txn])
            .await
            .map(|mut r| r.pop())
        {
            Ok(Some(OpResult::Array(results))) => results,
            Ok(Some(OpResult::NilArray)) => return Reply::NilArray,
            Ok(Some(other)) => return to_reply(other),
            Ok(None) => return Reply::err("empty reply"),
            Err(reply) => return reply,
        }
    }
    .into_iter()
    .map(Some)
    .collect::<Vec<_>>();
    let replies = slots
        .into_iter()
        .map(|slot| match slot {
            Slot::Local(reply) => reply,
            Slot::Op(i) => results[i]
                .take()
                .map_or(Reply::err("missing result"), to_reply),
        })
        .collect();
    Reply::Array(replies)
}

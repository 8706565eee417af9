//! String commands: GET, SET.

use super::syntax_error;
use crate::cluster::Cluster;
use crate::reply::Reply;
use crate::Context;
use bytes::Bytes;
use tessera_server::{DataRequest, DataResponse, WriteOp};

/// Longest user key: fjall's 64 KiB limit minus the 4-byte table prefix.
pub const MAX_KEY_BYTES: usize = 65_536 - 4;

/// Validates a key's length, returning its storage key.
pub fn checked_key(ctx: &Context, key: &[u8]) -> Result<Vec<u8>, Reply> {
    if key.len() > MAX_KEY_BYTES {
        return Err(Reply::err(format!(
            "key is too large (at most {MAX_KEY_BYTES} bytes)"
        )));
    }
    Ok(Cluster::storage_key(&ctx.cluster.catalog(), key).1)
}

pub async fn get(ctx: &Context, args: &[Bytes]) -> Reply {
    let key = match checked_key(ctx, &args[1]) {
        Ok(key) => key,
        Err(reply) => return reply,
    };
    match ctx
        .cluster
        .call(
            &key,
            DataRequest::Get {
                keys: vec![key.clone()],
            },
        )
        .await
    {
        Ok(DataResponse::Values(mut values)) => match values.pop().flatten() {
            Some(value) => Reply::Bulk(Bytes::from(value)),
            None => Reply::Nil,
        },
        Ok(_) => Reply::err("unexpected reply from storage node"),
        Err(e) => Reply::Error(e.to_string()),
    }
}

pub async fn set(ctx: &Context, args: &[Bytes]) -> Reply {
    if args.len() != 3 {
        return syntax_error();
    }
    let key = match checked_key(ctx, &args[1]) {
        Ok(key) => key,
        Err(reply) => return reply,
    };
    if args[2].len() > ctx.max_value_bytes {
        return Reply::err(format!(
            "string exceeds maximum allowed size ({} bytes, max-value-bytes)",
            ctx.max_value_bytes
        ));
    }
    let op = WriteOp::Set {
        key: key.clone(),
        value: args[2].to_vec(),
    };
    match ctx.cluster.call(&key, DataRequest::Write(vec![op])).await {
        Ok(DataResponse::Written(_)) => Reply::Ok,
        Ok(_) => Reply::err("unexpected reply from storage node"),
        Err(e) => Reply::Error(e.to_string()),
    }
}

//! The one place where failures become the client's error replies (see
//! `docs/consistency.md`): unavailability reads `-CLUSTERDOWN`, a routing failure that
//! may succeed when retried (or a write whose outcome is unknown) `-TRYAGAIN`, keys
//! spread over ranges `-CROSSSLOT`, anything else `-ERR`.

use tessera_proto::call::CallError;
use tessera_proto::meta_client::MetaError;
use tessera_proto::reply::Reply;

/// A failed call to a group.
pub fn call_error(e: CallError) -> Reply {
    Reply::Error(e.to_string())
}

/// A failed request to the meta service.
pub fn meta_error(e: MetaError) -> Reply {
    match e {
        MetaError::Unavailable(why) => Reply::Error(format!("CLUSTERDOWN {why}")),
        MetaError::Refused(why) => Reply::err(why),
    }
}

/// Keys of one request in different ranges.
pub fn cross_range() -> Reply {
    Reply::Error("CROSSSLOT Keys in request don't belong to the same range".into())
}

/// Keys of one transaction in different ranges.
pub fn cross_range_transaction() -> Reply {
    Reply::Error(
        "CROSSSLOT Keys in the transaction belong to different ranges; nothing was applied".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_redis_cluster_states() {
        let down = call_error(CallError::Unavailable("no leader".into()));
        assert_eq!(down, Reply::Error("CLUSTERDOWN no leader".into()));
        let stale = call_error(CallError::Stale("moved".into()));
        assert_eq!(stale, Reply::Error("TRYAGAIN moved".into()));
        let unknown = call_error(CallError::Indeterminate("lost".into()));
        assert_eq!(unknown, Reply::Error("TRYAGAIN lost".into()));
        let failed = call_error(CallError::Failed("disk".into()));
        assert_eq!(failed, Reply::Error("ERR disk".into()));
        let meta = meta_error(MetaError::Unavailable("no meta leader".into()));
        assert_eq!(meta, Reply::Error("CLUSTERDOWN no meta leader".into()));
        let refused = meta_error(MetaError::Refused("no such table 'x'".into()));
        assert_eq!(refused, Reply::Error("ERR no such table 'x'".into()));
    }
}

//! What operators ask of the controller by hand (`SPLIT` and `MERGE`): the service
//! hands each request to the controller's task, which carries it out between its own
//! steps, so at most one range change is ever under way.

use tessera_proto::meta_api::Reshape;
use tokio::sync::{mpsc, oneshot};

/// A request and where its outcome goes.
pub(crate) type Order = (Reshape, oneshot::Sender<Result<(), String>>);

/// The service's end of the channel.
pub(crate) type Orders = mpsc::Sender<Order>;

/// The controller's end.
pub(crate) type OrderBook = mpsc::Receiver<Order>;

/// A channel for operators' orders.
pub(crate) fn channel() -> (Orders, OrderBook) {
    mpsc::channel(16)
}

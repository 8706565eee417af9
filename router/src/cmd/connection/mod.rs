//! Commands answered from the connection's session alone (Redis's `connection` group,
//! and `COMMAND`, `CONFIG`, `TIME`).

mod auth;
mod client;
mod command;
mod config;
mod echo;
mod hello;
mod ping;
mod quit;
mod reset;
mod select;
mod time;

pub use auth::Auth;
pub use client::Client;
pub use command::CommandCmd;
pub use config::Config;
pub use echo::Echo;
pub use hello::Hello;
pub use ping::Ping;
pub use quit::Quit;
pub use reset::Reset;
pub use select::Select;
pub use time::Time;

use crate::Context;
use tessera_proto::reply::Reply;

/// Checks a password against `--requirepass`.
fn check_password(ctx: &Context, user: &[u8], password: &[u8]) -> Result<(), Reply> {
    match &ctx.requirepass {
        Some(expected) if user == b"default" && password == expected.as_bytes() => Ok(()),
        _ => Err(Reply::Error(
            "WRONGPASS invalid username-password pair or user is disabled.".into(),
        )),
    }
}

/// Redis's rule for client names.
fn valid_client_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(Reply::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

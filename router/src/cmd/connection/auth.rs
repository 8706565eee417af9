//! `AUTH [username] password`.

use super::check_password;
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::Context;
use bytes::Bytes;
use tessera_proto::args::Args;
use tessera_proto::op::Command;
use tessera_proto::reply::{syntax_error, Reply};
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `AUTH`: with `--requirepass`, the `default` user's password.
pub struct Auth {
    user: Option<Bytes>,
    password: Bytes,
}

impl Command for Auth {
    const SPEC: CommandSpec = spec! {
        "auth", -2, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), ["@fast", "@connection"],
        "connection", "1.0.0", "Authenticate to the server"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let auth = match args.remaining() {
            1 => Auth {
                user: None,
                password: args.arg()?,
            },
            2 => Auth {
                user: Some(args.arg()?),
                password: args.arg()?,
            },
            _ => return Err(syntax_error()),
        };
        Ok(Parsed::session(auth))
    }
}

impl SessionCommand for Auth {
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply {
        if ctx.requirepass.is_none() && self.user.is_none() {
            return Reply::err(
                "AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            );
        }
        if ctx.requirepass.is_some() {
            let user = self.user.as_deref().unwrap_or(b"default");
            if let Err(reply) = check_password(ctx, user, &self.password) {
                return reply;
            }
        }
        session.authenticated = true;
        Reply::Ok
    }
}

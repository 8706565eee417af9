//! `HELLO [protover [AUTH username password] [SETNAME clientname]]`.

use super::{check_password, valid_client_name};
use crate::cmd::Session;
use crate::cmd::{Parsed, SessionCommand};
use crate::{Context, REDIS_VERSION};
use bytes::Bytes;
use tessera_proto::args::Args;
use tessera_proto::number::parse_redis_int;
use tessera_proto::op::Command;
use tessera_proto::reply::Reply;
use tessera_proto::spec;
use tessera_proto::spec::CommandSpec;

/// `HELLO`: switches the protocol, authenticates, names the client.
pub struct Hello {
    proto: Option<u8>,
    credentials: Option<(Bytes, Bytes)>,
    name: Option<Bytes>,
}

impl Command for Hello {
    const SPEC: CommandSpec = spec! {
        "hello", -1, ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"], (0, 0, 0), ["@fast", "@connection"],
        "connection", "6.0.0", "Handshake with Redis"
    };
    type Parsed = Parsed;

    fn parse(args: &mut Args) -> Result<Parsed, Reply> {
        let mut hello = Hello {
            proto: None,
            credentials: None,
            name: None,
        };
        if !args.is_empty() {
            hello.proto = match parse_redis_int(&args.arg()?) {
                Some(v @ (2 | 3)) => Some(v as u8),
                Some(_) => return Err(Reply::Error("NOPROTO unsupported protocol version".into())),
                None => {
                    return Err(Reply::err(
                        "Protocol version is not an integer or out of range",
                    ))
                }
            };
        }
        while let Some(opt) = args.option() {
            match opt.as_str() {
                "auth" if args.remaining() >= 2 => {
                    hello.credentials = Some((args.arg()?, args.arg()?));
                }
                "setname" if !args.is_empty() => hello.name = Some(args.arg()?),
                _ => {
                    let opt = args.previous();
                    return Err(Reply::err(format!("Syntax error in HELLO option '{opt}'")));
                }
            }
        }
        Ok(Parsed::session(hello))
    }
}

impl SessionCommand for Hello {
    fn run(self: Box<Self>, ctx: &Context, session: &mut Session) -> Reply {
        if let Some((user, password)) = &self.credentials {
            if ctx.requirepass.is_some() {
                if let Err(reply) = check_password(ctx, user, password) {
                    return reply;
                }
            }
            session.authenticated = true;
        }
        if !session.authenticated {
            return Reply::Error(
                "NOAUTH HELLO must be called with the client already authenticated, otherwise \
                 the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the \
                 client and select the RESP protocol version at the same time"
                    .into(),
            );
        }
        if let Some(name) = self.name {
            if let Err(reply) = valid_client_name(&name) {
                return reply;
            }
            session.set_name(name);
        }
        let proto = self.proto.unwrap_or(session.proto);
        session.set_proto(proto);
        Reply::Map(vec![
            (Reply::bulk("server"), Reply::bulk("redis")),
            (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
            (Reply::bulk("proto"), Reply::Int(i64::from(proto))),
            (Reply::bulk("id"), Reply::Int(session.id as i64)),
            (Reply::bulk("mode"), Reply::bulk("standalone")),
            (Reply::bulk("role"), Reply::bulk("master")),
            (Reply::bulk("modules"), Reply::Array(Vec::new())),
        ])
    }
}

//! Random picks from a collection (`SPOP`, `SRANDMEMBER`, `HRANDFIELD`,
//! `ZRANDMEMBER`) without reading it whole: a walk down the members' byte tree.

use super::collection::Meta;
use super::rng::{Rng, MAX_PICKS};
use super::Engine;
use crate::layout;
use std::io;
use tessera_proto::reply::Reply;

/// Largest collection a random pick reads whole (and picks from uniformly).
const READ_WHOLE: u64 = 1_024;
/// Most levels of the members' byte tree a random pick walks down.
const PICK_LEVELS: usize = 16;

/// What a random-member command picked: (member, value) rows.
pub(crate) enum Picks {
    /// Without a count: one, or none if the key is absent.
    One(Option<(Vec<u8>, Vec<u8>)>),
    /// With a count.
    Many(Vec<(Vec<u8>, Vec<u8>)>),
}

impl Engine<'_> {
    /// A member picked at random without reading the collection whole: a walk down
    /// the members' byte tree. At each level the walk takes the first and the last
    /// member under the bytes chosen so far, picks a byte between theirs where they
    /// part, and goes on under the byte the first member at or after it has. Each
    /// level is two seeks; after [`PICK_LEVELS`] levels it takes the first member
    /// under the bytes chosen. Not uniform (a member of a sparse branch is likelier),
    /// but spread over the whole collection, and deterministic for a seed.
    pub(crate) fn random_member(
        &mut self,
        key: &[u8],
        meta: &Meta,
        rng: &mut Rng,
    ) -> io::Result<Option<(Vec<u8>, Vec<u8>)>> {
        let prefix = meta.prefix(key);
        let Some(mut lo) = self.edge_row(&prefix, &prefix, false)? else {
            return Ok(None);
        };
        let mut hi = self
            .edge_row(&prefix, &prefix, true)?
            .unwrap_or_else(|| lo.clone());
        for _ in 0..PICK_LEVELS {
            let k = lo.0.iter().zip(&hi.0).take_while(|(a, b)| a == b).count();
            if k >= hi.0.len() {
                break; // One member left.
            }
            let (low, on_lo) = match lo.0.get(k) {
                Some(&b) => (b, false),
                // `lo` ends here, below longer members: it is one more choice.
                None => match self.edge_row(&prefix, &[&lo.0[..], &[0]].concat(), false)? {
                    Some(next) => (next.0[k], true),
                    None => break,
                },
            };
            let span = u64::from(hi.0[k] - low) + 1 + u64::from(on_lo);
            let mut pick = rng.next() % span;
            if on_lo {
                if pick == 0 {
                    break;
                }
                pick -= 1;
            }
            let probe = [&lo.0[..k], &[low + pick as u8]].concat();
            let Some(at) = self.edge_row(&prefix, &probe, false)? else {
                break;
            };
            let branch = at.0[..=k].to_vec();
            hi = self
                .edge_row(&branch, &branch, true)?
                .unwrap_or_else(|| at.clone());
            lo = at;
        }
        Ok(Some((lo.0[prefix.len()..].to_vec(), lo.1)))
    }

    /// `count` distinct members (all of them if fewer): a run of consecutive members
    /// from a random one on, wrapping around at the end.
    pub(crate) fn random_run(
        &mut self,
        key: &[u8],
        meta: &Meta,
        rng: &mut Rng,
        count: u64,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let prefix = meta.prefix(key);
        let Some((start, _)) = self.random_member(key, meta, rng)? else {
            return Ok(Vec::new());
        };
        let want = count.min(meta.len) as usize;
        let mut out = Vec::with_capacity(want);
        let mut at = layout::row(&prefix, &start);
        let mut wrapped = false;
        while out.len() < want {
            match self.edge_row(&prefix, &at, false)? {
                Some((row, value)) if !(wrapped && row[prefix.len()..] >= start[..]) => {
                    at = [row.as_slice(), &[0]].concat();
                    out.push((row[prefix.len()..].to_vec(), value));
                }
                _ if !wrapped => {
                    wrapped = true;
                    at = prefix.clone();
                }
                _ => break,
            }
        }
        Ok(out)
    }

    /// Random members as Redis's count argument asks ([`Rng::picks`]): a collection of
    /// at most [`READ_WHOLE`] members is read whole and picked from uniformly; a larger
    /// one by random seeks, so no pick reads it whole.
    pub(crate) fn random_members(
        &mut self,
        key: &[u8],
        meta: &Meta,
        rng: &mut Rng,
        count: i64,
    ) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
        if meta.len <= READ_WHOLE {
            let all = self.members_of(key, meta)?;
            let picks = rng.picks(all.len(), count);
            return Ok(picks.into_iter().map(|i| all[i].clone()).collect());
        }
        if count >= 0 {
            return self.random_run(key, meta, rng, count as u64);
        }
        let mut out = Vec::new();
        for _ in 0..count.unsigned_abs().min(MAX_PICKS) {
            out.extend(self.random_member(key, meta, rng)?);
        }
        Ok(out)
    }

    /// What `SRANDMEMBER`, `HRANDFIELD` and `ZRANDMEMBER` pick from the collection
    /// `meta` (`None`: the key is absent): without a count one member or none; with one,
    /// as Redis's count rules say ([`Engine::random_members`]), and the whole collection,
    /// read by `whole`, when the count covers it.
    pub(crate) fn pick_random(
        &mut self,
        key: &[u8],
        meta: Option<Meta>,
        count: Option<i64>,
        whole: impl FnOnce(&mut Self, &Meta) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>>,
    ) -> io::Result<Result<Picks, Reply>> {
        let Some(meta) = meta else {
            return Ok(Ok(match count {
                None => Picks::One(None),
                Some(_) => Picks::Many(Vec::new()),
            }));
        };
        let mut rng = self.rng(key);
        let Some(count) = count else {
            let picked = self.random_members(key, &meta, &mut rng, 1)?.pop();
            return Ok(Ok(Picks::One(picked)));
        };
        if count < -(MAX_PICKS as i64) {
            return Ok(Err(Reply::err("value is out of range")));
        }
        Ok(Ok(Picks::Many(if count >= meta.len as i64 {
            whole(self, &meta)?
        } else {
            self.random_members(key, &meta, &mut rng, count)?
        })))
    }
}

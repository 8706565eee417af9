//! A process's identity on disk: the id it was first started with and a random number
//! drawn when its data directory was created. The metadata service remembers the pair,
//! so a process whose data was wiped (a new random number) cannot come back under an
//! old id and vote again in terms it already voted in.

use std::hash::{BuildHasher, Hasher};
use std::io::{self, Write};
use std::path::Path;

/// The identity file's name inside a data directory.
pub const FILE: &str = "IDENTITY";

/// Reads the identity of the data directory `dir`, creating it (durably) for `id` if
/// the directory has none yet.
///
/// # Errors
/// The directory belongs to another id, or the file cannot be read or written.
pub fn load_or_create(dir: &Path, id: u64) -> io::Result<u64> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let (owner, identity) = parse(&text).ok_or_else(|| {
                io::Error::other(format!("{} is not a Tessera identity file", path.display()))
            })?;
            if owner != id {
                return Err(io::Error::other(format!(
                    "data directory {} belongs to id {owner}, not {id}",
                    dir.display()
                )));
            }
            Ok(identity)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let identity = random();
            let tmp = dir.join(format!("{FILE}.tmp"));
            let mut file = std::fs::File::create(&tmp)?;
            writeln!(file, "id={id}\nidentity={identity}")?;
            file.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(dir)?.sync_all()?;
            Ok(identity)
        }
        Err(e) => Err(e),
    }
}

fn parse(text: &str) -> Option<(u64, u64)> {
    let mut id = None;
    let mut identity = None;
    for line in text.lines() {
        match line.split_once('=') {
            Some(("id", v)) => id = v.trim().parse().ok(),
            Some(("identity", v)) => identity = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some((id?, identity?))
}

/// A number no other data directory is likely to draw: std's per-process random hash
/// keys mixed with the time and the process id.
pub fn random() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

#[cfg(test)]
mod tests {
    #[test]
    fn identity_is_stable_and_bound_to_its_id() {
        let dir = tempfile::tempdir().unwrap();
        let first = super::load_or_create(dir.path(), 3).unwrap();
        assert_eq!(super::load_or_create(dir.path(), 3).unwrap(), first);
        let err = super::load_or_create(dir.path(), 4).unwrap_err();
        assert!(err.to_string().contains("belongs to id 3"), "{err}");
        let other = tempfile::tempdir().unwrap();
        assert_ne!(super::load_or_create(other.path(), 3).unwrap(), first);
    }
}

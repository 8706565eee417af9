//! Configuration files and durations for the command line.
//!
//! Every flag of `tessera <part>` can also come from its `TESSERA_*` environment
//! variable or from a TOML file named by `--config` (or `TESSERA_CONFIG`), whose keys
//! are the flag names (`data-dir = "/var/lib/tessera"` or `data_dir = ...`). A flag
//! beats the environment, which beats the file: the file's values are only copied
//! into environment variables that are not set, before the flags are parsed.

use anyhow::{bail, Context as _};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The `--config FILE` argument of `args` (the process arguments), or `TESSERA_CONFIG`.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    std::env::var_os("TESSERA_CONFIG").map(PathBuf::from)
}

/// Copies the settings of the `--config` file (if any) into the environment variables
/// of the subcommand's flags that are not set yet. Call before any thread starts.
///
/// # Errors
/// The file cannot be read or parsed, or names a setting the subcommand does not have.
pub fn apply_config_file(command: &clap::Command, args: &[OsString]) -> anyhow::Result<()> {
    let Some(path) = config_path(args) else {
        return Ok(());
    };
    let Some(sub_name) = args.get(1).map(|a| a.to_string_lossy().into_owned()) else {
        return Ok(());
    };
    let Some(sub) = command.find_subcommand(&sub_name) else {
        return Ok(()); // clap reports the unknown subcommand.
    };
    for (env, value) in settings(sub, &path)? {
        if std::env::var_os(&env).is_none() {
            // SAFETY: called from `main` before the runtime or any other thread starts.
            std::env::set_var(env, value);
        }
    }
    Ok(())
}

/// (environment variable, value) for each setting of the file at `path`.
fn settings(sub: &clap::Command, path: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("read config file {}", path.display()))?;
    let table: toml::Table =
        toml::from_str(&text).with_context(|| format!("parse config file {}", path.display()))?;
    let mut out = Vec::new();
    for (key, value) in table {
        let wanted = key.replace('_', "-");
        let arg = sub
            .get_arguments()
            .find(|a| a.get_long() == Some(wanted.as_str()) && a.get_env().is_some());
        let Some(arg) = arg else {
            let known: Vec<String> = sub
                .get_arguments()
                .filter(|a| a.get_env().is_some() && a.get_long() != Some("config"))
                .filter_map(|a| a.get_long().map(String::from))
                .collect();
            bail!(
                "{}: unknown setting '{key}' for tessera {} (known: {})",
                path.display(),
                sub.get_name(),
                known.join(", ")
            );
        };
        let value = match value {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            toml::Value::Array(items) => items
                .into_iter()
                .map(|v| match v {
                    toml::Value::String(s) => Ok(s),
                    toml::Value::Integer(i) => Ok(i.to_string()),
                    other => bail!(
                        "{key}: list items must be strings or integers, not a {}",
                        other.type_str()
                    ),
                })
                .collect::<anyhow::Result<Vec<_>>>()?
                .join(","),
            other => bail!("{key}: a {} is not a valid setting", other.type_str()),
        };
        let env = arg
            .get_env()
            .expect("filtered")
            .to_string_lossy()
            .into_owned();
        out.push((env, value));
    }
    Ok(out)
}

/// Parses a duration such as `10s`, `500ms`, `2m` or a bare number of seconds.
///
/// # Errors
/// A description of what is wrong with `text`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 10s or 500ms"))?;
    let seconds = match unit.trim() {
        "" | "s" => number,
        "ms" => number / 1000.0,
        "m" | "min" => number * 60.0,
        other => return Err(format!("unknown duration unit '{other}' (use ms, s or m)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("'{text}': {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, Command};

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("2").unwrap(), Duration::from_secs(2));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[test]
    fn config_keys_map_to_the_flags_environment_variables() {
        let sub = Command::new("node")
            .arg(
                Arg::new("data-dir")
                    .long("data-dir")
                    .env("TESSERA_DATA_DIR"),
            )
            .arg(Arg::new("meta").long("meta").env("TESSERA_META"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.toml");
        std::fs::write(&path, "data_dir = \"/srv/t\"\nmeta = [\"a:1\", \"b:2\"]\n").unwrap();
        let mut got = settings(&sub, &path).unwrap();
        got.sort();
        assert_eq!(
            got,
            vec![
                ("TESSERA_DATA_DIR".to_string(), "/srv/t".to_string()),
                ("TESSERA_META".to_string(), "a:1,b:2".to_string()),
            ]
        );
        std::fs::write(&path, "colour = \"blue\"\n").unwrap();
        let err = settings(&sub, &path).unwrap_err().to_string();
        assert!(err.contains("unknown setting 'colour'"), "{err}");
    }
}

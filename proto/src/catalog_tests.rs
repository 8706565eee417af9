//! Tests of the catalog: following steps, and mapping keys to tables.

use super::*;

fn node(id: NodeId) -> CatalogChange {
    CatalogChange::Node(NodeDesc {
        id,
        addr: format!("n{id}"),
        identity: id,
        state: NodeState::Active,
    })
}

#[test]
fn followers_apply_the_same_steps_or_ask_for_everything() {
    let mut meta = Catalog::default();
    let mut steps = Vec::new();
    for id in 1..=3 {
        let changes = vec![node(id)];
        meta.apply(&changes);
        steps.push(CatalogStep {
            version: meta.version,
            changes,
        });
    }
    let mut follower = Arc::new(Catalog::default());
    assert!(follower.follow(CatalogUpdate::Steps(steps[..2].to_vec())));
    assert_eq!(follower.version, 2);
    assert!(
        follower.follow(CatalogUpdate::Steps(steps[..2].to_vec())),
        "old steps are ignored"
    );
    assert!(follower.follow(CatalogUpdate::Steps(steps[2..].to_vec())));
    assert_eq!(*follower, meta);

    let mut behind = Arc::new(Catalog::default());
    assert!(
        !behind.follow(CatalogUpdate::Steps(steps[2..].to_vec())),
        "a gap asks for the whole catalog"
    );
    assert!(behind.follow(CatalogUpdate::Full(Arc::new(meta.clone()))));
    assert_eq!(behind.version, 3);
    meta.apply(&[]);
    assert_eq!(meta.version, 3, "an empty batch changes nothing");
}

#[test]
fn keys_map_to_active_tables_only() {
    let mut c = Catalog::default();
    let table = |state| TableDesc {
        id: 7,
        name: "stocks".into(),
        replicas: 3,
        state,
        splits: Vec::new(),
    };
    c.apply(&[CatalogChange::Table(table(TableState::Creating))]);
    assert_eq!(c.storage_key(b"stocks:A").0, DEFAULT_TABLE_ID);
    c.apply(&[CatalogChange::Table(table(TableState::Active))]);
    let (id, key) = c.storage_key(b"stocks:A");
    assert_eq!((id, key.as_slice()), (7, &[0, 0, 0, 7, b'A'][..]));
    assert_eq!(c.user_key(&key), b"stocks:A");
    assert_eq!(c.storage_key(b"plain").0, DEFAULT_TABLE_ID);
}

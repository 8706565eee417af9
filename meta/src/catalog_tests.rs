//! Tests of the catalog rules: table creation, placement, identities, replica moves.

use super::*;
use crate::placement::place;
use tessera_proto::keys::{storage_key, table_end, table_start};

/// Requests and activates table `name` with the given placements.
fn create(
    catalog: &mut Catalog,
    name: &str,
    replicas: u8,
    splits: Vec<Vec<u8>>,
    placements: Vec<Vec<NodeId>>,
) -> Result<TableId, String> {
    let requested = MetaCommand::RequestTable {
        name: name.into(),
        replicas,
        splits,
    };
    let Applied::Table(id) = catalog.execute(&requested)? else {
        return Err("no table id".into());
    };
    catalog.execute(&MetaCommand::ActivateTable { id, placements })?;
    Ok(id)
}

/// A catalog with nodes `1..=nodes` registered (identity `id * 7`).
fn with_nodes(nodes: u64) -> Catalog {
    let mut catalog = Catalog::default();
    for id in 1..=nodes {
        catalog
            .execute(&MetaCommand::RegisterNode {
                id,
                addr: format!("n{id}"),
                identity: id * 7,
            })
            .unwrap();
    }
    catalog
}

#[test]
fn create_table_covers_the_table_without_gaps() {
    let mut catalog = Catalog::default();
    let splits = vec![b"H".to_vec(), b"P".to_vec()];
    let table = create(
        &mut catalog,
        "stocks",
        3,
        splits.clone(),
        vec![vec![1, 2, 3]; 3],
    )
    .unwrap();
    let mut ranges: Vec<_> = catalog.ranges.values().collect();
    ranges.sort_by(|a, b| a.start.cmp(&b.start));
    assert_eq!(ranges[0].start, table_start(table));
    assert_eq!(ranges.last().unwrap().end, table_end(table));
    assert!(ranges.windows(2).all(|w| w[0].end == w[1].start));
    assert!(ranges[1].contains(&storage_key(table, b"K")));
    assert_eq!(catalog.version, 2);
    assert!(
        create(&mut catalog, "stocks", 3, splits, vec![vec![1, 2, 3]; 3]).is_err(),
        "duplicate table"
    );
    assert_eq!(catalog.version, 2, "a refused command changes nothing");

    catalog
        .execute(&MetaCommand::DropTable {
            name: "stocks".into(),
        })
        .unwrap();
    assert_eq!(
        catalog.table_by_name("stocks").map(|t| t.state),
        Some(TableState::Dropping)
    );
    assert!(catalog.ranges.is_empty() && catalog.groups.is_empty());
    catalog
        .execute(&MetaCommand::ForgetTable { id: table })
        .unwrap();
    assert!(catalog.table_by_name("stocks").is_none());
}

#[test]
fn placement_spreads_replicas_over_distinct_nodes() {
    let catalog = with_nodes(5);
    let placements = place(&catalog, &[1, 2, 3, 4, 5], 3, 5).unwrap();
    assert!(placements.iter().all(|p| {
        let mut sorted = p.clone();
        sorted.dedup();
        sorted.len() == 3
    }));
    let mut counts = [0; 6];
    placements
        .iter()
        .flatten()
        .for_each(|n| counts[*n as usize] += 1);
    assert_eq!(counts[1..].iter().sum::<usize>(), 15);
    assert!(counts[1..].iter().all(|c| *c == 3), "{counts:?}");
    assert!(place(&catalog, &[1, 2], 3, 1).is_err());
}

#[test]
fn new_groups_are_founded_and_so_first_led_by_different_nodes() {
    // With as many nodes as replicas every group lives on every node; only the order
    // of the member list (its first member founds the group) spreads the leaders.
    let catalog = with_nodes(3);
    let placements = place(&catalog, &[1, 2, 3], 3, 30).unwrap();
    let mut founders = [0; 4];
    for p in &placements {
        founders[p[0] as usize] += 1;
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![1, 2, 3]);
    }
    assert_eq!(founders[1..], [10, 10, 10], "{placements:?}");
}

#[test]
fn a_node_id_cannot_change_its_data_directory() {
    let mut catalog = Catalog::default();
    let register = |identity| MetaCommand::RegisterNode {
        id: 4,
        addr: "a".into(),
        identity,
    };
    catalog.execute(&register(11)).unwrap();
    catalog.execute(&register(11)).unwrap();
    let refused = catalog.execute(&register(12)).unwrap_err();
    assert!(refused.contains("another data directory"), "{refused}");
    catalog
        .execute(&MetaCommand::SetNodeState {
            id: 4,
            state: NodeState::Removed,
        })
        .unwrap();
    assert!(
        catalog.execute(&register(11)).is_err(),
        "a removed node stays out"
    );
}

#[test]
fn replicas_move_between_nodes() {
    let mut catalog = with_nodes(4);
    create(&mut catalog, "t", 3, vec![], vec![vec![1, 2, 3]]).unwrap();
    let group = *catalog.groups.keys().next().unwrap();
    let mv = |remove, add| MetaCommand::MoveReplica { group, remove, add };
    catalog.execute(&mv(Some(2), Some(4))).unwrap();
    assert_eq!(catalog.groups[&group].members, vec![1, 3, 4]);
    assert!(catalog.execute(&mv(Some(2), None)).is_err(), "not a member");
    assert!(
        catalog.execute(&mv(None, Some(3))).is_err(),
        "already a member"
    );
    assert!(catalog.execute(&mv(None, Some(9))).is_err(), "unknown node");
    assert!(
        catalog.may_join(group, 2),
        "former members may rejoin 3-replica groups"
    );
    create(&mut catalog, "solo", 1, vec![], vec![vec![1]]).unwrap();
    let solo = *catalog.groups.keys().find(|g| **g != group).unwrap();
    catalog
        .execute(&MetaCommand::MoveReplica {
            group: solo,
            remove: Some(1),
            add: Some(3),
        })
        .unwrap();
    assert!(
        !catalog.may_join(solo, 1),
        "a single-replica group's old member"
    );
    assert!(catalog
        .execute(&MetaCommand::MoveReplica {
            group: solo,
            remove: Some(3),
            add: Some(1),
        })
        .is_err());
    catalog
        .execute(&MetaCommand::SetNodeState {
            id: 2,
            state: NodeState::Decommissioning,
        })
        .unwrap();
    assert!(
        catalog.execute(&mv(None, Some(2))).is_err(),
        "draining node"
    );
}

#[test]
fn table_names() {
    assert!(table_name_problem("stocks_2024-q1").is_none());
    assert!(table_name_problem("").is_some());
    assert!(table_name_problem("a:b").is_some());
    assert!(table_name_problem(&"x".repeat(65)).is_some());
}

//! The rules for recording splits and merges: a node reports a range's new shape
//! (with a higher epoch) after its group applied the change, and the catalog takes
//! it only if it supersedes what it knows, so a repeated report changes nothing.

use tessera_proto::catalog::{
    Catalog, CatalogChange, Counter, GroupDesc, NodeId, Origin, RangeDesc,
};

/// Whether `newer` supersedes the catalog's range of the same id (or it is unknown).
fn supersedes(catalog: &Catalog, newer: &RangeDesc) -> bool {
    catalog
        .ranges
        .get(&newer.id)
        .is_none_or(|known| known.epoch < newer.epoch)
}

pub(super) fn record_split(
    catalog: &Catalog,
    parent: &RangeDesc,
    child: &RangeDesc,
    members: &[NodeId],
) -> Result<Vec<CatalogChange>, String> {
    let Some(known) = catalog.ranges.get(&parent.id) else {
        return Err(format!("no such range {}", parent.id));
    };
    if !supersedes(catalog, parent) {
        return Ok(Vec::new()); // Recorded already (or something newer was).
    }
    if parent.end != child.start || known.start != parent.start || known.table != child.table {
        return Err(format!(
            "range {} did not split into these halves",
            parent.id
        ));
    }
    let mut changes = vec![
        CatalogChange::Range(parent.clone()),
        CatalogChange::Range(child.clone()),
        CatalogChange::Count(Counter::Split),
    ];
    if !catalog.groups.contains_key(&child.group) {
        changes.push(CatalogChange::Group(GroupDesc {
            id: child.group,
            members: members.to_vec(),
            retired: Vec::new(),
            origin: Origin::Split {
                parent: parent.group,
            },
        }));
    }
    Ok(changes)
}

pub(super) fn record_epoch(
    catalog: &Catalog,
    range: &RangeDesc,
) -> Result<Vec<CatalogChange>, String> {
    let Some(known) = catalog.ranges.get(&range.id) else {
        return Err(format!("no such range {}", range.id));
    };
    if !supersedes(catalog, range) {
        return Ok(Vec::new());
    }
    if (&known.start, &known.end, known.group) != (&range.start, &range.end, range.group) {
        return Err(format!("range {} changed its bounds", range.id));
    }
    Ok(vec![CatalogChange::Range(range.clone())])
}

pub(super) fn record_merge(
    catalog: &Catalog,
    target: &RangeDesc,
    source: &RangeDesc,
) -> Result<Vec<CatalogChange>, String> {
    if !catalog.ranges.contains_key(&target.id) {
        return Err(format!("no such range {}", target.id));
    }
    if !supersedes(catalog, target) {
        return Ok(Vec::new());
    }
    let mut changes = vec![CatalogChange::Range(target.clone())];
    if catalog.ranges.contains_key(&source.id) {
        changes.push(CatalogChange::RangeRemoved(source.id));
        changes.push(CatalogChange::GroupMerged {
            source: source.group,
            target: target.group,
        });
        changes.push(CatalogChange::Count(Counter::Merge));
    }
    Ok(changes)
}

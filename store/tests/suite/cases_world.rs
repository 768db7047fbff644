//! POIs, zones and the audit log.

use store::{AuditEntry, PoiRow, StoreError, ZoneRow};

use crate::harness::Fixture;

fn audit(at: i64, action: &str, target: &str) -> AuditEntry {
    AuditEntry {
        at,
        actor: "ops@example".to_string(),
        action: action.to_string(),
        target: target.to_string(),
        detail: format!("{action} {target}"),
    }
}

fn zone(id: &str, created_at: i64) -> ZoneRow {
    ZoneRow {
        id: id.to_string(),
        name: format!("zone {id}"),
        reason: "private".to_string(),
        geojson: format!(r#"{{"type":"Feature","properties":{{"id":"{id}"}},"geometry":null}}"#),
        created_at,
        expires_at: if created_at % 2 == 0 {
            Some(created_at + 3600)
        } else {
            None
        },
    }
}

fn poi(id: &str, weight: f64, sponsor: Option<&str>) -> PoiRow {
    PoiRow {
        id: id.to_string(),
        name: format!("poi {id}"),
        lat: 48.8584,
        lon: 2.2945,
        weight,
        sponsor: sponsor.map(str::to_string),
    }
}

pub(crate) async fn pois_upsert_and_audit(f: &mut Fixture) {
    assert!(f.db.list_pois().await.unwrap().is_empty());
    let b = poi("b", 1.0, None);
    let a = poi("a", 2.5, Some("cafe"));
    f.db.upsert_pois(&[b.clone(), a.clone()], &audit(1, "pois.upsert", "2"))
        .await
        .unwrap();
    assert_eq!(f.db.list_pois().await.unwrap(), vec![a.clone(), b]);

    let b2 = PoiRow {
        name: "renamed".to_string(),
        sponsor: Some("shop".to_string()),
        ..poi("b", 4.0, None)
    };
    f.db.upsert_pois(std::slice::from_ref(&b2), &audit(2, "pois.upsert", "1"))
        .await
        .unwrap();
    assert_eq!(f.db.list_pois().await.unwrap(), vec![a, b2]);
    assert_eq!(f.db.list_audit(10).await.unwrap().len(), 2);
}

pub(crate) async fn zone_insert_and_delete(f: &mut Fixture) {
    let z1 = zone("z1", 10);
    let z2 = zone("z2", 11);
    f.db.insert_zone(&z2, &audit(1, "zone.create", "z2"))
        .await
        .unwrap();
    f.db.insert_zone(&z1, &audit(2, "zone.create", "z1"))
        .await
        .unwrap();
    assert_eq!(
        f.db.list_zones().await.unwrap(),
        vec![z1.clone(), z2.clone()]
    );

    // A duplicate id is a conflict and writes no audit row.
    let dup = ZoneRow {
        name: "other".to_string(),
        ..zone("z1", 12)
    };
    let err =
        f.db.insert_zone(&dup, &audit(3, "zone.create", "z1"))
            .await
            .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(f.db.list_audit(10).await.unwrap().len(), 2);

    assert!(
        f.db.delete_zone("z1", &audit(4, "zone.delete", "z1"))
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .delete_zone("z1", &audit(5, "zone.delete", "z1"))
            .await
            .unwrap()
    );
    assert!(
        !f.db
            .delete_zone("nope", &audit(6, "zone.delete", "nope"))
            .await
            .unwrap()
    );
    assert_eq!(f.db.list_zones().await.unwrap(), vec![z2]);
    let actions: Vec<_> =
        f.db.list_audit(10)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.at)
            .collect();
    assert_eq!(actions, vec![4, 2, 1]);
}

pub(crate) async fn replace_zones_is_atomic(f: &mut Fixture) {
    let old = vec![zone("a", 1), zone("b", 2)];
    f.db.replace_zones(&old, &audit(1, "zones.replace", "2"))
        .await
        .unwrap();
    assert_eq!(f.db.list_zones().await.unwrap(), old);

    let bad = vec![zone("c", 3), zone("d", 4), zone("c", 5)];
    let err =
        f.db.replace_zones(&bad, &audit(2, "zones.replace", "3"))
            .await
            .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(f.db.list_zones().await.unwrap(), old);
    assert_eq!(f.db.list_audit(10).await.unwrap().len(), 1);

    let new = vec![zone("e", 6)];
    f.db.replace_zones(&new, &audit(3, "zones.replace", "1"))
        .await
        .unwrap();
    assert_eq!(f.db.list_zones().await.unwrap(), new);
    f.db.replace_zones(&[], &audit(4, "zones.replace", "0"))
        .await
        .unwrap();
    assert!(f.db.list_zones().await.unwrap().is_empty());
    assert_eq!(f.db.list_audit(10).await.unwrap().len(), 3);
}

pub(crate) async fn audit_is_newest_first(f: &mut Fixture) {
    for (at, target) in [(100, "x"), (300, "y"), (200, "z"), (300, "w")] {
        f.db.append_audit(&audit(at, "test", target)).await.unwrap();
    }
    let all = f.db.list_audit(100).await.unwrap();
    let order: Vec<_> = all.iter().map(|a| (a.at, a.target.as_str())).collect();
    // Equal times keep insertion order, newest insert first.
    assert_eq!(order, vec![(300, "w"), (300, "y"), (200, "z"), (100, "x")]);
    assert_eq!(all[0], audit(300, "test", "w"));
    assert_eq!(f.db.list_audit(2).await.unwrap(), all[..2].to_vec());
    assert!(f.db.list_audit(0).await.unwrap().is_empty());
    assert!(f.db.list_audit(-1).await.unwrap().is_empty());
}

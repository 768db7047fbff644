//! Quick check that tokens sign and verify.
#[test]
fn token_roundtrip() {
    let k = protocol::token::TokenKey::new(&[7u8; 32]).unwrap();
    let (t, _) = k.mint_player("p1", 1_900_000_000, 60);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let (t2, _) = k.mint_player("p1", now, 60);
    assert_eq!(k.verify_player(&t2).unwrap().sub, "p1");
    let _ = t;
    let (t3, _) = k.mint_player("p1", now - 100, 60);
    assert_eq!(
        k.verify_player(&t3),
        Err(protocol::token::TokenError::Expired)
    );
}

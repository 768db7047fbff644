//! Rebuilds the crate when a migration file is added, changed or removed,
//! because `sqlx::migrate!` embeds the migrations at compile time.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

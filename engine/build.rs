//! Rebuilds the engine when a migration is added: `sqlx::migrate!` embeds the migration
//! folders at compile time but does not notice new files on its own (sqlx's documentation).

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}

// `sqlx::migrate!` embeds the migration files at compile time; without this, a new migration
// alone would not rebuild the crate and an incremental build would run the old schema.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}

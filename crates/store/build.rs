//! Lists the migration sources for `migrations.rs`, so a new migration needs no hand-kept entry
//! and a changed one rebuilds the crate (the files are embedded with `include_str!`).

use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("migrations");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    let mut list = String::from("&[\n");
    for path in files {
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let (version, name) = stem.split_once('_').expect("a migration is named NNNN_name.sql");
        let version: i64 = version.parse().expect("a migration's name starts with its version");
        list += &format!("    ({version}, {name:?}, include_str!({:?})),\n", path.display());
    }
    list += "]\n";
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs"), list).unwrap();
}

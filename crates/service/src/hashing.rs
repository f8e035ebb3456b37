//! Argon2 runs on the blocking pool: a verification takes tens of milliseconds of CPU and
//! must not stall the request workers.

use pcis_domain::password;

pub(crate) async fn verify(candidate: &str, stored: &str) -> bool {
    let (candidate, stored) = (candidate.to_owned(), stored.to_owned());
    tokio::task::spawn_blocking(move || password::verify(&candidate, &stored)).await.unwrap_or(false)
}

/// True if the candidate matches any of the stored hashes.
pub(crate) async fn verify_any(candidate: &str, stored: Vec<String>) -> bool {
    let candidate = candidate.to_owned();
    tokio::task::spawn_blocking(move || stored.iter().any(|h| password::verify(&candidate, h)))
        .await
        .unwrap_or(false)
}

pub(crate) async fn verify_against_dummy(candidate: &str) {
    let candidate = candidate.to_owned();
    let _ = tokio::task::spawn_blocking(move || password::verify_against_dummy(&candidate)).await;
}

pub(crate) async fn hash(new: &str) -> String {
    let new = new.to_owned();
    tokio::task::spawn_blocking(move || password::hash(&new)).await.expect("hashing does not panic")
}

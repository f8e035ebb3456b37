//! The API document the server serves against the router it runs: every documented operation
//! is routed and asks for a session exactly when the document says so, and on a documented
//! path no other method is routed. (The API's routes and the document are built by the same
//! `routes!` calls in `pcis-web`, so an API route cannot exist undocumented; this checks the
//! result through the real server, middleware and all.)

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Backend, spawn_app};

/// Routing does not depend on the backend: SQLite only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_served_document_and_the_router_agree() {
    let app = spawn_app(Backend::Sqlite).await.expect("SQLite is always available");
    let spec: Value =
        reqwest::get(format!("{}/api/openapi.json", app.base)).await.unwrap().json().await.unwrap();
    let http = reqwest::Client::new();
    let mut operations = 0;
    for (path, item) in spec["paths"].as_object().expect("paths") {
        let url = format!("{}{}", app.base, path.replace("{id}", "1"));
        assert!(!url.contains('{'), "{path}: a path parameter this test does not fill");
        for method in [Method::GET, Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            // Without a session and without a body: a routed operation answers before it
            // reads anything, and routing's own refusals are 404 and 405.
            let res = http.request(method.clone(), &url).send().await.unwrap();
            let status = res.status();
            let body: Value = res.json().await.unwrap_or(Value::Null);
            let at = format!("{method} {path}: {status} {body}");
            match item.get(method.as_str().to_lowercase()) {
                Some(op) => {
                    operations += 1;
                    assert!(
                        ![StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&status),
                        "{at}"
                    );
                    let open = op["security"] == serde_json::json!([{}]);
                    assert_eq!(status == StatusCode::UNAUTHORIZED, !open, "{at}");
                }
                None => {
                    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{at}");
                    assert_eq!(body["error"]["code"], "method_not_allowed", "{at}");
                }
            }
        }
    }
    assert!(operations >= 37, "{operations} operations documented");
}

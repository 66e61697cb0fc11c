//! `--static DIR`: files under DIR, and nothing else. Requests for dotfiles (`.env`,
//! `.git/...`) and for anything a symlink leads to outside DIR get 404; the rest is
//! served by tower-http's `ServeDir` (which already refuses `..`).

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower_http::services::ServeDir;

/// A router serving `dir` at `/`, confined to it.
pub fn router<S: Clone + Send + Sync + 'static>(dir: &Path) -> Router<S> {
    let root = Arc::new(dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf()));
    Router::new()
        .fallback_service(ServeDir::new(dir))
        .layer(middleware::from_fn_with_state(root, confine))
}

async fn confine(State(root): State<Arc<PathBuf>>, request: Request, next: Next) -> Response {
    if inside(&root, request.uri().path()) {
        next.run(request).await
    } else {
        (StatusCode::NOT_FOUND, Body::from("not found\n")).into_response()
    }
}

/// Whether the URL path names no dotfile and resolves (through any symlinks) inside `root`.
fn inside(root: &Path, path: &str) -> bool {
    let Ok(decoded) = percent_decode(path) else {
        return false;
    };
    let relative = decoded.trim_start_matches('/');
    let mut target = root.to_path_buf();
    for component in Path::new(relative).components() {
        match component {
            Component::Normal(part) if !part.to_string_lossy().starts_with('.') => {
                target.push(part);
            }
            Component::CurDir => {}
            _ => return false,
        }
    }
    // A path that does not exist is ServeDir's 404 to give; one that does must stay inside.
    match target.canonicalize() {
        Ok(real) => real.starts_with(root),
        Err(_) => true,
    }
}

fn percent_decode(path: &str) -> Result<String, ()> {
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(())?;
            let text = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(text, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

#[cfg(test)]
mod tests {
    use super::inside;

    #[test]
    fn dotfiles_and_symlinks_out_of_the_folder_are_refused() {
        let dir = std::env::temp_dir().join(format!("srvra-static-{}", std::process::id()));
        let site = dir.join("site");
        std::fs::create_dir_all(site.join("assets")).unwrap();
        std::fs::write(site.join("index.html"), "hi").unwrap();
        std::fs::write(dir.join("secret.txt"), "secret").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(dir.join("secret.txt"), site.join("link.txt")).unwrap();
        let root = site.canonicalize().unwrap();
        assert!(inside(&root, "/index.html"));
        assert!(inside(&root, "/assets/missing.js"), "ServeDir says 404");
        assert!(!inside(&root, "/.env"));
        assert!(!inside(&root, "/assets/%2e%2e/%2e%2e/secret.txt"));
        assert!(!inside(&root, "/%2egit/config"));
        #[cfg(unix)]
        assert!(!inside(&root, "/link.txt"), "a symlink out of the folder");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

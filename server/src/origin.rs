//! Which pages may open a WebSocket to this server. Browsers send `Origin` with every
//! upgrade, and any page the user has open can try; without a check, a page on another
//! site could read and write the rooms of a server the user runs on localhost. Accepted:
//! no `Origin` (not a browser), the server's own host, a loopback origin (`localhost`,
//! `127.0.0.1`, `[::1]`, any port), and every `--allow-origin`.

/// Whether an upgrade with `origin` (the header), to `host` (the `Host` header), may
/// proceed, given the configured `allowed` origins (`scheme://host[:port]`).
pub fn allowed(origin: Option<&str>, host: Option<&str>, allowed: &[String]) -> bool {
    let Some(origin) = origin else {
        return true;
    };
    if allowed
        .iter()
        .any(|a| a.trim_end_matches('/').eq_ignore_ascii_case(origin))
    {
        return true;
    }
    let Some((_, authority)) = origin.split_once("://") else {
        return false;
    };
    if host.is_some_and(|host| host.eq_ignore_ascii_case(authority)) {
        return true;
    }
    let name = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    matches!(
        name.to_ascii_lowercase().as_str(),
        "localhost" | "127.0.0.1" | "::1"
    )
}

#[cfg(test)]
mod tests {
    use super::allowed;

    #[test]
    fn browsers_on_other_sites_are_refused() {
        let host = Some("127.0.0.1:8787");
        let none: &[String] = &[];
        assert!(allowed(None, host, none), "not a browser");
        assert!(
            allowed(Some("http://127.0.0.1:8787"), host, none),
            "same host"
        );
        assert!(
            allowed(Some("http://localhost:5173"), host, none),
            "loopback dev server"
        );
        assert!(allowed(Some("http://[::1]:3000"), host, none));
        assert!(!allowed(Some("https://evil.example"), host, none));
        assert!(!allowed(Some("http://localhost.evil.example"), host, none));
        assert!(
            !allowed(Some("null"), host, none),
            "sandboxed or file pages"
        );
        let listed = vec!["https://app.example.com".to_owned()];
        assert!(allowed(
            Some("https://app.example.com"),
            Some("sync.example.com"),
            &listed
        ));
        assert!(!allowed(
            Some("https://other.example.com"),
            Some("sync.example.com"),
            &listed
        ));
    }
}

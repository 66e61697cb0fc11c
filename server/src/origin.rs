//! Which pages may open a WebSocket to this server. Browsers send `Origin` with every
//! upgrade, and any page the user has open can try; without a check, a page on another
//! site could read and write the rooms of a server the user runs on localhost. Accepted:
//! no `Origin` (not a browser), the server's own host, a loopback origin (`localhost`,
//! `127.0.0.1`, `[::1]`, any port), and every `--allow-origin`. The `Host` header is
//! checked too ([`host_allowed`]), on every route but `/health`: DNS rebinding.

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

/// Whether a request naming `host` (the `Host` header) is for this server, which listens
/// on `listen`, given the `--allow-host` names. DNS rebinding: a page on `evil.example`
/// whose name is made to resolve to 127.0.0.1 sends `Host: evil.example:P` and an `Origin`
/// of that same host, which the origin check alone took for the server's own page.
/// Accepted: no `Host` (not a browser), a loopback name (`localhost`, `127.0.0.1`, `[::1]`)
/// or the listen address, any `--allow-host`; and, when the server listens on a
/// non-loopback address without `--allow-host`, any name (it cannot know its public names;
/// list them with `--allow-host` to check them).
pub fn host_allowed(host: Option<&str>, listen: std::net::SocketAddr, allowed: &[String]) -> bool {
    let Some(host) = host else {
        return true;
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    }
    .to_ascii_lowercase();
    if matches!(name.as_str(), "localhost" | "127.0.0.1" | "::1") || name == listen.ip().to_string()
    {
        return true;
    }
    if allowed
        .iter()
        .any(|a| a.eq_ignore_ascii_case(&name) || a.eq_ignore_ascii_case(host))
    {
        return true;
    }
    allowed.is_empty() && !listen.ip().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::{allowed, host_allowed};

    #[test]
    fn a_rebound_name_is_refused_on_a_loopback_server() {
        let local: std::net::SocketAddr = "127.0.0.1:8787".parse().unwrap();
        let none: &[String] = &[];
        for ok in [
            None,
            Some("127.0.0.1:8787"),
            Some("localhost:8787"),
            Some("[::1]:8787"),
            Some("LOCALHOST"),
        ] {
            assert!(host_allowed(ok, local, none), "{ok:?}");
        }
        for bad in [
            "evil.example:8787",
            "evil.example",
            "localhost.evil.example:8787",
            "127.0.0.1.evil.example",
        ] {
            assert!(!host_allowed(Some(bad), local, none), "{bad}");
        }
        let listed = vec!["sync.example.com".to_owned()];
        assert!(host_allowed(Some("sync.example.com:443"), local, &listed));
        assert!(!host_allowed(Some("evil.example"), local, &listed));
        // Listening on every interface: the public names are unknown unless listed.
        let public: std::net::SocketAddr = "0.0.0.0:8787".parse().unwrap();
        assert!(host_allowed(Some("sync.example.com"), public, none));
        assert!(!host_allowed(Some("evil.example"), public, &listed));
        assert!(host_allowed(Some("0.0.0.0:8787"), public, &listed));
    }

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

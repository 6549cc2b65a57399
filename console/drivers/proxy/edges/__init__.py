"""Several edge proxies driven as one `ProxyDriver`, all or none (`[[proxy.edges]]`, issue 25.3)."""

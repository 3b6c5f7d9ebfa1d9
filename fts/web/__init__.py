"""
The admin panel and JSON API (Klein + Jinja2), served by the C{web} service.

Layout: L{fts.web.app} (the Klein app object and its dependencies),
L{fts.web.pages} (one module per page group), L{fts.web.api} (C{/api/v1}),
L{fts.web.login} (sessions, tokens, throttling), L{fts.web.guard} (role and
CSRF checks), L{fts.web.security} (tokens, headers, cookies),
L{fts.web.limits} (request body limits), L{fts.web.live} (server-sent
events), L{fts.web.static} (the panel's CSS and JavaScript).

Security in one paragraph: server-side sessions (cookie HttpOnly,
SameSite=Lax, Secure behind TLS; only the token's SHA-256 is stored) that
end after an hour idle and twelve hours after login; a CSRF token and an
Origin check on every state-changing form; per-username and per-address
login throttling; scrypt passwords checked off the reactor thread; API
tokens stored hashed and scoped to a role no higher than their user's;
every change audited (C{audit_log}, or C{campaign_transitions} for the
campaign life cycle); a Content-Security-Policy without inline script or
style, no framing, no sniffing; autoescaped templates; body size limits.

Behind TLS: the panel listens on 127.0.0.1:8080 by default.  Put a TLS
reverse proxy in front (nginx, Caddy, HAProxy) and set
C{[web] secure_cookies = yes} (cookies become Secure, HSTS is sent) and
C{[web] base_url = https://fts.example.org/}.  For nginx, proxy to
C{http://127.0.0.1:8080} with C{proxy_buffering off} on
C{/dashboard/events} (server-sent events) and C{client_max_body_size} at
least the largest upload.  Alternatively Twisted serves TLS itself:
C{[web] endpoint = ssl:8443:privateKey=key.pem:certKey=cert.pem}.
Behind a proxy, the per-address login throttling sees the proxy's
address (X-Forwarded-For is not trusted yet); the per-username throttling
is unaffected.
"""

"""Who may do what: principals, users, named clients, sessions, scopes, throttling and the audit trail."""

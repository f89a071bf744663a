"""The accounts module the monolith used to serve alone, served here route by route (routes.yaml
`accounts.*`): registration, profile, password reset, role management. Every change here is published to
the monolith (`user.upserted`, contracts/user.py) so that it stays a complete copy until it is
decommissioned."""

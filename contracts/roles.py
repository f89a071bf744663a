"""The roles every process knows (the monolith's `accounts.Role`, the Auth service's mirror, the token's
`roles` claim): one user has one. A plain str enum, so the values compare equal to the claim's strings."""

from enum import StrEnum


class Role(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"
    ADMIN = "admin"

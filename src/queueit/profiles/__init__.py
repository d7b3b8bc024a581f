"""Profiles: the `profiles` row of each user, created from their token on first use."""

"""Moderation: session settings, the member list, co-hosts, kick and ban."""
